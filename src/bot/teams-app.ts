// Deep imports: the package index also loads its AI planners (see activity-endpoint.ts).
import { Application } from '@microsoft/teams-ai/lib/Application';
import type { TeamsAdapter } from '@microsoft/teams-ai/lib/TeamsAdapter';
import { ActivityTypes, MemoryStorage } from 'botbuilder';
import { CertificateServiceClientCredentialsFactory } from 'botframework-connector';
import { renderMessageCard } from '../cards/message-cards';
import type { BotConfig } from '../config';
import type { Logger } from '../shared/logger';
import { SyncShiftAdapter } from './activity-endpoint';
import { PUBLIC_CLOUD } from './bot-framework-cloud';
import { cardActivity } from './card-sink';
import { actorOf, registerCommands, type CommandDeps } from './handlers/commands';

/**
 * The adapter validates Bot Framework tokens when app credentials are configured; with none it
 * accepts unauthenticated activities, which is why the server then binds to loopback only.
 */
export function createAdapter(config: BotConfig): SyncShiftAdapter {
  const auth = config.botAuth;
  if (!auth) return new SyncShiftAdapter({});
  const settings = {
    MicrosoftAppId: auth.appId,
    MicrosoftAppType: auth.appType,
    ...(auth.credential.kind === 'password' ? { MicrosoftAppPassword: auth.credential.password } : {}),
    ...(auth.tenantId ? { MicrosoftAppTenantId: auth.tenantId } : {}),
    ...metadataOverrides(auth.openIdMetadataUrl, auth.emulatorOpenIdMetadataUrl),
  };
  // Inbound tokens are validated from `settings` either way; the factory only changes how the bot signs in.
  if (auth.credential.kind === 'certificate') {
    return new SyncShiftAdapter(
      settings,
      new CertificateServiceClientCredentialsFactory(
        auth.appId,
        auth.credential.thumbprint,
        auth.credential.privateKeyPem,
        auth.tenantId,
      ),
    );
  }
  return new SyncShiftAdapter(settings);
}

/**
 * botbuilder switches to fully explicit settings as soon as one metadata URL is given, so the
 * public-cloud values of the others must come along or outbound calls would lose their login URL.
 */
function metadataOverrides(
  channel: string | undefined,
  emulator: string | undefined,
): Record<string, string | boolean> {
  if (!channel && !emulator) return {};
  return {
    ValidateAuthority: true,
    ToChannelFromBotLoginUrl: PUBLIC_CLOUD.loginUrl,
    ToChannelFromBotOAuthScope: PUBLIC_CLOUD.botFrameworkScope,
    ToBotFromChannelTokenIssuer: PUBLIC_CLOUD.botFrameworkScope,
    OAuthUrl: PUBLIC_CLOUD.botFrameworkScope,
    ToBotFromChannelOpenIdMetadataUrl: channel ?? PUBLIC_CLOUD.channelOpenIdMetadataUrl,
    ToBotFromEmulatorOpenIdMetadataUrl: emulator ?? PUBLIC_CLOUD.emulatorOpenIdMetadataUrl,
    CallerId: 'urn:botframework:azure',
  };
}

export function createTeamsApp(adapter: TeamsAdapter, deps: CommandDeps & { logger: Logger }): Application {
  // Turn state is not used: everything that must survive lives in the store.
  const app = new Application({ adapter, storage: new MemoryStorage(), startTypingTimer: false });
  registerCommands(app, deps);
  // Card buttons (Universal Actions): step cards, wave action cards (issue 16: Approve, Reject,
  // Rollback, Check the scope) and the pilot's Rollback button on /ou status. The conversation the
  // click came from decides which migration it may act on (never the card's data). The answer is the
  // card as this person should now see it; the shared copy is updated by the service for everyone else.
  onCardAction(app, /^step\./, (input) => deps.runbook.handleAction(input));
  onCardAction(app, /^wave\./, (input) => deps.waveEngine.handleAction(input));
  onCardAction(app, /^pilot\./, (input) => deps.runbook.rollbackPilotButton(input));
  app.error(async (context, error) => {
    deps.logger.error({ err: error.message, activityId: context.activity.id }, 'turn failed');
    await context.sendActivity(
      cardActivity(
        renderMessageCard({
          title: 'Something went wrong',
          // Not "nothing was changed": the command may have queued a job or stored a wave before it failed.
          text: 'SyncShift could not finish that request. Part of it may have been done already.',
          hint: `Check before trying again (/migration status, /wave list, /agent list show what is stored); if it keeps failing, give your administrator this reference: ${context.activity.id ?? 'unknown'}.`,
          tone: 'attention',
        }),
      ),
    );
  });
  return app;
}

interface CardActionInput {
  verb: string;
  data: unknown;
  conversationId: string;
  actor: ReturnType<typeof actorOf>;
}

function onCardAction(app: Application, verbs: RegExp, handle: (input: CardActionInput) => Promise<unknown>): void {
  app.adaptiveCards.actionExecute<unknown>(verbs, async (context, _state, data) => {
    const verb = String((context.activity.value as { action?: { verb?: string } } | undefined)?.action?.verb ?? '');
    const card = await handle({
      verb,
      data,
      conversationId: context.activity.conversation.id,
      actor: actorOf(context.activity.from),
    });
    // Answer the invoke ourselves: teams-ai would otherwise turn a card with `refresh` into
    // REPLACE_FOR_ALL and show this person's view (and notices) to everyone.
    await context.sendActivity({
      type: ActivityTypes.InvokeResponse,
      value: { status: 200, body: { statusCode: 200, type: 'application/vnd.microsoft.card.adaptive', value: card } },
    });
    return card as never;
  });
}
