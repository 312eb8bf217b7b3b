import { scopeLists, type ScopeReading } from '../runbook/cloud-sync-scope';
import { LEDGER_STATE_TEXT, ledgerAlarmsOf, type LedgerEntry } from '../runbook/ou-ledger';
import { renderMessageCard } from './message-cards';
import type { AdaptiveCardJson } from './render';

/** The pilot's Rollback button on `/ou status` (its data names the migration only). */
export const PILOT_ROLLBACK_VERB = 'pilot.rollback';

/** A Rollback button of an owner that holds changes; its data names stored records by id only. */
export interface LedgerRollbackButton {
  owner: string;
  verb: string;
  data: Record<string, string>;
}

/**
 * `/ou status`: each OU of the migration with its place in the ledger, the Cloud Sync scope read
 * now, and the alarms. DNs go through the message card's literal TextRuns, shown as AD wrote them.
 */
export function renderOuLedgerCard(input: {
  migrationName: string;
  entries: readonly LedgerEntry[];
  reading: ScopeReading | null;
  readError: string | null;
  /** One per owner (the pilot, a wave) that holds a change SyncShift can take back. */
  rollbacks?: readonly LedgerRollbackButton[];
}): AdaptiveCardJson {
  const alarms = ledgerAlarmsOf(input.entries);
  const scope = input.reading
    ? `Cloud Sync job ${input.reading.jobId}: ${input.reading.statusCode}. Scope: ${scopeLists(input.reading.scope)
        .map((l) => (l.length === 0 ? 'no filter (the whole domain)' : l.join('; ')))
        .join(' · ')}`
    : `Cloud Sync's scope could not be read: ${input.readError ?? 'unknown'}.`;
  return renderMessageCard({
    title: `OU ownership · ${input.migrationName}`,
    text:
      input.entries.length === 0
        ? 'No OU is in the ledger yet: set the pilot OU (step 5) or plan a wave.'
        : `One OU, one engine: owned by Connect Sync → no-flow rules active → in Cloud Sync scope → confirmed by Cloud Sync → Connect Sync stopped.\n\n${scope}`,
    facts: input.entries.map((e) => ({
      title: `${e.owner}: ${e.dn}`,
      value: `${LEDGER_STATE_TEXT[e.state]} · ${e.next}`,
    })),
    items: alarms.map((a) => `ALARM: ${a.text}`),
    hint: alarms.length > 0 ? 'The two engines disagree with the ledger; act on each alarm.' : '',
    tone: alarms.length > 0 ? 'attention' : 'default',
    buttons: (input.rollbacks ?? []).map((r) => ({ title: `Rollback ${r.owner}`, verb: r.verb, data: r.data })),
  });
}
