import type { AdaptiveCardJson } from '../cards/render';
import type { Logger } from '../shared/logger';
import type { CardSendOptions, CardSink } from './card-sink';

export interface WindowRule {
  limit: number;
  windowMs: number;
}

export interface LimiterClock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

const realClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/**
 * Sliding-window limits per key: a caller waits until every rule has room, then takes a slot.
 * Callers of one key are served in order. Small enough to keep here rather than pull in a
 * dependency (bottleneck is unmaintained since 2019; p-throttle is ESM-only and has no per-key windows).
 */
export class SlidingWindowLimiter {
  private readonly stamps = new Map<string, number[]>();
  private readonly tails = new Map<string, Promise<void>>();
  private readonly longestWindow: number;

  constructor(
    private readonly rules: readonly WindowRule[],
    private readonly clock: LimiterClock = realClock,
  ) {
    this.longestWindow = Math.max(...rules.map((r) => r.windowMs));
  }

  /**
   * Resolves once the caller holds a slot. With `stillWanted`, a caller whose message became
   * pointless while it waited (a newer card replaced it) gets null and takes no slot. A slot taken
   * and then not used (the message was replaced while it waited for another limiter) is given back.
   */
  acquire(key: string, stillWanted: () => boolean = () => true): Promise<Slot | null> {
    const next = (this.tails.get(key) ?? Promise.resolve()).then(() => this.take(key, stillWanted));
    const tail = next.then(
      () => undefined,
      () => undefined,
    );
    this.tails.set(key, tail);
    // Forget idle keys so a bot with many conversations does not keep them all.
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  private async take(key: string, stillWanted: () => boolean): Promise<Slot | null> {
    for (;;) {
      if (!stillWanted()) return null;
      const now = this.clock.now();
      const stamps = (this.stamps.get(key) ?? []).filter((t) => t > now - this.longestWindow);
      let wait = 0;
      for (const rule of this.rules) {
        const inWindow = stamps.filter((t) => t > now - rule.windowMs);
        if (inWindow.length >= rule.limit)
          wait = Math.max(wait, inWindow[inWindow.length - rule.limit]! + rule.windowMs - now);
      }
      if (wait <= 0) {
        stamps.push(now);
        this.stamps.set(key, stamps);
        return { giveBack: () => this.giveBack(key, now) };
      }
      await this.clock.sleep(wait);
    }
  }

  private giveBack(key: string, stamp: number): void {
    const stamps = this.stamps.get(key);
    const at = stamps?.indexOf(stamp) ?? -1;
    if (at >= 0) stamps!.splice(at, 1);
  }
}

export interface Slot {
  giveBack(): void;
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

/** How long one post or update may go without an answer from Teams (SYNCSHIFT_CARD_SEND_TIMEOUT_MS). */
export const DEFAULT_CARD_SEND_TIMEOUT_MS = 30_000;

/**
 * A post or update Teams did not answer in time. Its `code` is ETIMEDOUT and it is not an AppError on
 * purpose: `classifyPostFailure` reads it as "Teams may have it", so a post is not sent a second time.
 */
export class CardSendTimeout extends Error {
  readonly code = 'ETIMEDOUT';

  constructor(kind: 'post' | 'update', timeoutMs: number) {
    super(
      `Teams did not answer the card ${kind} within ${timeoutMs} ms, so it may or may not be shown. ` +
        "SyncShift moved on; /step shows the current card. If this repeats, check the bot's connection to the Bot Framework service or raise SYNCSHIFT_CARD_SEND_TIMEOUT_MS.",
    );
    this.name = 'CardSendTimeout';
  }
}

/** Waits `ms`, or less when `signal` aborts (then it resolves early, which the caller ignores). */
export type DeadlineTimer = (ms: number, signal: AbortSignal) => Promise<void>;

const realTimer: DeadlineTimer = (ms, signal) =>
  new Promise((resolve) => {
    const timer = setTimeout(resolve, ms);
    signal.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
  });

/** What a send does when its deadline passes: whom to name in the log, and whom to tell how it settled later. */
interface Deadline<T> {
  kind: 'post' | 'update';
  activityId?: string;
  /** Called when the deadline passes, before the attempt is aborted. */
  overdue?: () => void;
  late: (late: { ok: true; value: T } | { ok: false; error: unknown }) => void;
}

/** An update waiting to be sent, and the caller waiting for it. */
interface PendingUpdate {
  card: AdaptiveCardJson;
  resolve(): void;
  reject(err: unknown): void;
}

/** Per message (conversation + activity id): the update being sent, and the newest one waiting behind it. */
interface MessageQueue {
  sending: boolean;
  waiting: PendingUpdate | undefined;
  /** Numbers this message's sends in the order they were handed to Teams. */
  sends: number;
  /** The newest card handed to Teams, and its number: what the card must end up showing. */
  latest: { n: number; card: AdaptiveCardJson } | undefined;
  /** Sends that passed their deadline and have not settled yet; the queue is kept until they do. */
  overdue: number;
}

/**
 * A CardSink that waits for room under Teams' limits and retries what Teams asks to retry.
 *
 * Updates of one message go out one at a time, and the newest card wins: an update still waiting for
 * room, or waiting to be retried after a 429/412/5xx, is dropped as soon as a newer update of the same
 * message arrives (its caller's promise resolves, since what it wanted shown has been replaced). So an
 * old progress card retried late can never land on top of the finished result.
 */
export class RateLimitedCardSink implements CardSink {
  private readonly perConversation: SlidingWindowLimiter;
  private readonly perApp: SlidingWindowLimiter;
  private readonly messages = new Map<string, MessageQueue>();

