import type { CloudAdapter, ConversationParameters, TurnContext } from 'botbuilder';
import type { AdaptiveCardJson } from '../cards/render';
import { cardActivity } from './card-sink';
import { PUBLIC_CLOUD } from './bot-framework-cloud';

/**
 * Sends a card that only the sender of the current activity may see: in a personal chat, as the
 * reply; anywhere else, in a 1:1 conversation the bot opens with that person (Teams returns the
 * existing personal chat when there is one). Needs the app installed for the user, which a Teams
 * app with personal scope is once the person has used it in a team.
 */
export async function sendPrivately(context: TurnContext, botAppId: string, card: AdaptiveCardJson): Promise<void> {
  const activity = context.activity;
  if (activity.conversation.conversationType === 'personal') {
    await context.sendActivity(cardActivity(card));
    return;
  }
  const tenantId =
    activity.conversation.tenantId ?? (activity.channelData as { tenant?: { id?: string } } | undefined)?.tenant?.id;
  const parameters = {
    isGroup: false,
    bot: activity.recipient,
    members: [{ id: activity.from.id, name: activity.from.name }],
    ...(tenantId ? { tenantId, channelData: { tenant: { id: tenantId } } } : {}),
  } as ConversationParameters;
  const adapter = context.adapter as CloudAdapter;
  await adapter.createConversationAsync(
    botAppId,
    activity.channelId,
    activity.serviceUrl,
    PUBLIC_CLOUD.botFrameworkScope,
    parameters,
    async (privateContext) => {
      await privateContext.sendActivity(cardActivity(card));
    },
  );
}
