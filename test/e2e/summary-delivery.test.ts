import { SimulatedDirectory, writeForestFile } from '../../src/directory/simulated-directory';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Client } from 'pg';
import { sourceAnchor } from '../../src/runbook/ou-comparison';
import type { SimUser } from '../../src/sandbox/graph-simulator';
import { EXPECTED, OU } from '../../src/sandbox/forest-spec';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText, type ConnectorCall } from '../helpers/fake-connector';
import { PG_URL, postgresBackend } from '../helpers/store-backends';

/**
 * The daily summary when things go wrong between SyncShift and Teams or Graph: posts that may or
 * may not have arrived, Graph refusing part of what the summary reads, a migration whose settings
 * break the tick, provisioning log entries that arrive late. The bot runs as in production (HTTP,
 * PGlite or PostgreSQL, Graph simulator, Bot Framework stand-in); time is the injected clock.
 */

const JOB_ID = 'AD2AADProvisioning.5e1f.0a1b2c3d-0000-4000-8000-000000000009';

const isSummary = (activity: ConnectorCall['activity']) =>
  cardText(activity.attachments?.[0]?.content ?? {}).startsWith('Wave summary for');

function texts(h: BotHarness, from = 0): string[] {
  return h.connector.calls
    .slice(from)
    .filter((c) => c.method === 'POST')
    .map((c) => cardText(c.activity.attachments?.[0]?.content ?? {}));
}

function summaries(h: BotHarness, from = 0): string[] {
  return texts(h, from).filter((t) => t.startsWith('Wave summary for'));
}

async function waitForText(h: BotHarness, text: string, from: number, timeoutMs = 30_000): Promise<string> {
  const call = await h.connector.waitFor(
    (c) => c.method === 'POST' && cardText(c.activity.attachments?.[0]?.content ?? {}).includes(text),
    { from, timeoutMs },
  );
  const card = call.activity.attachments![0]!.content;
  expect(cardProblems(card)).toEqual([]);
  return cardText(card);
}

const at = (iso: string, minutes = 0) => new Date(Date.parse(iso) + minutes * 60_000);

async function rows(h: BotHarness, conversationId = h.conversationId) {
  const migration = await h.store.migrations.findByConversation(conversationId);
  return (await h.store.summaries.listSummaries(migration!.id)).map((r) => ({
    kind: r.kind,
    localDate: r.localDate,
    status: r.status,
    attempts: r.attempts,
  }));
}

