import { canonicalDn } from './dn';
import type { StepState } from './runbook';
import { pilotOu } from './step-evidence';
import { stepByCheck } from './steps';

/**
 * The canary of the migration guide's step 12 ("If you create a new user in this OU, verify that
 * it's being provisioned"): a disabled user the agent creates in the pilot OU with approval, that
 * Cloud Sync must provision on its own, and that the agent deletes again with approval. Pure: the
 * names, the lifecycle and the rule that step 12 needs a canary that came through (or a waiver).
 */

/** Every canary's name starts with this; the agent refuses to create or delete anything else. */
export const CANARY_PREFIX = 'syncshift-canary-';
/** The prefix and 8 lowercase hex characters: the canary's cn, displayName and UPN prefix. */
export const CANARY_NAME = /^syncshift-canary-[0-9a-f]{8}$/;
/** sAMAccountName holds at most 20 characters, so the account name is shorter: syncshift-c-<8 hex>. */
const CANARY_ACCOUNT_PREFIX = 'syncshift-c-';

export function isCanaryName(name: string): boolean {
  return CANARY_NAME.test(name);
}

/** The sAMAccountName of the canary with this name. */
export function canaryAccountName(name: string): string {
  if (!isCanaryName(name)) throw new Error(`"${name}" is not a canary name`);
  return CANARY_ACCOUNT_PREFIX + name.slice(CANARY_PREFIX.length);
}

/** A canary name from 4 random bytes (the caller draws them; the core does no I/O). */
export function canaryName(random: Uint8Array): string {
  if (random.length < 4) throw new Error('canaryName needs 4 random bytes');
  return CANARY_PREFIX + Buffer.from(random.subarray(0, 4)).toString('hex');
}

/**
 * Where a canary is. `creating` and `deleting` wait for the agent; `waiting` waits for Cloud Sync to
 * provision it, `deleteWaiting` for the deletion to reach Entra.
 */
export type CanaryStatus =
  | 'creating'
  | 'createFailed'
  | 'waiting'
  | 'provisioned'
  | 'timedOut'
  | 'deleting'
  | 'deleteFailed'
  | 'deleteWaiting'
  | 'gone'
  | 'deleteTimedOut';

export interface Canary {
  id: string;
  migrationId: string;
  name: string;
  ouDn: string;
  /** Set once the agent created it. */
  dn: string | null;
  /** objectGUID as a GUID string (AD's display form), set once the agent created it. */
  objectGuid: string | null;
  /** base64(objectGUID): what Cloud Sync writes as onPremisesImmutableId for a new object. */
  anchor: string | null;
  status: CanaryStatus;
  requestedByName: string;
  createdAt: Date | null;
  /** When both the Entra object and a successful log entry of the Cloud Sync job were seen. */
  provisionedAt: Date | null;
  cloudId: string | null;
  createLogAt: Date | null;
  deletedAt: Date | null;
  goneAt: Date | null;
  deleteLogAt: Date | null;
  /** What went wrong (agent failure, timeout), shown on the card. */
  problem: string | null;
  /** Whether step 8 was done and step 13 not when Cloud Sync provisioned it. */
  schedulerStopped: boolean | null;
}

export interface CanaryWaiver {
  byName: string;
  reason: string;
  at: Date;
}

/** Statuses in which the canary may still exist in AD; a new one is refused while one does. */
const LIVE: ReadonlySet<CanaryStatus> = new Set([
  'creating',
  'waiting',
  'provisioned',
  'timedOut',
  'deleting',
  'deleteFailed',
]);

export function isLive(canary: Pick<Canary, 'status'>): boolean {
  return LIVE.has(canary.status);
}

export type CanaryDecision<T> = { ok: true; value: T } | { ok: false; reason: string };

/**
 * May a canary be asked for now, and where? Only in the pilot OU this migration recorded (the
 * bot's half of "only in OUs of this migration"; the agent checks its own allow-list as well), only
 * after Cloud Sync is configured, and only one at a time.
 */
export function canaryCreateTarget(
  steps: readonly StepState[],
  canaries: readonly Pick<Canary, 'status' | 'name'>[],
): CanaryDecision<{ ouDn: string }> {
  const pilot = pilotOu(steps);
  if (!pilot) return { ok: false, reason: `Set the pilot OU in step ${stepByCheck({ kind: 'pilotOu' }).n} first.` };
  const verify = stepByCheck({ kind: 'verify', mode: 'provisioned' });
  const open = verify.dependsOn.filter(
    (n) => !['done', 'skipped'].includes(steps.find((s) => s.n === n)?.status ?? ''),
  );
  if (open.length > 0)
    return { ok: false, reason: `Cloud Sync must be configured first: step ${open.join(' and ')} is not done.` };
  if (steps.find((s) => s.n === verify.n)?.status === 'done')
    return { ok: false, reason: `Step ${verify.n} is done; a canary proves nothing more now.` };
  const live = canaries.find(isLive);
  if (live) return { ok: false, reason: `The canary ${live.name} still exists; delete it first.` };
  return { ok: true, value: { ouDn: pilot.baseDn } };
}

