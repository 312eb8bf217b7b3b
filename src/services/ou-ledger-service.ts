import type { AdaptiveCardJson } from '../cards/render';
import { PILOT_ROLLBACK_VERB, renderOuLedgerCard, type LedgerRollbackButton } from '../cards/ou-ledger-card';
import { WAVE_VERBS } from '../cards/wave-action-card';
import { renderNoMigrationCard } from '../cards/message-cards';
import type { ScopeReading } from '../runbook/cloud-sync-scope';
import type { OuConfirmation } from '../runbook/ou-confirmations';
import { buildLedger, LEDGER_STATE_TEXT, ledgerAlarmsOf, ledgerFacts, type LedgerEntry } from '../runbook/ou-ledger';
import { pilotRollbackPlan } from '../runbook/rollback';
import { waveLedgerFlags, waveRollbackPlan } from '../runbook/wave-engine';
import { asAppError } from '../shared/errors';
import type { Store } from '../store/types';
import type { CloudSyncScopeService } from './cloud-sync-scope-service';
import { toEngine } from './wave-engine-service';

/**
 * Per-object confirmation by OU DN, from Cloud Sync's provisioning logs as stored evidence read them
 * (storedConfirmations in ou-confirmations.ts), each with what it was read from and when.
 */
export type ConfirmationSource = (migrationId: string) => Promise<ReadonlyMap<string, OuConfirmation> | undefined>;

export interface LedgerReading {
  entries: LedgerEntry[];
  /** The Cloud Sync job as read now; null when it could not be read (`readError` says why). */
  reading: ScopeReading | null;
  readError: string | null;
}

/**
 * The OU ownership ledger of a migration, read now: stored steps and waves, Cloud Sync's scope from
 * Graph, and per-object confirmation from stored evidence. `/ou status` shows it; the daily summary shows it
 * with its alarms.
 */
export class OuLedgerService {
  constructor(
    private readonly options: {
      store: Store;
      cloudSync: CloudSyncScopeService | undefined;
      confirmations?: ConfirmationSource;
    },
  ) {}

  async read(migrationId: string): Promise<LedgerReading> {
    const { store } = this.options;
    const steps = await store.runbook.listSteps(migrationId);
    const waves = await store.waves.listWaves(migrationId);
    const actions = await store.waveActions.listForWaves(waves.map((w) => w.id));
    let reading: ScopeReading | null = null;
    let readError: string | null = null;
    if (!this.options.cloudSync) readError = 'no Cloud Sync configuration is set (CLOUD_SYNC_SERVICE_PRINCIPAL_ID)';
    else
      try {
        reading = await this.options.cloudSync.readScope();
      } catch (err) {
        readError = asAppError(err).message;
      }
    const entries = buildLedger(
      ledgerFacts({
        steps,
        waveOus: waves.flatMap((w) => {
          // A wave's rules and scope, from its own approved actions (done and not undone).
          const flags = waveLedgerFlags(actions.filter((a) => a.waveId === w.id));
          return w.ous.map((o) => ({ wave: w.name, baseDn: o.baseDn, ...flags }));
        }),
        reading,
        ...(this.options.confirmations
          ? { confirmations: await this.options.confirmations(migrationId).catch(() => undefined) }
          : {}),
      }),
    );
    return { entries, reading, readError };
  }

  /** `/ou status`: the ledger of this conversation's migration as a card. */
  async statusCard(conversationId: string): Promise<AdaptiveCardJson> {
    const migration = await this.options.store.migrations.findByConversation(conversationId);
    if (!migration) return renderNoMigrationCard();
    return renderOuLedgerCard({
      migrationName: migration.name,
      ...(await this.read(migration.id)),
      rollbacks: await this.rollbackButtons(migration.id),
    });
  }

  /**
   * A Rollback button for the pilot while a part of its rollback is still needed, and for each wave
   * whose rollback has a next part (as on /wave list). The buttons carry ids only; the click is
   * decided again from the store (`/rollback pilot`, `/rollback <wave>`), so a refusal (a wave still
   * holding changes, say) is answered there.
   */
  private async rollbackButtons(migrationId: string): Promise<LedgerRollbackButton[]> {
    const { store } = this.options;
    const buttons: LedgerRollbackButton[] = [];
    const pilot = pilotRollbackPlan(await store.runbook.listSteps(migrationId), []);
    if (pilot.parts.some((p) => p.state === 'next' || p.state === 'waiting'))
      buttons.push({ owner: 'pilot', verb: PILOT_ROLLBACK_VERB, data: { migrationId } });
    const waves = await store.waves.listWaves(migrationId);
    const actions = await store.waveActions.listForWaves(waves.map((w) => w.id));
    for (const w of waves) {
      const plan = waveRollbackPlan(
        toEngine(
          w,
          actions.filter((a) => a.waveId === w.id),
        ),
      );
      if (plan.ok && plan.next !== null)
        buttons.push({ owner: w.name, verb: WAVE_VERBS.rollback, data: { migrationId, waveId: w.id } });
    }
    return buttons;
  }

  /** The ledger as summary lines: one per OU, then each alarm. */
  async summaryLines(migrationId: string): Promise<string[]> {
    const { entries, readError } = await this.read(migrationId);
    if (entries.length === 0) return [];
    return [
      ...entries.map((e) => `OU ownership · ${e.owner} · ${e.dn}: ${LEDGER_STATE_TEXT[e.state]}`),
      ...(readError ? [`Cloud Sync's scope could not be read, so the engines were not compared: ${readError}`] : []),
      ...ledgerAlarmsOf(entries).map((a) => `ALARM: ${a.text}`),
    ];
  }
}
