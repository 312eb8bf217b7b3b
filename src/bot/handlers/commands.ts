import { TurnContext } from 'botbuilder';
import type { Application } from '@microsoft/teams-ai/lib/Application';
import { renderHelpCard, renderMessageCard } from '../../cards/message-cards';
import type { Actor } from '../../runbook/actor';
import { parseCommand, visibleControls, type Command } from '../../runbook/commands';
import { assertNever } from '../../shared/assert-never';
import type { Logger } from '../../shared/logger';
import type { AgentService } from '../../services/agent-service';
import type { AuditService } from '../../services/audit-service';
import type { ConnectSyncServers } from '../../services/connect-sync-servers';
import type { RunbookService } from '../../services/runbook-service';
import type { SummaryService } from '../../services/summary-service';
import type { WaveService } from '../../services/wave-service';
import type { WaveCardReply, WaveEngineService } from '../../services/wave-engine-service';
import type { VerifyService } from '../../services/verify-service';
import type { Store } from '../../store/types';
import { markChangingState } from '../activity-deduper';
import { cardActivity } from '../card-sink';
import { sendPrivately } from '../private-message';

import type { OuLedgerService } from '../../services/ou-ledger-service';
import type { NoFlowCheckService } from '../../services/no-flow-check-service';

export interface CommandDeps {
  store: Store;
  verify: VerifyService;
  runbook: RunbookService;
  audit: AuditService;
  waves: WaveService;
  /** A wave's rules, Cloud Sync scope and rollback (issue 16). */
  waveEngine: WaveEngineService;
  summaries: SummaryService;
  /** The OU ownership ledger (`/ou status`). */
  ledger: OuLedgerService;
  agents: AgentService;
  /** `/server`: the migration's Connect Sync server and the staging servers. */
  servers: ConnectSyncServers;
  /** `/ou noflow`: the cloudNoFlow check on the Connect Sync server. */
  noFlow: NoFlowCheckService;
  /** Needed to open a 1:1 chat for an enrollment code. */
  botAppId: string;
  logger: Logger;
}

/**
 * Commands that only read and reply. Running one again on Teams' retry repeats only the reply (and
 * the audit line of the attempt); every other command changes something and must not run twice.
 */
const READ_ONLY_COMMANDS: ReadonlySet<Command['kind']> = new Set([
  'help',
  'unknown',
  'invalid',
  'migration.status',
  'step',
  'audit',
  'verify.list',
  'wave.list',
  'ou.status',
  'agent.list',
  'server.show',
]);