  constructor(
    private readonly inner: CardSink,
    private readonly options: {
      logger: Logger;
      clock?: LimiterClock;
      conversationRules?: readonly WindowRule[];
      appRules?: readonly WindowRule[];
      maxRetries?: number;
      /** Deadline of one attempt to post or update; default DEFAULT_CARD_SEND_TIMEOUT_MS. */
      sendTimeoutMs?: number;
      /** What measures that deadline; tests pass virtual time. */
      timer?: DeadlineTimer;
    },
  ) {
    this.perConversation = new SlidingWindowLimiter(
      options.conversationRules ?? TEAMS_CONVERSATION_RULES,
      options.clock,
    );
    this.perApp = new SlidingWindowLimiter(options.appRules ?? TEAMS_APP_RULES, options.clock);
  }

  async post(conversationId: string, card: AdaptiveCardJson): Promise<string | undefined> {
    // A post that times out is not sent again: the request went out, so Teams may have the card,
    // and a second copy in the chat is worse than a missing one (the same reason 502/504 are not
    // retried). The caller gets the CardSendTimeout, which classifyPostFailure reads as "unknown".
    const sent = await this.send(
      conversationId,
      RETRYABLE_POST,
      (options) => this.inner.post(conversationId, card, options),
      () => false,
      {
        kind: 'post',
        late: (late) => {
          if (late.ok)
            this.options.logger.warn(
              { conversationId, activityId: late.value },
              'a card post Teams answered after its deadline is in the chat; the caller was told it failed, so nothing will update it',
            );
        },
      },
    );
    return sent.value;
  }

