/**
 * Issue 16: the no-flow check the bot runs by itself after step 13 (pilot) or a wave's full cycle.
 * Pure: what one reading means for the follow-up — ask again later, post the result, or give up at the
 * deadline. The bot learns only that the cycle was *started*; a completed synchronization run on the
 * AD connector that started after the cycle job was queued is what tells it the cycle has finished.
 */
import { lastSyncRun, type NoFlowOutcome, type NoFlowRun } from './no-flow-check';

export type FollowUpStatus = 'waiting' | 'checking' | 'posting' | 'posted' | 'timedOut';

export interface FollowUpTiming {
  /** How long after a reading without the cycle the next one is queued. */
  intervalMs: number;
  /** How long after the cycle was started the follow-up gives up and says so. */
  deadlineMs: number;
}

/** The real scheduler cycle is every 30 minutes; a changed rule's first full cycle can take a while. */
export const DEFAULT_FOLLOW_UP_TIMING: FollowUpTiming = { intervalMs: 5 * 60_000, deadlineMs: 2 * 60 * 60_000 };

export type FollowUpReading =
  /** The agent's answer, read: the runs it listed and the check's own outcome. */
  | { kind: 'read'; runs: readonly NoFlowRun[]; outcome: NoFlowOutcome }
  /** The job failed or its result could not be read: a person has to look, so the card says why. */
  | { kind: 'unusable' };

export type FollowUpDecision =
  | { kind: 'again'; at: Date }
  /** Post the check's card as any `/ou noflow` would. */
  | { kind: 'post' }
  /** No cycle completed by the deadline: post what was read and what to check. */
  | { kind: 'deadline' };

/**
 * `cycleAfter`: when the cycle job was queued. A run that started before it belongs to an earlier
 * cycle, whatever the rule times say (a wave's rules may not be recorded). The last reading happens at
 * the deadline itself, so the deadline card rests on a fresh reading.
 */
export function decideFollowUp(input: {
  reading: FollowUpReading;
  cycleAfter: Date;
  deadlineAt: Date;
  now: Date;
  intervalMs: number;
}): FollowUpDecision {
  if (input.reading.kind === 'unusable') return { kind: 'post' };
  if (!cycleCompleted(input.reading, input.cycleAfter)) {
    if (input.now.getTime() >= input.deadlineAt.getTime()) return { kind: 'deadline' };
    return {
      kind: 'again',
      at: new Date(Math.min(input.now.getTime() + input.intervalMs, input.deadlineAt.getTime())),
    };
  }
  return { kind: 'post' };
}

/** A completed Full/Delta Synchronization run on the AD connector that started at or after `cycleAfter`. */
export function cycleCompleted(
  reading: { runs: readonly NoFlowRun[]; outcome: NoFlowOutcome },
  cycleAfter: Date,
): boolean {
  if (reading.outcome === 'noCycleSinceRules') return false;
  const last = lastSyncRun(reading.runs);
  if (!last) return false;
  return Date.parse(last.startedAt ?? last.endedAt) >= cycleAfter.getTime();
}

/** A follow-up claimed (queuing a check, or posting) this long ago by an instance that never finished is taken over. */
export function isStale(claimedAt: Date | null, now: Date, staleMs: number): boolean {
  return claimedAt === null || now.getTime() - claimedAt.getTime() >= staleMs;
}
