import { evidenceHash } from './approvals';
import {
  allUnconfirmed,
  confirmationProblems,
  unconfirmedLine,
  type CloudSyncConfirmation,
  type TypeConfirmation,
} from './cloud-sync-evidence';
import type { ComparisonReport, InetOrgPersonReport } from './ou-comparison';
import type { StepState } from './runbook';
import { stepByCheck, type StepDefinition } from './steps';
import { planNoFlowRules, renderRulesScriptPreview } from './sync-rules';

/**
 * What the agent's readings mean for a step: the evidence a software-checked step stores, whether a
 * verify passes, and whether an approval may be asked for (and later run) on the Connect Sync state
 * read just before. Pure: the service reads the agent's result with the protocol's schemas and hands
 * the typed values in.
 */

export interface PilotOu {
  baseDn: string;
  /** Users the agent counted when the pilot OU was set; null in evidence that does not say. */
  users: number | null;
}

/** The pilot OU as its step recorded it, or null while that step has not found one. */
export function pilotOu(steps: readonly StepState[]): PilotOu | null {
  const n = stepByCheck({ kind: 'pilotOu' }).n;
  const evidence = steps.find((s) => s.n === n)?.evidence as { pilotOu?: unknown; users?: unknown } | null | undefined;
  if (typeof evidence?.pilotOu !== 'string' || evidence.pilotOu === '') return null;
  return { baseDn: evidence.pilotOu, users: typeof evidence.users === 'number' ? evidence.users : null };
}

/** What the pilot OU step records from the agent's scan of the OU the person typed. */
export function pilotOuEvidence(
  head: { baseDn: string; totals: { users: number; disabled: number } },
  job: string,
): Record<string, unknown> {
  return { pilotOu: head.baseDn, users: head.totals.users, disabled: head.totals.disabled, job };
}

export type CheckOutcome = { ok: boolean; evidence: unknown; reason: string };

/** What a verify step reads besides the comparison. */
export interface VerifyInputs {
  /** Provisioned mode: the Cloud Sync job's evidence, or why it could not be read. */
  cloudSync?: CloudSyncConfirmation | { unavailable: string };
  /** Baseline mode: a person's acknowledgement of exactly these pre-flight findings, if one is stored. */
  acknowledgement?: { by: string; at: Date; reason: string } | null;
}

/** A user whose Cloud Sync hard match is predicted to fail. */
export interface PreflightFinding {
  dn: string;
  problem: 'not in Entra' | 'different onPremisesImmutableId in Entra';
}

/**
 * The pre-flight of the baseline count: Cloud Sync hard-matches an existing Entra user by its
 * onPremisesImmutableId (the pilot tutorial's prerequisite), so a user missing in Entra or carrying
 * another anchor there will not be taken over; it would be created anew or fail. Sorted by DN.
 */
export function preflightFindings(report: ComparisonReport): PreflightFinding[] {
  return [
    ...report.missing.map((dn) => ({ dn, problem: 'not in Entra' as const })),
    ...report.mismatched.map((u) => ({ dn: u.dn, problem: 'different onPremisesImmutableId in Entra' as const })),
  ].sort((a, b) => a.dn.localeCompare(b.dn) || a.problem.localeCompare(b.problem));
}

/** What an acknowledgement covers: these findings and no others. */
export function findingsHash(findings: readonly PreflightFinding[]): string {
  return evidenceHash({ preflight: findings });
}

const SAMPLE = 3;

/**
 * The pre-flight findings a person may acknowledge on this step now, read from its stored evidence
 * (never from a card): only a baseline count that failed on them and was not acknowledged yet.
 */
export function pendingPreflight(
  def: StepDefinition,
  step: StepState,
): { findingsHash: string; preflight: Record<string, unknown> } | null {
  if (def.check.kind !== 'verify' || def.check.mode !== 'baseline' || step.status !== 'failed') return null;
  const preflight = (step.evidence as { preflight?: Record<string, unknown> } | null)?.preflight;
  if (!preflight || typeof preflight.findingsHash !== 'string' || preflight.acknowledgedBy !== undefined) return null;
  return { findingsHash: preflight.findingsHash, preflight };
}

/** Shortest reason an acknowledgement is accepted with: "ok" says nothing to the next reader. */
export const MIN_ACK_REASON = 10;

