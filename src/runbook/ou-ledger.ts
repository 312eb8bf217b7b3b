/**
 * One OU, one engine: the ownership ledger of every OU the migration moves (the pilot and every
 * wave's OUs). An OU goes owned by Connect Sync → no-flow rules active → in Cloud Sync scope →
 * confirmed by Cloud Sync → Connect Sync stopped, and back the same way when those are undone.
 *
 * Pure, and nothing is asserted: an OU's place is computed from what the runbook stored about
 * approved actions (rules created, scope written, service stopped, each undone when its step was)
 * and from read evidence (per-object confirmation from Cloud Sync's provisioning logs). The engines'
 * actual state (Cloud Sync's scope as read from Graph) is compared with it to raise alarms.
 */

import { cloudSyncCovers, scopeValueFromEvidence, type ScopeReading } from './cloud-sync-scope';
import { canonicalDn } from './dn';
import { confirmationOriginText, type OuConfirmation } from './ou-confirmations';
import type { StepState } from './runbook';
import { stepByCheck, type SoftwareCheck } from './steps';

export const LEDGER_STATES = [
  'connectSync',
  'noFlowRules',
  'cloudSyncScope',
  'confirmedByCloudSync',
  'connectSyncStopped',
] as const;
export type LedgerState = (typeof LEDGER_STATES)[number];

export const LEDGER_STATE_TEXT: Record<LedgerState, string> = {
  connectSync: 'owned by Connect Sync',
  noFlowRules: 'no-flow rules active',
  cloudSyncScope: 'in Cloud Sync scope',
  confirmedByCloudSync: 'confirmed by Cloud Sync',
  connectSyncStopped: 'Connect Sync stopped',
};

/** What is known about one OU, from stored state and reads. */
export interface OuFacts {
  /** The OU's distinguishedName as AD wrote it (from the stored scan). */
  dn: string;
  /** "pilot" or the wave's name. */
  owner: string;
  /** Stored: the approved no-flow rules that cover this OU exist and were not undone. */
  noFlowRules: boolean;
  /** Stored: the approved add of this OU to Cloud Sync's scope is done and not undone. */
  scopeAdded: boolean;
  /** Read now: Cloud Sync covers the OU (job Active, scope includes it); null when it could not be read. */
  cloudSyncCovers: boolean | null;
  /**
   * Read evidence that Cloud Sync owns the OU's objects: of the objects in scope, how many have a
   * successful provisioning-log entry of the Cloud Sync job (per-object confirmation), with what it
   * was read from and when; null: not read.
   */
  confirmation: OuConfirmation | null;
  /** Stored: the approved stop of the ADSync service is done and not undone. */
  connectSyncStopped: boolean;
}

export type LedgerAlarm =
  | { kind: 'bothEnginesWrite'; text: string }
  | { kind: 'nobodyWrites'; text: string }
  | { kind: 'scopeNotApproved'; text: string };

export interface LedgerEntry {
  dn: string;
  owner: string;
  state: LedgerState;
  /** What moves the OU on (or why it cannot yet), for the card. */
  next: string;
  alarms: LedgerAlarm[];
  facts: OuFacts;
}

function isConfirmed(c: OuFacts['confirmation']): boolean {
  return c !== null && c.inScope > 0 && c.confirmed >= c.inScope;
}

/**
 * The OU's place in the ledger. Each state needs the ones before it: Cloud Sync scope without the
 * rules is not a step of the ledger (it is an alarm), and "confirmed" needs the scope.
 */
export function ledgerState(f: OuFacts): LedgerState {
  if (!f.noFlowRules) return 'connectSync';
  if (!f.scopeAdded) return 'noFlowRules';
  if (!isConfirmed(f.confirmation)) return 'cloudSyncScope';
  return f.connectSyncStopped ? 'connectSyncStopped' : 'confirmedByCloudSync';
}

/** Where the engines disagree with the ledger. Nothing is raised from what could not be read. */
export function ledgerAlarms(f: OuFacts): LedgerAlarm[] {
  const alarms: LedgerAlarm[] = [];
  if (f.cloudSyncCovers === true && !f.noFlowRules)
    alarms.push({
      kind: 'bothEnginesWrite',
      text: `Both engines write ${f.dn}: Cloud Sync covers it, but no no-flow rules keep Connect Sync from exporting it. Take it out of Cloud Sync's scope (or pause the job), or create its no-flow rules with approval.`,
    });
  if (f.cloudSyncCovers === false && f.noFlowRules)
    alarms.push({
      kind: 'nobodyWrites',
      text: `Nobody writes ${f.dn}: no-flow rules stop Connect Sync, and Cloud Sync does not cover it${f.scopeAdded ? ' although the approved scope change was made; someone took it out or paused the job' : ' yet'}.`,
    });
  if (f.cloudSyncCovers === true && f.noFlowRules && !f.scopeAdded)
    alarms.push({
      kind: 'scopeNotApproved',
      text: `Cloud Sync covers ${f.dn} without an approved scope change in SyncShift; confirm it on its step card so the ledger follows.`,
    });
  return alarms;
}

