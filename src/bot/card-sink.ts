import { CardFactory, MessageFactory, type ConversationReference, type TurnContext } from 'botbuilder';
import type { CloudAdapter } from 'botbuilder';
import type { AdaptiveCardJson } from '../cards/render';
import type { CardSink } from '../services/card-sink';
import { AppError } from '../shared/errors';
import type { Store } from '../store/types';

export function cardActivity(card: AdaptiveCardJson): ReturnType<typeof MessageFactory.attachment> {
  return MessageFactory.attachment(CardFactory.adaptiveCard(card));
}

/** Posts and updates cards outside a turn, from the conversation reference kept in the store. */
export class ProactiveCardSink implements CardSink {
  constructor(
    private readonly adapter: CloudAdapter,
    private readonly botAppId: string,
    private readonly store: Store,
  ) {}

  async post(conversationId: string, card: AdaptiveCardJson): Promise<string | undefined> {
    let id: string | undefined;
    await this.proactive(conversationId, async (context) => {
      sendOnce(context.turnState.get(this.adapter.ConnectorClientKey));
      id = (await context.sendActivity(cardActivity(card)))?.id;
    });
    return id;
  }

  async update(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void> {
    await this.proactive(conversationId, async (context) => {
      await context.updateActivity({ ...cardActivity(card), id: activityId });
    });
  }

  /**
   * Runs a proactive turn and rejects when its logic failed. The adapter would otherwise hand the
   * error to the app's turn-error handler, which answers with a "Something went wrong" message of
   * its own and resolves: the caller would take a failed post for a sent one, and the chat would
   * get a second message.
   */
  private async proactive(conversationId: string, logic: (context: TurnContext) => Promise<void>): Promise<void> {
    let failure: { error: unknown } | undefined;
    await this.adapter.continueConversationAsync(
      this.botAppId,
      await this.reference(conversationId),
      async (context) => {
        try {
          await logic(context);
        } catch (error) {
          failure = { error };
        }
      },
    );
    if (failure) throw failure.error;
  }

  private async reference(conversationId: string): Promise<Partial<ConversationReference>> {
    const ref = (await this.store.conversations.getReference(conversationId)) as Partial<ConversationReference> | null;
    // An AppError: nothing was sent, so a caller may try again later without risking a duplicate.
    if (!ref)
      throw new AppError(
        'TEAMS.NOT_SENT',
        `No conversation reference is stored for ${conversationId}; the bot must receive a message there first.`,
        { hint: 'Send the bot a message in that conversation (or reinstall the app there).' },
      );
    return ref;
  }
}

/**
 * The connector client's pipeline retries 5xx answers and dropped connections by itself, which for
 * a new message means a second copy whenever Teams took the first one and still answered 502 or
 * 504. A proactive turn gets its own client, so its retry phase is removed there and the post goes
 * out once; the card sink above retries only the answers that say Teams did not take it (429, 503).
 */
function sendOnce(connectorClient: unknown): void {
  const pipeline = (
    connectorClient as
      { client?: { pipeline?: { removePolicy?: (options: { phase: 'Retry' }) => unknown } } } | undefined
  )?.client?.pipeline;
  if (typeof pipeline?.removePolicy !== 'function') {
    // Failing closed: without this the bot could post a card twice, and nothing has been sent yet.
    throw new AppError(
      'TEAMS.NOT_SENT',
      'The Bot Framework connector client does not expose its request pipeline, so SyncShift cannot post without automatic resends.',
      {
        hint: 'botbuilder changed its internals; use the botbuilder version in package-lock.json or update ProactiveCardSink.',
      },
    );
  }
  pipeline.removePolicy({ phase: 'Retry' });
}
