import { CardFactory, MessageFactory, type ConversationReference, type TurnContext } from 'botbuilder';
import type { CloudAdapter } from 'botbuilder';
import type { AdaptiveCardJson } from '../cards/render';
import type { CardSendOptions, CardSink } from '../services/card-sink';
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

  async post(
    conversationId: string,
    card: AdaptiveCardJson,
    options: CardSendOptions = {},
  ): Promise<string | undefined> {
    let id: string | undefined;
    await this.proactive(conversationId, options.signal, async (context) => {
      sendOnce(context.turnState.get(this.adapter.ConnectorClientKey));
      id = (await context.sendActivity(cardActivity(card)))?.id;
    });
    return id;
  }

  async update(
    conversationId: string,
    activityId: string,
    card: AdaptiveCardJson,
    options: CardSendOptions = {},
  ): Promise<void> {
    await this.proactive(conversationId, options.signal, async (context) => {
      await context.updateActivity({ ...cardActivity(card), id: activityId });
    });
  }

  /**
   * Runs a proactive turn and rejects when its logic failed. The adapter would otherwise hand the
   * error to the app's turn-error handler, which answers with a "Something went wrong" message of
   * its own and resolves: the caller would take a failed post for a sent one, and the chat would
   * get a second message.
   */
  private async proactive(
    conversationId: string,
    signal: AbortSignal | undefined,
    logic: (context: TurnContext) => Promise<void>,
  ): Promise<void> {
    let failure: { error: unknown } | undefined;
    await this.adapter.continueConversationAsync(
      this.botAppId,
      await this.reference(conversationId),
      async (context) => {
        try {
          // The caller may have given up while the turn was set up (a token fetch that hung):
          // sending now would put a card in the chat that the caller was told had failed.
          signal?.throwIfAborted();
          if (signal) abortWith(context.turnState.get(this.adapter.ConnectorClientKey), signal);
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

/**
 * botbuilder's adapter passes no request options to the connector client, so the caller's signal
 * reaches the HTTP request through this turn's own pipeline: a policy sets it on every request, and
 * core-rest-pipeline's HTTP client cancels a request whose signal aborts. Without the pipeline the
 * caller's deadline still holds; only the request is then left to finish by itself.
 */
function abortWith(connectorClient: unknown, signal: AbortSignal): void {
  type Request = { abortSignal?: AbortSignal };
  const pipeline = (
    connectorClient as
      | {
          client?: {
            pipeline?: {
              addPolicy?: (policy: {
                name: string;
                sendRequest: (r: Request, next: (r: Request) => unknown) => unknown;
              }) => void;
            };
          };
        }
      | undefined
  )?.client?.pipeline;
  pipeline?.addPolicy?.({
    name: 'syncshiftCardDeadline',
    sendRequest: (request, next) => {
      request.abortSignal = request.abortSignal ? AbortSignal.any([request.abortSignal, signal]) : signal;
      return next(request);
    },
  });
}
