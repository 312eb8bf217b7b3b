import type { LimiterClock } from '../../src/services/rate-limited-sink';

export type ManualClock = LimiterClock & { t: number; advance(ms: number): Promise<void> };

/**
 * Virtual time that moves only when the test says so: sleepers wake in deadline order as `advance`
 * passes them, and the promise chains they start run before the next one wakes. A test can so act
 * "while" something waits, and timings are exact.
 */
export function manualClock(): ManualClock {
  const sleepers: { until: number; wake: () => void }[] = [];
  const settle = async (): Promise<void> => {
    for (let i = 0; i < 20; i++) await Promise.resolve();
  };
  const clock: ManualClock = {
    t: 0,
    now: () => clock.t,
    sleep: (ms: number) => new Promise<void>((wake) => sleepers.push({ until: clock.t + ms, wake })),
    advance: async (ms: number) => {
      const end = clock.t + ms;
      await settle();
      for (;;) {
        sleepers.sort((a, b) => a.until - b.until);
        const next = sleepers[0];
        if (!next || next.until > end) break;
        sleepers.shift();
        clock.t = Math.max(clock.t, next.until);
        next.wake();
        await settle();
      }
      clock.t = end;
      await settle();
    },
  };
  return clock;
}
