import { EventEmitter } from 'node:events';
import { MUTATING_ACTIONS, type JobPayload } from '../runbook/job-shapes';
import type { Actor } from '../runbook/actor';
import type { Logger } from '../shared/logger';
import type { JobPurpose } from '../store/job-purpose';
import type { JobRecord, Store } from '../store/types';
import { FinishedSignals, type FinishedListener } from './finished-signals';

export interface EnqueueInput {
  purpose: JobPurpose;
  payload: JobPayload;
  conversationId: string;
  migrationId: string | null;
  requestedBy: Actor;
  /**
   * The one agent that may run the job. Every Connect Sync (adsync.*) job names the migration's
   * Connect Sync server (or, for a staging server's read, that server): the store refuses one that
   * does not, and the relay offers a pinned job to its agent alone.
   */
  pinnedAgent?: string;
  /**
   * Writes the row that ties the job to what it is for (a step, a wave OU), before any agent is
   * woken for it.
   */
  attach?: (job: JobRecord) => Promise<void>;
  /**
   * The job.queued audit entry (on the requester's name): for what it was queued. Left out where the
   * caller's own entry (verify.pilot, wave.add) already records the request.
   */
  audit?: { target: string; details?: Record<string, unknown> };
  /**
   * False: the caller wakes agents itself (wakeAgents) once what the result needs is in place, as a
   * verify does after its card is posted. Agents polling meanwhile still find the job.
   */
  wake?: boolean;
}

/**
 * Where every agent job starts: it is stored, tied to its consumer, audited, and agents waiting
 * in a long poll are woken, in that order.
 */
export class JobQueue {
  private readonly wake = new EventEmitter();
  private readonly finished: FinishedSignals;

  constructor(private readonly options: { store: Store; logger?: Logger }) {
    this.wake.setMaxListeners(0);
    this.finished = new FinishedSignals({
      db: options.store.db,
      ...(options.logger ? { logger: options.logger } : {}),
    });
  }

  async enqueue(input: EnqueueInput): Promise<JobRecord> {
    const { store } = this.options;
    const job = await store.jobs.enqueue({
      kind: input.payload.action,
      purpose: input.purpose,
      payload: input.payload,
      conversationId: input.conversationId,
      migrationId: input.migrationId,
      requestedBy: input.requestedBy,
      mutating: MUTATING_ACTIONS.has(input.payload.action),
      pinnedAgent: input.pinnedAgent ?? null,
    });
    await input.attach?.(job);
    if (input.audit) {
      await store.audit.record(input.requestedBy, {
        action: 'job.queued',
        target: input.audit.target,
        outcome: 'queued',
        details: {
          jobId: job.id,
          action: input.payload.action,
          ...(input.pinnedAgent ? { agent: input.pinnedAgent } : {}),
          ...input.audit.details,
        },
        conversationId: input.conversationId,
      });
    }
    if (input.wake !== false) this.wakeAgents();
    return job;
  }

  /** Wakes waiting lease requests at once instead of at their next poll. */
  wakeAgents(): void {
    this.wake.emit('job');
  }

  /**
   * Tells every bot instance that this job's consumer ran here, for a waiter on another instance
   * (a summary waiting for its counts there). The job row already says how it ended.
   */
  announceFinished(jobId: string): Promise<void> {
    return this.finished.announce(jobId);
  }

  /**
   * Hears announceFinished from any instance, this one included; resolves once listening. A null
   * id means announcements may have been missed (the channel was down): read what you wait for.
   */
  onFinished(listener: FinishedListener): Promise<() => void> {
    return this.finished.subscribe(listener);
  }

  /** Stops listening (before the store closes). */
  close(): Promise<void> {
    return this.finished.close();
  }

  /** Resolves on the next wakeAgents() or after `ms`, whichever comes first. */
  waitForWork(ms: number): Promise<void> {
    return new Promise((resolve) => {
      const done = (): void => {
        clearTimeout(timer);
        this.wake.off('job', done);
        resolve();
      };
      const timer = setTimeout(done, ms);
      this.wake.once('job', done);
    });
  }
}
