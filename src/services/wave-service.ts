import type { JobQueue } from '../jobs/job-queue';
import { renderMessageCard, renderNoMigrationCard } from '../cards/message-cards';
import { renderWavesCard, type WaveView } from '../cards/waves-card';
import type { AdaptiveCardJson } from '../cards/render';
import { storedScanOu } from '../relay/protocol';
import type { Actor } from '../runbook/actor';
import { parseOuInput } from '../runbook/ou-input';
import { pilotOu, type PilotOu } from '../runbook/step-evidence';
import { localDateOf } from '../runbook/summary-schedule';
import { checkWave, domainOf, type WavePlan } from '../runbook/waves';
import type { Logger } from '../shared/logger';
import type { StoredWave } from '../store/wave-repo';
import type { JobRecord, MigrationRecord, Store } from '../store/types';
import type { CardSink } from './card-sink';
import { toEngine } from './wave-engine-service';
import { waveHoldsChanges, waveRollbackPlan } from '../runbook/wave-engine';

export interface WaveServiceOptions {
  store: Store;
  cards: CardSink;
  logger: Logger;
  jobs: JobQueue;
  now?: () => Date;
}

/**
 * Planning waves: store them, have the agent count every OU, and warn against Cloud Sync limits
 * once the counts are in. Counting is the agent's job; results arrive through countFinished.
 */
export class WaveService {
  private readonly now: () => Date;

  constructor(private readonly options: WaveServiceOptions) {
    this.now = options.now ?? (() => new Date());
  }

  async add(input: {
    conversationId: string;
    name: string;
    ous: string[];
    scheduledFor: string | null;
    actor: Actor;
  }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    const ous: string[] = [];
    for (const raw of input.ous) {
      const parsed = parseOuInput(raw);
      if (!parsed.ok) {
        await this.audit(migration, input.actor, 'wave.add', input.name, 'rejected', { ou: raw, code: parsed.code });
        return renderMessageCard({
          title: `"${raw}" is not an OU`,
          text: parsed.reason,
          hint: parsed.hint,
          tone: 'attention',
          items: ['/wave add Wave1 OU=Marketing OU=Finance on 2026-12-07'],
        });
      }
      ous.push(parsed.target.text);
    }
    const wave = await this.options.store.waves.createWave({
      migrationId: migration.id,
      name: input.name,
      scheduledFor: input.scheduledFor,
      createdBy: input.actor.name,
      ous,
      now: this.now(),
    });
    if (!wave) {
      return renderMessageCard({
        title: `Wave ${input.name} exists`,
        text: `This migration already has a wave called ${input.name}.`,
        hint: `Pick another name, or /wave remove ${input.name} first.`,
        tone: 'warning',
      });
    }
    for (const ou of wave.ous) {
      // Agents are woken once every OU's job is queued, as one batch.
      const job = await this.options.jobs.enqueue({
        purpose: 'wave.count',
        payload: { action: 'directory.scanOu', ou: ou.input, countOnly: true },
        conversationId: input.conversationId,
        migrationId: migration.id,
        requestedBy: input.actor,
        attach: (queued) => this.options.store.waves.setOuCountJob(wave.id, ou.position, queued.id),
        wake: false,
      });
      ou.countJobId = job.id;
    }
    this.options.jobs.wakeAgents();
    await this.audit(migration, input.actor, 'wave.add', wave.name, 'planned', {
      ous,
      scheduledFor: input.scheduledFor,
    });
    // What can be checked before the counts arrive (a past date; overlaps and the OU limit for OUs
    // typed as full DNs) is shown at once; "not counted yet" is what this card already says.
    const early = ((await this.views(migration)).find((v) => v.wave.id === wave.id)?.warnings ?? []).filter(
      (w) => w.code !== 'NOT_COUNTED',
    );
    return renderWavesCard({
      title:
        early.length === 0
          ? `Wave ${wave.name} planned`
          : `Wave ${wave.name} planned: ⚠ ${early.length} warning(s) already`,
      text: `The agent is counting ${ous.length} OU(s); a card with the counts and any Cloud Sync limit warnings follows.`,
      waves: [{ wave, warnings: early }],
      hint: 'Objects stay in Connect Sync scope with the no-flow rules applied until the wave is verified.',
    });
  }

