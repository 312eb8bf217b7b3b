import { Application, TeamsAdapter } from '@microsoft/teams-ai';
import { MemoryStorage } from 'botbuilder';
import { renderMessageCard } from '../cards/message-cards';
import type { BotConfig } from '../config';
import type { Logger } from '../shared/logger';
import { cardActivity } from './card-sink';
import { registerCommands, type CommandDeps } from './handlers/commands';

/**
 * The adapter validates Bot Framework tokens when app credentials are configured; with none it
 * accepts unauthenticated activities, which is why the server then binds to loopback only.
 */
export function createAdapter(config: BotConfig): TeamsAdapter {
  const auth = config.botAuth;
  return new TeamsAdapter(
    auth
      ? { MicrosoftAppId: auth.appId, MicrosoftAppPassword: auth.appPassword, MicrosoftAppType: auth.appType, ...(auth.tenantId ? { MicrosoftAppTenantId: auth.tenantId } : {}) }
      : {},
  );
}

export function createTeamsApp(adapter: TeamsAdapter, deps: CommandDeps & { logger: Logger }): Application {
  // Turn state is not used: everything that must survive lives in the store.
  const app = new Application({ adapter, storage: new MemoryStorage(), startTypingTimer: false });
  registerCommands(app, deps);
  app.error(async (context, error) => {
    deps.logger.error({ err: error.message, activityId: context.activity.id }, 'turn failed');
    await context.sendActivity(
      cardActivity(
        renderMessageCard({
          title: 'Something went wrong',
          text: 'SyncShift could not finish that request. Nothing was changed.',
          hint: `Try again; if it keeps failing, give your administrator this reference: ${context.activity.id ?? 'unknown'}.`,
          tone: 'attention',
        }),
      ),
    );
  });
  return app;
}
