import { renderMessageCard, renderNoMigrationCard } from '../cards/message-cards';
import type { AdaptiveCardJson } from '../cards/render';
import type { JobQueue } from '../jobs/job-queue';
import { readAdsyncResult } from '../relay/protocol';
import type { Actor } from '../runbook/actor';
import type { ApprovalPolicy } from '../runbook/approvals';
import {
  expectedRuleNames,
  judgeOtherServer,
  otherServersBlocker,
  type OtherServer,
} from '../runbook/connect-sync-servers';
import type { StepState } from '../runbook/runbook';
import type { StepDefinition } from '../runbook/steps';
import { SYNCSHIFT_RULE_MARKER } from '../runbook/sync-rules';
import type { Logger } from '../shared/logger';
import type { StagingReadKind } from '../store/server-repo';
import type { JobRecord, MigrationRecord, StagingServerRecord, Store } from '../store/types';
import type { CardSink } from './card-sink';

export interface ConnectSyncServersOptions {
  store: Store;
  jobs: JobQueue;
  cards: CardSink;
  policy: ApprovalPolicy;
  logger: Logger;
  now?: () => Date;
}

/** The runbook steps whose jobs run on Connect Sync (backup, scheduler, rules, the final stop). */
const CONNECT_SYNC_CHECKS: ReadonlySet<string> = new Set([
  // The readiness report (steps 1 and 2) reads the active server's configuration.
  'readiness',
  'prerequisites',
  'exportConfig',
  'schedulerStop',
  'noFlowRules',
  'schedulerStart',
  'adsyncServiceStop',
]);

export const NAME_THE_SERVER =
  "Name this migration's Connect Sync server first: an approver types /server <agent> (the agent on the active Connect Sync server; /agent list shows them).";

/**
 * One Connect Sync server per migration (issue 16): which agent every Connect Sync job runs on, and
 * the other Connect Sync servers (staging servers) other enrolled agents report. The relay offers
 * a pinned job to its agent alone (jobs.pinned_agent); this class decides the pin and keeps the
 * staging servers' reads. Teams-free; the bot delivers the cards.
 */
export class ConnectSyncServers {
  private readonly now: () => Date;

  constructor(private readonly options: ConnectSyncServersOptions) {
    this.now = options.now ?? (() => new Date());
  }

  /** The agent this migration's Connect Sync jobs are pinned to, or null while none is named. */
  async pinFor(migrationId: string): Promise<string | null> {
    return (await this.options.store.servers.get(migrationId))?.agent ?? null;
  }

  /**
   * Why a step's Connect Sync job may not be queued now, or null. `forFinalStop`: the request or run
   * of the final stop, which also waits for the other Connect Sync servers.
   */
  async refusal(
    migrationId: string,
    def: StepDefinition,
    steps: readonly StepState[],
    forFinalStop: boolean,
  ): Promise<string | null> {
    if (!CONNECT_SYNC_CHECKS.has(def.check.kind)) return null;
    if (!(await this.pinFor(migrationId))) return NAME_THE_SERVER;
    if (forFinalStop && def.check.kind === 'adsyncServiceStop') {
      return otherServersBlocker(await this.otherServers(migrationId), await this.expectedRules(migrationId, steps));
    }
    return null;
  }

