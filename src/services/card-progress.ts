import type { AdaptiveCardJson } from '../cards/render';
import type { Logger } from '../shared/logger';
import type { LimiterClock } from './rate-limited-sink';
import type { CardSink } from './card-sink';

/**
 * Five seconds between two progress cards of one message. Teams allows 60 messages per 30 s per
 * conversation, and updates count; one card every 5 s uses 6 of them, which leaves room for several
 * verifies and the runbook's cards in the same conversation, while a person watching still sees the
 * count move.
 */
export const DEFAULT_PROGRESS_INTERVAL_MS = 5000;

/** How long a finished message is remembered, so a progress report that arrives late is still ignored. */
const FINISHED_MEMORY_MS = 10 * 60_000;

interface MessageProgress {
  lastSentAt: number;
  /** Renders the newest progress not sent yet. */
  pending: (() => AdaptiveCardJson) | undefined;
  scheduled: boolean;
  finishedAt: number | undefined;
}

/** setTimeout that does not keep the process alive: a pending progress card is not worth waiting for at exit. */
const unrefClock: LimiterClock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref()),
};

/**
 * Progress cards for long work, never in its way. `progress` returns at once: it keeps only the newest
 * state per message and sends it at most once per interval (the first one at once), without
 * waiting for Teams. `finish` sends the final card; from then on progress for that message is
 * ignored, and the sink (RateLimitedCardSink) drops any progress card still queued or waiting to be
 * retried, so the final card is the one that stays.
 */
export class CardProgress {
  private readonly messages = new Map<string, MessageProgress>();
  private readonly clock: LimiterClock;

  constructor(
    private readonly sink: CardSink,
    private readonly options: { intervalMs?: number; clock?: LimiterClock; logger: Logger },
  ) {
    this.clock = options.clock ?? unrefClock;
  }

  progress(conversationId: string, activityId: string, render: () => AdaptiveCardJson): void {
    const state = this.state(conversationId, activityId);
    if (state.finishedAt !== undefined) return;
    state.pending = render;
    if (state.scheduled) return;
    const wait = state.lastSentAt + this.interval() - this.clock.now();
    if (wait <= 0) {
      this.flush(conversationId, activityId, state);
      return;
    }
    state.scheduled = true;
    void this.clock.sleep(wait).then(() => {
      state.scheduled = false;
      this.flush(conversationId, activityId, state);
    });
  }

  /** Sends the final card (awaited: it must arrive) after dropping any progress not yet sent. */
  async finish(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void> {
    const state = this.state(conversationId, activityId);
    state.finishedAt = this.clock.now();
    state.pending = undefined;
    await this.sink.update(conversationId, activityId, card);
  }

  private flush(conversationId: string, activityId: string, state: MessageProgress): void {
    const render = state.pending;
    if (!render || state.finishedAt !== undefined) return;
    state.pending = undefined;
    state.lastSentAt = this.clock.now();
    this.sink.update(conversationId, activityId, render()).catch((err: Error) => {
      // A progress card is cosmetic; the final card is what must arrive.
      this.options.logger.warn({ conversationId, activityId, err: err.message }, 'progress card not delivered');
    });
  }

  private state(conversationId: string, activityId: string): MessageProgress {
    this.forgetOldFinished();
    const key = `${conversationId}\n${activityId}`;
    let state = this.messages.get(key);
    if (!state) {
      state = { lastSentAt: -Infinity, pending: undefined, scheduled: false, finishedAt: undefined };
      this.messages.set(key, state);
    }
    return state;
  }

  private forgetOldFinished(): void {
    const now = this.clock.now();
    for (const [key, state] of this.messages) {
      const finishedLongAgo = state.finishedAt !== undefined && now - state.finishedAt > FINISHED_MEMORY_MS;
      // Work that never finished (its job was lost) must not keep its entry forever either.
      const idleLongAgo =
        !state.scheduled && state.pending === undefined && now - state.lastSentAt > FINISHED_MEMORY_MS;
      if (finishedLongAgo || (state.finishedAt === undefined && idleLongAgo)) this.messages.delete(key);
    }
  }

  private interval(): number {
    return this.options.intervalMs ?? DEFAULT_PROGRESS_INTERVAL_MS;
  }
}
