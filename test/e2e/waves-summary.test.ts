import { connectLdapDirectory } from '../../src/directory/ldap-directory';
import { sourceAnchor } from '../../src/runbook/ou-comparison';
import type { SimUser } from '../../src/sandbox/graph-simulator';
import { buildTenantFromDirectory, type BuiltTenant } from '../../src/sandbox/tenant-from-directory';
import { EXPECTED, OU } from '../fixtures/ad-seed-spec';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { cardText, type ConnectorCall } from '../helpers/fake-connector';
import { sambaEnv } from '../helpers/samba';
import { PG_URL, postgresBackend } from '../helpers/store-backends';
import { AGENT_ID, AGENT_SECRET, GRAPH_TOKEN } from '../helpers/bot-harness';
import { ADELE, messageActivity, postActivity } from '../helpers/activities';
import { FakeConnector } from '../helpers/fake-connector';
import { startGraphSimulator, type GraphSimulator } from '../../src/sandbox/graph-simulator';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

const JOB_ID = 'AD2AADProvisioning.5e1f.0a1b2c3d-0000-4000-8000-000000000001';
/** The real anchors of SalesOps users, so a test can "provision" them the way Cloud Sync would. */
interface Fixture {
  tenant: BuiltTenant;
  anchors: Map<string, string>;
}

async function buildFixture(): Promise<Fixture> {
  const samba = sambaEnv();
  const directory = await connectLdapDirectory({
    url: samba.url,
    bindDn: samba.bindDn,
    password: samba.password,
    caPath: samba.caPath,
  });
  try {
    const tenant = await buildTenantFromDirectory(directory, {
      baseDn: OU.salesOps,
      missing: 3,
      extra: 1,
      mismatched: 2,
    });
    const anchors = new Map<string, string>();
    await directory.scanUsers(OU.salesOps, {
      onPage: (page) => page.forEach((u) => anchors.set(u.dn, sourceAnchor(u.objectGuid, u.consistencyGuid))),
    });
    return { tenant, anchors };
  } finally {
    await directory.close();
  }
}

function summaryCards(calls: ConnectorCall[], from = 0): { call: ConnectorCall; text: string }[] {
  return calls
    .slice(from)
    .filter((c) => c.method === 'POST')
    .map((c) => ({ call: c, text: cardText(c.activity.attachments?.[0]?.content ?? {}) }))
    .filter((c) => c.text.startsWith('Wave summary for'));
}

async function waitForText(h: BotHarness, text: string, from: number, timeoutMs = 60_000): Promise<string> {
  const call = await h.connector.waitFor(
    (c) => c.method === 'POST' && cardText(c.activity.attachments?.[0]?.content ?? {}).includes(text),
    { from, timeoutMs },
  );
  const card = call.activity.attachments![0]!.content;
  expect(cardProblems(card)).toEqual([]);
  return cardText(card);
}

