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
  | { type: 'undone'; n: number; by: string; at: Date; evidence: unknown };

export type ApplyResult = { ok: true; step: StepState } | { ok: false; reason: string };

export function initialSteps(): StepState[] {
  return STEPS.map((s) => ({ n: s.n, status: 'pending', reason: null, evidence: null, updatedBy: null, updatedAt: null }));
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
    step: { ...step, status, reason: extra.reason ?? null, evidence: extra.evidence !== undefined ? extra.evidence : step.evidence, updatedBy: extra.by ?? step.updatedBy, updatedAt: extra.at },
  });

  switch (event.type) {
    case 'confirm':
      if (!isPerson) return { ok: false, reason: `Step ${def.n} is checked by SyncShift, not confirmed by hand.` };
      if (!startable && step.status !== 'in_progress') return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      return needDeps() ? { ok: false, reason: needDeps()! } : next('done', { at: event.at, by: event.by, evidence: { confirmedBy: event.by } });
    case 'skip':
      if (!def.optional) return { ok: false, reason: `Step ${def.n} cannot be skipped; it is part of every migration.` };
      if (!startable) return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      if (event.reason.trim() === '') return { ok: false, reason: 'Say why the step is skipped.' };
      return needDeps() ? { ok: false, reason: needDeps()! } : next('skipped', { at: event.at, by: event.by, reason: event.reason.trim() });
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
      if (step.status !== 'waiting_approval') return { ok: false, reason: `Step ${def.n} is not waiting for approval.` };
      return next('in_progress', { at: event.at });
    case 'approvalEnded':
      if (step.status !== 'waiting_approval') return { ok: false, reason: `Step ${def.n} is not waiting for approval.` };
      return next('pending', { at: event.at, reason: event.reason });
    case 'succeeded':
      if (step.status !== 'in_progress') return { ok: false, reason: `Step ${def.n} is not running.` };
      return next('done', { at: event.at, evidence: event.evidence });
    case 'failed':
      if (step.status !== 'in_progress') return { ok: false, reason: `Step ${def.n} is not running.` };
      return next('failed', { at: event.at, reason: event.reason, ...(event.evidence !== undefined ? { evidence: event.evidence } : {}) });
    case 'undone': {
      if (!def.undo) return { ok: false, reason: `Step ${def.n} changed nothing that can be undone.` };
      if (step.status !== 'done' && step.status !== 'failed') return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}; only a done or failed step can be undone.` };
      const later = STEPS.filter((d) => d.dependsOn.includes(def.n) && FINISHED.has(statusOf(steps, d.n))).map((d) => d.n);
      if (later.length > 0) return { ok: false, reason: `Step ${later.join(', ')} already builds on step ${def.n}; undo that first.` };
      return next('pending', { at: event.at, by: event.by, reason: 'undone', evidence: event.evidence });
    }
  }
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
