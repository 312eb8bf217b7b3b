import type { Logger } from '../shared/logger';
import type { JobRecord, Store } from '../store/types';

export interface Timers {
  setInterval(fn: () => void, ms: number): unknown;
  clearInterval(handle: unknown): void;
}

export const REAL_TIMERS: Timers = {
  setInterval: (fn, ms) => setInterval(fn, ms),
  clearInterval: (handle) => clearInterval(handle as ReturnType<typeof setInterval>),
};

export interface ResultApplierOptions {
  store: Store;
  /** Does whatever the result means (moves a step, records a count, finishes a verify card); throws if it could not. */
  consume: (job: JobRecord) => Promise<void>;
  logger: Logger;
  now: () => Date;
  /** How long a claim lasts without renewal; renewed every third of it while the consumer works. */
  claimMs: number;
  /** After a consumer failed, how long until any instance tries that result again. */
  retryAfterMs: number;
  /** Consumer failures on one result before the bot stops trying it. */
  maxFailures: number;
  timers?: Timers;
}

/**
 * Applies finished jobs' results at least once across restarts and instances (a crash between the
 * consumer finishing and applied_at being set applies it again, so consumers must be idempotent;
 * a holder stalled past its claim can overlap the next claimant). The relay stores a
 * result and answers the agent before anything is done with it; a crash then would lose it. So
 * every result is applied under a claim in the jobs row and marked applied when its consumer is
 * done. A result left unapplied (the instance died, or the consumer failed) is claimed again by
 * whichever instance sweeps next, once the claim or the retry pause has run out.
 */
export class ResultApplier {
  private readonly timers: Timers;

  constructor(private readonly options: ResultApplierOptions) {
    this.timers = options.timers ?? REAL_TIMERS;
  }

  /** The caller holds the claim (finish and the expiry UPDATEs take it, and so does applyPending). */
  async apply(job: JobRecord): Promise<void> {
    const { store, logger } = this.options;
    const renew = this.timers.setInterval(
      () => {
        void store.jobs
          .renewApplyClaim({ jobId: job.id, now: this.options.now(), claimMs: this.options.claimMs })
          .catch((err: Error) =>
            logger.warn({ err: err.message, jobId: job.id }, 'could not renew the claim on a result'),
          );
      },
      Math.max(1, Math.floor(this.options.claimMs / 3)),
    );
    try {
      await this.options.consume(job);
    } catch (err) {
      const outcome = await store.jobs
        .releaseApplyClaim({
          jobId: job.id,
          now: this.options.now(),
          retryAfterMs: this.options.retryAfterMs,
          maxFailures: this.options.maxFailures,
        })
        .catch(() => 'retry' as const);
      if (outcome === 'gave-up')
        logger.error(
          { err: (err as Error).message, jobId: job.id, kind: job.kind },
          `applying this job's result failed ${this.options.maxFailures} times; giving up on it (the job row keeps the result)`,
        );
      else
        logger.error(
          { err: (err as Error).message, jobId: job.id, kind: job.kind, retryInMs: this.options.retryAfterMs },
          "applying this job's result failed; it will be tried again",
        );
      return;
    } finally {
      this.timers.clearInterval(renew);
    }
    await store.jobs.markApplied({ jobId: job.id, now: this.options.now() });
  }

  /** Finished jobs nobody applied (or is applying): one at a time, so a large scan result is held once. */
  async applyPending(): Promise<number> {
    let applied = 0;
    for (;;) {
      const [id] = await this.options.store.jobs.claimUnapplied({
        now: this.options.now(),
        claimMs: this.options.claimMs,
        limit: 1,
      });
      if (!id) return applied;
      const job = await this.options.store.jobs.get(id);
      if (job) {
        this.options.logger.info(
          { jobId: id, kind: job.kind, state: job.state },
          'applying a result that was stored but never applied',
        );
        await this.apply(job);
      }
      applied++;
    }
  }
}
