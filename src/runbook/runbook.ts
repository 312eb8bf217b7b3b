import type { Approval } from './approvals';
import { STEPS, stepByCheck, stepDefinition, type StepDefinition } from './steps';

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
  /** `connectSyncPhs`: the answer of a step that asks whether Connect Sync's password hash sync is on. */
  | { type: 'confirm'; n: number; by: string; at: Date; connectSyncPhs?: 'on' | 'off' }
  | { type: 'skip'; n: number; by: string; at: Date; reason: string }
  | { type: 'start'; n: number; by: string; at: Date }
  | { type: 'awaitApproval'; n: number; by: string; at: Date }
  | { type: 'approved'; n: number; at: Date }
  | { type: 'approvalEnded'; n: number; at: Date; reason: string }
  | { type: 'succeeded'; n: number; at: Date; evidence: unknown }
  | { type: 'failed'; n: number; at: Date; reason: string; evidence?: unknown }
  /**
   * `wavesHolding`: the waves that still hold a change (see undoAllowed). Given for a reopen, which
   * runs nothing before this event; an undo that ran a change was asked with them before it ran.
   */
  | { type: 'undone'; n: number; by: string; at: Date; evidence: unknown; wavesHolding?: readonly string[] }
  /**
   * A change a person made by hand (the app could not), which a read has just shown: only for a
   * step whose result SyncShift can read back itself (Cloud Sync's scope).
   */
  | { type: 'confirmedByRead'; n: number; by: string; at: Date; evidence: unknown }

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
      if (def.asksPhs === 'connectSync' && !event.connectSyncPhs)
        return {
          ok: false,
          reason: `Say on step ${def.n}'s card whether Connect Sync's password hash sync is on (On or Off), then mark it done.`,
        };
      return needDeps()
        ? { ok: false, reason: needDeps()! }
        : next('done', {
            at: event.at,
            by: event.by,
            evidence: {
              confirmedBy: event.by,
              ...(def.asksPhs === 'connectSync' ? { connectSyncPhs: event.connectSyncPhs } : {}),
            },
          });
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
    case 'confirmedByRead':
      if (def.check.kind !== 'cloudSyncScope')
        return { ok: false, reason: `Step ${def.n} cannot be confirmed from a read; it runs after approval.` };
      if (!startable) return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      return needDeps()
        ? { ok: false, reason: needDeps()! }
        : next('done', { at: event.at, by: event.by, evidence: event.evidence });
    case 'blockersAccepted':
      if (def.check.kind !== 'readiness') return { ok: false, reason: `Step ${def.n} has no blockers to accept.` };
      if (step.status !== 'failed') return { ok: false, reason: `Step ${def.n} is ${describe(step.status)}.` };
      return needDeps()
        ? { ok: false, reason: needDeps()! }
        : next('done', { at: event.at, by: event.by, evidence: event.evidence });
    case 'undone': {
      // The undo's own approval has ended by now, so only the steps (and the waves, if given) are asked.
      const allowed = undoAllowed(steps, def.n, null, event.wavesHolding ?? []);
      if (!allowed.ok) return allowed;
      return next('pending', { at: event.at, by: event.by, reason: 'undone', evidence: event.evidence });
    }
  }
}

/** A step's own undo, or `reopen`: a step that changed nothing goes back to not started (with approval). */
export type UndoAction = NonNullable<StepDefinition['undo']> | 'reopen';
export type UndoCheck = { ok: true; undo: UndoAction } | { ok: false; reason: string };

/** Statuses in which a later step is using what an earlier step did. */
const BUILDING: ReadonlySet<StepStatus> = new Set(['in_progress', 'waiting_approval']);

/**
 * May step `n` be undone now, and with what? The one rule behind the card's Undo button and the
 * service's acceptance of an undo (so a button that was never shown cannot be pressed anyway).
 * `liveApproval` is the step's pending, approved or executing request, if any.
 *
 * Rollback (issue 16; the pilot tutorial's Troubleshooting: Cloud Sync out first, then the rules
 * disabled, then the scheduler started) walks back from the latest step: a step is undone only once
 * every later step resting on it is undone or reopened. A step that changed nothing (a person's
 * confirmation, a count) is reopened instead: back to not started, with the same approval and audit.
 * A step's `rollbackPast` lists later steps that do not rest on it (step 9's rules may be disabled
 * while step 10, the provisioning agent install, stays done: rollback is needed exactly then).
 *
 * `wavesHolding`: the names of the waves that still hold a change (rules, a cycle their rollback
 * needs, Cloud Sync scope, or an open part; the service reads them from the store). Waves rest on the
 * pilot through step 13 (the scheduler running with the pilot's rules), so step 13 and every step it
 * rests on are refused while any wave holds one: each wave is rolled back first.
 */