/** Is `ouDn` one of this migration's OUs? Compared component by component (RFC 4514). */
export function isMigrationOu(steps: readonly StepState[], ouDn: string, waveOus: readonly string[] = []): boolean {
  const target = canonicalDn(ouDn);
  if (!target) return false;
  const pilot = pilotOu(steps);
  return [...(pilot ? [pilot.baseDn] : []), ...waveOus].some((dn) => {
    const keys = canonicalDn(dn);
    return keys !== null && keys.length === target.length && keys.every((k, i) => k === target[i]);
  });
}

/** Which canary an approved delete removes: the migration's live canary that the agent created. */
export function canaryDeleteTarget(canaries: readonly Canary[]): CanaryDecision<Canary> {
  const live = canaries.find((c) => isLive(c) && c.status !== 'creating' && c.status !== 'deleting');
  if (!live) return { ok: false, reason: 'There is no canary to delete.' };
  if (!live.objectGuid) return { ok: false, reason: `The agent never reported the objectGUID of ${live.name}.` };
  return { ok: true, value: live };
}

/**
 * Step 12's canary condition, ANDed with its other checks: a canary of this pilot OU that Cloud
 * Sync provisioned (Entra object and log entry seen), or a waiver with a reason.
 */
export function canaryCondition(
  steps: readonly StepState[],
  canaries: readonly Canary[],
  waiver: CanaryWaiver | null,
): { ok: true; evidence: Record<string, unknown> } | { ok: false; reason: string } {
  if (waiver) return { ok: true, evidence: { canaryWaived: { by: waiver.byName, reason: waiver.reason } } };
  const pilot = pilotOu(steps);
  const through = canaries.find(
    (c) => c.provisionedAt !== null && pilot !== null && isMigrationOu(steps, c.ouDn) && c.ouDn !== '',
  );
  if (!through)
    return {
      ok: false,
      reason:
        canaries.length === 0
          ? 'no canary has come through Cloud Sync yet (create one on this card, or an approver waives it with a reason)'
          : 'no canary has come through Cloud Sync yet',
    };
  return {
    ok: true,
    evidence: {
      canary: {
        name: through.name,
        provisionedInSeconds: seconds(through.createdAt, through.provisionedAt),
        schedulerStopped: through.schedulerStopped,
      },
    },
  };
}

/**
 * Is the Connect Sync scheduler stopped by this runbook right now: step 8 (stop) done and step 13
 * (start) not? Read from the step states only.
 */
export function schedulerStoppedByRunbook(steps: readonly StepState[]): boolean {
  const stop = stepByCheck({ kind: 'schedulerStop' }).n;
  const start = stepByCheck({ kind: 'schedulerStart' }).n;
  const status = (n: number) => steps.find((s) => s.n === n)?.status;
  return status(stop) === 'done' && status(start) !== 'done';
}

export interface CanaryTimeouts {
  provisionMs: number;
  deleteMs: number;
}

/** What one look at Entra and the provisioning logs found for a waiting canary. */
export interface CanarySighting {
  cloudId: string | null;
  /** A successful entry of the Cloud Sync job for the cloud object, when seen. */
  logAt: Date | null;
}

/** The next state of a waiting canary after a look at Entra; null when nothing changes. */
export function nextCanaryState(
  canary: Canary,
  sighting: CanarySighting,
  now: Date,
  timeouts: CanaryTimeouts,
  steps: readonly StepState[],
): Partial<Canary> | null {
  if (canary.status === 'waiting') {
    if (sighting.cloudId && sighting.logAt)
      return {
        status: 'provisioned',
        cloudId: sighting.cloudId,
        createLogAt: sighting.logAt,
        provisionedAt: now,
        schedulerStopped: schedulerStoppedByRunbook(steps),
        problem: null,
      };
    if (canary.createdAt && now.getTime() - canary.createdAt.getTime() >= timeouts.provisionMs)
      return {
        status: 'timedOut',
        ...(sighting.cloudId ? { cloudId: sighting.cloudId } : {}),
        problem: `Cloud Sync did not provision ${canary.name} within ${minutes(timeouts.provisionMs)}: ${
          sighting.cloudId
            ? 'the Entra object exists but no successful log entry of the Cloud Sync job names it'
            : 'no Entra object with its anchor'
        }. Check the configuration's scope and its provisioning logs in the Entra admin center, then delete the canary.`,
      };
    return null;
  }
  if (canary.status === 'deleteWaiting') {
    if (!sighting.cloudId)
      return { status: 'gone', goneAt: now, ...(sighting.logAt ? { deleteLogAt: sighting.logAt } : {}), problem: null };
    if (canary.deletedAt && now.getTime() - canary.deletedAt.getTime() >= timeouts.deleteMs)
      return {
        status: 'deleteTimedOut',
        problem: `${canary.name} is gone from AD but still in Entra after ${minutes(timeouts.deleteMs)}. Check the Cloud Sync provisioning logs; delete the Entra object by hand if Cloud Sync does not.`,
      };
  }
  return null;
}

