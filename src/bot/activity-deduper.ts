import type { Activity } from 'botbuilder';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';

/** Teams retries for minutes at most; a day of keys is plenty and keeps the table small. */
const KEEP_MS = 24 * 60 * 60_000;
const PRUNE_EVERY_MS = 10 * 60_000;

/**
 * Teams redelivers an activity when the bot is slow to answer. A message must still run its
 * command once: the database decides (an insert on a primary key), so every bot instance agrees.
 * Invokes (card buttons) are not deduplicated here: they need an answer every time, and the
 * approval claim already makes them run once.
 */
export class ActivityDeduper {
  private lastPrune = 0;

  constructor(
    private readonly store: Store,
    private readonly logger: Logger,
    private readonly now: () => Date = () => new Date(),
  ) {}

  async firstDelivery(activity: Partial<Activity>): Promise<boolean> {
    if (activity.type !== 'message' || !activity.id) return true;
    const now = this.now();
    if (now.getTime() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now.getTime();
      void this.store.activities.prune(new Date(now.getTime() - KEEP_MS)).catch((err: Error) => this.logger.warn({ err: err.message }, 'pruning seen activities failed'));
    }
    const key = `${activity.channelId ?? ''}|${activity.conversation?.id ?? ''}|${activity.id}`;
    const first = await this.store.activities.markSeen(key, now);
    if (!first) this.logger.info({ activityId: activity.id }, 'ignored a redelivered activity');
    return first;
  }
}