  async list(conversationId: string): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return renderNoMigrationCard();
    const views = await this.views(migration);
    if (views.length === 0)
      return renderMessageCard({
        title: 'No waves planned',
        text: 'This migration has no waves yet.',
        hint: 'Plan one: /wave add Wave1 OU=Marketing on 2026-12-07',
        tone: 'default',
      });
    // A Rollback button on each wave that holds a change SyncShift made; it names only the wave's id.
    const actions = await this.options.store.waveActions.listForWaves(views.map((v) => v.wave.id));
    const withRollback = views.map((v) => {
      const plan = waveRollbackPlan(
        toEngine(
          v.wave,
          actions.filter((a) => a.waveId === v.wave.id),
        ),
      );
      return plan.ok && plan.next !== null ? { ...v, rollback: { migrationId: migration.id, waveId: v.wave.id } } : v;
    });
    return renderWavesCard({ title: `Waves of ${migration.name}`, waves: withRollback });
  }

  async remove(input: { conversationId: string; name: string; actor: Actor }): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(input.conversationId);
    if (!migration) return renderNoMigrationCard();
    // A wave whose rules or scope SyncShift changed keeps them until it is rolled back: removing it
    // would leave them in Connect Sync and Cloud Sync with nothing in the ledger to show them.
    const planned = (await this.options.store.waves.listWaves(migration.id)).find(
      (w) => w.name.toLowerCase() === input.name.toLowerCase(),
    );
    if (planned) {
      const actions = await this.options.store.waveActions.listForWaves([planned.id]);
      if (waveHoldsChanges(toEngine(planned, actions))) {
        await this.audit(migration, input.actor, 'wave.remove', planned.name, 'refused', { reason: 'holds changes' });
        return renderMessageCard({
          title: `Wave ${planned.name} not removed`,
          text: `SyncShift changed Connect Sync or Cloud Sync for wave ${planned.name} (or a change is open), and removing the wave would leave that in place with nothing in the ledger to show it.`,
          hint: `Roll it back first (/rollback ${planned.name}), then remove it.`,
          tone: 'warning',
        });
      }
    }
    const removed = await this.options.store.waves.removeWave({
      migrationId: migration.id,
      name: input.name,
      now: this.now(),
    });
    if (!removed)
      return renderMessageCard({
        title: `No wave ${input.name}`,
        text: `This migration has no wave called ${input.name}.`,
        hint: 'See the planned waves with /wave list.',
        tone: 'warning',
      });
    await this.audit(migration, input.actor, 'wave.remove', removed.name, 'removed', {
      ous: removed.ous.map((o) => o.baseDn ?? o.input),
    });
    return renderMessageCard({
      title: `Wave ${removed.name} removed`,
      text: `The wave is no longer planned; summaries stop listing it.`,
      tone: 'good',
    });
  }

  /** Records an agent's count of a wave OU (a wave.count job). */
  async countFinished(job: JobRecord): Promise<void> {
    const link = await this.options.store.waves.findOuByJob(job.id);
    if (!link) return;
    await this.record(job);
    const migration = await this.options.store.runbook.getMigration(link.migrationId);
    if (!migration) return;
    const views = await this.views(migration);
    const view = views.find((v) => v.wave.id === link.waveId);
    // One card per wave once every OU of it is counted, not one per OU.
    if (view && view.wave.ous.every((ou) => ou.countedAt !== null)) {
      const card = renderWavesCard({
        title:
          view.warnings.length === 0
            ? `Wave ${view.wave.name} counted: within Cloud Sync limits`
            : `Wave ${view.wave.name} counted: ${view.warnings.length} warning(s)`,
        waves: [view],
        hint:
          view.warnings.length === 0
            ? ''
            : "Resolve the warnings before the wave's date, or change the plan with /wave remove and /wave add.",
      });
      try {
        await this.options.cards.post(migration.conversationId, card);
      } catch (err) {
        this.options.logger.warn(
          { err: (err as Error).message, waveId: view.wave.id },
          'wave count card not delivered; /wave list shows it',
        );
      }
    }
  }

  /** Waves with their warnings; counts whose job finished while the bot was down are filled in first. */
  async views(migration: MigrationRecord): Promise<WaveView<StoredWave>[]> {
    let waves = await this.options.store.waves.listWaves(migration.id);
    let caughtUp = false;
    for (const ou of waves.flatMap((w) => w.ous)) {
      if (ou.countedAt !== null || !ou.countJobId) continue;
      const job = await this.options.store.jobs.get(ou.countJobId);
      if (job && (job.state === 'succeeded' || job.state === 'failed')) {
        await this.record(job);
        caughtUp = true;
      }
    }
    if (caughtUp) waves = await this.options.store.waves.listWaves(migration.id);
    const pilot = await this.pilot(migration.id);
    const settings = await this.options.store.summarySettings.getSettings(migration.id);
    const today = localDateOf(this.now(), settings?.timeZone ?? 'UTC');
    const plans = waves.map(toPlan);
    return waves.map((wave, i) => ({
      wave,
      warnings: checkWave(plans[i]!, { otherWaves: plans.filter((_, j) => j !== i), pilot, today }),
    }));
  }

  private async record(job: JobRecord): Promise<void> {
    const now = this.now();
    if (job.state === 'failed') {
      const error = job.error;
      await this.options.store.waves.recordOuCount({
        jobId: job.id,
        baseDn: null,
        users: null,
        disabled: null,
        error: error?.message ?? 'The agent could not count this OU.',
        now,
      });
      return;
    }
    const parsed = storedScanOu.safeParse(job.result);
    if (!parsed.success) {
      await this.options.store.waves.recordOuCount({
        jobId: job.id,
        baseDn: null,
        users: null,
        disabled: null,
        error: "The agent's result could not be read; update the agent to the bot's version.",
        now,
      });
      return;
    }
    await this.options.store.waves.recordOuCount({
      jobId: job.id,
      baseDn: parsed.data.baseDn,
      users: parsed.data.totals.users,
      disabled: parsed.data.totals.disabled,
      error: null,
      now,
    });
  }

  private async pilot(migrationId: string): Promise<PilotOu | null> {
    return pilotOu(await this.options.store.runbook.listSteps(migrationId));
  }

  private async audit(
    migration: MigrationRecord,
    actor: Actor,
    action: string,
    target: string,
    outcome: string,
    details: unknown,
  ): Promise<void> {
    await this.options.store.audit.record(actor, {
      action,
      target,
      outcome,
      details,
      conversationId: migration.conversationId,
    });
  }
}

/**
 * An OU typed as a full DN (with its DC= part) stands for itself until the agent has resolved it,
 * so overlaps and the OU limit can be checked before the counts arrive.
 */
function toPlan(wave: StoredWave): WavePlan {
  const placed = (ou: StoredWave['ous'][number]) =>
    ou.baseDn ?? (ou.error === null && domainOf(ou.input) !== null ? ou.input : null);
  return {
    name: wave.name,
    scheduledFor: wave.scheduledFor,
    ous: wave.ous.map((ou) => ({ input: ou.input, baseDn: placed(ou), users: ou.users, error: ou.error })),
  };
}
