import type { Activity, TurnContext } from 'botbuilder';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';

/** Handed to the turn: the command says when it starts changing something durable. */
export interface TurnWork {
  changingState(): void;
}

const TURN_WORK = Symbol('syncshift.turnWork');

/** Stores the turn's TurnWork where the command handlers find it. */
export function attachTurnWork(context: TurnContext, work: TurnWork): void {
  context.turnState.set(TURN_WORK, work);
}

/**
 * Called by a command right before its first durable change (a job queued, a wave stored, a code
 * issued): from then on a failed turn is not run again on Teams' retry, which could do it twice.
 */
export function markChangingState(context: TurnContext): void {
  (context.turnState.get(TURN_WORK) as TurnWork | undefined)?.changingState();
}

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

  /**
   * Runs `handle` for the first delivery of a message and skips redeliveries. When `handle` fails
   * before it changed anything (it never called `changingState`), the key is released before the
   * error goes on, so Teams' retry is handled rather than dropped. When it fails after, the key
   * stays: the retry would repeat what already happened (a second verify job, a second wave), and
   * the person gets the error card instead. While one instance is still handling, a redelivery to
   * another instance is skipped, so a command never runs twice at once.
   */
  async handleOnce(activity: Partial<Activity>, handle: (work: TurnWork) => Promise<void>): Promise<void> {
    let changing = false;
    const work: TurnWork = { changingState: () => (changing = true) };
    const key = this.keyOf(activity);
    if (key === null) return handle(work);
    const now = this.now();
    if (now.getTime() - this.lastPrune > PRUNE_EVERY_MS) {
      this.lastPrune = now.getTime();
      void this.store.activities
        .prune(new Date(now.getTime() - KEEP_MS))
        .catch((err: Error) => this.logger.warn({ err: err.message }, 'pruning seen activities failed'));
    }
    if (!(await this.store.activities.markSeen(key, now))) {
      this.logger.info({ activityId: activity.id }, 'ignored a redelivered activity');
      return;
    }
    try {
      await handle(work);
    } catch (err) {
      if (changing) {
        this.logger.warn(
          { activityId: activity.id, err: (err as Error).message },
          'a command failed after it started changing state; its redelivery will be ignored so nothing runs twice',
        );
      } else {
        await this.store.activities
          .forget(key)
          .catch((forgetErr: Error) =>
            this.logger.error(
              { err: forgetErr.message, activityId: activity.id },
              'could not release a failed activity; its redelivery will be ignored',
            ),
          );
      }
      throw err;
    }
  }

  private keyOf(activity: Partial<Activity>): string | null {
    if (activity.type !== 'message' || !activity.id) return null;
    return `${activity.channelId ?? ''}|${activity.conversation?.id ?? ''}|${activity.id}`;
  }
}
