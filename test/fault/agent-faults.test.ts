import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { connectLdapDirectory } from '../../src/directory/ldap-directory';
import { buildTenantFromDirectory, type BuiltTenant } from '../../src/sandbox/tenant-from-directory';
import { installFakePowerShell, type FakePowerShell } from '../../src/sandbox/simulated-connect-sync';
import { OU, EXPECTED_SYNCED } from '../fixtures/ad-seed-spec';
import { ADELE, MEGAN } from '../helpers/activities';
import { AgentFleet, agentSecret as secretOf, type AgentProcess } from '../helpers/agent-process';
import { AGENT_ID, AGENT_SECRET, firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';
import { sambaEnv, type SambaEnv } from '../helpers/samba';
import { TcpProxy } from '../helpers/tcp-proxy';

/**
 * What goes wrong in real deployments, each checked end to end: real agent processes, the shared
 * Samba DC (reached through a TCP proxy the test can stall or cut; Samba itself is never touched),
 * the Graph simulator, and the bot over HTTP. Nothing may be lost and nothing may run twice.
 */
const AGENTS = ['agent-a', 'agent-b', 'agent-c', 'agent-d', 'agent-e', 'agent-f'] as const;
const LEASE_SECONDS = 3;
jest.setTimeout(120_000);

describe('faults: agents dying, the bot restarting, LDAP and Graph failing', () => {
  const samba = sambaEnv();
  let h: BotHarness;
  let tenant: BuiltTenant;
  let proxy: TcpProxy;
  let proxied: SambaEnv;
  const fleet = new AgentFleet(() => h.bot.url);
  const running = fleet.running;
  let tmp = '';

  beforeAll(async () => {
    tmp = mkdtempSync(join(tmpdir(), 'syncshift-faults-'));
    const directory = await connectLdapDirectory({
      url: samba.url,
      bindDn: samba.bindDn,
      password: samba.password,
      caPath: samba.caPath,
    });
    try {
      tenant = await buildTenantFromDirectory(directory, { baseDn: OU.sales, missing: 3, extra: 2, mismatched: 2 });
    } finally {
      await directory.close();
    }
    h = await startBotHarness({
      env: {
        SYNCSHIFT_JOB_LEASE_SECONDS: String(LEASE_SECONDS),
        SYNCSHIFT_APPROVERS: `${ADELE.aadObjectId},${MEGAN.aadObjectId}`,
        SYNCSHIFT_AGENT_SECRETS: [`${AGENT_ID}:${AGENT_SECRET}`, ...AGENTS.map((id) => `${id}:${secretOf(id)}`)].join(
          ',',
        ),
      },
    });
    h.graph.setUsers(tenant.users);
    const target = new URL(samba.url);
    proxy = await new TcpProxy(target.hostname, Number(target.port || 636)).start();
    proxied = { ...samba, url: `ldaps://${target.hostname}:${proxy.port}` };
    expect((await h.say('/migration start "Faults"')).length).toBe(3);
  });

  afterEach(async () => {
    fleet.killAll();
    proxy.release();
    proxy.resume();
    proxy.cutAfterServerBytes(undefined);
    h.graph.reset();
  });

  afterAll(async () => {
    fleet.killAll();
    await proxy?.stop();
    await h?.close();
    rmSync(tmp, { recursive: true, force: true });
  });

  function agent(id: (typeof AGENTS)[number], directory: SambaEnv, env: Record<string, string> = {}): AgentProcess {
    return fleet.start(id, directory, env);
  }

  const until = <T>(
    what: string,
    probe: () => Promise<T | null | undefined | false>,
    timeoutMs = 30_000,
  ): Promise<Exclude<T, false | null | undefined | 0 | ''>> =>
    eventually(probe, {
      what,
      timeoutMs,
      detail: () => fleet.logs(),
    });

  const jobRow = async (
    id: string,
  ): Promise<{
    id: string;
    state: string;
    agent_id: string | null;
    attempts: number;
    error: { code?: string; message?: string } | null;
  }> =>
    (
      await h.store.db.query<{
        id: string;
        state: string;
        agent_id: string | null;
        attempts: number;
        error: { code?: string } | null;
      }>('SELECT id, state, agent_id, attempts, error FROM jobs WHERE id = $1', [id])
    )[0]!;

  /** `/verify pilot`: returns the card id and the job behind it. */
  async function startVerify(ou: string): Promise<{ cardId: string; jobId: string; from: number }> {
    const replies = await h.say(`/verify pilot ${ou}`);
    expect(replies).toHaveLength(1);
    const verification = (await h.store.verifications.listByConversation(h.conversationId, 1))[0]!;
    return { cardId: replies[0]!.id, jobId: verification.jobId, from: h.connector.calls.indexOf(replies[0]!) + 1 };
  }

  async function finalCard(started: { cardId: string; from: number }): Promise<string> {
    const final = await h.connector
      .waitFor(
        (c) =>
          c.method === 'PUT' &&
          c.id === started.cardId &&
          !cardText(c.activity.attachments![0]!.content).includes('Verifying…'),
        { from: started.from, timeoutMs: 90_000 },
      )
      .catch((err: Error) => {
        throw new Error(`${err.message}\n${fleet.logs(3000)}`);
      });
    const card = final.activity.attachments![0]!.content;
    expect(cardProblems(card)).toEqual([]);
    const text = cardText(card);
    // Whatever failed, a person reads a sentence, never a stack trace.
    expect(JSON.stringify(card)).not.toMatch(/\bat [\w.<>]+ \(|\.ts:\d+|\.js:\d+|Error: /);
    return text;
  }

  function expectSalesNumbers(text: string): void {
    expect(text).toContain(
      `On-premises users: ${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`,
    );
    expect(text).toContain('Missing in cloud: 3');
    expect(text).toContain('Extra in cloud: 2');
    expect(text).toContain('ImmutableId differs: 2');
  }

  const leases = async (jobId: string): Promise<string[]> =>
    (
      await h.store.db.query<{ actor: string }>(
        "SELECT actor FROM audit_log WHERE action = 'job.leased' AND target = $1 ORDER BY seq",
        [jobId],
      )
    ).map((r) => r.actor);

  it('an agent killed in the middle of a read-only job: the job is leased again and finished by another agent', async () => {
    proxy.hold();
    agent('agent-a', proxied);
    const started = await startVerify('OU=Sales');
    await until('agent-a to lease the job', async () => (await jobRow(started.jobId)).agent_id === 'agent-a');
    running[0]!.child.kill('SIGKILL');
    agent('agent-b', samba);
    expectSalesNumbers(await finalCard(started));
    expect(await jobRow(started.jobId)).toMatchObject({ state: 'succeeded', agent_id: 'agent-b', attempts: 2 });
    expect(await leases(started.jobId)).toEqual(['agent:agent-a', 'agent:agent-b']);
  });

  it('an agent killed in the middle of a mutating job: outcome unknown, never handed to another agent', async () => {
    let fake: FakePowerShell | undefined;
    try {
      // The stand-in PowerShell sleeps before acting, so the agent dies while the change may be under way.
      fake = installFakePowerShell({ slowMs: 4000 } as never, join(tmp, 'adsync'));
      const adsyncEnv = { ...fake.env, SYNCSHIFT_ADSYNC_EXPORT_DIR: join(tmp, 'exports') } as Record<string, string>;
      agent('agent-c', samba, adsyncEnv);
      // Step 8 (stop the scheduler) as the runbook leaves it once an approved action is running:
      // its card is posted, the step is in progress and the job is linked to it.
      const migration = (await h.store.migrations.findByConversation(h.conversationId))!;
      const stepCard = (await h.say('/step 8'))[0]!;
      const step8 = (await h.store.runbook.listSteps(migration.id)).find((step) => step.n === 8)!;
      expect(
        await h.store.runbook.saveStep(
          migration.id,
          { ...step8, status: 'in_progress', updatedBy: 'fault-test', updatedAt: new Date() },
          step8.version,
        ),
      ).toBe(true);
      const job = await h.store.jobs.enqueue({
        kind: 'adsync.stopScheduler',
        purpose: 'step.action',
        payload: { action: 'adsync.stopScheduler' },
        conversationId: h.conversationId,
        migrationId: migration.id,
        requestedBy: { id: 'fault-test', name: 'fault-test' },
        pinnedAgent: 'agent-c',
        mutating: true,
      });
      await h.store.runbook.linkJob(job.id, migration.id, 8, 'action');
      h.bot.jobs.wakeAgents();
      await until('agent-c to lease the job', async () => (await jobRow(job.id)).agent_id === 'agent-c').catch(
        async (err: Error) => {
          throw new Error(
            `${err.message}\n${JSON.stringify(await jobRow(job.id))} ${JSON.stringify(await leases(job.id))}`,
          );
        },
      );
      await new Promise((resolve) => setTimeout(resolve, 500));
      running[0]!.child.kill('SIGKILL');
      // A healthy agent with Connect Sync access keeps polling; it must not get the job.
      agent('agent-d', samba, adsyncEnv);
      const failed = await until('the job to fail as outcome unknown', async () => {
        const row = await jobRow(job.id);
        return row.state === 'failed' ? row : null;
      });
      expect(failed).toMatchObject({ agent_id: 'agent-c', error: { code: 'RELAY.OUTCOME_UNKNOWN' } });
      expect(failed.error!.message).toContain('adsync.stopScheduler');
      // Give agent-d a few more lease polls: nobody got the job after agent-c confirmed starting it.
      // (A lease before agent-c's is possible and harmless: the previous test's agent was killed while
      // its long poll was open, Node may hand that dead request a job, and an unconfirmed lease ran nothing.)
      await new Promise((resolve) => setTimeout(resolve, LEASE_SECONDS * 1000));
      const holders = await leases(job.id);
      expect(holders[holders.length - 1]).toBe('agent:agent-c');
      expect(holders.filter((holder) => holder === 'agent:agent-c' || holder === 'agent:agent-d')).toEqual([
        'agent:agent-c',
      ]);
      expect(await jobRow(job.id)).toMatchObject({ state: 'failed', attempts: holders.length });
      const [started] = await h.store.db.query<{ started: boolean }>(
        'SELECT started_at IS NOT NULL AS started FROM jobs WHERE id = $1',
        [job.id],
      );
      expect(started).toEqual({ started: true });
      // The step's card now asks a person to check by hand.
      const updated = await h.connector.waitFor(
        (c) =>
          c.method === 'PUT' &&
          c.id === stepCard.id &&
          cardText(c.activity.attachments![0]!.content).includes('unknown'),
      );
      const text = cardText(updated.activity.attachments![0]!.content);
      expect(text).toContain('whether it changed anything is unknown');
      expect(text).toContain('Check Connect Sync by hand');
      expect(cardProblems(updated.activity.attachments![0]!.content)).toEqual([]);
      expect((await h.store.runbook.listSteps(migration.id)).find((step) => step.n === 8)!.status).toBe('failed');
      await new Promise((resolve) => setTimeout(resolve, 4000));
      const calls = fake.readState().calls.filter((c) => c.cmdlet === 'Set-ADSyncScheduler');
      expect(calls.length).toBeLessThanOrEqual(1);
      expect(
        await h.store.db.query("SELECT outcome FROM audit_log WHERE action = 'job.expired' AND target = $1", [job.id]),
      ).toEqual([{ outcome: 'outcome-unknown' }]);
    } finally {
      fake?.cleanup();
    }
  });

  it('the bot restarting in the middle of a job: the agent delivers its result when the bot is back, nothing is lost', async () => {
    proxy.hold();
    const agentE = agent('agent-e', proxied);
    const started = await startVerify('OU=Sales');
    await until('agent-e to lease the job', async () => (await jobRow(started.jobId)).agent_id === 'agent-e');
    await h.restart(async () => {
      proxy.release();
      await until('the agent to try delivering while the bot is down', async () =>
        agentE.log().includes('result not delivered yet; retrying'),
      );
    });
    expectSalesNumbers(await finalCard(started));
    expect(await jobRow(started.jobId)).toMatchObject({ state: 'succeeded', agent_id: 'agent-e', attempts: 1 });
    expect(await leases(started.jobId)).toEqual(['agent:agent-e']);
  });

  it('the LDAP server vanishing in the middle of a scan: a clear card, and the job says what happened', async () => {
    proxy.cutAfterServerBytes(60_000);
    agent('agent-f', proxied, { LDAP_PAGE_SIZE: '100' });
    const started = await startVerify('OU=Sales');
    const text = await finalCard(started);
    expect(proxy.cutAtBytes.length).toBeGreaterThan(0);
    expect(text).toContain('cannot reach the domain controller');
    const row = await jobRow(started.jobId);
    expect(row).toMatchObject({ state: 'failed', error: { code: 'DIRECTORY.UNAVAILABLE' } });
    expect(text).toContain(row.error!.message!.slice(0, 40));
    expect((await h.store.verifications.findByJob(started.jobId))!.status).toBe('failed');
  });

  it('LDAPS with a CA the DC does not use: a clear TLS card', async () => {
    const wrongCa = join(tmp, 'wrong-ca.pem');
    execFileSync(
      'openssl',
      [
        'req',
        '-x509',
        '-newkey',
        'rsa:2048',
        '-nodes',
        '-keyout',
        join(tmp, 'wrong-ca.key'),
        '-out',
        wrongCa,
        '-days',
        '1',
        '-subj',
        '/CN=Not the Contoso CA',
      ],
      { stdio: 'ignore' },
    );
    agent('agent-a', { ...samba, caPath: wrongCa });
    const started = await startVerify('OU=Sales');
    const text = await finalCard(started);
    expect(await jobRow(started.jobId)).toMatchObject({ state: 'failed', error: { code: 'DIRECTORY.TLS' } });
    expect(text).toContain('the TLS connection to');
  });

  it('a wrong LDAP password: a clear card', async () => {
    agent('agent-a', { ...samba, password: 'not-the-password' });
    const started = await startVerify('OU=Sales');
    const text = await finalCard(started);
    expect(await jobRow(started.jobId)).toMatchObject({ state: 'failed', error: { code: 'DIRECTORY.BIND_FAILED' } });
    expect(text).toContain('rejected the bind');
    expect(text).toContain('invalid credentials');
  });

  it('Graph answering 429 and then 503: retried with backoff, the numbers are right; a result replayed afterwards is refused', async () => {
    agent('agent-b', samba);
    // The verify's first Graph call is a users delta request: a round from the migration's copy, or the
    // token a first full read starts from.
    h.graph.failNext(1, 429, { retryAfterSeconds: 1, path: '/v1.0/users/delta' });
    h.graph.failNext(1, 503, { retryAfterSeconds: 1, path: '/v1.0/users/delta' });
    const seen = h.graph.requests.length;
    const started = await startVerify('OU=Sales');
    expectSalesNumbers(await finalCard(started));
    const statuses = h.graph.requests
      .slice(seen)
      .filter((r) => r.path === '/v1.0/users/delta')
      .map((r) => r.status);
    expect(statuses.slice(0, 3)).toEqual([429, 503, 200]);

    const before = await jobRow(started.jobId);
    const replay = await fetch(`${h.bot.url}/relay/v1/jobs/${started.jobId}/result`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'x-syncshift-agent': 'agent-b',
        authorization: `Bearer ${secretOf('agent-b')}`,
      },
      body: JSON.stringify({ outcome: 'failed', error: { code: 'DIRECTORY.ERROR', message: 'replayed' } }),
    });
    expect(replay.status).toBe(409);
    expect(await jobRow(started.jobId)).toEqual(before);
  });

  it('Graph unavailable for good: a clear card after bounded retries', async () => {
    agent('agent-b', samba);
    h.graph.failNext(50, 503, { retryAfterSeconds: 0 });
    const started = await startVerify('OU=Sales');
    const text = await finalCard(started);
    expect(text).toMatch(/still failing after \d+ retries/);
    const verification = await h.store.verifications.findByJob(started.jobId);
    expect(verification).toMatchObject({ status: 'failed', summary: { error: { code: 'CLOUD.UNAVAILABLE' } } });
  });

  it("an OU outside the agent's allow-list is refused by the agent, and the card says why", async () => {
    agent('agent-c', samba, { SYNCSHIFT_ALLOWED_BASE_DNS: OU.sales });
    const started = await startVerify('OU=SalesOps');
    const text = await finalCard(started);
    expect(text).toContain('outside the base DNs this agent may touch');
    expect(text).toContain(OU.sales);
    expect(await jobRow(started.jobId)).toMatchObject({ state: 'failed', error: { code: 'POLICY.DN_NOT_ALLOWED' } });
  });

  it('a read-only agent is never handed a Connect Sync change: the job waits, and /agent list shows what the agent runs', async () => {
    const migration = (await h.store.migrations.findByConversation(h.conversationId))!;
    const step = (await h.store.runbook.listSteps(migration.id)).find((s) => s.n === 13)!;
    expect(
      await h.store.runbook.saveStep(
        migration.id,
        { ...step, status: 'in_progress', updatedBy: 'fault-test', updatedAt: new Date() },
        step.version,
      ),
    ).toBe(true);
    const job = await h.store.jobs.enqueue({
      kind: 'adsync.startScheduler',
      purpose: 'step.action',
      payload: { action: 'adsync.startScheduler', policyType: 'Initial' },
      conversationId: h.conversationId,
      migrationId: migration.id,
      requestedBy: { id: 'fault-test', name: 'fault-test' },
      pinnedAgent: 'agent-b',
      mutating: true,
    });
    await h.store.runbook.linkJob(job.id, migration.id, 13, 'action');
    agent('agent-b', samba, {
      SYNCSHIFT_READ_ONLY: 'true',
      SYNCSHIFT_ADSYNC_EXPORT_DIR: join(tmp, 'exports'),
      SYNCSHIFT_POWERSHELL: '/nonexistent/powershell',
    });
    h.bot.jobs.wakeAgents();
    // The agent says what it runs in its lease requests: the Connect Sync reads, none of the changes.
    const declared = await until('agent-b to declare what it runs', async () => {
      const row = await h.store.agents.get('agent-b');
      return row?.readOnly === true && row.actions?.includes('adsync.listRules') ? row : null;
    });
    expect(declared.actions).toEqual([
      'directory.scanOu',
      'adsync.getScheduler',
      'adsync.exportConfig',
      'adsync.listRules',
      'adsync.readiness',
      'adsync.noFlowCheck',
    ]);
    // Several long polls later the change is still queued, untouched: it did not go to the agent that would refuse it.
    await new Promise((resolve) => setTimeout(resolve, 2500));
    expect(await jobRow(job.id)).toMatchObject({ state: 'queued', agent_id: null, attempts: 0 });
    const list = cardText(firstCard(await h.say('/agent list')));
    // (The "Waiting:" line for it is checked in test/bot/agents.test.ts: here agents killed by the
    // earlier tests still count as online for a minute, and they could run it.)
    expect(list.split('\n').find((l) => l.startsWith('agent-b '))).toContain(
      'runs: directory.scanOu, adsync.getScheduler, adsync.exportConfig, adsync.listRules, adsync.readiness, adsync.noFlowCheck (read-only)',
    );
    await h.store.jobs.cancelQueued({ jobIds: [job.id], reason: 'fault test over', now: new Date() });
  });

  it('a revoked agent process is refused at once and its queued work goes to another agent', async () => {
    const revoked = agent('agent-d', samba);
    await until('agent-d to call in', async () => (await h.store.agents.get('agent-d'))?.lastSeenAt);
    expect(cardText(firstCard(await h.say('/agent revoke agent-d', MEGAN)))).toContain('Agent agent-d revoked');
    await until('agent-d to log the refusal', async () => revoked.log().includes('refused this agent'));
    const started = await startVerify('OU=Sales');
    await new Promise((resolve) => setTimeout(resolve, 1500));
    expect((await jobRow(started.jobId)).state).toBe('queued');
    agent('agent-a', samba);
    expectSalesNumbers(await finalCard(started));
    expect(await leases(started.jobId)).toEqual(['agent:agent-a']);
  });
});
