/**
 * Where the ledger's "confirmed by Cloud Sync" comes from: stored read evidence, never a new scan.
 * Three things SyncShift already stores count the in-scope objects of an OU that a successful entry
 * of the Cloud Sync job names (the rule of cloud-sync-evidence.ts):
 * - the pilot check (step 12) keeps confirmedByCloudSync and unconfirmed for the pilot OU;
 * - every reported verify of an OU keeps its confirmation (report.cloudSync);
 * - every posted wave summary keeps, per wave, the users expected and confirmed.
 * For each OU the newest of them wins, and says what it was read from and when, so the ledger card
 * shows evidence rather than a claim. Pure: the service loads the stored records and hands them in.
 */

import { canonicalDn } from './dn';
import type { StepState } from './runbook';
import { stepByCheck } from './steps';

/** What a confirmation was read from, and when that read was made. */
export interface ConfirmationOrigin {
  from: string;
  at: Date;
}

/** Per-object confirmation of one OU: of the objects in scope, how many Cloud Sync's logs confirm. */
export interface OuConfirmation {
  inScope: number;
  confirmed: number;
  /** Absent only for counts handed in without a stored origin (tests, older callers). */
  origin?: ConfirmationOrigin;
}

/** A reported verify's stored confirmation (report.cloudSync), reduced to its counts. */
export interface StoredVerifyConfirmation {
  baseDn: string;
  at: Date;
  jobId: string;
  /** In-scope objects on-premises (CloudSyncConfirmation.onPrem). */
  inScope: number;
  confirmed: number;
}

/** One wave of a posted summary, as the summary stored it. */
export interface StoredWaveConfirmation {
  wave: string;
  /** The wave's OUs as the summary resolved them. */
  ous: readonly string[];
  expected: number | null;
  confirmed: number | null;
}

export interface PostedWaveSummary {
  localDate: string;
  postedAt: Date;
  waves: readonly StoredWaveConfirmation[];
}

const key = (dn: string): string => canonicalDn(dn)?.join(',') ?? dn.toLowerCase();

/** The pilot check's confirmation from step 12's stored evidence; null when it holds no counts. */
export function pilotCheckConfirmation(
  steps: readonly StepState[],
): { dn: string; confirmation: OuConfirmation } | null {
  const n = stepByCheck({ kind: 'verify', mode: 'provisioned' }).n;
  const step = steps.find((s) => s.n === n);
  const e = step?.evidence as
    { ou?: unknown; confirmedByCloudSync?: unknown; unconfirmed?: unknown; cloudSyncJob?: unknown } | null | undefined;
  if (!step?.updatedAt || typeof e?.ou !== 'string') return null;
  if (typeof e.confirmedByCloudSync !== 'number' || typeof e.unconfirmed !== 'number') return null;
  return {
    dn: e.ou,
    confirmation: {
      inScope: e.confirmedByCloudSync + e.unconfirmed,
      confirmed: e.confirmedByCloudSync,
      origin: {
        from: `the pilot check (step ${n}, ${step.status}) reading job ${String(e.cloudSyncJob ?? 'unknown')}'s provisioning logs`,
        at: step.updatedAt,
      },
    },
  };
}

/**
 * The newest stored confirmation of each OU, by the DN it was stored under. A wave summary counts a
 * whole wave: its numbers stand for each of the wave's OUs, which is exact for "all confirmed" (no OU
 * can have more confirmed than in scope) and otherwise keeps every OU of the wave unconfirmed.
 */
export function confirmationsByOu(input: {
  steps: readonly StepState[];
  verifies: readonly StoredVerifyConfirmation[];
  waveSummary: PostedWaveSummary | null;
}): Map<string, OuConfirmation> {
  const newest = new Map<string, { dn: string; c: OuConfirmation }>();
  const offer = (dn: string, c: OuConfirmation): void => {
    const k = key(dn);
    const held = newest.get(k);
    if (!held || (held.c.origin?.at.getTime() ?? 0) < (c.origin?.at.getTime() ?? 0)) newest.set(k, { dn, c });
  };
  const pilot = pilotCheckConfirmation(input.steps);
  if (pilot) offer(pilot.dn, pilot.confirmation);
  for (const v of input.verifies)
    offer(v.baseDn, {
      inScope: v.inScope,
      confirmed: v.confirmed,
      origin: { from: `the verify of ${v.baseDn} reading job ${v.jobId}'s provisioning logs`, at: v.at },
    });
  const summary = input.waveSummary;
  if (summary)
    for (const w of summary.waves) {
      if (w.confirmed === null || w.expected === null) continue;
      for (const ou of w.ous)
        offer(ou, {
          inScope: w.expected,
          confirmed: w.confirmed,
          origin: {
            from: `the wave summary of ${summary.localDate} (wave ${w.wave}${w.ous.length > 1 ? `, counted over its ${w.ous.length} OUs` : ''})`,
            at: summary.postedAt,
          },
        });
    }
  return new Map([...newest.values()].map(({ dn, c }) => [dn, c]));
}

/** How the card shows where a confirmation comes from. */
export function confirmationOriginText(c: OuConfirmation): string {
  return c.origin ? `read from ${c.origin.from}, ${c.origin.at.toISOString()}` : 'read source not recorded';
}
