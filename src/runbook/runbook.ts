import type { Approval } from './approvals';
import { STEPS, stepDefinition, type StepDefinition } from './steps';

/**
 * The runbook of one migration as a state machine. Pure: callers load the state, apply an event,
 * and persist the result; the returned reason is shown to people when an event is refused.
 */

export type StepStatus = 'pending' | 'in_progress' | 'waiting_approval' | 'done' | 'skipped' | 'failed';

export interface StepState {
  n: number;
  status: StepStatus;
  /** Why a step was skipped, failed or sent back. */
  reason: string | null;
  /** What the step found or did: counts, scheduler state, rule ids, agent output. */
  evidence: unknown;
  updatedBy: string | null;
  updatedAt: Date | null;
}

export type RunbookEvent =
  | { type: 'confirm'; n: number; by: string; at: Date }
  | { type: 'skip'; n: number; by: string; at: Date; reason: string }
  | { type: 'start'; n: number; by: string; at: Date }
  | { type: 'awaitApproval'; n: number; by: string; at: Date }
  | { type: 'approved'; n: number; at: Date }
  | { type: 'approvalEnded'; n: number; at: Date; reason: string }
  | { type: 'succeeded'; n: number; at: Date; evidence: unknown }
  | { type: 'failed'; n: number; at: Date; reason: string; evidence?: unknown }
  | { type: 'undone'; n: number; by: string; at: Date; evidence: unknown }
  /** The readiness step's last blocker was accepted by an approver: it passes on that record. */
  | { type: 'blockersAccepted'; n: number; by: string; at: Date; evidence: unknown };

export type ApplyResult = { ok: true; step: StepState } | { ok: false; reason: string };

export function initialSteps(): StepState[] {
  return STEPS.map((s) => ({
    n: s.n,
    status: 'pending',
    reason: null,
    evidence: null,
    updatedBy: null,
    updatedAt: null,
  }));
}

const FINISHED: ReadonlySet<StepStatus> = new Set(['done', 'skipped']);

/** The first step that is neither done nor skipped; null when the runbook is complete. */
export function currentStep(steps: readonly StepState[]): number | null {
  return [...steps].sort((a, b) => a.n - b.n).find((s) => !FINISHED.has(s.status))?.n ?? null;
}

/** Steps whose dependencies are finished but which are not finished themselves. */
export function readySteps(steps: readonly StepState[]): number[] {
  return STEPS.filter((d) => !FINISHED.has(statusOf(steps, d.n)) && dependenciesMet(steps, d)).map((d) => d.n);
}

export function dependenciesMet(steps: readonly StepState[], def: StepDefinition): boolean {
  return def.dependsOn.every((n) => FINISHED.has(statusOf(steps, n)));
}

