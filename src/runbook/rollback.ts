import { createdRuleIds, describe, undoAllowed, type StepState, type StepStatus, type UndoAction } from './runbook';
import { stepDefinition } from './steps';

/**
 * `/rollback pilot` (issue 16): the pilot tutorial's Troubleshooting order, built from the existing
 * undos so each part keeps its own approval, evidence and audit:
 *   12 reopened (its proof that Cloud Sync provisioned the pilot stops holding once the OU leaves scope),
 *   11 out of Cloud Sync's scope (the job is paused instead when the pilot is the last OU),
 *   9 the pilot's no-flow rules disabled,
 *   8 the scheduler started with a full (Initial) cycle, since the rules changed.
 * Pure: the plan is recomputed from the stored steps each time, so no rollback state is kept apart
 * from the steps themselves and a second `/rollback pilot` simply asks for the next part.
 */

export const PILOT_ROLLBACK_ORDER = [12, 11, 9, 8] as const;

export type RollbackPartState =
  /** Undone (or reopened) already. */
  | 'undone'
  /** The step was never done, so there is nothing of it to take back. */
  | 'not-needed'
  /** The part whose undo is requested now. */
  | 'next'
  /** Needed, after the parts before it. */
  | 'waiting';

export interface RollbackPart {
  n: number;
  title: string;
  /** What the part does, in the tutorial's words. */
  does: string;
  state: RollbackPartState;
  /** The step's status now, in words. */
  status: string;
}

export type RollbackPlan =
  { ok: true; parts: RollbackPart[]; next: number | null } | { ok: false; parts: RollbackPart[]; reason: string };

const DOES: Record<number, string> = {
  12: 'Reopen the verification: the pilot is no longer provisioned by Cloud Sync once it leaves its scope.',
  11: "Take the pilot OU out of the Cloud Sync configuration's scope (or pause its job when the pilot is the last OU: an empty scope would cover the whole domain).",
  9: "Disable the pilot's custom no-flow sync rules, so Connect Sync exports the OU's objects again.",
  8: 'Start the Connect Sync scheduler with a full (Initial) cycle: Delta does not re-evaluate changed rules.',
};

/** Statuses in which a step's change is still in place and its undo is needed. */
function needsUndo(n: number, status: StepStatus, evidence: unknown): boolean {
  // Rules that were never created need no disabling (undoAllowed would refuse it as nothing to undo).
  if (stepDefinition(n)?.undo === 'disableRules' && createdRuleIds(evidence).length === 0) return false;
  const undo: UndoAction = stepDefinition(n)?.undo ?? 'reopen';
  // A failed change may have done part of its work (rules created before the failure); undoAllowed
  // accepts a failed step for the same reason. A reopen applies to a finished step only.
  return undo === 'reopen' ? status === 'done' || status === 'skipped' : status === 'done' || status === 'failed';
}

/**
 * The pilot's rollback plan from the steps as stored. Each needed part must pass `undoAllowed` once
 * the parts before it are undone, so a later step still resting on the pilot (step 13's scheduler
 * start, step 16's stopped service) refuses the whole plan with the same reason the step's Undo
 * button would give, rather than leaving the pilot half rolled back. So does a wave that still holds
 * a change (`wavesHolding`, read from the store by the caller): `/rollback <wave>` comes first.
 */
export function pilotRollbackPlan(steps: readonly StepState[], wavesHolding: readonly string[]): RollbackPlan {
  let simulated: StepState[] = steps.map((s) => ({ ...s }));
  const parts: RollbackPart[] = [];
  let next: number | null = null;
  let refusal: string | null = null;
  for (const n of PILOT_ROLLBACK_ORDER) {
    const step = steps.find((s) => s.n === n);
    const status: StepStatus = step?.status ?? 'pending';
    const base = { n, title: stepDefinition(n)?.title ?? `Step ${n}`, does: DOES[n]!, status: describe(status) };
    if (!needsUndo(n, status, step?.evidence)) {
      parts.push({ ...base, state: status === 'pending' && step?.reason === 'undone' ? 'undone' : 'not-needed' });
      continue;
    }
    if (refusal === null) {
      const allowed = undoAllowed(simulated, n, null, wavesHolding);
      if (!allowed.ok) refusal = allowed.reason;
    }
    parts.push({ ...base, state: next === null ? 'next' : 'waiting' });
    next ??= n;
    simulated = simulated.map((s) => (s.n === n ? { ...s, status: 'pending', reason: 'undone' } : s));
  }
  if (refusal !== null) return { ok: false, parts, reason: `The pilot cannot be rolled back yet. ${refusal}` };
  return { ok: true, parts, next };
}