function nextFor(f: OuFacts, state: LedgerState): string {
  switch (state) {
    case 'connectSync':
      return 'next: no-flow rules, with approval';
    case 'noFlowRules':
      return "next: add the OU to Cloud Sync's scope, with approval";
    case 'cloudSyncScope':
      return f.confirmation === null
        ? 'next: per-object confirmation from provisioning logs (not read yet)'
        : `next: confirmation: ${f.confirmation.confirmed} of ${f.confirmation.inScope} objects confirmed by Cloud Sync (${confirmationOriginText(f.confirmation)})`;
    case 'confirmedByCloudSync':
      return `all ${f.confirmation!.inScope} objects confirmed (${confirmationOriginText(f.confirmation!)}); next: stop Connect Sync (step 16), once every OU is confirmed`;
    case 'connectSyncStopped':
      return 'Cloud Sync owns it';
  }
}

export function ledgerEntry(f: OuFacts): LedgerEntry {
  const state = ledgerState(f);
  return { dn: f.dn, owner: f.owner, state, next: nextFor(f, state), alarms: ledgerAlarms(f), facts: f };
}

export function buildLedger(facts: readonly OuFacts[]): LedgerEntry[] {
  return facts.map(ledgerEntry);
}

/** Every alarm of the ledger, in OU order. */
export function ledgerAlarmsOf(entries: readonly LedgerEntry[]): LedgerAlarm[] {
  return entries.flatMap((e) => e.alarms);
}

/** A wave's OU as the store holds it: the DN the agent resolved (null until counted). */
export interface WaveOuRecord {
  wave: string;
  baseDn: string | null;
  /** Stored: the wave's approved no-flow rules are done and not undone (wave-engine.ts, waveLedgerFlags). */
  noFlowRules?: boolean;
  /** Stored: the wave's approved Cloud Sync scope add is done and not undone. */
  scopeAdded?: boolean;
}

/**
 * The ledger's facts from stored state and reads. The pilot's rules, scope and stop are steps 9, 11
 * and 16 (done and not undone). A wave's OUs move with the wave's own approved actions (`/wave rules`,
 * `/wave scope`, done and not undone), as the caller read them from the store.
 */
export function ledgerFacts(input: {
  steps: readonly StepState[];
  waveOus: readonly WaveOuRecord[];
  /** Cloud Sync's job and scope read now; null when it could not be read. */
  reading: Pick<ScopeReading, 'statusCode' | 'scope'> | null;
  /** Per-object confirmation by OU DN (stored provisioning-log evidence, ou-confirmations.ts); absent: not read. */
  confirmations?: ReadonlyMap<string, OuConfirmation> | undefined;
}): OuFacts[] {
  const done = (check: SoftwareCheck): boolean =>
    input.steps.find((s) => s.n === stepByCheck(check).n)?.status === 'done';
  const stopped = done({ kind: 'adsyncServiceStop' });
  const covers = (dn: string): boolean | null => (input.reading ? cloudSyncCovers(input.reading, dn) : null);
  const confirmation = (dn: string) => {
    const keys = canonicalDn(dn)?.join(',');
    for (const [k, v] of input.confirmations ?? []) if (canonicalDn(k)?.join(',') === keys) return v;
    return null;
  };
  const facts: OuFacts[] = [];
  const pilot = scopeValueFromEvidence(input.steps.find((s) => s.n === stepByCheck({ kind: 'pilotOu' }).n)?.evidence);
  if (pilot)
    facts.push({
      dn: pilot,
      owner: 'pilot',
      noFlowRules: done({ kind: 'noFlowRules' }),
      scopeAdded: done({ kind: 'cloudSyncScope' }),
      cloudSyncCovers: covers(pilot),
      confirmation: confirmation(pilot),
      connectSyncStopped: stopped,
    });
  const seen = new Set(facts.map((f) => canonicalDn(f.dn)?.join(',')));
  for (const w of input.waveOus) {
    if (!w.baseDn) continue;
    const key = canonicalDn(w.baseDn)?.join(',');
    if (seen.has(key)) continue;
    seen.add(key);
    facts.push({
      dn: w.baseDn,
      owner: w.wave,
      noFlowRules: w.noFlowRules ?? false,
      scopeAdded: w.scopeAdded ?? false,
      cloudSyncCovers: covers(w.baseDn),
      confirmation: confirmation(w.baseDn),
      connectSyncStopped: stopped,
    });
  }
  return facts;
}