export function undoAllowed(
  steps: readonly StepState[],
  n: number,
  liveApproval: Pick<Approval, 'action' | 'status'> | null,
  wavesHolding: readonly string[],
): UndoCheck {
  const def = stepDefinition(n);
  if (!def) return { ok: false, reason: `There is no step ${n}; the runbook has steps 1 to ${STEPS.length}.` };
  const status = statusOf(steps, n);
  const undo: UndoAction = def.undo ?? 'reopen';
  if (undo === 'reopen') {
    if (status !== 'done' && status !== 'skipped')
      return { ok: false, reason: `Step ${n} is ${describe(status)}; only a done or skipped step can be reopened.` };
  } else if (status !== 'done' && status !== 'failed')
    return { ok: false, reason: `Step ${n} is ${describe(status)}; only a done or failed step can be undone.` };
  if (liveApproval) {
    return {
      ok: false,
      reason: liveApproval.action.startsWith('undo:')
        ? `An undo of step ${n} is already requested.`
        : `Step ${n} has an open approval request; settle it first.`,
    };
  }
  const waves = wavesRefusal(n, wavesHolding);
  if (waves) return { ok: false, reason: waves };
  const dependants = laterSteps(n).filter((d) => !(def.rollbackPast ?? []).includes(d.n));
  const finished = dependants.filter((d) => FINISHED.has(statusOf(steps, d.n))).map((d) => d.n);
  if (finished.length === 1)
    return { ok: false, reason: `Step ${finished[0]} already builds on step ${n}; undo or reopen that first.` };
  if (finished.length > 1)
    return {
      ok: false,
      reason: `Steps ${finished.join(', ')} already build on step ${n}; undo or reopen them first, from step ${finished.at(-1)} back.`,
    };
  const building = dependants.filter((d) => BUILDING.has(statusOf(steps, d.n)));
  if (building.length > 0)
    return {
      ok: false,
      reason:
        building.map((d) => `Step ${d.n} is ${describe(statusOf(steps, d.n))}`).join('; ') +
        ` and builds on step ${n}; let it finish first.`,
    };
  const nothing = nothingToUndo(undo, steps.find((s) => s.n === n)?.evidence);
  if (nothing) return { ok: false, reason: `Nothing to undo in step ${n}: ${nothing}` };
  return { ok: true, undo };
}

/** Why step `n` may not be undone while these waves hold changes, or null. */
function wavesRefusal(n: number, wavesHolding: readonly string[]): string | null {
  if (wavesHolding.length === 0) return null;
  const floor = stepByCheck({ kind: 'schedulerStart' }).n;
  if (n !== floor && !laterSteps(n).some((d) => d.n === floor)) return null;
  const names = wavesHolding.join(', ');
  const rollbacks = wavesHolding.map((w) => `/rollback ${w}`).join(', then ');
  return `${wavesHolding.length === 1 ? `Wave ${names} still holds` : `Waves ${names} still hold`} changes that rest on the pilot through step ${floor} (no-flow rules, a full cycle or Cloud Sync scope, or an open request); undoing step ${n} would pull the pilot from under ${wavesHolding.length === 1 ? 'it' : 'them'}. Roll ${wavesHolding.length === 1 ? 'it' : 'each'} back first (${rollbacks}), until it has nothing left, then undo step ${n}.`;
}

/** Every step that rests on step `n`, directly or through another step, in runbook order. */
function laterSteps(n: number): StepDefinition[] {
  const found = new Set<number>();
  for (let grew = true; grew;) {
    grew = false;
    for (const d of STEPS)
      if (!found.has(d.n) && d.dependsOn.some((dep) => dep === n || found.has(dep))) {
        found.add(d.n);
        grew = true;
      }
  }
  return STEPS.filter((d) => found.has(d.n));
}

/** Why an undo would change nothing (so it is refused, not marked done), or null. */
function nothingToUndo(undo: UndoAction, evidence: unknown): string | null {
  switch (undo) {
    case 'disableRules':
      return createdRuleIds(evidence).length === 0
        ? 'its evidence lists no rule SyncShift created, so no rule is disabled. Check Get-ADSyncRule on the Connect Sync server if you expected some.'
        : null;
    case 'adsyncServiceStart': {
      const previous = previousStartType(evidence);
      if (previous === 'Automatic' || previous === 'Manual') return null;
      return previous === null
        ? "its evidence does not say the ADSync service's start type before the stop, so SyncShift cannot restore it. Set it and start the service by hand (Set-Service ADSync -StartupType <type>; Start-Service ADSync)."
        : `the ADSync service's start type before the stop was ${previous}, which SyncShift does not restore by starting it. Set it by hand.`;
    }
    default:
      return null;
  }
}

/**
 * The identifiers of the rules a rules step created, from its evidence: a done step keeps them under
 * result.created, a partly failed one under created (what the agent made before the failure).
 */
export function createdRuleIds(evidence: unknown): string[] {
  const e = (evidence ?? {}) as { result?: { created?: unknown }; created?: unknown };
  const created = Array.isArray(e.result?.created) ? e.result.created : Array.isArray(e.created) ? e.created : [];
  return (created as { identifier?: unknown }[])
    .map((c) => c?.identifier)
    .filter((id): id is string => typeof id === 'string' && id !== '');
}

/** The ADSync service's start type before the final stop, as the stop script read it. */
export function previousStartType(evidence: unknown): string | null {
  const previous = (evidence as { result?: { previousStartType?: unknown } } | null)?.result?.previousStartType;
  return typeof previous === 'string' && previous !== '' ? previous : null;
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
