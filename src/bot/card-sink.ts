import { CardFactory, MessageFactory, type ConversationReference } from 'botbuilder';
import type { CloudAdapter } from 'botbuilder';
import type { AdaptiveCardJson } from '../cards/render';
import type { CardSink } from '../services/verify-service';
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
    await this.adapter.continueConversationAsync(this.botAppId, await this.reference(conversationId), async (context) => {
      id = (await context.sendActivity(cardActivity(card)))?.id;
    });
    return id;
  }

  async update(conversationId: string, activityId: string, card: AdaptiveCardJson): Promise<void> {
    await this.adapter.continueConversationAsync(this.botAppId, await this.reference(conversationId), async (context) => {
      await context.updateActivity({ ...cardActivity(card), id: activityId });
    });
  }

  private async reference(conversationId: string): Promise<Partial<ConversationReference>> {
    const ref = (await this.store.conversations.getReference(conversationId)) as Partial<ConversationReference> | null;
    if (!ref) throw new Error(`No conversation reference is stored for ${conversationId}; the bot must receive a message there first.`);
    return ref;
  }
}
