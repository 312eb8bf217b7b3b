import type { NoFlowRun } from '../../src/runbook/no-flow-check';
import {
  cycleCompleted,
  decideFollowUp,
  DEFAULT_FOLLOW_UP_TIMING,
  isStale,
  type FollowUpReading,
} from '../../src/runbook/no-flow-follow-up';

const CYCLE_AFTER = new Date('2026-12-05T10:00:00Z');
const DEADLINE = new Date('2026-12-05T12:00:00Z');
const FIVE_MIN = 5 * 60_000;

function run(profile: string, start: string, end: string, extra: Partial<NoFlowRun> = {}): NoFlowRun {
  return {
    connectorName: 'contoso.com',
    runProfileName: profile,
    result: 'success',
    isRunComplete: true,
    startDate: start,
    endDate: end,
    ...extra,
  };
}

/** The Delta Synchronization of the cycle before the rules (the stand-in's seeded history). */
const OLD = run('Delta Synchronization', '2026-12-05T09:30:00Z', '2026-12-05T09:31:00Z');
/** The Full Synchronization of the cycle step 13 started. */
const NEW = run('Full Synchronization', '2026-12-05T10:00:05Z', '2026-12-05T10:20:00Z');

function decide(reading: FollowUpReading, now: string) {
  return decideFollowUp({
    reading,
    cycleAfter: CYCLE_AFTER,
    deadlineAt: DEADLINE,
    now: new Date(now),
    intervalMs: FIVE_MIN,
  });
}

describe('the no-flow check after a cycle (pure decision)', () => {
  it('asks again in N minutes while the last completed sync run started before the cycle was requested', () => {
    // A wave's rules are not recorded, so the check itself may call this reading "none carry": it is still too early.
    expect(decide({ kind: 'read', runs: [OLD], outcome: 'noneCarry' }, '2026-12-05T10:01:00Z')).toEqual({
      kind: 'again',
      at: new Date('2026-12-05T10:06:00Z'),
    });
    expect(decide({ kind: 'read', runs: [], outcome: 'noCycleSinceRules' }, '2026-12-05T10:01:00Z').kind).toBe('again');
  });

  it('a run of the new cycle still running (not complete) does not count', () => {
    const running = run('Full Synchronization', '2026-12-05T10:00:05Z', '2026-12-05T10:20:00Z', {
      isRunComplete: false,
    });
    expect(decide({ kind: 'read', runs: [OLD, running], outcome: 'noneCarry' }, '2026-12-05T10:10:00Z').kind).toBe(
      'again',
    );
  });

  it('posts once a completed synchronization run started after the cycle was requested, whatever it found', () => {
    for (const outcome of ['allCarry', 'someCarry', 'noneCarry', 'empty'] as const)
      expect(decide({ kind: 'read', runs: [OLD, NEW], outcome }, '2026-12-05T10:25:00Z')).toEqual({ kind: 'post' });
  });

  it('the check saying "no cycle since the rules" wins over a run after the request (rules newer than the cycle)', () => {
    expect(decide({ kind: 'read', runs: [NEW], outcome: 'noCycleSinceRules' }, '2026-12-05T10:25:00Z').kind).toBe(
      'again',
    );
  });

  it('a failed or unreadable check is posted at once: a person has to look', () => {
    expect(decide({ kind: 'unusable' }, '2026-12-05T10:01:00Z')).toEqual({ kind: 'post' });
  });

  it('the last reading happens at the deadline itself; still no cycle there gives up', () => {
    expect(decide({ kind: 'read', runs: [OLD], outcome: 'noneCarry' }, '2026-12-05T11:58:00Z')).toEqual({
      kind: 'again',
      at: DEADLINE,
    });
    expect(decide({ kind: 'read', runs: [OLD], outcome: 'noneCarry' }, '2026-12-05T12:00:00Z')).toEqual({
      kind: 'deadline',
    });
    // A cycle that completed by the deadline is posted, not given up on.
    expect(decide({ kind: 'read', runs: [OLD, NEW], outcome: 'allCarry' }, '2026-12-05T12:30:00Z')).toEqual({
      kind: 'post',
    });
  });

  it('cycleCompleted uses the run start, and the end time when the start is missing', () => {
    const noStart = run('Delta Synchronization', '', '2026-12-05T10:10:00Z', { startDate: null });
    expect(cycleCompleted({ runs: [noStart], outcome: 'allCarry' }, CYCLE_AFTER)).toBe(true);
    const exports = run('Export', '2026-12-05T10:05:00Z', '2026-12-05T10:06:00Z');
    expect(cycleCompleted({ runs: [OLD, exports], outcome: 'allCarry' }, CYCLE_AFTER)).toBe(false);
  });

  it('claims are stale after the given time, or when never taken', () => {
    const now = new Date('2026-12-05T10:10:00Z');
    expect(isStale(null, now, 60_000)).toBe(true);
    expect(isStale(new Date('2026-12-05T10:09:30Z'), now, 60_000)).toBe(false);
    expect(isStale(new Date('2026-12-05T10:09:00Z'), now, 60_000)).toBe(true);
  });

  it('defaults: every 5 minutes for at most 2 hours', () => {
    expect(DEFAULT_FOLLOW_UP_TIMING).toEqual({ intervalMs: 5 * 60_000, deadlineMs: 2 * 60 * 60_000 });
  });
});
