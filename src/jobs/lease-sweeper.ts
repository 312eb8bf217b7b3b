import type { Logger } from '../shared/logger';
import type { Timers } from './result-applier';

export interface LeaseSweeper {
  /** Stops the timer; a sweep under way goes on. */
  stop(): void;
  /** The sweep under way, if any, to wait for before the store closes. */
  running(): Promise<void> | null;
}

/**
 * Runs `sweep` (Leases.sweep: expired leases, unapplied results) every `intervalMs`; 0 runs none
 * (tests sweep by hand). One sweep at a time per instance; other instances may sweep at once (the
 * store decides who takes each job).
 */
export function startLeaseSweeper(options: {
  sweep: () => Promise<void>;
  intervalMs: number;
  timers: Timers;
  logger: Logger;
}): LeaseSweeper {
  const { timers, logger } = options;
  let sweeping: Promise<void> | null = null;
  const timer =
    options.intervalMs > 0
      ? timers.setInterval(() => {
          if (sweeping) return;
          sweeping = options
            .sweep()
            .catch((err: Error) => logger.error({ err: err.message }, 'lease sweep failed'))
            .finally(() => (sweeping = null));
        }, options.intervalMs)
      : null;
  return {
    stop: () => {
      if (timer !== null) timers.clearInterval(timer);
    },
    running: () => sweeping,
  };
}
