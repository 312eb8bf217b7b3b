import { SYSTEM_ACTOR } from '../runbook/actor';
import type { Logger } from '../shared/logger';
import type { JobRecord, Store } from '../store/types';
import { dispatchByPurpose, type JobConsumers } from './job-consumers';
import type { JobQueue } from './job-queue';
import { LostLeases, type RequeueReason } from './lost-leases';
import { ResultApplier, type Timers } from './result-applier';

export interface LeasesOptions {
  store: Store;
  /** Woken when an expired job is back in the queue. */
  jobs: JobQueue;
  /** Who applies a finished job's result, by the job's purpose. */
  consumers: JobConsumers;
  logger: Logger;
  now: () => Date;
  /** Leases one retryable job may lose before it fails with RELAY.AGENT_LOST. */
  maxAttempts: number;
  /** How long applying a result may go unrenewed before another instance takes it over. */
  applyClaimMs: number;
  /** Pause before a result whose consumer failed is tried again; default 1 minute. */
  applyRetryMs?: number;
  timers?: Timers;
  /** How long an agent whose scan upload was cut off has to show it is alive before its job is taken back; default 5 s. */
  cutGraceMs?: number;
  /** A job whose agent went quiet (or was lost: `reason`) is back in the queue for another attempt. */
  onJobRequeued?(job: JobRecord, attempts: { used: number; max: number }, reason: RequeueReason): Promise<void>;
}

/**
 * What happens to a job after it was leased, whoever asks: leases that ran out or were lost are
 * taken back (requeued or failed), and every finished job's result is applied under a claim.
 * The relay calls it as agents report; the bot's sweep timer (lease-sweeper) calls it too.
 */
export class Leases {
  private readonly applier: ResultApplier;
  /** Leases the bot can tell are lost before they run out. */
  readonly lost: LostLeases;

  constructor(private readonly options: LeasesOptions) {
    this.applier = new ResultApplier({
      store: options.store,
      consume: dispatchByPurpose(options.consumers),
      logger: options.logger,
      now: options.now,
      claimMs: options.applyClaimMs,
      retryAfterMs: options.applyRetryMs ?? 60_000,
      maxFailures: 5,
      ...(options.timers ? { timers: options.timers } : {}),
    });
    this.lost = new LostLeases({
      store: options.store,
      logger: options.logger,
      now: options.now,
      expire: () => this.expire(),
      ...(options.cutGraceMs !== undefined ? { cutGraceMs: options.cutGraceMs } : {}),
    });
  }

  /**
   * Leases that ran out. A started mutating job is not retried: it fails as "outcome unknown" and
   * its card asks a person to check. A read-only one (or a mutating one never started) goes back to
   * the queue, until it has been leased maxAttempts times; then it fails with RELAY.AGENT_LOST. Run
   * on every lease poll and by the bot's sweep timer, on any number of instances: the store's UPDATEs
   * hand each expired job to exactly one caller.
   */
  async expire(): Promise<void> {
    const { store, maxAttempts } = this.options;
    const { outcomeUnknown, exhausted, requeued } = await store.jobs.expireLeases({
      now: this.options.now(),
      maxAttempts,
      claimMs: this.options.applyClaimMs,
    });
    for (const job of requeued) {
      const reason = this.lost.reasonFor(job.id);
      await store.audit.record(SYSTEM_ACTOR, {
        action: 'job.requeued',
        target: job.id,
        outcome: reason,
        details: { kind: job.kind, agentId: job.agentId, attempts: job.attempts, maxAttempts },
        conversationId: job.conversationId,
      });
      void this.options
        .onJobRequeued?.(job, { used: job.attempts, max: maxAttempts }, reason)
        .catch((err: Error) =>
          this.options.logger.warn({ err: err.message, jobId: job.id }, 'reporting a requeued job failed'),
        );
    }
    if (requeued.length > 0) this.options.jobs.wakeAgents();
    for (const [jobs, outcome] of [
      [outcomeUnknown, 'outcome-unknown'],
      [exhausted, 'agent-lost'],
    ] as const) {
      for (const job of jobs) {
        await store.audit.record(SYSTEM_ACTOR, {
          action: 'job.expired',
          target: job.id,
          outcome,
          details: { kind: job.kind, agentId: job.agentId, attempts: job.attempts },
          conversationId: job.conversationId,
        });
        void this.apply(job);
      }
    }
  }

  /**
   * The bot's periodic check, also run at start: expired leases, then every finished job whose
   * result was never applied (the bot stopped between storing it and acting on it, or a consumer failed).
   */
  async sweep(): Promise<void> {
    await this.expire();
    await this.applier.applyPending();
  }

  /** Hands a finished job (claimed by this instance) to its consumer; never throws. */
  apply(job: JobRecord): Promise<void> {
    return this.applier
      .apply(job)
      .catch((err: Error) =>
        this.options.logger.error(
          { err: err.message, jobId: job.id },
          'applying the job result failed; the sweep tries again',
        ),
      );
  }
}