/**
 * A verify step's outcome from its comparison.
 * - baseline: records the count; passes when no user is predicted to fail Cloud Sync's hard match,
 *   or when a person acknowledged exactly these findings with a reason. In-scope inetOrgPerson
 *   objects are only shown (evidence), as a warning of what step 12 refuses.
 * - provisioned: no in-scope inetOrgPerson in the OU (inetOrgPersonProblem), every baseline user in
 *   Entra, none missing, every onPremisesImmutableId matching, and every in-scope user, group and
 *   contact confirmed by a successful entry of the Cloud Sync job's provisioning logs
 *   (confirmationProblems). A canary condition is ANDed the same way.
 */
export function verifyOutcome(
  mode: 'baseline' | 'provisioned',
  report: ComparisonReport,
  steps: readonly StepState[],
  job: string,
  inputs: VerifyInputs = {},
): CheckOutcome {
  const refused = report.inetOrgPersons && report.inetOrgPersons.onPrem > 0 ? report.inetOrgPersons : null;
  const evidence = {
    ou: report.baseDn,
    onPremUsers: report.onPrem.users,
    disabled: report.onPrem.disabled,
    cloudUsers: report.cloud.users,
    missing: report.missing.length,
    extra: report.extra.length,
    immutableIdMismatches: report.mismatched.length,
    missingSample: report.missing.slice(0, SAMPLE),
    // Shown from step 7 on, so the team learns early what step 12 will refuse (inetOrgPersonProblem).
    ...(refused ? { inetOrgPersons: refused.onPrem, inetOrgPersonSample: refused.dns.slice(0, SAMPLE) } : {}),
    job,
  };
  if (mode === 'baseline') {
    const findings = preflightFindings(report);
    if (findings.length === 0) return { ok: true, evidence, reason: '' };
    const ack = inputs.acknowledgement ?? null;
    const notInEntra = findings.filter((f) => f.problem === 'not in Entra').length;
    const preflight = {
      notInEntra,
      differentAnchor: findings.length - notInEntra,
      findingsHash: findingsHash(findings),
      sample: findings.slice(0, SAMPLE).map((f) => `${f.dn} (${f.problem})`),
      ...(ack ? { acknowledgedBy: ack.by, acknowledgedAt: ack.at.toISOString(), acknowledgedReason: ack.reason } : {}),
    };
    if (ack) return { ok: true, evidence: { ...evidence, preflight }, reason: '' };
    return {
      ok: false,
      evidence: { ...evidence, preflight },
      reason: `Cloud Sync's hard match is predicted to fail for ${findings.length} user(s): ${notInEntra} not in Entra, ${findings.length - notInEntra} with a different onPremisesImmutableId. Fix them and run the check again, or an approver acknowledges them with a reason on this card`,
    };
  }
  const baselineStep = stepByCheck({ kind: 'verify', mode: 'baseline' }).n;
  const baseline = (steps.find((s) => s.n === baselineStep)?.evidence as { onPremUsers?: number } | null)?.onPremUsers;
  const problems: string[] = refused ? [inetOrgPersonProblem(refused)] : [];
  // "In Entra" is all the cloud count says: Connect Sync put these users there before the migration.
  if (baseline !== undefined && report.cloud.users < baseline)
    problems.push(`${report.cloud.users} of the ${baseline} users counted in step ${baselineStep} are in Entra`);
  if (report.missing.length > 0) problems.push(`${report.missing.length} missing in the cloud`);
  if (report.mismatched.length > 0) problems.push(`${report.mismatched.length} with a different onPremisesImmutableId`);
  const cloudSync = inputs.cloudSync;
  let proof: Record<string, unknown>;
  if (cloudSync === undefined) {
    problems.push('the Cloud Sync provisioning logs were not read');
    proof = {};
  } else if ('unavailable' in cloudSync) {
    problems.push(cloudSync.unavailable);
    proof = { confirmedByCloudSync: null };
  } else {
    problems.push(...confirmationProblems(cloudSync), ...uncoveredTypes(report, cloudSync));
    const unconfirmed = allUnconfirmed(cloudSync);
    proof = {
      inEntraWithAnchor: cloudSync.inEntraWithAnchor,
      confirmedByCloudSync: cloudSync.confirmed,
      // Every type: users, groups and contacts all have to be confirmed.
      unconfirmed: unconfirmed.length,
      unconfirmedSample: unconfirmed.slice(0, SAMPLE).map(unconfirmedLine),
      cloudSyncJob: cloudSync.jobId,
      ...(cloudSync.groups ? { cloudSyncGroups: typeProof(cloudSync.groups) } : {}),
      ...(cloudSync.contacts ? { cloudSyncContacts: typeProof(cloudSync.contacts) } : {}),
    };
  }
  return {
    ok: problems.length === 0,
    evidence: { ...evidence, baseline: baseline ?? null, ...proof },
    reason: problems.join('; '),
  };
}

