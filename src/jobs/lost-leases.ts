import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';

/** Why a job went back to the queue: what its card tells people. */
export type RequeueReason = 'lease-expired' | 'agent-restarted' | 'upload-cut';

export interface LostLeasesOptions {
  store: Store;
  logger: Logger;
  now: () => Date;
  /** Takes the ended leases (Leases.expire). */
  expire: () => Promise<void>;
  /** How long an agent whose scan upload was cut off has to show it is alive; default 5 s. */
  cutGraceMs?: number;
}

/** A reason is kept this long for the requeue that reads it; a sweep on another instance may take the job instead. */
const REASON_MEMORY_MS = 10 * 60_000;

/**
 * Leases the bot can tell are lost long before they run out (5 minutes by default), so a verify
 * card does not sit on "Verifying…" for them:
 * - the agent polls again without the job: that process no longer has it (it restarted, or the
 *   lease's answer never reached it);
 * - a scan's upload is cut off and the agent then says nothing for a few seconds. Not at once: an
 *   agent whose directory read failed cuts its own upload and reports the failure right after, and
 *   one whose connection broke reads the OU again and reports progress. Taking the job back at once
 *   would let another agent take it and refuse that report.
 * What happens to a lost lease is Leases.expire's decision, as for one that ran out.
 */
export class LostLeases {
  private readonly reasons = new Map<string, { reason: RequeueReason; at: number }>();
  private readonly timers = new Set<NodeJS.Timeout>();
  private stopped = false;

  constructor(private readonly options: LostLeasesOptions) {}

  /** A lease request from `agentId` saying which jobs it is still working on. */
  async agentHolds(agentId: string, holding: readonly string[]): Promise<void> {
    const lost = await this.options.store.jobs.endLeasesEarly({ agentId, now: this.options.now(), except: holding });
    if (lost.length === 0) return;
    this.options.logger.warn(
      { agentId, jobIds: lost },
      'the agent asked for work without the jobs leased to it (it restarted?); taking them back',
    );
    this.remember(lost, 'agent-restarted');
    await this.options.expire();
  }

  /** The upload of `jobId`'s scan broke off before its end line. Never throws. */
  uploadCut(jobId: string, agentId: string): void {
    if (this.stopped) return;
    const cutAt = this.options.now();
    const timer = setTimeout(() => {
      this.timers.delete(timer);
      void this.checkAfterCut(jobId, agentId, cutAt);
    }, this.options.cutGraceMs ?? 5000);
    timer.unref();
    this.timers.add(timer);
  }

  /** The reason a job that is being requeued was lost, if this instance took its lease back. */
  reasonFor(jobId: string): RequeueReason {
    const known = this.reasons.get(jobId);
    this.reasons.delete(jobId);
    return known?.reason ?? 'lease-expired';
  }

  /** The bot is stopping: no lease is taken back from now on (the store is about to close). */
  stop(): void {
    this.stopped = true;
    for (const timer of this.timers) clearTimeout(timer);
    this.timers.clear();
  }

  private async checkAfterCut(jobId: string, agentId: string, cutAt: Date): Promise<void> {
    if (this.stopped) return;
    try {
      const lost = await this.options.store.jobs.endLeasesEarly({
        agentId,
        now: this.options.now(),
        jobIds: [jobId],
        quietSince: cutAt,
      });
      if (lost.length === 0) return;
      this.options.logger.warn(
        { agentId, jobId },
        'the agent said nothing after its scan upload was cut off; taking the job back',
      );
      this.remember(lost, 'upload-cut');
      await this.options.expire();
    } catch (err) {
      // The sweep still takes the lease when it runs out.
      this.options.logger.warn(
        { jobId, err: (err as Error).message },
        'could not take back the lease of a cut-off scan',
      );
    }
  }

  private remember(jobIds: string[], reason: RequeueReason): void {
    // The lease clock, like the leases these reasons explain.
    const now = this.options.now().getTime();
    for (const [id, entry] of this.reasons) if (now - entry.at > REASON_MEMORY_MS) this.reasons.delete(id);
    for (const id of jobIds) this.reasons.set(id, { reason, at: now });
  }
}