  update(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void> {
    const key = `${conversationId}\n${activityId}`;
    let queue = this.messages.get(key);
    if (!queue) {
      queue = { sending: false, waiting: undefined, sends: 0, latest: undefined, overdue: 0 };
      this.messages.set(key, queue);
    }
    const replaced = queue.waiting;
    const done = new Promise<void>((resolve, reject) => {
      queue.waiting = { card, resolve, reject };
    });
    replaced?.resolve();
    if (!queue.sending) void this.drain(key, conversationId, activityId, queue);
    return done;
  }

  private async drain(key: string, conversationId: string, activityId: string, queue: MessageQueue): Promise<void> {
    queue.sending = true;
    try {
      for (let next = queue.waiting; next; next = queue.waiting) {
        queue.waiting = undefined;
        const current = next;
        let n = 0;
        try {
          const sent = await this.send(
            conversationId,
            RETRYABLE_UPDATE,
            (options) => {
              n = ++queue.sends;
              queue.latest = { n, card: current.card };
              return this.inner.update(conversationId, activityId, current.card, options);
            },
            () => queue.waiting !== undefined,
            {
              kind: 'update',
              activityId,
              overdue: () => queue.overdue++,
              late: (late) => this.lateUpdate(key, conversationId, activityId, queue, n, late.ok),
            },
          );
          if (sent.superseded)
            this.options.logger.debug(
              { conversationId, activityId },
              'card update replaced by a newer one before it was sent',
            );
          current.resolve();
        } catch (err) {
          // A newer card already waiting gets its own try; this caller learns why its card failed.
          current.reject(err);
        }
      }
    } finally {
      queue.sending = false;
      this.forgetIfIdle(key, queue);
    }
  }

  /**
   * A timed-out update of this message settled after all. If it was taken and a newer card was
   * handed to Teams meanwhile, Teams may now show the older card: the newest is sent once more
   * (unless a newer update already waits), so the last card Teams takes from us is the newest.
   * A request Teams applies while its answer never reaches us cannot be seen here; the card's next
   * update corrects it (see docs/configuration.md, SYNCSHIFT_CARD_SEND_TIMEOUT_MS).
   */
  private lateUpdate(
    key: string,
    conversationId: string,
    activityId: string,
    queue: MessageQueue,
    n: number,
    ok: boolean,
  ): void {
    queue.overdue--;
    const latest = queue.latest;
    if (ok && latest && latest.n > n && !queue.waiting) {
      this.options.logger.warn(
        { conversationId, activityId },
        'an overdue card update was answered after a newer one was sent; sending the newest card again',
      );
      queue.waiting = {
        card: latest.card,
        resolve: () => undefined,
        reject: (err) =>
          this.options.logger.warn(
            { conversationId, activityId, err: (err as Error).message },
            'the newest card could not be sent again',
          ),
      };
      if (!queue.sending) void this.drain(key, conversationId, activityId, queue);
      return;
    }
    this.forgetIfIdle(key, queue);
  }

  private forgetIfIdle(key: string, queue: MessageQueue): void {
    if (!queue.sending && !queue.waiting && queue.overdue === 0 && this.messages.get(key) === queue)
      this.messages.delete(key);
  }

  /**
   * `superseded` is asked before every attempt; once true, nothing more is sent for this call.
   * Every attempt has a deadline: past it the attempt is aborted and counts as failed (not
   * retried: a hung Teams endpoint would only hang again, and for an update a newer card may be
   * waiting behind it), and `deadline.late` hears how it settled, if it ever does.
   */
  private async send<T>(
    conversationId: string,
    retryable: ReadonlySet<number>,
    fn: (options: CardSendOptions) => Promise<T>,
    superseded: () => boolean,
    deadline: Deadline<T>,
  ): Promise<{ value?: T; superseded: boolean }> {
    const clock = this.options.clock ?? realClock;
    const maxRetries = this.options.maxRetries ?? 3;
    const wanted = (): boolean => !superseded();
    for (let attempt = 0; ; attempt++) {
      const conversationSlot = await this.perConversation.acquire(conversationId, wanted);
      if (!conversationSlot) return { superseded: true };
      if (!(await this.perApp.acquire('app', wanted))) {
        // Replaced while it waited for the app-wide limit: nothing went to this conversation.
        conversationSlot.giveBack();
        return { superseded: true };
      }
      try {
        return { value: await this.withinDeadline(conversationId, fn, deadline), superseded: false };
      } catch (err) {
        if (err instanceof CardSendTimeout) throw err;
        const status = (err as { statusCode?: unknown }).statusCode;
        if (typeof status !== 'number' || !retryable.has(status) || attempt >= maxRetries) throw err;
        const retryAfter = Number(
          (err as { response?: { headers?: { get?: (n: string) => string | null } } }).response?.headers?.get?.(
            'retry-after',
          ),
        );
        const waitMs = Number.isFinite(retryAfter) && retryAfter > 0 ? retryAfter * 1000 : 1000 * 2 ** attempt;
        this.options.logger.warn(
          { status, attempt: attempt + 1, waitMs, conversationId },
          'Teams asked us to slow down; retrying',
        );
        // Teams' wait applies to whatever is sent next, so a newer card waits it out as well.
        await clock.sleep(Math.min(waitMs, 60_000));
      }
    }
  }

  /** One attempt, raced against the deadline; see `send`. */
  private async withinDeadline<T>(
    conversationId: string,
    fn: (options: CardSendOptions) => Promise<T>,
    deadline: Deadline<T>,
  ): Promise<T> {
    const timeoutMs = this.options.sendTimeoutMs ?? DEFAULT_CARD_SEND_TIMEOUT_MS;
    const abort = new AbortController();
    const settled = fn({ signal: abort.signal }).then(
      (value) => ({ ok: true as const, value }),
      (error: unknown) => ({ ok: false as const, error }),
    );
    const stopTimer = new AbortController();
    const expired = (this.options.timer ?? realTimer)(timeoutMs, stopTimer.signal).then(() => 'expired' as const);
    const first = await Promise.race([settled, expired]);
    stopTimer.abort();
    if (first !== 'expired') {
      if (first.ok) return first.value;
      throw first.error;
    }
    const timeout = new CardSendTimeout(deadline.kind, timeoutMs);
    this.options.logger.warn(
      { conversationId, ...(deadline.activityId ? { activityId: deadline.activityId } : {}), timeoutMs },
      `card ${deadline.kind} got no answer from Teams in time; aborted and treated as failed`,
    );
    deadline.overdue?.();
    abort.abort(timeout);
    void settled.then(deadline.late);
    throw timeout;
  }
}
