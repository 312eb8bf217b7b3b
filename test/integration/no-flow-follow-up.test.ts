import { rmSync } from 'node:fs';
import path from 'node:path';
import { createNoFlowRules, listRules, startScheduler } from '../../src/agent/actions/adsync';
import { checkNoFlow } from '../../src/agent/actions/no-flow-check';
import type { AdaptiveCardJson } from '../../src/cards/render';
import type { Directory } from '../../src/directory/types';
import { JobQueue } from '../../src/jobs/job-queue';
import { SYSTEM_ACTOR } from '../../src/runbook/actor';
import { planNoFlowRules } from '../../src/runbook/sync-rules';
import { finishSyncCycle, installFakePowerShell, type FakePowerShell } from '../../src/sandbox/simulated-connect-sync';
import type { CardSink } from '../../src/services/card-sink';
import { ConnectSyncServers } from '../../src/services/connect-sync-servers';
import { NoFlowCheckService } from '../../src/services/no-flow-check-service';
import { NoFlowFollowUpService } from '../../src/services/no-flow-follow-up';
import { createLogger } from '../../src/shared/logger';
import { createNoFlowFollowUpRepo } from '../../src/store/no-flow-follow-up-repo';
import type { JobRecord, Store } from '../../src/store/types';
import { cardText } from '../helpers/fake-connector';
import { pgliteBackend, postgresBackend, useStore } from '../helpers/store-backends';
import { noFlowConnectorSpace, openNoFlowDirectory, SALES_OU, writeNoFlowForest } from '../fixtures/no-flow-forest';

let AGENT = 'agent-cs1';
const MINUTE = 60_000;
let counter = 0;
const unique = (what: string): string => `${what}-${process.pid}-${(counter += 1)}`;

/** Cards as Teams would get them, by conversation. */
class CollectingSink implements CardSink {
  posted: { conversationId: string; text: string }[] = [];
  async post(conversationId: string, card: AdaptiveCardJson): Promise<string> {
    this.posted.push({ conversationId, text: cardText(card as Record<string, unknown>) });
    return `activity-${this.posted.length}`;
  }
  async update(): Promise<void> {}
  matching(pattern: RegExp): string[] {
    return this.posted.filter((p) => pattern.test(p.text)).map((p) => p.text);
  }
}

/**
 * The no-flow check after a wave's full cycle (issue 16), at the service level on both store
 * backends: two bot instances (two services on one store) are handed the same results and run the
 * same timer, and of each step only one happens; the readings are the agent action's own, against the
 * stand-in PowerShell and a simulated forest.
 */