describe('a summary whose post may have reached Teams is never posted again', () => {
  let h: BotHarness;
  let clock = new Date('2026-03-27T12:00:00Z');

  beforeAll(async () => {
    h = await startBotHarness({ now: () => clock, instanceId: 'bot-1' });
    expect((await h.say('/migration start "Delivery"')).length).toBe(3);
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');
  });
  afterAll(async () => h?.close());

  it('Teams takes the card but answers 502: it is in the chat once, marked outcome unknown, and one note follows later', async () => {
    h.connector.failPosts(1, { status: 502, accepted: true }, isSummary);
    const from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(0);
    expect(await rows(h)).toEqual([
      { kind: 'scheduled', localDate: '2026-03-28', status: 'outcome_unknown', attempts: 1 },
    ]);
    // Later ticks, past any retry back-off: no second copy.
    for (const minutes of [1, 16, 31, 60]) {
      clock = new Date(Date.parse('2026-03-28T07:00:00Z') + minutes * 60_000);
      expect(await h.bot.summaries.tick()).toBe(0);
    }
    await h.bot.summaries.idle();
    expect(summaries(h, from)).toHaveLength(1);
    expect(h.connector.postAttempts.filter((a) => isSummary(a.activity))).toHaveLength(1);
    const notes = texts(h, from).filter((t) => t.includes('may be missing'));
    expect(notes).toHaveLength(1);
    expect(notes[0]).toContain('The wave summary for 2026-03-28 may be missing');
    expect(notes[0]).toContain('Teams answered 502');
    expect(notes[0]).toContain('/summary now');
  });

  it('the connection drops after Teams got the card: outcome unknown, never posted again', async () => {
    h.connector.failPosts(1, 'reset', isSummary);
    const from = h.connector.calls.length;
    clock = new Date('2026-03-29T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(0);
    clock = at('2026-03-29T06:00:00Z', 45);
    expect(await h.bot.summaries.tick()).toBe(0);
    await h.bot.summaries.idle();
    expect(summaries(h, from)).toHaveLength(1);
    expect((await rows(h)).find((r) => r.localDate === '2026-03-29')).toMatchObject({
      status: 'outcome_unknown',
      attempts: 1,
    });
    expect(texts(h, from).filter((t) => t.includes('The wave summary for 2026-03-29 may be missing'))).toHaveLength(1);
  });

  it('Teams refuses the card (403): nothing is in the chat, so it is tried again after the back-off and says why it is late', async () => {
    h.connector.failPosts(1, { status: 403 }, isSummary);
    const from = h.connector.calls.length;
    clock = new Date('2026-03-30T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(0);
    expect((await rows(h)).find((r) => r.localDate === '2026-03-30')).toMatchObject({ status: 'failed', attempts: 1 });
    clock = at('2026-03-30T06:00:00Z', 10);
    expect(await h.bot.summaries.tick()).toBe(0);
    clock = at('2026-03-30T06:00:00Z', 16);
    expect(await h.bot.summaries.tick()).toBe(1);
    const posted = summaries(h, from);
    expect(posted).toHaveLength(1);
    expect(posted[0]).toContain(
      'Posted late: the earlier attempt after 08:00 Europe/Berlin on 2026-03-30 failed (Teams refused the card with 403',
    );
    expect(posted[0]).toContain('this is attempt 2 of 3');
    // The change is measured from the previous day's summary, which may or may not have arrived.
    expect(posted[0]).toContain("change since 2026-03-29's daily summary");
    expect((await rows(h)).find((r) => r.localDate === '2026-03-30')).toMatchObject({ status: 'posted', attempts: 2 });
  });

  it('Teams stays busy (503 after the retries): not taken, so it is tried again later', async () => {
    h.connector.failPosts(4, { status: 503, retryAfterSeconds: 0.01 }, isSummary);
    const attemptsBefore = h.connector.postAttempts.length;
    const from = h.connector.calls.length;
    clock = new Date('2026-03-31T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(0);
    // One post and the card sink's three retries, all answered 503.
    expect(
      h.connector.postAttempts.slice(attemptsBefore).filter((a) => a.failed && isSummary(a.activity)),
    ).toHaveLength(4);
    expect((await rows(h)).find((r) => r.localDate === '2026-03-31')).toMatchObject({ status: 'failed', attempts: 1 });
    clock = at('2026-03-31T06:00:00Z', 15);
    expect(await h.bot.summaries.tick()).toBe(1);
    expect(summaries(h, from)).toHaveLength(1);
  });
});

describe('a summary Teams took while the database failed to record it is not posted again', () => {
  const backend = postgresBackend();
  let h: BotHarness;
  let sql: Client;
  let clock = new Date('2026-03-27T12:00:00Z');

  beforeAll(async () => {
    await backend.setUp();
    h = await startBotHarness({ store: await backend.open(), now: () => clock, instanceId: 'bot-pg' });
    sql = new Client({ connectionString: PG_URL });
    await sql.connect();
    const schema = backend.schemaFor!('main');
    // A real database error, raised by PostgreSQL itself, exactly when the summary is marked posted.
    await sql.query(
      `CREATE FUNCTION "${schema}".refuse_posted() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.status = 'posted' THEN RAISE EXCEPTION 'simulated database outage'; END IF; RETURN NEW; END $$`,
    );
    await sql.query(
      `CREATE TRIGGER refuse_posted BEFORE UPDATE ON "${schema}".summaries FOR EACH ROW EXECUTE FUNCTION "${schema}".refuse_posted()`,
    );
    expect((await h.say('/migration start "Unrecorded"')).length).toBe(3);
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');
  });
  afterAll(async () => {
    await sql?.end();
    await h?.close();
    await backend.tearDown();
  });

  it('markPosted fails after the post: outcome unknown, and later ticks post nothing', async () => {
    const from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    expect(await rows(h)).toEqual([
      { kind: 'scheduled', localDate: '2026-03-28', status: 'outcome_unknown', attempts: 1 },
    ]);
    await sql.query(`DROP TRIGGER refuse_posted ON "${backend.schemaFor!('main')}".summaries`);
    for (const minutes of [16, 31, 46, 120]) {
      clock = at('2026-03-28T07:00:00Z', minutes);
      expect(await h.bot.summaries.tick()).toBe(0);
    }
    await h.bot.summaries.idle();
    expect(summaries(h, from)).toHaveLength(1);
  });
});

describe('a part Graph will not give is left out with a line that says so; a summary that cannot be built at all is given up with one card', () => {
  let h: BotHarness;
  let clock = new Date('2026-03-27T12:00:00Z');

  beforeAll(async () => {
    // Graph GETs are retried on 5xx; a short backoff keeps a Graph that stays down quick to test.
    h = await startBotHarness({
      now: () => clock,
      instanceId: 'bot-degrade',
      graphRetry: { maxRetries: 2, baseBackoffMs: 5 },
    });
    expect((await h.say('/migration start "Degraded"')).length).toBe(3);
    expect(cardText(firstCard(await h.say(`/summary job ${JOB_ID}`)))).toContain('Cloud Sync job set');
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');
  });
  afterAll(async () => {
    h?.graph.denyProvisioningLogs(null);
    await h?.close();
  });

  it('provisioning logs refused (no licence): the summary is posted without them and names the permission and licence', async () => {
    h.graph.denyProvisioningLogs('licence');
    const from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-28', from);
    expect(text).toContain('Incomplete: the Cloud Sync provisioning logs could not be read');
    expect(text).toContain(
      'Microsoft Graph answered 403 (Authentication_RequestFromNonPremiumTenantOrB2CTenant) while reading Cloud Sync provisioning logs',
    );
    expect(text).toContain('ProvisioningLog.Read.All (or AuditLog.Read.All)');
    expect(text).toContain('Entra ID P1 or P2');
    // The logs were not read, so the next daily summary starts where this one would have.
    const migration = await h.store.migrations.findByConversation(h.conversationId);
    expect((await h.store.summarySettings.getSettings(migration!.id))!.logsReadUntil).toBeNull();
  });

  it('the next day reads the logs again, including what the refused day would have shown', async () => {
    h.graph.denyProvisioningLogs(null);
    h.graph.addProvisioningEvents([
      {
        activityDateTime: '2026-03-28T10:00:00Z',
        jobId: JOB_ID,
        status: 'failure',
        targetId: null,
        sourceDisplayName: 'dup',
        reason: 'Another object has this UPN',
      },
    ]);
    const from = h.connector.calls.length;
    clock = new Date('2026-03-29T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-29', from);
    expect(text).toContain('1 failure(s)');
    expect(text).toContain('1× Another object has this UPN');
    expect(text).not.toContain('could not be read');
  });

  it('Graph fails on the users delta: the stored copy is used and the card says from when', async () => {
    h.graph.reset();
    // The first try and both retries of the users delta (the ledger's Cloud Sync scope read goes first).
    h.graph.failNext(3, 500, { path: '/v1.0/users/delta' });
    const from = h.connector.calls.length;
    clock = new Date('2026-03-30T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-30', from);
    expect(text).toContain('The Entra numbers are from the copy read at 2026-03-29T06:00:00.000Z');
    expect(text).toContain(
      'Microsoft Graph users could not be read, so the Entra numbers are from 2026-03-29T06:00:00.000Z: Microsoft Graph answered 500',
    );
    expect(text).toContain('Cloud numbers from the copy read at 2026-03-29T06:00:00.000Z');
  });

  it('with no stored copy and Graph down, three attempts 15 minutes apart, then one card for the day and silence', async () => {
    const conv = '19:never-built@thread.tacv2';
    expect((await h.say('/migration start "Never built"', undefined, conv)).length).toBe(3);
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin', undefined, conv)))).toContain(
      'every day at 08:00',
    );
    const from = h.connector.calls.length;
    clock = new Date('2026-03-31T06:00:00Z');
    // The other migration of this bot has a stored copy and is due too; it uses that copy.
    h.graph.failNext(50, 500);
    for (const minutes of [0, 10, 15, 20, 30, 45, 60, 180]) {
      clock = at('2026-03-31T06:00:00Z', minutes);
      await h.bot.summaries.tick();
    }
    await h.bot.summaries.idle();
    expect((await rows(h, conv)).map((r) => [r.localDate, r.status, r.attempts])).toEqual([
      ['2026-03-31', 'gave_up', 3],
    ]);
    const cards = h.connector.calls
      .slice(from)
      .filter((c) => c.conversationId === conv && c.method === 'POST')
      .map((c) => cardText(c.activity.attachments?.[0]?.content ?? {}));
    expect(cards).toHaveLength(1);
    expect(cards[0]).toContain('No wave summary for 2026-03-31');
    expect(cards[0]).toContain('could not be built after 3 attempts: Microsoft Graph answered 500');
    expect(cards[0]).toContain('/summary now tries again at once');

    h.graph.reset();
    const next = h.connector.calls.length;
    clock = new Date('2026-04-01T06:00:00Z');
    await h.bot.summaries.tick();
    const text = await waitForText(h, 'Wave summary for 2026-04-01: Never built', next);
    expect(text).toContain(
      'No summary was posted for 2026-03-31: it could not be built (CLOUD.UNAVAILABLE: Microsoft Graph answered 500',
    );
    expect(text).toContain('There is no earlier daily summary to compare with.');
    expect(text).not.toContain('not running');
  });
});

describe('late provisioning log entries and summaries on request', () => {
  let h: BotHarness;
  let clock = new Date('2026-03-27T12:00:00Z');
  const failure = (id: string, activityDateTime: string, reason: string) => ({
    id,
    activityDateTime,
    jobId: JOB_ID,
    status: 'failure' as const,
    targetId: null,
    sourceDisplayName: id,
    reason,
  });

  beforeAll(async () => {
    h = await startBotHarness({ now: () => clock, instanceId: 'bot-logs' });
    expect((await h.say('/migration start "Logs"')).length).toBe(3);
    expect(cardText(firstCard(await h.say(`/summary job ${JOB_ID}`)))).toContain('Cloud Sync job set');
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');
  });
  afterAll(async () => h?.close());

  it('an entry listed after the read that covered its time, and /summary now in between: the next daily summary has both, and nothing twice', async () => {
    h.graph.addProvisioningEvents([failure('e-early', '2026-03-28T06:50:00Z', 'Reason early')]);
    let from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    expect(await waitForText(h, 'Wave summary for 2026-03-28', from)).toContain('1× Reason early');

    // Graph lists an entry from 06:55 only after the 07:00 read, and a new one comes at 09:00.
    h.graph.addProvisioningEvents([
      failure('e-late', '2026-03-28T06:55:00Z', 'Reason late'),
      failure('e-new', '2026-03-28T09:00:00Z', 'Reason new'),
    ]);
    clock = new Date('2026-03-28T11:00:00Z');
    from = h.connector.calls.length;
    await h.say('/summary now');
    const onRequest = await waitForText(h, 'Summary on request', from);
    expect(onRequest).toContain('2 failure(s)');
    await h.bot.summaries.idle();

    h.graph.reset();
    from = h.connector.calls.length;
    clock = new Date('2026-03-29T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-29', from);
    // Shown on request is not "read" for the daily summary; the entry from before the last read is
    // in the overlap; the one already counted yesterday is not counted again.
    expect(text).toContain('2 failure(s)');
    expect(text).toContain('1× Reason late');
    expect(text).toContain('1× Reason new');
    expect(text).not.toContain('Reason early');
    expect(text).toContain('provisioning logs since 2026-03-28T07:00:00.000Z');
    const filter = h.graph.requests.find((r) => r.path === '/v1.0/auditLogs/provisioning')!.query.$filter;
    expect(filter).toBe(`jobId eq '${JOB_ID}' and activityDateTime gt 2026-03-28T06:30:00.000Z`);
  });
});

describe('one migration that breaks the tick does not hold up the others', () => {
  let h: BotHarness;
  let clock = new Date('2026-03-27T12:00:00Z');

  beforeAll(async () => {
    h = await startBotHarness({ now: () => clock, instanceId: 'bot-isolated' });
  });
  afterAll(async () => h?.close());

  it('a zone luxon cannot place, stored for one migration: the other still gets its summary, on every tick', async () => {
    const broken = '19:broken-zone@thread.tacv2';
    expect((await h.say('/migration start "Broken zone"', undefined, broken)).length).toBe(3);
    const brokenMigration = await h.store.migrations.findByConversation(broken);
    // /summary at refuses such a zone; a row written by an older version or by hand can still hold one.
    await h.store.summarySettings.setSchedule({
      migrationId: brokenMigration!.id,
      localTime: '08:00',
      timeZone: 'Mars/Olympus_Mons',
      setBy: 'adele',
      now: clock,
    });
    expect((await h.say('/migration start "Healthy"')).length).toBe(3);
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');
    const from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    await waitForText(h, 'Wave summary for 2026-03-28: Healthy', from);
    clock = new Date('2026-03-29T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    await waitForText(h, 'Wave summary for 2026-03-29: Healthy', from);
  });
});

describe('waves whose Cloud Sync limits are exceeded, and an agent that never answers (no agent runs here)', () => {
  let h: BotHarness;
  let clock = new Date('2026-03-27T12:00:00Z');
  const dns = (prefix: string, n: number) =>
    Array.from({ length: n }, (_, i) => `OU=${prefix}${i},DC=contoso,DC=com`).join(' ');

  beforeAll(async () => {
    h = await startBotHarness({ now: () => clock, instanceId: 'bot-limits' });
    expect((await h.say('/migration start "Limits"')).length).toBe(3);
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');
  });
  afterAll(async () => h?.close());

  it('the OU limit is on the card as the wave is added, and marked in /wave list, before any count arrives', async () => {
    expect(cardText(firstCard(await h.say(`/wave add A ${dns('A', 30)} on 2026-04-10`)))).toContain('Wave A planned');
    expect(cardText(firstCard(await h.say(`/wave add B ${dns('B', 20)} on 2026-04-17`)))).not.toContain('warning(s)');
    // Nested under A's OUs: not separate OUs of the configuration.
    expect(
      cardText(firstCard(await h.say(`/wave add Nested OU=Team,OU=A1,DC=contoso,DC=com on 2026-04-20`))),
    ).not.toContain('separate OUs');
    const added = cardText(firstCard(await h.say('/wave add C OU=C0,DC=contoso,DC=com on 2026-04-24')));
    expect(added).toContain('Wave C planned: ⚠ 1 warning(s) already');
    expect(added).toContain('would scope 51 separate OUs (nested OUs not counted)');
    const list = cardText(firstCard(await h.say('/wave list')));
    // Every wave of the domain is marked (besides "not counted yet", and A's overlap with Nested).
    expect(list).toContain('C · on 2026-04-24 · counting… · ⚠ 2 warning(s)');
    expect(list).toContain('A · on 2026-04-10 · counting… · ⚠ 3 warning(s)');
    expect(list).toContain(
      '⚠ With this wave the Cloud Sync configuration for dc=contoso,dc=com would scope 51 separate OUs',
    );
  });

  it('the daily summary waits for the counts on the injected clock, then posts without them, with the limit warnings', async () => {
    const from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick({ wait: false })).toBe(1);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect(summaries(h, from)).toEqual([]);
    // Past the 10-minute wait on the service's clock: the summary goes out at once, not 10 real minutes later.
    clock = at('2026-03-28T07:00:00Z', 11);
    const text = await waitForText(h, 'Wave summary for 2026-03-28', from, 10_000);
    expect(text).toContain('On-premises count failed: 30 OUs: the agent did not answer in time');
    expect(text).toContain(
      '⚠ With this wave the Cloud Sync configuration for dc=contoso,dc=com would scope 51 separate OUs',
    );
    await h.bot.summaries.idle();
  });
});

describe('the change since yesterday is measured from the daily summaries (agent process, simulated directory)', () => {
  let dir: string;
  let h: BotHarness;
  let agent: AgentProcess;
  let clock = new Date('2026-03-27T12:00:00Z');
  const late: SimUser[] = [];

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncshift-summary-change-'));
    const forestFile = join(dir, 'forest.json');
    const forest = buildSeededForest();
    writeForestFile(forestFile, forest);
    const directory = new SimulatedDirectory(forest);
    const tenant = await buildTenantFromDirectory(directory, {
      baseDn: OU.salesOps,
      missing: 3,
      extra: 0,
      mismatched: 0,
    });
    const anchors = new Map<string, string>();
    await directory.scanUsers(OU.salesOps, {
      onPage: (page) => page.forEach((u) => anchors.set(u.dn, sourceAnchor(u.objectGuid, u.consistencyGuid))),
    });
    late.push(
      ...tenant.missingDns.map((dn, i): SimUser => ({
        id: `20000000-0000-4000-8000-00000000000${i}`,
        userPrincipalName: `late${i}@contoso.com`,
        onPremisesSyncEnabled: true,
        onPremisesDistinguishedName: dn,
        onPremisesImmutableId: anchors.get(dn)!,
      })),
    );
    h = await startBotHarness({ now: () => clock, instanceId: 'bot-change' });
    h.graph.setUsers(tenant.users);
    const noLdap = { url: '', bindDn: '', password: '', caPath: '', baseDn: '' };
    agent = spawnAgent(h.bot.url, noLdap, { SYNCSHIFT_DIRECTORY: 'simulated', SYNCSHIFT_SIMULATED_FOREST: forestFile });
  });
  afterAll(async () => {
    agent?.stop();
    await h?.close();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a /summary now just before the daily time does not turn the daily change into ±0', async () => {
    expect((await h.say('/migration start "Change"')).length).toBe(3);
    let from = h.connector.calls.length;
    expect(cardText(firstCard(await h.say('/wave add W1 OU=SalesOps')))).toContain('Wave W1 planned');
    await waitForText(h, 'Wave W1 counted', from, 60_000).catch((err: Error) => {
      throw new Error(`${err.message}\nAgent log:\n${agent.log().slice(-2000)}`);
    });
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');

    const total = EXPECTED.salesOps.users;
    from = h.connector.calls.length;
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    expect(await waitForText(h, 'Wave summary for 2026-03-28', from)).toContain(
      `${total - 3} in Entra with the right anchor (n/a)`,
    );

    h.graph.addUsers(late);
    from = h.connector.calls.length;
    clock = new Date('2026-03-29T05:55:00Z'); // 07:55 CEST
    await h.say('/summary now');
    const onRequest = await waitForText(h, 'Summary on request', from);
    expect(onRequest).toContain(`${total} in Entra with the right anchor (+3)`);
    expect(onRequest).toContain("change since 2026-03-28's daily summary");
    await h.bot.summaries.idle();

    from = h.connector.calls.length;
    clock = new Date('2026-03-29T06:00:00Z');
    expect(await h.bot.summaries.tick()).toBe(1);
    const text = await waitForText(h, 'Wave summary for 2026-03-29', from);
    expect(text).toContain(`${total} in Entra with the right anchor (+3)`);
    expect(text).toContain('Change since 2026-03-28: +3');
    expect(text).toContain("Daily summary · Europe/Berlin · change since 2026-03-28's daily summary");
  });
});

