import type { Logger } from '../shared/logger';
import type { Db, Subscription } from '../store/sql';

/** One channel for the whole database: job ids are unique, so a listener ignores ids it does not wait for. */
const CHANNEL = 'syncshift_job_finished';
/** While the channel is down: how often listening is tried again, and waiters are told to read for themselves. */
const RETRY_MS = 5_000;

/**
 * A finished job's id, or null: "announcements may have been missed, read what you wait for".
 * Null comes when listening starts again after the channel was down, and every RETRY_MS while it is.
 */
export type FinishedListener = (jobId: string | null) => void;

/**
 * Tells every bot instance on the database that a job's consumer has run: PostgreSQL NOTIFY (PGlite
 * delivers it within its one process). A waiter on another instance than the one whose consumer ran
 * (the summary waiting for its counts) hears of it at once instead of polling the jobs table.
 * NOTIFY is not delivered to a listener whose connection is down, hence the null announcements.
 */
export class FinishedSignals {
  private readonly listeners = new Set<FinishedListener>();
  private subscription: Subscription | null = null;
  private starting: Promise<void> | null = null;
  private retry: ReturnType<typeof setInterval> | null = null;
  private closed = false;

  constructor(private readonly options: { db: Db; logger?: Logger }) {}

  async announce(jobId: string): Promise<void> {
    await this.options.db.notify(CHANNEL, jobId);
  }

  /** Starts listening if nobody did yet; resolves once listening (or once the fallback runs). */
  async subscribe(listener: FinishedListener): Promise<() => void> {
    this.listeners.add(listener);
    await this.start();
    return () => {
      this.listeners.delete(listener);
    };
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retry) clearInterval(this.retry);
    this.retry = null;
    await this.starting?.catch(() => undefined);
    const subscription = this.subscription;
    this.subscription = null;
    await subscription?.close().catch(() => undefined);
  }

  private emit(jobId: string | null): void {
    for (const listener of [...this.listeners]) listener(jobId);
  }

  private start(): Promise<void> {
    if (this.subscription || this.closed) return Promise.resolve();
    this.starting ??= this.options.db
      .listen(CHANNEL, { message: (jobId) => this.emit(jobId), lost: () => this.down() })
      .then(
        (subscription) => {
          if (this.closed) {
            void subscription.close().catch(() => undefined);
            return;
          }
          const wasDown = this.retry !== null;
          this.subscription = subscription;
          if (this.retry) clearInterval(this.retry);
          this.retry = null;
          // Whatever finished while nobody listened is read once now.
          if (wasDown) this.emit(null);
        },
        (err: Error) => {
          this.options.logger?.warn(
            { err: err.message },
            'could not listen for finished jobs; waiting summaries read the jobs table every 5 s until it works',
          );
          this.down();
        },
      )
      .finally(() => {
        this.starting = null;
      });
    return this.starting;
  }

  /** The channel is gone: waiters read for themselves every RETRY_MS, and listening is retried as often. */
  private down(): void {
    this.subscription = null;
    if (this.closed || this.retry) return;
    this.retry = setInterval(() => {
      this.emit(null);
      void this.start();
    }, RETRY_MS);
    this.retry.unref();
  }
}
