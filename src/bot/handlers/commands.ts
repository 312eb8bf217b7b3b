import { TurnContext } from 'botbuilder';
import type { Application } from '@microsoft/teams-ai';
import { renderHelpCard, renderMessageCard } from '../../cards/message-cards';
import { parseCommand } from '../../runbook/commands';
import { assertNever } from '../../shared/assert-never';
import type { Logger } from '../../shared/logger';
import type { VerifyService } from '../../services/verify-service';
import type { Store } from '../../store/types';
import { cardActivity } from '../card-sink';

export interface CommandDeps {
  store: Store;
  verify: VerifyService;
  logger: Logger;
  /** Called after a job is queued, so waiting agents are woken at once. */
  jobQueued: () => void;
}

/** Every text message is a command; anything else gets the help card rather than silence. */
export function registerCommands(app: Application, deps: CommandDeps): void {
  app.activity('message', async (context) => {
    const activity = context.activity;
    const conversationId = activity.conversation.id;
    await deps.store.conversations.saveReference(conversationId, TurnContext.getConversationReference(activity));
    const actor = activity.from.aadObjectId ?? activity.from.id;
    const actorName = activity.from.name ?? actor;
    const command = parseCommand(stripHtml(activity.text ?? ''));

    switch (command.kind) {
      case 'help':
        await context.sendActivity(cardActivity(renderHelpCard()));
        return;
      case 'unknown':
        await context.sendActivity(cardActivity(renderHelpCard(command.text === '' ? '' : `"${truncate(command.text, 80)}" is not a command I know. Here is what I can do:`)));
        return;
      case 'invalid':
        await context.sendActivity(cardActivity(renderMessageCard({ title: `${command.command}: ${command.reason}`, text: `Usage: ${command.usage}`, hint: 'Type /help for every command with an example.', tone: 'warning' })));
        return;
      case 'migration.start': {
        const migration = await deps.store.migrations.create({ name: command.name, conversationId, createdBy: actor });
        await deps.store.audit.append({ actor, action: 'migration.start', target: command.name, outcome: migration ? 'created' : 'exists', details: {}, conversationId });
        if (!migration) {
          const existing = await deps.store.migrations.findByConversation(conversationId);
          await context.sendActivity(cardActivity(renderMessageCard({ title: 'This conversation already has a migration', text: `"${existing?.name ?? '?'}" was started here by ${existing?.createdBy ?? 'someone'}. One conversation holds one migration.`, hint: 'Start a new migration in another channel thread or chat.', tone: 'warning' })));
          return;
        }
        await context.sendActivity(
          cardActivity(
            renderMessageCard({
              title: `Migration "${migration.name}" started`,
              text: `Started by ${actorName}. This conversation now holds the migration from Entra Connect Sync to Entra Cloud Sync.`,
              hint: 'Next: count the pilot OU with /verify pilot OU=<your pilot OU>.',
              tone: 'good',
              facts: [{ title: 'Started', value: migration.createdAt.toISOString() }],
            }),
          ),
        );
        return;
      }
      case 'verify.pilot': {
        const started = await deps.verify.start({ conversationId, ou: command.ou, requestedBy: actorName });
        const sent = await context.sendActivity(cardActivity(started.card));
        if (started.ok) {
          if (sent?.id) await deps.verify.cardPosted(started.verification.id, sent.id);
          deps.jobQueued();
        }
        return;
      }
      case 'verify.list':
        await context.sendActivity(cardActivity(await deps.verify.list({ conversationId, verification: command.verification, list: command.list, page: command.page })));
        return;
      default:
        assertNever(command, 'command');
    }
  });
}

/** Teams may deliver formatted text as HTML; commands are plain text. */
function stripHtml(text: string): string {
  return text
    .replace(/<[^>]+>/g, '')
    .replace(/&nbsp;/g, ' ')
    .replace(/&quot;/g, '"')
    .replace(/&#39;/g, "'")
    .replace(/&lt;/g, '<')
    .replace(/&gt;/g, '>')
    .replace(/&amp;/g, '&')
    .trim();
}

function truncate(text: string, n: number): string {
  return text.length > n ? `${text.slice(0, n)}…` : text;
}
