import { ResultApplier, type Timers } from '../../src/jobs/result-applier';
import { createLogger } from '../../src/shared/logger';
import type { JobRecord, Store } from '../../src/store/types';
import { pgliteBackend, postgresBackend, useStore } from '../helpers/store-backends';

const T0 = new Date('2021-03-01T00:00:00.000Z');
let seq = 0;

/** Applying stored results exactly once: a consumer that fails is retried later, one that succeeds never again. */
describe.each([pgliteBackend(), postgresBackend()])('result applier on $name', (backend) => {
  const store = useStore(backend);
  let clock = T0.getTime();
  const now = (): Date => new Date(clock);
  const logger = createLogger('test', 'silent');

  beforeEach(async () => {
    // Results left by earlier tests are not this test's to apply.
    await store().db.query('UPDATE jobs SET applied_at = now() WHERE applied_at IS NULL AND finished_at IS NOT NULL');
  });

  async function finishedJob(s: Store = store()): Promise<JobRecord> {
    seq += 1;
    const job = await s.jobs.enqueue({
      kind: 'directory.scanOu',
      purpose: 'verify',
      payload: { action: 'directory.scanOu', ou: `OU=T${seq}` },
      conversationId: `conv-${process.pid}-${seq}`,
      migrationId: null,
      requestedBy: { id: 'test', name: 'test' },
    });
    await s.jobs.lease({ agentId: 'agent-1', leaseMs: 60_000, now: now(), actions: ['directory.scanOu'] });
    const finished = await s.jobs.finish({
      jobId: job.id,
      agentId: 'agent-1',
      outcome: 'succeeded',
      result: { n: seq },
      error: null,
      now: now(),
      claimMs: 1_000,
    });
    expect(finished).not.toBeNull();
    return finished!;
  }

  const applier = (consume: (job: JobRecord) => Promise<void>, s: Store = store(), timers?: Timers): ResultApplier =>
    new ResultApplier({
      store: s,
      consume,
      logger,
      now,
      claimMs: 1_000,
      retryAfterMs: 10_000,
      maxFailures: 3,
      ...(timers ? { timers } : {}),
    });

  it('a consumer that throws is not marked applied; the result is offered again after the pause and applied once', async () => {
    const job = await finishedJob();
    const calls: string[] = [];
    let fail = true;
    const consume = async (j: JobRecord): Promise<void> => {
      calls.push(j.id);
      if (fail) {
        fail = false;
        throw new Error('the step could not be loaded');
      }
    };
    await applier(consume).apply(job);
    expect((await store().jobs.get(job.id))!.appliedAt).toBeNull();
    // Inside the pause nobody takes it, not even after the finisher's claim ran out.
    clock += 5_000;
    expect(await applier(consume).applyPending()).toBe(0);
    clock += 6_000;
    expect(await applier(consume).applyPending()).toBe(1);
    expect(calls).toEqual([job.id, job.id]);
    expect((await store().jobs.get(job.id))!.appliedAt).toEqual(now());
    clock += 60_000;
    expect(await applier(consume).applyPending()).toBe(0);
    expect(calls).toHaveLength(2);
  });

  it('the claim is renewed while a slow consumer works, so nobody else starts on the same result', async () => {
    const job = await finishedJob();
    const ticks: (() => void)[] = [];
    const timers: Timers = { setInterval: (fn) => ticks.push(fn), clearInterval: () => undefined };
    let release: () => void = () => undefined;
    const slow = applier(() => new Promise<void>((resolve) => (release = resolve)), store(), timers).apply(job);
    const others: string[] = [];
    for (let i = 0; i < 3; i++) {
      clock += 900;
      ticks.forEach((tick) => tick());
      await new Promise((resolve) => setTimeout(resolve, 20));
      await applier(async (j) => void others.push(j.id)).applyPending();
    }
    expect(others).toEqual([]);
    release();
    await slow;
    expect((await store().jobs.get(job.id))!.appliedAt).not.toBeNull();
  });

  it('a result whose consumer always fails is given up on after maxFailures, and the job keeps its result', async () => {
    const job = await finishedJob();
    let calls = 0;
    const broken = applier(async () => {
      calls += 1;
      throw new Error('always');
    });
    await broken.apply(job);
    for (let i = 0; i < 5; i++) {
      clock += 11_000;
      await broken.applyPending();
    }
    expect(calls).toBe(3);
    expect(await store().jobs.get(job.id)).toMatchObject({
      state: 'succeeded',
      result: { n: expect.any(Number) as number },
    });
    expect((await store().jobs.get(job.id))!.appliedAt).not.toBeNull();
  });

  if (backend.name === 'PostgreSQL') {
    it('two instances sweeping the same unapplied results apply each exactly once', async () => {
      const jobs = [await finishedJob(), await finishedJob(), await finishedJob(), await finishedJob()];
      clock += 2_000;
      const other = await backend.open();
      try {
        const seen: string[] = [];
        const consume = async (j: JobRecord): Promise<void> => {
          seen.push(j.id);
          await new Promise((resolve) => setTimeout(resolve, 10));
        };
        await Promise.all([
          applier(consume).applyPending(),
          applier(consume, other).applyPending(),
          applier(consume).applyPending(),
        ]);
        expect(seen.sort()).toEqual(jobs.map((j) => j.id).sort());
      } finally {
        await other.close();
      }
    });
  }
});
