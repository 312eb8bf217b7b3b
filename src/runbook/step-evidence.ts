import type { ComparisonReport } from './ou-comparison';
import type { StepState } from './runbook';
import { stepByCheck } from './steps';
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

/**
 * A verify step's outcome from its comparison. The baseline records the count whatever it is; the
 * provisioned check passes only with every baseline user in the cloud, none missing and every
 * onPremisesImmutableId matching.
 */
export function verifyOutcome(
  mode: 'baseline' | 'provisioned',
  report: ComparisonReport,
  steps: readonly StepState[],
  job: string,
): CheckOutcome {
  const evidence = {
    ou: report.baseDn,
    onPremUsers: report.onPrem.users,
    disabled: report.onPrem.disabled,
    cloudUsers: report.cloud.users,
    missing: report.missing.length,
    extra: report.extra.length,
    immutableIdMismatches: report.mismatched.length,
    missingSample: report.missing.slice(0, 3),
    job,
  };
  if (mode === 'baseline') return { ok: true, evidence, reason: '' };
  const baselineStep = stepByCheck({ kind: 'verify', mode: 'baseline' }).n;
  const baseline = (steps.find((s) => s.n === baselineStep)?.evidence as { onPremUsers?: number } | null)?.onPremUsers;
  const problems: string[] = [];
  if (baseline !== undefined && report.cloud.users < baseline)
    problems.push(`${report.cloud.users} of the ${baseline} users counted in step ${baselineStep} are provisioned`);
  if (report.missing.length > 0) problems.push(`${report.missing.length} missing in the cloud`);
  if (report.mismatched.length > 0) problems.push(`${report.mismatched.length} with a different onPremisesImmutableId`);
  return {
    ok: problems.length === 0,
    evidence: { ...evidence, baseline: baseline ?? null },
    reason: problems.join('; '),
  };
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