/**
 * Why step 12 refuses an OU that holds in-scope inetOrgPerson objects (those Connect Sync's default
 * rules export; the filtered ones are in notSynced and refused by nobody). The pilot tutorial has the
 * no-flow rules written for user, group and contact, and so does step 9 (sync-rules.ts); Connect Sync
 * joins inetOrgPerson with rules of its own ("In from AD - InetOrgPerson Join"), which no cloudNoFlow
 * reaches, so it keeps exporting them after the hand-over. Cloud Sync's prerequisites page also says
 * password hash sync with InetOrgPerson is not supported. Moving them out of the pilot OU is the one
 * remedy those pages support: the rules and the Cloud Sync scope are both the OU.
 */
export function inetOrgPersonProblem(r: Pick<InetOrgPersonReport, 'onPrem'>): string {
  return (
    `the pilot OU holds ${r.onPrem} inetOrgPerson object(s) (the first few are in the evidence; /verify pilot on the OU lists them all): ` +
    `the no-flow rules of step ${stepByCheck({ kind: 'noFlowRules' }).n} are for user, group and contact objects, so Connect Sync's own ` +
    'inetOrgPerson rules keep exporting them after the hand-over, and Cloud Sync password hash sync ' +
    'does not support InetOrgPerson. Move them out of the pilot OU, then run this check again'
  );
}

/**
 * Groups or contacts the comparison counted that the Cloud Sync evidence does not account for: each
 * in-scope object of every type must be confirmed, so evidence that leaves a type out proves nothing
 * about it (a confirmation taken from another comparison, or stored before groups were confirmed).
 */
function uncoveredTypes(report: ComparisonReport, c: CloudSyncConfirmation): string[] {
  const problems: string[] = [];
  for (const [name, counted, covered] of [
    ['groups', report.groups?.onPrem ?? 0, c.groups?.onPrem ?? 0],
    ['contacts', report.contacts?.onPrem ?? 0, c.contacts?.onPrem ?? 0],
  ] as const)
    if (counted !== covered)
      problems.push(
        `the Cloud Sync evidence covers ${covered} of the ${counted} in-scope ${name}; verify again to read them all`,
      );
  return problems;
}

/** A type's three numbers as step evidence stores them. */
function typeProof(t: TypeConfirmation): Record<string, number> {
  return { onPrem: t.onPrem, inEntra: t.inEntra, confirmed: t.confirmed, unconfirmed: t.unconfirmed.length };
}

/** What an approval is based on, or why it may not be asked for (or run) now. */
export type ApprovalBasis = { evidence: Record<string, unknown> } | { refusal: string };

/** The part of Get-ADSyncScheduler (and the running connector) an approval of a scheduler step rests on. */
export interface SchedulerReading {
  syncCycleEnabled: boolean;
  syncCycleInProgress: boolean;
  stagingModeEnabled: boolean;
  runningConnector: string | null;
}

/**
 * Stopping or starting the scheduler is refused while a cycle runs (it would race the rule changes)
 * and on a staging server (it is not the one exporting). The evidence holds only what must not
 * change before the approved action runs.
 */
export function schedulerApproval(s: SchedulerReading): ApprovalBasis {
  if (s.syncCycleInProgress || Boolean(s.runningConnector))
    return { refusal: 'a Connect Sync cycle is in progress; ask again when it has finished' };
  if (s.stagingModeEnabled) return { refusal: 'this Connect Sync server is in staging mode; use the active server' };
  return {
    evidence: {
      scheduler: {
        syncCycleEnabled: s.syncCycleEnabled,
        syncCycleInProgress: false,
        stagingModeEnabled: s.stagingModeEnabled,
      },
    },
  };
}

/** The no-flow rules plan for the pilot OU, at precedences the live rules leave free. */
export function noFlowRulesApproval(
  steps: readonly StepState[],
  liveRules: readonly { precedence: number }[],
): ApprovalBasis {
  const pilot = pilotOu(steps);
  if (!pilot) return { refusal: `the pilot OU is not set (step ${stepByCheck({ kind: 'pilotOu' }).n})` };
  const used = liveRules
    .map((r) => r.precedence)
    .filter((p) => Number.isInteger(p))
    .sort((a, b) => a - b);
  try {
    const plan = planNoFlowRules({ ouDn: pilot.baseDn, usedPrecedences: used });
    return {
      evidence: {
        pilotOu: pilot.baseDn,
        usedPrecedences: used.filter((p) => p <= 99),
        plan,
        script: renderRulesScriptPreview(plan),
      },
    };
  } catch (err) {
    return { refusal: (err as Error).message };
  }
}
