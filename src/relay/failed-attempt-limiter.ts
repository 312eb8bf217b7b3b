/**
 * Counts failed attempts per client in fixed windows. The enroll endpoint needs no credential, so
 * without this a stranger could guess codes as fast as the bot answers and grow the audit log with
 * every guess. Kept in memory per bot instance: with N instances a client gets N times the limit,
 * still far too slow to guess a code before it expires.
 */
export interface FailedAttemptLimiterOptions {
  maxFailures: number;
  windowMs: number;
  /** Bounds memory when many addresses fail; the oldest windows are forgotten first. */
  maxClients?: number;
}

interface ClientWindow {
  startedAt: number;
  failures: number;
}

export type FailureRecord = { first: boolean; limitReached: boolean };

export class FailedAttemptLimiter {
  private readonly clients = new Map<string, ClientWindow>();

  constructor(private readonly options: FailedAttemptLimiterOptions) {}

  /** Milliseconds until this client may try again, or 0 when it may try now. */
  retryAfterMs(client: string, now: number): number {
    const window = this.current(client, now);
    if (!window || window.failures < this.options.maxFailures) return 0;
    return window.startedAt + this.options.windowMs - now;
  }

  /** `first`: the first failure of this window; `limitReached`: this failure used up the allowance. */
  recordFailure(client: string, now: number): FailureRecord {
    let window = this.current(client, now);
    if (!window) {
      window = { startedAt: now, failures: 0 };
      this.clients.set(client, window);
      this.forgetOldest();
    }
    window.failures++;
    return { first: window.failures === 1, limitReached: window.failures === this.options.maxFailures };
  }

  private current(client: string, now: number): ClientWindow | undefined {
    const window = this.clients.get(client);
    if (window && now - window.startedAt >= this.options.windowMs) {
      this.clients.delete(client);
      return undefined;
    }
    return window;
  }

  private forgetOldest(): void {
    const max = this.options.maxClients ?? 10_000;
    // A Map iterates in insertion order, and a client's window is inserted when it starts.
    for (const key of this.clients.keys()) {
      if (this.clients.size <= max) break;
      this.clients.delete(key);
    }
  }
}