describe('waves and the daily wave summary (Samba AD, agent process, Graph simulator, injected clock)', () => {
  const samba = sambaEnv();
  let fixture: Fixture;
  let h: BotHarness;
  let agent: AgentProcess;
  let clock = new Date('2026-03-27T12:00:00Z');

  beforeAll(async () => {
    fixture = await buildFixture();
    h = await startBotHarness({ now: () => clock, instanceId: 'bot-1' });
    h.graph.setUsers(fixture.tenant.users);
    agent = spawnAgent(h.bot.url, samba);
  });

  afterAll(async () => {
    agent?.stop();
    await h?.close();
  });

  async function addWave(command: string, name: string): Promise<string> {
    const from = h.connector.calls.length;
    const reply = cardText(firstCard(await h.say(command)));
    expect(reply).toContain(`Wave ${name} planned`);
    return waitForText(h, `Wave ${name} counted`, from).catch((err: Error) => {
      throw new Error(`${err.message}\nAgent log:\n${agent.log().slice(-2000)}`);
    });
  }

  it('plans waves with counts from the agent and checks them against the pilot, each other and Cloud Sync limits', async () => {
    expect((await h.say('/migration start "Wave rehearsal"')).length).toBe(3);
    const w1 = await addWave('/wave add W1 OU=SalesOps on 2026-03-30', 'W1');
    expect(w1).toContain('within Cloud Sync limits');
    expect(w1).toContain(`${OU.salesOps}`);
    expect(w1).toContain(`${EXPECTED.salesOps.users} users (${EXPECTED.salesOps.disabled} disabled)`);

    const w2 = await addWave('/wave add W2 OU=R\\,D "OU=Legacy (2019)" on 2026-04-02', 'W2');
    expect(w2).toContain(`${EXPECTED.rAndD.users + EXPECTED.legacy.users} users`);

    // OU=Sales is a look-alike of SalesOps, not an overlap; a wave inside W1's OU is one.
    const sales = await addWave('/wave add W3 OU=Sales', 'W3');
    expect(sales).not.toContain('overlaps');
    const nested = await addWave('/wave add Dup OU=SalesOps', 'Dup');
    expect(nested).toContain('1 warning(s)');
    expect(nested).toContain(`${OU.salesOps} overlaps ${OU.salesOps} of wave W1`);
    const missing = await addWave('/wave add Ghost OU=DoesNotExist', 'Ghost');
    expect(missing).toContain('not counted yet');

    for (const name of ['W3', 'Dup', 'Ghost'])
      expect(cardText(firstCard(await h.say(`/wave remove ${name}`)))).toContain(`Wave ${name} removed`);
    expect(cardText(firstCard(await h.say('/wave add W1 OU=Marketing')))).toContain('Wave W1 exists');
    const list = cardText(firstCard(await h.say('/wave list')));
    expect(list).toContain('W1 · on 2026-03-30 · 40 users');
    expect(list).toContain('W2 · on 2026-04-02 · 9 users');
    expect(list).not.toContain('W3');
  });

  it('posts the summary at 08:00 Berlin time, once, with numbers that match AD and the tenant', async () => {
    expect(cardText(firstCard(await h.say(`/summary job ${JOB_ID}`)))).toContain('Cloud Sync job set');
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain(
      'every day at 08:00 Europe/Berlin',
    );
    // 30 users Cloud Sync provisioned: each entry names the AD object (its anchor) and the Entra object.
    const salesOpsCloud = fixture.tenant.users.filter(
      (u) =>
        u.onPremisesDistinguishedName?.endsWith(OU.salesOps) &&
        !fixture.tenant.mismatchedDns.includes(u.onPremisesDistinguishedName),
    );
    h.graph.addProvisioningEvents([
      ...salesOpsCloud.slice(0, 30).map((u, i) => ({
        activityDateTime: new Date(Date.parse('2026-03-27T20:00:00Z') + i * 1000).toISOString(),
        jobId: JOB_ID,
        status: 'success' as const,
        action: 'update' as const,
        targetId: u.id,
        sourceId: fixture.anchors.get(u.onPremisesDistinguishedName!)!,
        sourceDisplayName: u.userPrincipalName,
      })),
      // Names a SalesOps user in Entra but another AD object: not proof for that user.
      {
        activityDateTime: '2026-03-27T20:59:00Z',
        jobId: JOB_ID,
        status: 'success',
        action: 'update',
        targetId: salesOpsCloud[30]!.id,
        sourceId: '00000000-0000-0000-0000-000000000000',
        sourceDisplayName: salesOpsCloud[30]!.userPrincipalName,
      },
      {
        activityDateTime: '2026-03-27T21:00:00Z',
        jobId: JOB_ID,
        status: 'failure',
        targetId: null,
        sourceDisplayName: 'dup1',
        errorCode: 'AzureActiveDirectoryDuplicateUserPrincipalName',
        reason: 'Another object has this UPN',
      },
      {
        activityDateTime: '2026-03-27T21:05:00Z',
        jobId: JOB_ID,
        status: 'failure',
        targetId: null,
        sourceDisplayName: 'dup2',
        errorCode: 'AzureActiveDirectoryDuplicateUserPrincipalName',
        reason: 'Another object has this UPN',
      },
      {
        activityDateTime: '2026-03-27T21:05:00Z',
        jobId: 'SomeOtherJob.1.2',
        status: 'failure',
        targetId: null,
        sourceDisplayName: 'not ours',
        reason: 'must not be counted',
      },
    ]);

    clock = new Date('2026-03-28T06:59:00Z'); // 07:59 CET
    expect(await h.bot.summaries.tick()).toBe(0);
    h.graph.reset();
    const from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z'); // 08:00 CET
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-28', from);
    // SalesOps: 40 on-premises; the tenant lacks 3 and has 2 with a wrong anchor → 35 in Entra with the
    // right anchor, of which the logs confirm 30. Nothing is called provisioned.
    expect(text).toContain('30 of 40 confirmed by Cloud Sync · 35 in Entra with the right anchor (n/a)');
    expect(text).toContain('3 missing, 2 mismatched');
    expect(text).toContain('0 of 9 confirmed by Cloud Sync · 9 in Entra with the right anchor');
    expect(text).toContain('Confirmed by Cloud Sync (provisioning logs): 30');
    expect(text).not.toMatch(/\d (of \S+ )?provisioned/);
    expect(text).toMatch(/Expected \(on-premises\): 49/);
    expect(text).toContain('2 failure(s)');
    expect(text).toContain('2× Another object has this UPN');
    expect(text).not.toContain('must not be counted');
    expect(text).toContain('Next wave: W1 on 2026-03-30 (40 users)');
    expect(text).toContain('full read of synced users');
    // No copy yet: a deltaLink from now on, then the synced users through /users ($top=999, filtered).
    expect(h.graph.requests.some((r) => r.path === '/v1.0/users/delta' && r.query.$deltatoken === 'latest')).toBe(true);
    expect(h.graph.requests.some((r) => r.path === '/v1.0/users' && r.query.$top === '999')).toBe(true);

    // Same minute, later the same day: nothing more.
    expect(await h.bot.summaries.tick()).toBe(0);
    clock = new Date('2026-03-28T15:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(0);
    expect(summaryCards(h.connector.calls)).toHaveLength(1);
  });

  it('the next day comes at 08:00 CEST (06:00 UTC) after the DST change, from a delta query, with the change since yesterday', async () => {
    const missing = fixture.tenant.missingDns.map((dn, i): SimUser => ({
      id: `10000000-0000-4000-8000-00000000000${i}`,
      userPrincipalName: `late${i}@contoso.com`,
      onPremisesSyncEnabled: true,
      onPremisesDistinguishedName: dn,
      onPremisesImmutableId: fixture.anchors.get(dn)!,
    }));
    h.graph.addUsers(missing);
    h.graph.reset();

    clock = new Date('2026-03-29T05:59:00Z'); // 07:59 CEST
    expect(await h.bot.summaries.tick()).toBe(0);
    const from = h.connector.calls.length;
    clock = new Date('2026-03-29T06:00:00Z'); // 08:00 CEST
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-29', from);
    expect(text).toContain('change since 2026-03-28');
    expect(text).toContain('38 in Entra with the right anchor (+3)');
    expect(text).toMatch(/Change since 2026-03-28: \+3/);
    expect(text).toContain('users delta query (3 change(s) applied)');
    // The cloud side cost a delta round, not a full read of the tenant.
    const deltaCalls = h.graph.requests.filter((r) => r.path === '/v1.0/users/delta');
    expect(deltaCalls.length).toBeGreaterThan(0);
    expect(deltaCalls.every((r) => r.query.$deltatoken !== undefined)).toBe(true);
    expect(h.graph.requests.filter((r) => r.path === '/v1.0/users')).toEqual([]);
  });

  it('a day missed while the bot was down is caught up once, with a note', async () => {
    const from = h.connector.calls.length;
    clock = new Date('2026-03-31T09:00:00Z'); // 30 March never ticked; 31 March is three hours late
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-31', from);
    expect(text).toContain('No summary was posted for 2026-03-30');
    expect(text).toContain('Posted late');
    expect(text).toContain('Wave W1 (due 2026-03-30): 10 of 40 users not yet confirmed by Cloud Sync');
    expect(await h.bot.summaries.tick()).toBe(0);
    expect(summaryCards(h.connector.calls).map((c) => c.text.split('\n')[0])).toEqual([
      'Wave summary for 2026-03-28: Wave rehearsal',
      'Wave summary for 2026-03-29: Wave rehearsal',
      'Wave summary for 2026-03-31: Wave rehearsal',
    ]);
  });

  it('/summary now posts one on request without using up the day', async () => {
    const from = h.connector.calls.length;
    expect(cardText(firstCard(await h.say('/summary now')))).toContain('Building the wave summary');
    const text = await waitForText(h, 'Summary on request', from);
    expect(text).toContain('38 in Entra with the right anchor');
    await h.bot.summaries.idle();
    const migration = await h.store.migrations.findByConversation(h.conversationId);
    const rows = await h.store.summaries.listSummaries(migration!.id);
    expect(rows.map((r) => [r.kind, r.localDate, r.status])).toEqual([
      ['scheduled', '2026-03-28', 'posted'],
      ['scheduled', '2026-03-29', 'posted'],
      ['scheduled', '2026-03-31', 'posted'],
      ['on_demand', '2026-03-31', 'posted'],
    ]);
  });
});

describe('exactly one summary from two bot instances on one PostgreSQL database', () => {
  const samba = sambaEnv();
  const backend = postgresBackend();
  let a: BotHarness;
  let b: BotHarness;
  let agent: AgentProcess;
  let clock = new Date('2026-11-24T12:00:00Z');

  beforeAll(async () => {
    await backend.setUp();
    const storeA = await backend.open();
    // The second instance opens its own connection pool on the same schema: nothing in memory is shared.
    const storeB = await backend.open();
    a = await startBotHarness({ store: storeA, now: () => clock, instanceId: 'bot-a' });
    b = await startBotHarness({
      store: storeB,
      graph: a.graph,
      connector: a.connector,
      now: () => clock,
      instanceId: 'bot-b',
    });
    const { tenant } = await buildFixture();
    a.graph.setUsers(tenant.users);
    agent = spawnAgent(a.bot.url, samba);
  });

  afterAll(async () => {
    agent?.stop();
    await b?.close();
    await a?.close();
    await backend.tearDown();
  });

  it('both instances tick at the due minute; the database lets exactly one post', async () => {
    expect((await a.say('/migration start "Two bots"')).length).toBe(3);
    const from = a.connector.calls.length;
    expect(cardText(firstCard(await b.say('/wave add W1 OU=SalesOps')))).toContain('Wave W1 planned');
    await waitForText(a, 'Wave W1 counted', from);
    expect(cardText(firstCard(await a.say('/summary at 09:00 America/New_York')))).toContain('every day at 09:00');

    clock = new Date('2026-11-25T14:00:00Z'); // 09:00 EST
    const posted = await Promise.all([
      a.bot.summaries.tick(),
      b.bot.summaries.tick(),
      a.bot.summaries.tick(),
      b.bot.summaries.tick(),
    ]);
    expect(posted.reduce((x, y) => x + y, 0)).toBe(1);
    await waitForText(a, 'Wave summary for 2026-11-25', from);
    expect(await Promise.all([a.bot.summaries.tick(), b.bot.summaries.tick()])).toEqual([0, 0]);
    expect(summaryCards(a.connector.calls)).toHaveLength(1);
  });

  it('an instance that dies holding the claim does not cost the day: the other takes over once the claim expires', async () => {
    const migration = await a.store.migrations.findByConversation(a.conversationId);
    clock = new Date('2026-11-26T14:00:00Z');
    // A third instance claimed the 26th and died before posting. Its lease runs on the lease clock
    // (the relay's, the real one here), so it is made short and waited out rather than skipped with
    // the injected schedule clock.
    const claimMs = 3_000;
    expect(
      await a.store.summaries.claimScheduled({
        migrationId: migration!.id,
        localDate: '2026-11-26',
        claimedBy: 'bot-dead',
        now: clock,
        leaseNow: new Date(),
        claimMs,
      }),
    ).not.toBeNull();
    const claimedAt = Date.now();
    // Moving the instances' schedule clock on does not expire a lease: only the lease clock does.
    clock = new Date('2026-11-26T15:00:00Z');
    expect(await Promise.all([a.bot.summaries.tick(), b.bot.summaries.tick()])).toEqual([0, 0]);
    await new Promise((resolve) => setTimeout(resolve, Math.max(0, claimMs + 200 - (Date.now() - claimedAt))));
    const from = a.connector.calls.length;
    const posted = await Promise.all([a.bot.summaries.tick(), b.bot.summaries.tick()]);
    expect(posted.reduce((x, y) => x + y, 0)).toBe(1);
    await waitForText(a, 'Wave summary for 2026-11-26', from);
    expect(summaryCards(a.connector.calls)).toHaveLength(2);
  });
});

describe('exactly one summary from two bot processes on one PostgreSQL database', () => {
  const samba = sambaEnv();
  const backend = postgresBackend();
  const dir = mkdtempSync(join(tmpdir(), 'syncshift-two-procs-'));
  const clockFile = join(dir, 'clock');
  const conversationId = '19:two-processes@thread.tacv2';
  const setClock = (iso: string) => writeFileSync(clockFile, iso);
  let graph: GraphSimulator;
  let connector: FakeConnector;
  let agent: AgentProcess;
  const bots: { child: ChildProcess; url: string; log: () => string }[] = [];

  function spawnBot(
    instanceId: string,
    schema: string,
  ): Promise<{ child: ChildProcess; url: string; log: () => string }> {
    let log = '';
    const child = spawn(
      process.execPath,
      ['--require', 'ts-node/register/transpile-only', join(__dirname, '../helpers/bot-process.ts')],
      {
        env: {
          ...process.env,
          TEST_CLOCK_FILE: clockFile,
          TEST_DATABASE_URL: PG_URL,
          TEST_SCHEMA: schema,
          TEST_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET}`,
          TEST_GRAPH_URL: graph.url,
          TEST_GRAPH_TOKEN: GRAPH_TOKEN,
          TEST_INSTANCE_ID: instanceId,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`${instanceId} did not start:\n${log}`)), 60_000);
      child.stderr!.on('data', (d: Buffer) => (log += d.toString()));
      child.stdout!.on('data', (d: Buffer) => {
        log += d.toString();
        const ready = /\{"ready":"([^"]+)"\}/.exec(log);
        if (ready) {
          clearTimeout(timer);
          resolve({ child, url: ready[1]!, log: () => log });
        }
      });
      child.once('exit', (code) => reject(new Error(`${instanceId} exited with ${code}:\n${log}`)));
    });
  }

  async function say(botUrl: string, text: string): Promise<string> {
    const activity = messageActivity({ text, from: ADELE, conversationId, serviceUrl: connector.url });
    const res = await postActivity(botUrl, activity);
    expect(res.status).toBeLessThan(300);
    const reply = await connector.waitFor((c) => c.activityId === activity.id);
    return cardText(reply.activity.attachments?.[0]?.content ?? {});
  }

  beforeAll(async () => {
    await backend.setUp();
    // Creates the schema and runs the migrations once, before two processes open it.
    await (await backend.open()).close();
    setClock('2026-11-24T12:00:00Z');
    graph = await startGraphSimulator({ token: GRAPH_TOKEN });
    graph.setUsers((await buildFixture()).tenant.users);
    connector = await new FakeConnector().start();
    bots.push(
      ...(await Promise.all([
        spawnBot('proc-a', backend.schemaFor!('main')),
        spawnBot('proc-b', backend.schemaFor!('main')),
      ])),
    );
    agent = spawnAgent(bots[0]!.url, samba);
  });

  afterAll(async () => {
    agent?.stop();
    for (const b of bots) b.child.kill('SIGTERM');
    await Promise.all(
      bots.map(
        (b) => new Promise((resolve) => (b.child.exitCode !== null ? resolve(null) : b.child.once('exit', resolve))),
      ),
    );
    await connector?.stop();
    await graph?.close();
    await backend.tearDown();
    rmSync(dir, { recursive: true, force: true });
  });

  it('both processes run their 100 ms timers through the due minute; exactly one summary is posted', async () => {
    const [a, b] = bots as [(typeof bots)[0], (typeof bots)[0]];
    expect(await say(a.url, '/migration start "Two processes"')).toContain('started');
    const from = connector.calls.length;
    expect(await say(b.url, '/wave add W1 OU=SalesOps')).toContain('Wave W1 planned');
    await connector.waitFor((c) => cardText(c.activity.attachments?.[0]?.content ?? {}).includes('Wave W1 counted'), {
      from,
      timeoutMs: 60_000,
    });
    expect(await say(b.url, '/summary at 09:00 America/New_York')).toContain('every day at 09:00');

    setClock('2026-11-25T14:00:00Z'); // 09:00 EST: both timers see it within 100 ms
    await connector
      .waitFor((c) => cardText(c.activity.attachments?.[0]?.content ?? {}).startsWith('Wave summary for 2026-11-25'), {
        from,
        timeoutMs: 60_000,
      })
      .catch((err: Error) => {
        throw new Error(`${err.message}\nproc-a:\n${a.log().slice(-1500)}\nproc-b:\n${b.log().slice(-1500)}`);
      });
    // Give both timers many more ticks at the same minute.
    await new Promise((resolve) => setTimeout(resolve, 2_000));
    const posted = summaryCards(connector.calls);
    expect(posted).toHaveLength(1);
    // The fixture tenant lacks 3 SalesOps users and has 2 with a wrong anchor.
    expect(posted[0]!.text).toContain(`${EXPECTED.salesOps.users - 5} in Entra with the right anchor`);

    const store = await backend.open();
    try {
      const migration = await store.migrations.findByConversation(conversationId);
      const rows = await store.summaries.listSummaries(migration!.id);
      expect(rows.map((r) => [r.kind, r.localDate, r.status])).toEqual([['scheduled', '2026-11-25', 'posted']]);
      expect(['proc-a', 'proc-b']).toContain(rows[0]!.claimedBy);
    } finally {
      await store.close();
    }
  });
});
