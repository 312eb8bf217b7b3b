import { renderMessageCard, renderNoMigrationCard } from '../cards/message-cards';
import { renderNoFlowCard } from '../cards/no-flow-card';
import type { AdaptiveCardJson } from '../cards/render';
import type { JobQueue } from '../jobs/job-queue';
import { MAX_NO_FLOW_OBJECTS, readAdsyncResult } from '../relay/protocol';
import type { Actor } from '../runbook/actor';
import { evaluateNoFlow } from '../runbook/no-flow-check';
import { rulesCreatedAt, sameDn } from '../runbook/rules-created-at';
import type { StepState } from '../runbook/runbook';
import { pilotOu } from '../runbook/step-evidence';
import { stepByCheck } from '../runbook/steps';
import type { Logger } from '../shared/logger';
import type { JobRecord, MigrationRecord, Store } from '../store/types';
import type { CardSink } from './card-sink';
import { NAME_THE_SERVER, type ConnectSyncServers } from './connect-sync-servers';

export interface NoFlowCheckOptions {
  store: Store;
  jobs: JobQueue;
  cards: CardSink;
  servers: ConnectSyncServers;
  logger: Logger;
}

/**
 * `/ou noflow <pilot|wave>` (issue 16): asks the migration's Connect Sync server, read only, whether
 * the objects of each OU carry cloudNoFlow in the metaverse, and posts one card per OU when the agent
 * answers. The job is a step check no step waits for (like a staging server's read); it is known by
 * its action, so no table ties it to anything. Teams-free; the bot delivers the cards.
 */
export class NoFlowCheckService {
  constructor(private readonly options: NoFlowCheckOptions) {}

  async request(input: { conversationId: string; target: string; actor: Actor }): Promise<AdaptiveCardJson> {
    const { store } = this.options;
    const migration = await store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    const server = await this.options.servers.pinFor(migration.id);
    if (!server)
      return renderMessageCard({ title: 'No Connect Sync server named yet', text: NAME_THE_SERVER, tone: 'warning' });
    const ous = await this.ousOf(migration, input.target);
    if ('refusal' in ous)
      return renderMessageCard({
        title: `No no-flow check for ${input.target}`,
        text: ous.refusal,
        hint: '/ou noflow pilot checks the pilot OU; /ou noflow <wave> the OUs of a wave (/wave list shows them).',
        tone: 'warning',
      });
    for (const ou of ous.list) {
      await this.options.jobs.enqueue({
        purpose: 'step.check',
        payload: { action: 'adsync.noFlowCheck', ou },
        pinnedAgent: server,
        conversationId: migration.conversationId,
        migrationId: migration.id,
        requestedBy: input.actor,
        audit: { target: ou, details: { check: 'noFlow', for: ous.label } },
      });
    }
    return renderMessageCard({
      title: `Checking cloudNoFlow for ${ous.label} on ${server}`,
      text: `The agent on the Connect Sync server reads, for each OU, whether its objects' metaverse objects carry cloudNoFlow, and when the last sync run ended. Read only; at most ${MAX_NO_FLOW_OBJECTS} objects per OU (an evenly spread sample above that). One card per OU follows.`,
      items: ous.list.map((ou) => `OU: ${ou}`),
      tone: 'default',
    });
  }

  /**
   * A finished job of the no-flow check: its card is posted to the migration's conversation. False:
   * the job is not one. A result offered again after a crash posts the card again (it only reads).
   */
  async jobFinished(job: JobRecord): Promise<boolean> {
    if ((job.payload as { action?: unknown } | null)?.action !== 'adsync.noFlowCheck') return false;
    const server = job.pinnedAgent ?? job.agentId ?? '(unknown agent)';
    const asked = String((job.payload as { ou?: unknown }).ou ?? '');
    const card = await this.cardFor(job, server, asked);
    try {
      await this.options.cards.post(job.conversationId, card);
    } catch (err) {
      this.options.logger.warn({ err: (err as Error).message, jobId: job.id }, 'no-flow check card not delivered');
    }
    return true;
  }

  private async cardFor(job: JobRecord, server: string, asked: string): Promise<AdaptiveCardJson> {
    if (job.state === 'failed') {
      const e = job.error;
      return renderMessageCard({
        title: `The no-flow check of ${asked} failed`,
        text: `${server} answered: ${e?.message ?? 'the agent reported a failure'}`,
        hint: e?.hint ?? 'Fix the cause on the Connect Sync server, then run /ou noflow again.',
        tone: 'attention',
        ...(e?.code ? { facts: [{ title: 'Code', value: e.code }] } : {}),
      });
    }
    const read = readAdsyncResult('adsync.noFlowCheck', job.result);
    if (!read.ok)
      return renderMessageCard({
        title: `The no-flow check of ${asked} could not be read`,
        text: `${server} sent a result SyncShift cannot read: ${read.problem}.`,
        hint: 'Update the agent on the Connect Sync server to this version of SyncShift, then run /ou noflow again.',
        tone: 'attention',
      });
    const steps = job.migrationId ? await this.options.store.runbook.listSteps(job.migrationId) : [];
    const waves = job.migrationId ? await this.options.store.waves.listWaves(job.migrationId) : [];
    // The waves' rules actions say when each wave's rules were created (and whether they still stand).
    const actions = await this.options.store.waveActions.listForWaves(waves.map((w) => w.id));
    const target = await this.labelFor(job.migrationId, steps, read.data.ouDn);
    return renderNoFlowCard({
      target,
      ouDn: read.data.ouDn,
      server,
      adConnector: read.data.adConnector.name,
      maxObjects: MAX_NO_FLOW_OBJECTS,
      evaluation: evaluateNoFlow(
        read.data,
        rulesCreatedAt(
          steps,
          waves.map((w) => ({ actions: actions.filter((a) => a.waveId === w.id) })),
          read.data.ouDn,
        ),
      ),
    });
  }

  private async ousOf(
    migration: MigrationRecord,
    target: string,
  ): Promise<{ label: string; list: string[] } | { refusal: string }> {
    if (target.toLowerCase() === 'pilot') {
      const pilot = pilotOu(await this.options.store.runbook.listSteps(migration.id));
      if (!pilot) return { refusal: `The pilot OU is not set yet (step ${stepByCheck({ kind: 'pilotOu' }).n}).` };
      return { label: 'pilot', list: [pilot.baseDn] };
    }
    const wave = (await this.options.store.waves.listWaves(migration.id)).find(
      (w) => w.name.toLowerCase() === target.toLowerCase(),
    );
    if (!wave) return { refusal: `This migration has no wave called ${target}.` };
    if (wave.ous.length === 0) return { refusal: `The wave ${wave.name} has no OUs.` };
    // The resolved DN where the wave's count found one; otherwise the OU as typed, which the agent resolves.
    return { label: `wave ${wave.name}`, list: wave.ous.map((o) => o.baseDn ?? o.input) };
  }

  private async labelFor(migrationId: string | null, steps: readonly StepState[], ouDn: string): Promise<string> {
    const pilot = pilotOu(steps);
    if (pilot && sameDn(pilot.baseDn, ouDn)) return 'pilot';
    if (migrationId) {
      for (const wave of await this.options.store.waves.listWaves(migrationId))
        if (wave.ous.some((o) => sameDn(o.baseDn ?? o.input, ouDn))) return `wave ${wave.name}`;
    }
    return ouDn;
  }
}
