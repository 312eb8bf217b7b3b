/** What a check may return: anything but these counts as "not yet". */
type NotYet = false | null | undefined | 0 | '';

export interface EventuallyOptions {
  /** How long to keep checking before failing the test. */
  timeoutMs: number;
  /** The pause between two checks; 100 ms unless said otherwise. */
  intervalMs?: number;
  /** What is awaited, read after "Timed out after N ms waiting for": "the scan to be under way". */
  what: string;
  /** Called once on time-out, for what a reader of the failure needs: the last state seen, an agent's log. */
  detail?: () => string | Promise<string>;
}

/**
 * Runs `check` until it returns something truthy and resolves with that value; fails once
 * `timeoutMs` has passed without it. The one polling loop the tests share, so every wait says
 * what it waited for when it gives up.
 */
export async function eventually<T>(
  check: () => T | Promise<T>,
  options: EventuallyOptions,
): Promise<Exclude<T, NotYet>> {
  const deadline = Date.now() + options.timeoutMs;
  for (;;) {
    const value = await check();
    if (value) return value as Exclude<T, NotYet>;
    if (Date.now() > deadline) {
      const detail = options.detail ? `\n${await options.detail()}` : '';
      throw new Error(`Timed out after ${options.timeoutMs} ms waiting for ${options.what}.${detail}`);
    }
    await new Promise((resolve) => setTimeout(resolve, options.intervalMs ?? 100));
  }
}