/** Every text message is a command; anything else gets the help card rather than silence. */
export function registerCommands(app: Application, deps: CommandDeps): void {
  app.activity('message', async (context) => {
    const activity = context.activity;
    const conversationId = activity.conversation.id;
    await deps.store.conversations.saveReference(conversationId, TurnContext.getConversationReference(activity));
    const actor = actorOf(activity.from);
    const command = parseCommand(stripHtml(activity.text ?? ''));
    // Every command is on the record, including the ones that fail or are not understood; control
    // characters written out, since PostgreSQL refuses U+0000 and the row must still be written.
    await deps.store.audit.record(actor, {
      action: `command.${command.kind}`,
      target: truncate(visibleControls(stripHtml(activity.text ?? '')), 500),
      outcome: 'received',
      details: { by: actor.name, activityId: activity.id },
      conversationId,
    });
    // Past this point a command that changes something is not run again if the turn fails (see ActivityDeduper).
    if (!READ_ONLY_COMMANDS.has(command.kind)) markChangingState(context);

    switch (command.kind) {
      case 'help':
        await context.sendActivity(cardActivity(renderHelpCard()));
        return;
      case 'unknown':
        await context.sendActivity(
          cardActivity(
            renderHelpCard(
              command.text === ''
                ? ''
                : `"${truncate(command.text, 80)}" is not a command I know. Here is what I can do:`,
            ),
          ),
        );
        return;
      case 'invalid':
        await context.sendActivity(
          cardActivity(
            renderMessageCard({
              title: `${command.command}: ${command.reason}`,
              text: `Usage: ${command.usage}`,
              hint: 'Type /help for every command with an example.',
              tone: 'warning',
            }),
          ),
        );
        return;
      case 'migration.start': {
        const migration = await deps.store.migrations.create({
          name: command.name,
          conversationId,
          createdBy: actor.id,
        });
        await deps.store.audit.record(actor, {
          action: 'migration.start',
          target: command.name,
          outcome: migration ? 'created' : 'exists',
          details: {},
          conversationId,
        });
        if (!migration) {
          const existing = await deps.store.migrations.findByConversation(conversationId);
          await context.sendActivity(
            cardActivity(
              renderMessageCard({
                title: 'This conversation already has a migration',
                text: `"${existing?.name ?? '?'}" was started here by ${existing?.createdBy ?? 'someone'}. One conversation holds one migration.`,
                hint: 'Start a new migration in another channel thread or chat.',
                tone: 'warning',
              }),
            ),
          );
          return;
        }
        await context.sendActivity(
          cardActivity(
            renderMessageCard({
              title: `Migration "${migration.name}" started`,
              text: `Started by ${actor.name}. This conversation now holds the migration from Entra Connect Sync to Entra Cloud Sync: 18 steps, each with its own card below as it becomes current.`,
              hint: 'Type /migration status at any time; /verify pilot OU=<OU> compares an OU with the cloud.',
              tone: 'good',
              facts: [{ title: 'Started', value: migration.createdAt.toISOString() }],
            }),
          ),
        );
        const cards = await deps.runbook.started(migration);
        await context.sendActivity(cardActivity(cards.overview));
        const first = await context.sendActivity(cardActivity(cards.first));
        if (first?.id) await deps.runbook.stepCardPosted(migration.id, 1, first.id);
        return;
      }
      case 'migration.status':
        await context.sendActivity(cardActivity(await deps.runbook.status(conversationId)));
        return;
      case 'step': {
        const { card, migrationId } = await deps.runbook.stepCard(conversationId, command.n);
        const sent = await context.sendActivity(cardActivity(card));
        // The newest copy is the one kept up to date.
        if (migrationId && sent?.id) await deps.runbook.stepCardPosted(migrationId, command.n, sent.id);
        return;
      }
      case 'readiness': {
        const { card, migrationId, n } = await deps.runbook.readiness(conversationId, actor);
        const sent = await context.sendActivity(cardActivity(card));
        // Posted as that step's card again: the copy that shows the report when it arrives.
        if (migrationId && n !== null && sent?.id) await deps.runbook.stepCardPosted(migrationId, n, sent.id);
        return;
      }
      case 'audit':
        await context.sendActivity(
          cardActivity(
            command.export
              ? deps.audit.exportCard(conversationId, command.export, command.person)
              : await deps.audit.latestCard(conversationId, command.limit),
          ),
        );
        return;
      case 'verify.pilot': {
        const started = await deps.verify.start({ conversationId, ou: command.ou, actor });
        const sent = await context.sendActivity(cardActivity(started.card));
        if (started.ok) await deps.verify.cardPosted(started.verification.id, sent?.id);
        return;
      }
      case 'verify.list':
        await context.sendActivity(
          cardActivity(
            await deps.verify.list({
              conversationId,
              verification: command.verification,
              list: command.list,
              page: command.page,
            }),
          ),
        );
        return;
      case 'wave.add':
        await context.sendActivity(
          cardActivity(
            await deps.waves.add({
              conversationId,
              name: command.name,
              ous: command.ous,
              scheduledFor: command.scheduledFor,
              actor,
            }),
          ),
        );
        return;
      case 'wave.list':
        await context.sendActivity(cardActivity(await deps.waves.list(conversationId)));
        return;
      case 'wave.remove':
        await context.sendActivity(
          cardActivity(await deps.waves.remove({ conversationId, name: command.name, actor })),
        );
        return;
      case 'ou.status':
        await context.sendActivity(cardActivity(await deps.ledger.statusCard(conversationId)));
        return;
      case 'ou.noflow':
        await context.sendActivity(
          cardActivity(await deps.noFlow.request({ conversationId, target: command.target, actor })),
        );
        return;
      case 'summary.now':
        await context.sendActivity(cardActivity(await deps.summaries.requestNow({ conversationId, actor })));
        return;
      case 'summary.schedule':
        await context.sendActivity(
          cardActivity(
            await deps.summaries.setSchedule({
              conversationId,
              localTime: command.localTime,
              timeZone: command.timeZone,
              actor,
            }),
          ),
        );
        return;
      case 'summary.job':
        await context.sendActivity(
          cardActivity(await deps.summaries.setJob({ conversationId, jobId: command.jobId, actor })),
        );
        return;
      case 'agent.list':
        await context.sendActivity(cardActivity(await deps.agents.listCard()));
        return;
      case 'agent.enroll':
      case 'agent.rotate': {
        const issued = await deps.agents.issueCode({
          name: command.name,
          purpose: command.kind === 'agent.enroll' ? 'enroll' : 'rotate',
          actor,
          conversationId,
        });
        if (!issued.ok) {
          await context.sendActivity(cardActivity(issued.card));
          return;
        }
        // The code is a credential: it goes to the approver alone, never into the channel.
        try {
          await sendPrivately(context, deps.botAppId, issued.privateCard);
        } catch (err) {
          deps.logger.warn(
            { err: (err as Error).message, agent: issued.agentName },
            'could not open a 1:1 chat for an enrollment code',
          );
          await context.sendActivity(
            cardActivity(
              renderMessageCard({
                title: `I could not send you the enrollment code for ${issued.agentName} privately`,
                text: 'Teams did not let me open a 1:1 chat with you, and the code must not appear here. The code I made is unusable, because nobody has it; it expires on its own.',
                hint: 'Add SyncShift for yourself (Apps → SyncShift → Add), or type the same command in a 1:1 chat with me.',
                tone: 'warning',
              }),
            ),
          );
          return;
        }
        if (activity.conversation.conversationType !== 'personal')
          await context.sendActivity(cardActivity(issued.publicCard));
        return;
      }
      case 'agent.revoke':
        await context.sendActivity(
          cardActivity(await deps.agents.revoke({ name: command.name, actor, conversationId })),
        );
        return;
      case 'server.show':
        await context.sendActivity(cardActivity(await deps.servers.show(conversationId)));
        return;
      case 'server.set':
        await context.sendActivity(
          cardActivity(await deps.servers.set({ conversationId, agent: command.agent, actor })),
        );
        return;
      case 'server.staging':
        await context.sendActivity(cardActivity(await deps.servers.readStaging({ conversationId, actor })));
        return;
      case 'rollback.pilot': {
        const { plan, step } = await deps.runbook.rollbackPilot({ conversationId, actor });
        await context.sendActivity(cardActivity(plan));
        if (step) {
          const sent = await context.sendActivity(cardActivity(step.card));
          if (sent?.id) await deps.runbook.stepCardPosted(step.migrationId, step.n, sent.id);
        }
        return;
      }
      case 'rollback.wave':
        await sendWaveCards(
          context,
          deps,
          await deps.waveEngine.rollback({ conversationId, name: command.name, actor }),
        );
        return;
      case 'wave.rules':
        await sendWaveCards(
          context,
          deps,
          await deps.waveEngine.requestRules({ conversationId, name: command.name, actor }),
        );
        return;
      case 'wave.cycle':
        await sendWaveCards(
          context,
          deps,
          await deps.waveEngine.requestCycle({ conversationId, name: command.name, actor }),
        );
        return;
      case 'wave.scope':
        await sendWaveCards(
          context,
          deps,
          await deps.waveEngine.requestScope({ conversationId, name: command.name, actor }),
        );
        return;
      case 'server.decommissioned':
        await context.sendActivity(
          cardActivity(await deps.servers.decommissioned({ conversationId, agent: command.agent, actor })),
        );
        return;
      default:
        assertNever(command, 'command');
    }
  });
}

/** Posts a wave reply's cards in order; a wave action's card is recorded so later changes update it. */
async function sendWaveCards(context: TurnContext, deps: CommandDeps, reply: WaveCardReply): Promise<void> {
  for (const { card, actionId } of reply.cards) {
    const sent = await context.sendActivity(cardActivity(card));
    if (actionId && sent?.id) await deps.waveEngine.cardPosted(actionId, sent.id);
  }
}

/** Entra object id when Teams sends one (it does for every signed-in user), lower-cased to compare with the approver list. */
export function actorId(from: { id: string; aadObjectId?: string }): string {
  return (from.aadObjectId ?? from.id).toLowerCase();
}

/**
 * Who sent an activity, as the audit trail and jobs record them. The name is Teams' display name
 * with control characters written out, since PostgreSQL refuses U+0000 and the row must still be written.
 */
export function actorOf(from: { id: string; aadObjectId?: string; name?: string }): Actor {
  const id = actorId(from);
  return { id, name: visibleControls(from.name ?? id) };
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