describe.each([pgliteBackend(), postgresBackend()])('no-flow follow-up on $name', (backend) => {
  const store = useStore(backend);
  let fake: FakePowerShell;
  let forestFile: string;
  let directory: Directory;
  let clock: Date;
  let cards: CollectingSink;
  let jobs: JobQueue;
  let a: NoFlowFollowUpService;
  let b: NoFlowFollowUpService;
  let migrationId: string;
  let conversationId: string;

  const logger = createLogger('test', process.env.LOG_LEVEL ?? 'silent');

  function service(s: Store): NoFlowFollowUpService {
    const servers = new ConnectSyncServers({
      store: s,
      jobs,
      cards,
      policy: { approvers: [], required: 1, ttlMs: 60 * MINUTE },
      logger,
    });
    return new NoFlowFollowUpService({
      store: s,
      jobs,
      cards,
      servers,
      noFlow: new NoFlowCheckService({ store: s, jobs, cards, servers, logger }),
      logger,
      now: () => clock,
      timing: { intervalMs: 5 * MINUTE, deadlineMs: 120 * MINUTE },
      staleMs: 2 * MINUTE,
    });
  }

  beforeEach(async () => {
    fake = installFakePowerShell({ connectorSpace: noFlowConnectorSpace() });
    forestFile = writeNoFlowForest();
    directory = await openNoFlowDirectory(forestFile);
    clock = new Date();
    cards = new CollectingSink();
    jobs = new JobQueue({ store: store(), logger });
    a = service(store());
    b = service(store());
    conversationId = unique('conv');
    // Each test its own agent: the store (and so the queue) is shared by the tests of a backend.
    AGENT = unique('agent');
    migrationId = (await store().migrations.create({ name: 'follow-up', conversationId, createdBy: 'adele' }))!.id;
    await store().servers.set({ migrationId, agent: AGENT, by: SYSTEM_ACTOR, now: clock });
  });
  afterEach(async () => {
    await directory.close();
    fake.cleanup();
    rmSync(path.dirname(forestFile), { recursive: true, force: true });
  });

  /** Wave1 (the Sales OU) with its rules created and its approved full cycle job succeeded, as the relay hands it over. */
  async function waveCycleDone(rules: 'done' | 'undone' = 'done'): Promise<JobRecord> {
    const used = (await listRules({ env: fake.env })).rules.map((r) => r.precedence);
    await createNoFlowRules(planNoFlowRules({ ouDn: SALES_OU, usedPrecedences: used }), { env: fake.env });
    const wave = (await store().waves.createWave({
      migrationId,
      name: 'Wave1',
      scheduledFor: null,
      createdBy: 'adele',
      ous: [SALES_OU],
      now: clock,
    }))!;
    // The wave's rules action as its approval leaves it (undone: a rollback disabled them).
    await store().waveActions.create({
      migrationId,
      waveId: wave.id,
      kind: 'rules',
      status: rules,
      by: 'Adele Vance',
      now: clock,
    });
    const action = (await store().waveActions.create({
      migrationId,
      waveId: wave.id,
      kind: 'cycle',
      status: 'done',
      by: 'Adele Vance',
      now: clock,
    }))!;
    const job = await jobs.enqueue({
      purpose: 'wave.action',
      payload: { action: 'adsync.startScheduler', policyType: 'Initial' },
      pinnedAgent: AGENT,
      conversationId,
      migrationId,
      requestedBy: SYSTEM_ACTOR,
      wake: false,
    });
    await store().waveActions.linkJob(job.id, action.id, 'action');
    return run(job.id, { action: 'adsync.startScheduler', data: await startScheduler('Initial', { env: fake.env }) });
  }

  /** The agent leases the job `jobId` (the only one queued) and finishes it with `result`, as the relay stores it. */
  async function run(jobId: string, result: unknown): Promise<JobRecord> {
    const leased = await store().jobs.lease({ agentId: AGENT, leaseMs: 60 * MINUTE, now: new Date() });
    expect(leased?.id).toBe(jobId);
    const done = await store().jobs.finish({
      jobId,
      agentId: AGENT,
      outcome: 'succeeded',
      result,
      error: null,
      now: new Date(),
    });
    expect(done?.state).toBe('succeeded');
    return done!;
  }

  /** The queued check job of the follow-up, finished with what the agent action reads now. */
  async function answered(): Promise<JobRecord> {
    const [row] = await a.list(migrationId);
    const job = await store().jobs.get(row!.checkJobId!);
    expect(job).toMatchObject({ purpose: 'step.check', pinnedAgent: AGENT, payload: { ou: SALES_OU } });
    const data = await checkNoFlow(directory, { ou: SALES_OU, checkBase: () => undefined }, { env: fake.env });
    // As the agent posts it: the action and its data (readAdsyncResult checks both).
    return run(job!.id, { action: 'adsync.noFlowCheck', data });
  }

  const both = async (f: (s: NoFlowFollowUpService) => Promise<unknown>) => Promise.all([f(a), f(b)]);

  test('a wave cycle: one follow-up per OU, asked again while no cycle completed, the result card posted once', async () => {
    const cycle = await waveCycleDone();
    // The relay may offer one result twice (another instance, a crash): one follow-up, one "checks" card.
    await both((s) => s.afterWaveJob(cycle));
    expect(cards.matching(/SyncShift checks cloudNoFlow for wave Wave1/)).toHaveLength(1);
    const [queued] = await a.list(migrationId);
    expect(queued).toMatchObject({ ou: SALES_OU, label: 'wave Wave1', status: 'checking', triggerJobId: cycle.id });
    expect(queued!.checkJobId).not.toBeNull();

    // The cycle is still running: the reading shows only the earlier cycle's runs.
    const first = await answered();
    await both((s) => s.jobFinished(first));
    const waiting = (await a.list(migrationId))[0]!;
    expect(waiting).toMatchObject({ status: 'waiting', checks: 1, lastOutcome: 'noCycleSinceRules' });
    expect(waiting.nextAt.getTime()).toBe(clock.getTime() + 5 * MINUTE);
    expect(cards.matching(/cloudNoFlow: wave Wave1/)).toEqual([]);

    // Not yet due: nothing queued. Due: one of the two instances queues it.
    await both((s) => s.tick());
    expect((await a.list(migrationId))[0]!.status).toBe('waiting');
    clock = new Date(clock.getTime() + 5 * MINUTE);
    await both((s) => s.tick());
    const again = (await a.list(migrationId))[0]!;
    expect(again.status).toBe('checking');
    expect(again.checkJobId).not.toBe(queued!.checkJobId);

    finishSyncCycle(fake);
    const finished = await answered();
    await both((s) => s.jobFinished(finished));
    expect((await a.list(migrationId))[0]).toMatchObject({ status: 'posted', checks: 2, lastOutcome: 'allCarry' });
    const results = cards.matching(/cloudNoFlow: wave Wave1/);
    expect(results).toHaveLength(1);
    expect(results[0]).toContain('Every object read carries cloudNoFlow: wave Wave1');
    expect(results[0]).toContain(SALES_OU);
    expect(results[0]).toContain('Full Synchronization ended');

    // Offered again later (a crash before the relay marked it applied): nothing more.
    await both((s) => s.jobFinished(finished));
    clock = new Date(clock.getTime() + 60 * MINUTE);
    await both((s) => s.tick());
    expect(cards.matching(/cloudNoFlow: wave Wave1/)).toHaveLength(1);
  });

  test('no cycle completed by the deadline: one card says so, with the scheduler read and what to check', async () => {
    const cycle = await waveCycleDone();
    await both((s) => s.afterWaveJob(cycle));
    await a.jobFinished(await answered());
    // Every five minutes, the last reading at the deadline itself.
    for (let i = 0; i < 24; i += 1) {
      clock = new Date(clock.getTime() + 5 * MINUTE);
      await both((s) => s.tick());
      const row = (await a.list(migrationId))[0]!;
      if (row.status !== 'checking') break;
      const reading = await answered();
      await both((s) => s.jobFinished(reading));
    }
    const row = (await a.list(migrationId))[0]!;
    expect(row).toMatchObject({ status: 'timedOut', final: 'deadline', checks: 25 });
    const deadline = cards.matching(/No Connect Sync cycle completed/);
    expect(deadline).toHaveLength(1);
    expect(deadline[0]).toContain('No Connect Sync cycle completed for wave Wave1 in 2 hours');
    expect(deadline[0]).toContain('Get-ADSyncScheduler');
    expect(deadline[0]).toContain('Sync cycle in progress');
    expect(deadline[0]).toContain('Delta Synchronization started');
    expect(cards.matching(/cloudNoFlow: wave Wave1/)).toEqual([]);
  });

  test('claims a stopped instance left are taken over: a check never queued, a card never posted', async () => {
    const cycle = await waveCycleDone();
    await a.afterWaveJob(cycle);
    const repo = createNoFlowFollowUpRepo(store().db);
    // Stopped after claiming, before queuing: the row says checking, with no job.
    let row = (await repo.list(migrationId))[0]!;
    // Its job out of the way (answered, never applied), the row as if the instance stopped before queuing.
    await answered();
    expect(await repo.update(row.id, row.version, { checkJobId: null, claimedAt: clock })).toBe(true);
    await b.tick();
    expect((await repo.list(migrationId))[0]).toMatchObject({ status: 'checking', checkJobId: null });
    clock = new Date(clock.getTime() + 2 * MINUTE);
    await b.tick(); // back to waiting, due now
    await b.tick(); // queued again
    row = (await repo.list(migrationId))[0]!;
    expect(row.status).toBe('checking');
    expect(row.checkJobId).not.toBeNull();

    // Stopped after claiming the post, before posting: the next instance posts it, once.
    finishSyncCycle(fake);
    await answered();
    row = (await repo.list(migrationId))[0]!;
    expect(
      await repo.update(row.id, row.version, { status: 'posting', final: 'result', claimedAt: clock, checks: 1 }),
    ).toBe(true);
    await both((s) => s.tick());
    expect(cards.matching(/cloudNoFlow: wave Wave1/)).toEqual([]);
    clock = new Date(clock.getTime() + 2 * MINUTE);
    await both((s) => s.tick());
    expect(cards.matching(/cloudNoFlow: wave Wave1/)).toHaveLength(1);
    expect((await repo.list(migrationId))[0]!.status).toBe('posted');
  });

  test('only a succeeded cycle (not its undo, not a rules action) is followed up', async () => {
    const cycle = await waveCycleDone();
    await a.afterWaveJob({ ...cycle, state: 'failed' });
    // A step action that is not step 13's (no link to the step at all here), and it handed to the wave hook.
    const other = await jobs.enqueue({
      purpose: 'step.action',
      payload: { action: 'adsync.startScheduler', policyType: 'Initial' },
      pinnedAgent: AGENT,
      conversationId,
      migrationId,
      requestedBy: SYSTEM_ACTOR,
      wake: false,
    });
    await a.afterStepJob({ ...other, state: 'succeeded' });
    await a.afterWaveJob({ ...other, state: 'succeeded' });
    expect(await a.list(migrationId)).toEqual([]);
    expect(cards.posted).toEqual([]);
  });

  test("a rollback's cycle (the wave's rules undone) is not followed up: there is no cloudNoFlow to confirm", async () => {
    await a.afterWaveJob(await waveCycleDone('undone'));
    expect(await a.list(migrationId)).toEqual([]);
    expect(cards.posted).toEqual([]);
  });
});
