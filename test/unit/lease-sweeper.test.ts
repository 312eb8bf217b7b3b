import { startLeaseSweeper } from '../../src/jobs/lease-sweeper';
import type { Timers } from '../../src/jobs/result-applier';
import { createLogger } from '../../src/shared/logger';

/** Timers whose ticks the test runs by hand. */
function handTimers(): Timers & { tick(): void; active: number } {
  const ticks = new Map<number, () => void>();
  let next = 0;
  return {
    setInterval: (fn) => {
      ticks.set(++next, fn);
      return next;
    },
    clearInterval: (handle) => void ticks.delete(handle as number),
    tick: () => ticks.forEach((fn) => fn()),
    get active() {
      return ticks.size;
    },
  };
}

describe('startLeaseSweeper', () => {
  const logger = createLogger('test', 'silent');

  it('runs one sweep at a time, reports the one under way, and stops its timer', async () => {
    const timers = handTimers();
    let finish: () => void = () => undefined;
    let sweeps = 0;
    const sweep = (): Promise<void> => {
      sweeps++;
      return new Promise<void>((resolve) => (finish = resolve));
    };
    const sweeper = startLeaseSweeper({ sweep, intervalMs: 1000, timers, logger });
    expect(sweeper.running()).toBeNull();
    timers.tick();
    timers.tick();
    expect(sweeps).toBe(1);
    const running = sweeper.running();
    expect(running).not.toBeNull();
    finish();
    await running;
    expect(sweeper.running()).toBeNull();
    timers.tick();
    expect(sweeps).toBe(2);
    finish();
    sweeper.stop();
    expect(timers.active).toBe(0);
  });

  it('keeps sweeping after a sweep failed', async () => {
    const timers = handTimers();
    let sweeps = 0;
    const sweeper = startLeaseSweeper({
      sweep: () => (++sweeps === 1 ? Promise.reject(new Error('store down')) : Promise.resolve()),
      intervalMs: 1000,
      timers,
      logger,
    });
    timers.tick();
    await sweeper.running();
    timers.tick();
    await sweeper.running();
    expect(sweeps).toBe(2);
  });

  it('starts no timer when the interval is 0 (tests sweep by hand)', () => {
    const timers = handTimers();
    const sweeper = startLeaseSweeper({ sweep: () => Promise.resolve(), intervalMs: 0, timers, logger });
    expect(timers.active).toBe(0);
    sweeper.stop();
  });
});