describe('a summary stopped by a restart, and one stopped by an unexpected error', () => {
  let h: BotHarness;
  let clock = new Date('2026-03-27T12:00:00Z');

  beforeAll(async () => {
    h = await startBotHarness({ now: () => clock, instanceId: 'bot-restart' });
    expect((await h.say('/migration start "Restarted"')).length).toBe(3);
    expect(cardText(firstCard(await h.say('/summary at 08:00 Europe/Berlin')))).toContain('every day at 08:00');
    // No agent runs: the summary waits for this count, which is where the restart finds it.
    expect(cardText(firstCard(await h.say('/wave add W OU=Sales,DC=contoso,DC=com on 2026-04-10')))).toContain(
      'Wave W planned',
    );
  });
  afterAll(async () => h?.close());

  it("a restart while the summary waits for counts does not use up one of the day's three attempts", async () => {
    clock = new Date('2026-03-28T07:00:00Z');
    expect(await h.bot.summaries.tick({ wait: false })).toBe(1);
    expect((await rows(h)).map((r) => [r.localDate, r.status, r.attempts])).toEqual([['2026-03-28', 'claimed', 1]]);
    await h.restart();
    // Failed by the shutdown, with its attempt given back, and due again at once.
    expect((await rows(h)).map((r) => [r.localDate, r.status, r.attempts])).toEqual([['2026-03-28', 'failed', 0]]);
    const from = h.connector.calls.length;
    expect(await h.bot.summaries.tick({ wait: false })).toBe(1);
    expect((await rows(h)).map((r) => [r.status, r.attempts])).toEqual([['claimed', 1]]);
    // Once it waits for its own count (its deadline is set then), move past the 10-minute wait.
    const countsAsked = async (): Promise<number> =>
      (
        await h.store.db.query<{ n: number }>(
          `SELECT count(*)::int AS n FROM jobs WHERE requested_by_id = 'syncshift:summary'`,
        )
      )[0]!.n;
    await eventually(async () => (await countsAsked()) >= 2, {
      what: 'the summary to ask for its count after the restart',
      timeoutMs: 4_000,
      intervalMs: 20,
    });
    clock = new Date('2026-03-28T07:11:00Z');
    const text = await waitForText(h, 'Wave summary for 2026-03-28', from, 10_000);
    expect(text).toContain('the agent did not answer in time');
    await h.bot.summaries.idle();
    expect((await rows(h)).map((r) => [r.status, r.attempts])).toEqual([['posted', 1]]);
  });

  it("an unexpected error's own text stays in the log: the card and the stored error say where to look", async () => {
    const views = jest
      .spyOn(h.bot.waves, 'views')
      .mockRejectedValueOnce(new Error('relation "wave_ous" does not exist at character 42'));
    const from = h.connector.calls.length;
    expect(cardText(firstCard(await h.say('/summary now')))).toContain('Building the wave summary');
    const text = await waitForText(h, 'The wave summary could not be built', from);
    await h.bot.summaries.idle();
    views.mockRestore();
    const failed = (
      await h.store.summaries.listSummaries((await h.store.migrations.findByConversation(h.conversationId))!.id)
    ).find((r) => r.kind === 'on_demand')!;
    expect(text).toContain(
      `An unexpected error stopped it; the details are in the bot's log (summary id ${failed.id})`,
    );
    expect(text).not.toContain('wave_ous');
    expect(failed).toMatchObject({
      status: 'gave_up',
      error: `INTERNAL: An unexpected error stopped it; the details are in the bot's log (summary id ${failed.id})`,
    });
  });
});