/** Applies one event to one step. Refusals say why in words a person can act on. */
export function applyEvent(steps: readonly StepState[], event: RunbookEvent): ApplyResult {
  const def = stepDefinition(event.n);
  if (!def) return { ok: false, reason: `There is no step ${event.n}; the runbook has steps 1 to ${STEPS.length}.` };
  const step = steps.find((s) => s.n === event.n);
  if (!step) return { ok: false, reason: `Step ${event.n} is missing from this migration.` };
  const isPerson = def.check.kind === 'person';
  const startable = step.status === 'pending' || step.status === 'failed';
  const needDeps = (): string | null => {
    const open = def.dependsOn.filter((n) => !FINISHED.has(statusOf(steps, n)));
    return open.length === 0 ? null : `Step ${def.n} needs step ${open.join(' and ')} first.`;
  };
  const next = (status: StepStatus, extra: Partial<StepState> & { at: Date; by?: string | null }): ApplyResult => ({
    ok: true,
    step: {
      ...step,
      status,
      reason: extra.reason ?? null,
      evidence: extra.evidence !== undefined ? extra.evidence : step.evidence,
      updatedBy: extra.by ?? step.updatedBy,
      updatedAt: extra.at,
    },
  });

  switch (event.type) {
    case 'confirm':
      if (!isPerson) return { ok: false, reason: `Step ${def.n} is checked by SyncShift, not confirmed by hand.` };
      if (!startable && step.status !== 'in_progress')
        return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      return needDeps()
        ? { ok: false, reason: needDeps()! }
        : next('done', { at: event.at, by: event.by, evidence: { confirmedBy: event.by } });
    case 'skip':
      if (!def.optional)
        return { ok: false, reason: `Step ${def.n} cannot be skipped; it is part of every migration.` };
      if (!startable) return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      if (event.reason.trim() === '') return { ok: false, reason: 'Say why the step is skipped.' };
      return needDeps()
        ? { ok: false, reason: needDeps()! }
        : next('skipped', { at: event.at, by: event.by, reason: event.reason.trim() });
    case 'start':
      if (isPerson) return { ok: false, reason: `Step ${def.n} is confirmed by a person on its card.` };
      if (def.mutating) return { ok: false, reason: `Step ${def.n} changes Connect Sync and needs approval first.` };
      if (!startable) return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      return needDeps() ? { ok: false, reason: needDeps()! } : next('in_progress', { at: event.at, by: event.by });
    case 'awaitApproval':
      if (!def.mutating) return { ok: false, reason: `Step ${def.n} changes nothing and needs no approval.` };
      if (!startable) return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      return needDeps() ? { ok: false, reason: needDeps()! } : next('waiting_approval', { at: event.at, by: event.by });
    case 'approved':
      if (step.status !== 'waiting_approval')
        return { ok: false, reason: `Step ${def.n} is not waiting for approval.` };
      return next('in_progress', { at: event.at });
    case 'approvalEnded':
      if (step.status !== 'waiting_approval')
        return { ok: false, reason: `Step ${def.n} is not waiting for approval.` };
      return next('pending', { at: event.at, reason: event.reason });
    case 'succeeded':
      if (step.status !== 'in_progress') return { ok: false, reason: `Step ${def.n} is not running.` };
      return next('done', { at: event.at, evidence: event.evidence });
    case 'failed':
      if (step.status !== 'in_progress') return { ok: false, reason: `Step ${def.n} is not running.` };
      return next('failed', {
        at: event.at,
        reason: event.reason,
        ...(event.evidence !== undefined ? { evidence: event.evidence } : {}),
      });
    case 'blockersAccepted':
      if (def.check.kind !== 'readiness') return { ok: false, reason: `Step ${def.n} has no blockers to accept.` };
      if (step.status !== 'failed') return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      return needDeps()
        ? { ok: false, reason: needDeps()! }
        : next('done', { at: event.at, by: event.by, evidence: event.evidence });
    case 'undone': {
      // The undo's own approval has ended by now, so only the steps are asked.
      const allowed = undoAllowed(steps, def.n, null);
      if (!allowed.ok) return allowed;
      return next('pending', { at: event.at, by: event.by, reason: 'undone', evidence: event.evidence });
    }
  }
}

export type UndoAction = NonNullable<StepDefinition['undo']>;
export type UndoCheck = { ok: true; undo: UndoAction } | { ok: false; reason: string };

/** Statuses in which a later step is using what an earlier step did. */
const BUILDING: ReadonlySet<StepStatus> = new Set(['in_progress', 'waiting_approval']);

/**
 * May step `n` be undone now, and with what? The one rule behind the card's Undo button and the
 * service's acceptance of an undo (so a button that was never shown cannot be pressed anyway).
 * `liveApproval` is the step's pending, approved or executing request, if any.
 */
export function undoAllowed(
  steps: readonly StepState[],
  n: number,
  liveApproval: Pick<Approval, 'action' | 'status'> | null,
): UndoCheck {
  const def = stepDefinition(n);
  if (!def) return { ok: false, reason: `There is no step ${n}; the runbook has steps 1 to ${STEPS.length}.` };
  if (!def.undo) return { ok: false, reason: `Step ${n} changed nothing that can be undone.` };
  const status = statusOf(steps, n);
  if (status !== 'done' && status !== 'failed')
    return { ok: false, reason: `Step ${n} is ${describe(status)}; only a done or failed step can be undone.` };
  if (liveApproval) {
    return {
      ok: false,
      reason: liveApproval.action.startsWith('undo:')
        ? `An undo of step ${n} is already requested.`
        : `Step ${n} has an open approval request; settle it first.`,
    };
  }
  const dependants = STEPS.filter((d) => d.dependsOn.includes(n));
  const finished = dependants.filter((d) => FINISHED.has(statusOf(steps, d.n))).map((d) => d.n);
  if (finished.length > 0)
    return { ok: false, reason: `Step ${finished.join(', ')} already builds on step ${n}; undo that first.` };
  const building = dependants.filter((d) => BUILDING.has(statusOf(steps, d.n)));
  if (building.length > 0)
    return {
      ok: false,
      reason:
        building.map((d) => `Step ${d.n} is ${describe(statusOf(steps, d.n))}`).join('; ') +
        ` and builds on step ${n}; let it finish first.`,
    };
  return { ok: true, undo: def.undo };
}

export function describe(status: StepStatus): string {
  switch (status) {
    case 'pending':
      return 'not started';
    case 'in_progress':
      return 'in progress';
    case 'waiting_approval':
      return 'waiting for approval';
    case 'done':
      return 'done';
    case 'skipped':
      return 'skipped';
    case 'failed':
      return 'failed';
  }
}

function statusOf(steps: readonly StepState[], n: number): StepStatus {
  return steps.find((s) => s.n === n)?.status ?? 'pending';
}