/** Lines for step 12's card: what happened to each canary, with timings. */
export function canaryLines(canaries: readonly Canary[], steps: readonly StepState[], now: Date): string[] {
  const lines: string[] = [];
  for (const c of canaries.slice(0, 3)) {
    const where = c.dn ?? `${c.name} in ${c.ouDn}`;
    switch (c.status) {
      case 'creating':
        lines.push(`Canary ${c.name}: the agent is creating it in ${c.ouDn}.`);
        break;
      case 'createFailed':
        lines.push(`Canary ${c.name}: the agent could not create it: ${c.problem ?? 'no reason given'}`);
        break;
      case 'waiting':
        lines.push(
          `Canary ${where}: created in AD ${ago(c.createdAt, now)}; waiting for Cloud Sync (Entra object and a log entry of its job)…`,
        );
        break;
      case 'timedOut':
      case 'deleteTimedOut':
      case 'deleteFailed':
        lines.push(`Canary ${where}: ${c.problem ?? c.status}`);
        break;
      case 'deleting':
        lines.push(`Canary ${where}: the agent is deleting it.`);
        break;
      case 'provisioned':
      case 'deleteWaiting':
      case 'gone':
        break;
    }
    if (c.provisionedAt) {
      lines.push(
        `Canary ${where}: provisioned by Cloud Sync ${seconds(c.createdAt, c.provisionedAt)} s after it was created (Entra object ${c.cloudId ?? '?'}; log entry at ${iso(c.createLogAt)}).`,
      );
      if (c.schedulerStopped)
        lines.push(
          'The Connect Sync scheduler was stopped (step 8 done, step 13 not), so Cloud Sync alone provisioned it.',
        );
    }
    if (c.status === 'deleteWaiting')
      lines.push(
        `Canary ${c.name}: deleted from AD ${ago(c.deletedAt, now)}; waiting for the deletion to reach Entra…`,
      );
    if (c.status === 'gone')
      lines.push(
        `Canary ${c.name}: deleted from AD, gone from Entra ${seconds(c.deletedAt, c.goneAt)} s later${
          c.deleteLogAt ? ` (Delete log entry at ${iso(c.deleteLogAt)})` : ' (no Delete log entry seen)'
        }. Nothing is left behind.`,
      );
  }
  if (lines.length === 0 && schedulerStoppedByRunbook(steps))
    lines.push(
      'The Connect Sync scheduler is stopped (step 8 done, step 13 not): a canary provisioned now proves Cloud Sync alone did it.',
    );
  return lines;
}

function seconds(from: Date | null, to: Date | null): number | null {
  return from && to ? Math.round((to.getTime() - from.getTime()) / 100) / 10 : null;
}

function ago(at: Date | null, now: Date): string {
  const s = seconds(at, now);
  return s === null ? '' : `${Math.max(0, Math.round(s))} s ago`;
}

function minutes(ms: number): string {
  return ms >= 60_000 ? `${Math.round(ms / 60_000)} min` : `${Math.round(ms / 1000)} s`;
}

function iso(d: Date | null): string {
  return d ? d.toISOString().replace(/\.\d+Z$/, 'Z') : '?';
}

/** objectGUID bytes (AD storage order: the first three groups little-endian) as AD displays them. */
export function guidToString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error('an objectGUID is 16 bytes');
  const hex = (i: number[]) => i.map((n) => bytes[n]!.toString(16).padStart(2, '0')).join('');
  return `${hex([3, 2, 1, 0])}-${hex([5, 4])}-${hex([7, 6])}-${hex([8, 9])}-${hex([10, 11, 12, 13, 14, 15])}`;
}

/** The inverse of guidToString. */
export function guidToBytes(guid: string): Buffer {
  const hex = guid.replace(/-/g, '');
  if (!/^[0-9a-fA-F]{32}$/.test(hex)) throw new Error(`"${guid}" is not a GUID`);
  const b = Buffer.from(hex, 'hex');
  return Buffer.from([b[3]!, b[2]!, b[1]!, b[0]!, b[5]!, b[4]!, b[7]!, b[6]!, ...b.subarray(8)]);
}

/**
 * Step 12's outcome with the canary condition ANDed in: it passes only when both pass, and the
 * evidence shows both. The one place step 12's other checks meet the canary.
 */
export function andCanaryCondition<T extends { ok: boolean; evidence: unknown; reason: string }>(
  outcome: T,
  condition: ReturnType<typeof canaryCondition>,
): T {
  const evidence =
    typeof outcome.evidence === 'object' && outcome.evidence !== null
      ? { ...(outcome.evidence as Record<string, unknown>), ...(condition.ok ? condition.evidence : { canary: null }) }
      : outcome.evidence;
  if (condition.ok) return { ...outcome, evidence };
  return {
    ...outcome,
    ok: false,
    evidence,
    reason: [outcome.reason, condition.reason].filter((r) => r !== '').join('; '),
  };
}
