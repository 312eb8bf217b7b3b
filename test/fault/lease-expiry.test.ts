import { RelayClient } from '../../src/agent/relay-client';
import type { Timers } from '../../src/jobs/result-applier';
import { ADELE, MEGAN } from '../helpers/activities';
import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText, type ConnectorCall } from '../helpers/fake-connector';

const until = (what: string, probe: () => Promise<boolean>): Promise<true> =>
  eventually(probe, { what, timeoutMs: 10_000, intervalMs: 50 });

/**
 * Leases whose agent went quiet, noticed by the bot itself: with one agent that dies there is no
 * other agent's poll to notice for it. The relay's clock and the sweep timer are the test's, so
 * "five minutes later" takes no time. The "agents" are RelayClients in this process: an agent
 * that leases a job and then says nothing more is what a killed agent looks like from the bot.
 */
const LEASE_MS = 60_000;
const LEADER = 'agent-lone';
const LEADER_SECRET = 'lone-agent-secret-0123456789-abcdef';

describe('the bot notices dead agents on its own', () => {
  let h: BotHarness;
  let clock = Date.parse('2026-06-01T08:00:00.000Z');
  const intervals: { fn: () => void; ms: number }[] = [];
  const timers: Timers = {
    setInterval: (fn, ms) => {
      intervals.push({ fn, ms });
      return intervals.length;
    },
    clearInterval: () => undefined,
  };
  const lone = (): RelayClient =>
    new RelayClient({ url: h.bot.url, agentId: LEADER, secret: LEADER_SECRET, agentVersion: '0.1.0-test' });

  beforeAll(async () => {
    h = await startBotHarness({
      env: {
        SYNCSHIFT_JOB_LEASE_SECONDS: String(LEASE_MS / 1000),
        SYNCSHIFT_JOB_MAX_ATTEMPTS: '3',
        SYNCSHIFT_LEASE_SWEEP_SECONDS: '7',
        SYNCSHIFT_APPROVERS: `${ADELE.aadObjectId},${MEGAN.aadObjectId}`,
        SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET},${LEADER}:${LEADER_SECRET}`,
      },
      relayNow: () => new Date(clock),
      timers,
    });
    await h.bot.startup;
    expect((await h.say('/migration start "Lease expiry"')).length).toBe(3);
  });
  afterAll(async () => {
    await h?.close();
  });

  /** What the bot's interval timer does every SYNCSHIFT_LEASE_SWEEP_SECONDS. */
  async function sweepTimerFires(): Promise<void> {
    const sweep = intervals.find((i) => i.ms === 7_000);
    expect(sweep).toBeDefined();
    sweep!.fn();
    // The tick runs in the background; relay.sweep() afterwards waits for whatever it left.
    await h.bot.relay.sweep();
  }

  const jobRow = async (
    id: string,
  ): Promise<{
    state: string;
    attempts: number;
    agent_id: string | null;
    error: { code?: string; message?: string; hint?: string } | null;
    applied_at: unknown;
  }> =>
    (
      await h.store.db.query<{
        state: string;
        attempts: number;
        agent_id: string | null;
        error: { code?: string; message?: string } | null;
        applied_at: unknown;
      }>('SELECT state, attempts, agent_id, error, applied_at FROM jobs WHERE id = $1', [id])
    )[0]!;

  const latestCard = async (cardId: string, from: number, predicate: (text: string) => boolean): Promise<string> => {
    const call = await h.connector.waitFor(
      (c: ConnectorCall) =>
        c.method === 'PUT' && c.id === cardId && predicate(cardText(c.activity.attachments![0]!.content)),
      { from, timeoutMs: 10_000 },
    );
    expect(cardProblems(call.activity.attachments![0]!.content)).toEqual([]);
    return cardText(call.activity.attachments![0]!.content);
  };

  it('a mutating step whose only agent died becomes "outcome unknown" on the sweep, with a card asking a person to check', async () => {
    const migration = (await h.store.migrations.findByConversation(h.conversationId))!;
    const stepCard = (await h.say('/step 8'))[0]!;
    const from = h.connector.calls.length;
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
      pinnedAgent: LEADER,
      mutating: true,
    });
    await h.store.runbook.linkJob(job.id, migration.id, 8, 'action');
    const leased = await lone().lease(0, undefined, {
      actions: ['directory.scanOu', 'adsync.stopScheduler'],
      readOnly: false,
    });
    expect(leased?.id).toBe(job.id);
    await lone().progress(job.id, { scanned: 0, phase: 'starting' });
    // The agent dies here. Nothing else polls. Before the lease runs out the sweep leaves it alone.
    clock += LEASE_MS - 1;
    await sweepTimerFires();
    expect((await jobRow(job.id)).state).toBe('leased');
    clock += 2;
    await sweepTimerFires();
    expect(await jobRow(job.id)).toMatchObject({
      state: 'failed',
      agent_id: LEADER,
      error: { code: 'RELAY.OUTCOME_UNKNOWN' },
    });
    const text = await latestCard(stepCard.id, from, (t) => t.includes('unknown'));
    expect(text).toContain('whether it changed anything is unknown');
    expect(text).toContain('Check Connect Sync by hand');
    expect((await h.store.runbook.listSteps(migration.id)).find((step) => step.n === 8)!.status).toBe('failed');
    await until('the result to be marked applied', async () => (await jobRow(job.id)).applied_at !== null);
    // Its late result is refused: the job ended.
    await expect(
      lone().result(job.id, { outcome: 'succeeded', result: { action: 'adsync.stopScheduler', data: {} } }),
    ).rejects.toMatchObject({ status: 409 });
  });

  it('a verify whose agent keeps dying goes back to the queue (the card says so) and fails after 3 attempts with a clear card', async () => {
    const replies = await h.say('/verify pilot OU=Sales');
    const cardId = replies[0]!.id;
    const from = h.connector.calls.length;
    const jobId = (await h.store.verifications.listByConversation(h.conversationId, 1))[0]!.jobId;
    for (let attempt = 1; attempt <= 3; attempt++) {
      const leased = await lone().lease(0, undefined, { actions: ['directory.scanOu'], readOnly: true });
      expect(leased?.id).toBe(jobId);
      await lone().progress(jobId, { scanned: 500 * attempt, phase: 'directory' });
      clock += LEASE_MS + 1;
      await sweepTimerFires();
      if (attempt < 3) {
        expect(await jobRow(jobId)).toMatchObject({ state: 'queued', attempts: attempt });
        const text = await latestCard(cardId, from, (t) => t.includes(`attempt ${attempt} of 3`));
        expect(text).toContain(
          `Verifying… The agent stopped answering (attempt ${attempt} of 3); the scan is queued for another agent.`,
        );
      }
    }
    const row = await jobRow(jobId);
    expect(row).toMatchObject({ state: 'failed', attempts: 3, error: { code: 'RELAY.AGENT_LOST' } });
    const text = await latestCard(cardId, from, (t) => !t.includes('Verifying…'));
    expect(text).toContain(
      'The agent stopped answering 3 times while running this (directory.scanOu), so it was not tried again.',
    );
    expect(text).toContain('Check the agent host');
    expect((await h.store.verifications.findByJob(jobId))!.status).toBe('failed');
    // Nobody is offered it again.
    await expect(lone().lease(0, undefined, { actions: ['directory.scanOu'], readOnly: true })).resolves.toBeNull();
    const audit = await h.store.db.query<{ action: string; outcome: string }>(
      "SELECT action, outcome FROM audit_log WHERE target = $1 AND action LIKE 'job.%' ORDER BY seq",
      [jobId],
    );
    expect(audit.map((a) => `${a.action}:${a.outcome}`)).toEqual([
      'job.leased:leased',
      'job.requeued:lease-expired',
      'job.leased:leased',
      'job.requeued:lease-expired',
      'job.leased:leased',
      'job.expired:agent-lost',
    ]);
  });

  it('a slow agent whose lease ran out may still deliver while nobody else has taken the job', async () => {
    const replies = await h.say('/verify pilot OU=Sales');
    const from = h.connector.calls.indexOf(replies[0]!) + 1;
    const jobId = (await h.store.verifications.listByConversation(h.conversationId, 1))[0]!.jobId;
    expect((await lone().lease(0, undefined, { actions: ['directory.scanOu'], readOnly: true }))?.id).toBe(jobId);
    clock += LEASE_MS + 1;
    await sweepTimerFires();
    expect(await jobRow(jobId)).toMatchObject({ state: 'queued', attempts: 1 });
    await lone().result(jobId, {
      outcome: 'failed',
      error: { code: 'DIRECTORY.UNAVAILABLE', message: 'The domain controller went away.' },
    });
    expect(await jobRow(jobId)).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: { code: 'DIRECTORY.UNAVAILABLE' },
    });
    const text = await latestCard(replies[0]!.id, from, (t) => t.includes('domain controller went away'));
    expect(text).not.toContain('Verifying…');
  });
});

describe('a result stored just before the bot stopped is applied when it starts again', () => {
  let h: BotHarness;
  let clock = Date.parse('2026-06-01T08:00:00.000Z');

  beforeAll(async () => {
    h = await startBotHarness({ leaseSweepMs: 0, relayNow: () => new Date(clock) });
    await h.bot.startup;
    expect((await h.say('/migration start "Crash before apply"')).length).toBe(3);
  });
  afterAll(async () => {
    await h?.close();
  });

  it("step 3's backup result, accepted but never applied, moves the step once after a restart, and not again after another", async () => {
    const migration = (await h.store.migrations.findByConversation(h.conversationId))!;
    const stepCard = (await h.say('/step 3'))[0]!;
    const step3 = (await h.store.runbook.listSteps(migration.id)).find((step) => step.n === 3)!;
    expect(
      await h.store.runbook.saveStep(
        migration.id,
        { ...step3, status: 'in_progress', updatedBy: 'fault-test', updatedAt: new Date() },
        step3.version,
      ),
    ).toBe(true);
    const job = await h.store.jobs.enqueue({
      kind: 'adsync.exportConfig',
      purpose: 'step.check',
      payload: { action: 'adsync.exportConfig' },
      conversationId: h.conversationId,
      migrationId: migration.id,
      requestedBy: { id: 'fault-test', name: 'fault-test' },
      pinnedAgent: AGENT_ID,
    });
    await h.store.runbook.linkJob(job.id, migration.id, 3, 'check');
    const agent = new RelayClient({
      url: h.bot.url,
      agentId: AGENT_ID,
      secret: AGENT_SECRET,
      agentVersion: '0.1.0-test',
    });
    expect((await agent.lease(0, undefined, { actions: ['adsync.exportConfig'], readOnly: false }))?.id).toBe(job.id);
    const result = {
      action: 'adsync.exportConfig' as const,
      data: { path: 'C:\\SyncShift\\Backups\\syncshift-1', files: 24, bytes: 4096 },
    };
    const putsBefore = h.connector.calls.filter((c) => c.method === 'PUT' && c.id === stepCard.id).length;
    // The relay's own UPDATE for an accepted result; the bot stops before anything acts on it.
    expect(
      await h.store.jobs.finish({
        jobId: job.id,
        agentId: AGENT_ID,
        outcome: 'succeeded',
        result,
        error: null,
        now: new Date(clock),
      }),
    ).toMatchObject({ state: 'succeeded', appliedAt: null });
    expect((await h.store.runbook.listSteps(migration.id)).find((s) => s.n === 3)!.status).toBe('in_progress');
    // The stopped instance's claim on the result runs out (2 minutes), then the bot starts again.
    clock += 3 * 60_000;
    await h.restart();
    await h.bot.startup;
    const done = (await h.store.runbook.listSteps(migration.id)).find((s) => s.n === 3)!;
    expect(done).toMatchObject({ status: 'done', evidence: { export: result.data } });
    const versionAfter = done.version;
    expect((await h.store.jobs.get(job.id))!.appliedAt).not.toBeNull();
    const card = await h.connector.waitFor(
      (c) =>
        c.method === 'PUT' &&
        c.id === stepCard.id &&
        cardText(c.activity.attachments![0]!.content).includes('syncshift-1'),
    );
    expect(cardProblems(card.activity.attachments![0]!.content)).toEqual([]);
    const putsAfterFirst = h.connector.calls.filter((c) => c.method === 'PUT' && c.id === stepCard.id).length;
    expect(putsAfterFirst).toBeGreaterThan(putsBefore);

    // Another restart, and a sweep: nothing is applied twice.
    clock += 3 * 60_000;
    await h.restart();
    await h.bot.startup;
    await h.bot.relay.sweep();
    expect((await h.store.runbook.listSteps(migration.id)).find((s) => s.n === 3)!.version).toBe(versionAfter);
    expect(h.connector.calls.filter((c) => c.method === 'PUT' && c.id === stepCard.id)).toHaveLength(putsAfterFirst);
  });
});
