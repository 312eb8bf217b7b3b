import type { AdaptiveCardJson } from '../cards/render';
import type { Logger } from '../shared/logger';
import type { CardSink } from './verify-service';

export interface WindowRule {
  limit: number;
  windowMs: number;
}

export interface LimiterClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: LimiterClock = { now: () => Date.now(), sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)) };

/**
 * Sliding-window limits per key: a caller waits until every rule has room, then takes a slot.
 * Callers of one key are served in order. Small enough to keep here rather than pull in a
 * dependency (bottleneck is unmaintained since 2019; p-throttle is ESM-only and has no per-key windows).
 */
export class SlidingWindowLimiter {
  private readonly stamps = new Map<string, number[]>();
  private readonly tails = new Map<string, Promise<void>>();
  private readonly longestWindow: number;

  constructor(private readonly rules: readonly WindowRule[], private readonly clock: LimiterClock = realClock) {
    this.longestWindow = Math.max(...rules.map((r) => r.windowMs));
  }

  acquire(key: string): Promise<void> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(() => this.take(key));
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    // Forget idle keys so a bot with many conversations does not keep them all.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  private async take(key: string): Promise<void> {
    for (;;) {
      const now = this.clock.now();
      const stamps = (this.stamps.get(key) ?? []).filter((t) => t > now - this.longestWindow);
      let wait = 0;
      for (const rule of this.rules) {
        const inWindow = stamps.filter((t) => t > now - rule.windowMs);
        if (inWindow.length >= rule.limit) wait = Math.max(wait, inWindow[inWindow.length - rule.limit]! + rule.windowMs - now);
      }
      if (wait <= 0) {
        stamps.push(now);
        this.stamps.set(key, stamps);
        return;
      }
      await this.clock.sleep(wait);
    }
  }
}

/**
 * Teams limits per bot per conversation: 7 messages/1 s, 8/2 s, 60/30 s, 1,800/hour; and about
 * 50 requests/s per app per tenant (Teams "rate limiting for bots" page). We stay under those so a
 * morning of many summaries, or a busy verify, queues instead of being answered with 429.
 */
export const TEAMS_CONVERSATION_RULES: readonly WindowRule[] = [
  { limit: 7, windowMs: 1_000 },
  { limit: 8, windowMs: 2_000 },
  { limit: 60, windowMs: 30_000 },
  { limit: 1_800, windowMs: 3_600_000 },
];
export const TEAMS_APP_RULES: readonly WindowRule[] = [{ limit: 40, windowMs: 1_000 }];

/**
 * Teams asks for retries on 429, 412, 502, 503 and 504. A new post is retried only on 429 and 503,
 * which say the message was not taken; after a 502 or 504 it may already be in the chat, and a
 * second copy is worse than a missing one. Updates are idempotent, so they retry on all five.
 */
const RETRYABLE_UPDATE = new Set([429, 412, 502, 503, 504]);
const RETRYABLE_POST = new Set([429, 503]);

/** A CardSink that waits for room under Teams' limits and retries what Teams asks to retry. */
export class RateLimitedCardSink implements CardSink {
  private readonly perConversation: SlidingWindowLimiter;
  private readonly perApp: SlidingWindowLimiter;

  constructor(
    private readonly inner: CardSink,
    private readonly options: { logger: Logger; clock?: LimiterClock; conversationRules?: readonly WindowRule[]; appRules?: readonly WindowRule[]; maxRetries?: number },
  ) {
    this.perConversation = new SlidingWindowLimiter(options.conversationRules ?? TEAMS_CONVERSATION_RULES, options.clock);
    this.perApp = new SlidingWindowLimiter(options.appRules ?? TEAMS_APP_RULES, options.clock);
  }

  post(conversationId: string, card: AdaptiveCardJson): Promise<string | undefined> {
    return this.send(conversationId, RETRYABLE_POST, () => this.inner.post(conversationId, card));
  }

  update(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void> {
    return this.send(conversationId, RETRYABLE_UPDATE, () => this.inner.update(conversationId, activityId, card));
  }

  private async send<T>(conversationId: string, retryable: ReadonlySet<number>, fn: () => Promise<T>): Promise<T> {
    const clock = this.options.clock ?? realClock;
    const maxRetries = this.options.maxRetries ?? 3;
    for (let attempt = 0; ; attempt++) {
      await this.perConversation.acquire(conversationId);
      await this.perApp.acquire('app');
      try {
        return await fn();
      } catch (err) {
        const status = (err as { statusCode?: unknown }).statusCode;
        if (typeof status !== 'number' || !retryable.has(status) || attempt >= maxRetries) throw err;
        const retryAfter = Number((err as { response?: { headers?: { get?: (n: string) => string | null } } }).response?.headers?.get?.('retry-after'));
        const waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000 * 2 ** attempt;
        this.options.logger.warn({ status, attempt: attempt + 1, waitMs, conversationId }, 'Teams asked us to slow down; retrying');
        await clock.sleep(Math.min(waitMs, 60_000));
      }
    }
  }
}