  /** `/server`: which agent runs this migration's Connect Sync jobs. */
  async show(conversationId: string): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return renderNoMigrationCard();
    const server = await this.options.store.servers.get(migration.id);
    if (!server)
      return renderMessageCard({
        title: 'No Connect Sync server named yet',
        text: 'Connect Sync jobs (backup, scheduler, rules, the final stop) run only on the agent named for this migration, and none is named.',
        hint: NAME_THE_SERVER,
        tone: 'warning',
      });
    return renderMessageCard({
      title: 'Connect Sync server',
      text: 'Every Connect Sync job of this migration runs on this agent and on no other.',
      facts: [
        { title: 'Agent', value: server.agent },
        { title: 'Named by', value: `${server.setBy.name}, ${server.setAt.toISOString()}` },
      ],
      hint: '/server staging lists the other Connect Sync servers (staging servers) the agents report.',
    });
  }

  /** `/server <agent>`: an approver names the agent on the active Connect Sync server. */
  async set(input: { conversationId: string; agent: string; actor: Actor }): Promise<AdaptiveCardJson> {
    const { conversationId, agent, actor } = input;
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return renderNoMigrationCard();
    const refuse = async (text: string, hint: string): Promise<AdaptiveCardJson> => {
      await this.audit(actor, 'server.set', agent, 'refused', { reason: text }, migration);
      return renderMessageCard({
        title: `The Connect Sync server was not set to ${agent}`,
        text,
        hint,
        tone: 'warning',
      });
    };
    if (!this.options.policy.approvers.includes(actor.id))
      return refuse(
        `${actor.name} is not on the approver list. Which server runs Connect Sync changes decides where every approved change runs.`,
        'Ask someone listed in SYNCSHIFT_APPROVERS.',
      );
    const record = await this.options.store.agents.get(agent);
    if (!record || record.status !== 'active')
      return refuse(
        record ? `The agent ${agent} is revoked.` : `No agent called ${agent} has enrolled or called in.`,
        '/agent list shows the agents; enroll the one on the Connect Sync server with /agent enroll <name>.',
      );
    if (!record.actions?.includes('adsync.getScheduler'))
      return refuse(
        `The agent ${agent} has not said that it runs Connect Sync actions${record.actions ? '' : ' (it has not asked for work yet)'}.`,
        'Run syncshift-agent on the Connect Sync server with SYNCSHIFT_ADSYNC_EXPORT_DIR set, let it call in, then name it again.',
      );
    const previous = await this.options.store.servers.get(migration.id);
    await this.options.store.servers.set({ migrationId: migration.id, agent, by: actor, now: this.now() });
    await this.audit(actor, 'server.set', agent, 'set', { previous: previous?.agent ?? null }, migration);
    return renderMessageCard({
      title: `Connect Sync server: ${agent}`,
      text: `Every Connect Sync job of this migration now runs on ${agent} and on no other agent, even one that declares the same actions.${previous && previous.agent !== agent ? ` Jobs already queued for ${previous.agent} stay with it.` : ''}`,
      hint: "Each Connect Sync script checks the server's staging mode itself and refuses to change a staging server.",
      tone: 'good',
    });
  }

  /**
   * `/server staging`: asks every other active agent that runs Connect Sync reads for its scheduler
   * and its rules (read-only jobs pinned to that agent), and shows what is known so far.
   */
  async readStaging(input: { conversationId: string; actor: Actor }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    const server = await this.pinFor(migration.id);
    if (!server)
      return renderMessageCard({ title: 'No Connect Sync server named yet', text: NAME_THE_SERVER, tone: 'warning' });
    const others = (await this.options.store.agents.list()).filter(
      (a) =>
        a.name !== server &&
        a.status === 'active' &&
        a.actions?.includes('adsync.getScheduler') &&
        a.actions.includes('adsync.listRules'),
    );
    for (const agent of others) {
      for (const [kind, payload] of [
        ['scheduler', { action: 'adsync.getScheduler' }],
        ['rules', { action: 'adsync.listRules' }],
      ] as const) {
        await this.options.jobs.enqueue({
          purpose: 'step.check',
          payload,
          pinnedAgent: agent.name,
          conversationId: migration.conversationId,
          migrationId: migration.id,
          requestedBy: input.actor,
          attach: (job) =>
            this.options.store.servers.linkStagingRead({
              jobId: job.id,
              migrationId: migration.id,
              agent: agent.name,
              kind,
            }),
          audit: { target: `staging server ${agent.name}`, details: { read: kind } },
        });
      }
    }
    return this.stagingCard(
      migration,
      others.length === 0
        ? 'No other agent runs Connect Sync reads, so no staging server is known to SyncShift. Enroll an agent on each staging server to have it checked.'
        : `Reading ${others.map((a) => a.name).join(', ')} (scheduler and sync rules, read-only); this card is posted again when they answer.`,
    );
  }

  /** `/server decommissioned <agent>`: an approver confirms a staging server is gone for good. */
  async decommissioned(input: { conversationId: string; agent: string; actor: Actor }): Promise<AdaptiveCardJson> {
    const { agent, actor } = input;
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    if (!this.options.policy.approvers.includes(actor.id)) {
      await this.audit(actor, 'server.decommissioned', agent, 'refused', { reason: 'not an approver' }, migration);
      return renderMessageCard({
        title: 'Only an approver can confirm a decommissioned server',
        text: `${actor.name} is not on the approver list; this confirmation lets the final stop of Connect Sync go ahead.`,
        hint: 'Ask someone listed in SYNCSHIFT_APPROVERS.',
        tone: 'warning',
      });
    }
    const done = await this.options.store.servers.markDecommissioned({
      migrationId: migration.id,
      agent,
      by: actor,
      now: this.now(),
    });
    await this.audit(actor, 'server.decommissioned', agent, done ? 'confirmed' : 'refused', {}, migration);
    if (!done)
      return renderMessageCard({
        title: `${agent} is not a staging server SyncShift knows`,
        text: 'Only a server an agent reported through /server staging can be confirmed decommissioned.',
        hint: 'Run /server staging first.',
        tone: 'warning',
      });
    return this.stagingCard(migration, `${actor.name} confirmed ${agent} decommissioned.`);
  }

  /**
   * A finished job that read a staging server: its reading is stored, and the staging card posted
   * when the last read of the migration is in. False: the job is not a staging read.
   */
  async stagingReadFinished(job: JobRecord): Promise<boolean> {
    const link = await this.options.store.servers.findStagingRead(job.id);
    if (!link) return false;
    const base = { migrationId: link.migrationId, agent: link.agent, jobId: job.id, at: job.finishedAt ?? this.now() };
    if (job.state === 'failed') {
      const e = (job.error ?? {}) as { message?: string };
      await this.options.store.servers.saveStagingReading({
        ...base,
        error: e.message ?? 'the agent reported a failure',
      });
    } else {
      await this.options.store.servers.saveStagingReading({ ...base, ...readingOf(link.kind, job.result) });
    }
    if ((await this.options.store.servers.pendingStagingReads(link.migrationId)) === 0) {
      const migration = await this.options.store.runbook.getMigration(link.migrationId);
      if (migration) {
        try {
          await this.options.cards.post(
            migration.conversationId,
            await this.stagingCard(migration, 'The agents answered.'),
          );
        } catch (err) {
          this.options.logger.warn(
            { err: (err as Error).message },
            'staging card not delivered; /server staging shows it',
          );
        }
      }
    }
    return true;
  }

  /** Step 9's rules and every rule a wave's rules action created and did not undo, by name. */
  private async expectedRules(migrationId: string, steps: readonly StepState[]): Promise<string[]> {
    const waves = await this.options.store.waves.listWaves(migrationId);
    const actions = await this.options.store.waveActions.listForWaves(waves.map((w) => w.id));
    return expectedRuleNames(
      steps,
      waves.map((w) => ({ actions: actions.filter((a) => a.waveId === w.id) })),
    );
  }

  private async otherServers(migrationId: string): Promise<OtherServer[]> {
    return (await this.options.store.servers.listStaging(migrationId)).map(toOtherServer);
  }

  private async stagingCard(migration: MigrationRecord, text: string): Promise<AdaptiveCardJson> {
    const steps = await this.options.store.runbook.listSteps(migration.id);
    const expected = await this.expectedRules(migration.id, steps);
    const servers = await this.options.store.servers.listStaging(migration.id);
    const verdicts = servers.map((s) => judgeOtherServer(toOtherServer(s), expected));
    const blocker = otherServersBlocker(servers.map(toOtherServer), expected);
    return renderMessageCard({
      title: 'Other Connect Sync servers (staging servers)',
      text: `${text}\n\nA staging server imports and synchronizes but does not export; turned active, it exports with its own rules, and changes made on the active server must be made on it too (Microsoft: "Staging server and disaster recovery"). So before Connect Sync is stopped for good, each needs the same no-flow rules, or must be decommissioned.`,
      facts: verdicts.map((v) => ({ title: v.agent, value: `${v.safe ? 'OK' : 'BLOCKS the final stop'}: ${v.why}` })),
      items: expected.length > 0 ? expected.map((name) => `Rule needed: ${name}`) : [],
      hint: blocker
        ? `${blocker} SyncShift never changes a staging server: its scripts refuse to.`
        : servers.length === 0
          ? 'None reported. Staging servers without an enrolled agent are not seen here.'
          : 'No staging server blocks the final stop.',
      tone: blocker ? 'warning' : 'good',
    });
  }

  private audit(
    actor: Actor,
    action: string,
    target: string,
    outcome: string,
    details: Record<string, unknown>,
    migration: MigrationRecord,
  ): Promise<void> {
    return this.options.store.audit.record(actor, {
      action,
      target,
      outcome,
      details: { by: actor.name, ...details },
      conversationId: migration.conversationId,
    });
  }
}

function toOtherServer(s: StagingServerRecord): OtherServer {
  return {
    agent: s.agent,
    stagingMode: s.stagingMode,
    rulesFound: s.rulesFound,
    readError: s.readError,
    decommissioned: s.decommissioned !== null,
  };
}

/** What one read says, with the schema the agent wrote it with; an unreadable one is an error. */
function readingOf(
  kind: StagingReadKind,
  result: unknown,
): { stagingMode?: boolean; rulesFound?: string[]; error?: string | null } {
  if (kind === 'scheduler') {
    const read = readAdsyncResult('adsync.getScheduler', result);
    return read.ok ? { stagingMode: read.data.stagingModeEnabled, error: null } : { error: read.problem };
  }
  const read = readAdsyncResult('adsync.listRules', result);
  return read.ok
    ? {
        // Only SyncShift's own enabled rules count: they are what the active server got.
        rulesFound: read.data.rules
          .filter((r) => !r.disabled && r.immutableTag === '' && r.name.includes(SYNCSHIFT_RULE_MARKER))
          .map((r) => r.name),
        error: null,
      }
    : { error: read.problem };
}
