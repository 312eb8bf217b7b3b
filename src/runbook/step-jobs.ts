import type { Approval } from './approvals';
import { parseOuInput } from './ou-input';
import { createdRuleIds, previousStartType, type StepState } from './runbook';
import { pilotOu } from './step-evidence';
import { stepByCheck, stepDefinition, type StepCheck } from './steps';

/**
 * What each step asks the agent to do: the check behind its Run button, the read before an
 * approval, the approved action and its undo. Plain data in the shapes of the relay protocol's job
 * payloads (the pure core does not import the protocol; the service assigns these to its JobPayload
 * type and a unit test runs every one through its schema).
 */

export type StepJob =
  | { action: 'directory.scanOu'; ou: string }
  | { action: 'adsync.getScheduler' }
  | { action: 'adsync.stopScheduler' }
  | { action: 'adsync.startScheduler'; policyType: 'Delta' | 'Initial' }
  | { action: 'adsync.exportConfig' }
  | { action: 'adsync.listRules' }
  | { action: 'adsync.createNoFlowRules'; plan: Record<string, unknown>[] }
  | { action: 'adsync.setRulesDisabled'; identifiers: string[]; disabled: boolean }
  | { action: 'adsync.stopService' }
  | { action: 'adsync.startService'; startType: 'Automatic' | 'Manual' }
  | { action: 'adsync.readiness' };

export type CheckJob = { ok: true; job: StepJob } | { ok: false; reason: string };

/** The Run button of a step software checks. `typedOu` is what the person typed on the card. */
export function checkJob(check: StepCheck, steps: readonly StepState[], typedOu: string): CheckJob {
  switch (check.kind) {
    case 'pilotOu': {
      const parsed = parseOuInput(typedOu);
      if (!parsed.ok) return { ok: false, reason: `${parsed.reason} ${parsed.hint}` };
      return { ok: true, job: { action: 'directory.scanOu', ou: parsed.target.text } };
    }
    case 'verify': {
      const pilot = pilotOu(steps);
      if (!pilot) return { ok: false, reason: `Set the pilot OU in step ${stepByCheck({ kind: 'pilotOu' }).n} first.` };
      return { ok: true, job: { action: 'directory.scanOu', ou: pilot.baseDn } };
    }
    case 'exportConfig':
      return { ok: true, job: { action: 'adsync.exportConfig' } };
    case 'readiness':
    case 'prerequisites':
      return { ok: true, job: { action: 'adsync.readiness' } };
    default:
      return { ok: false, reason: 'This step is not run this way.' };
  }
}

/** The read that precedes (and, after approval, re-checks) an approval of this action; null when none does. */
export function precheckJob(action: string): StepJob | null {
  switch (action) {
    case 'schedulerStop':
    case 'schedulerStart':
      return { action: 'adsync.getScheduler' };
    case 'noFlowRules':
      return { action: 'adsync.listRules' };
    default:
      return null;
  }
}

export function isUndo(approval: Pick<Approval, 'action'>): boolean {
  return approval.action.startsWith('undo:');
}

/** What an approved step action runs, from the stored approval alone; null when nothing runs. */
export function actionJob(approval: Pick<Approval, 'action' | 'evidence'>): StepJob | null {
  switch (approval.action) {
    case 'schedulerStop':
      return { action: 'adsync.stopScheduler' };
    case 'schedulerStart':
      // The custom rules changed the configuration: the scheduler doc asks for a full cycle.
      return { action: 'adsync.startScheduler', policyType: 'Initial' };
    case 'noFlowRules':
      return {
        action: 'adsync.createNoFlowRules',
        plan: (approval.evidence as { plan?: Record<string, unknown>[] }).plan ?? [],
      };
    case 'adsyncServiceStop':
      return { action: 'adsync.stopService' };
    default:
      return null;
  }
}

/**
 * What an undo approval stores as its evidence: the step's own evidence, and for the scheduler stop
 * whether the sync rules changed since (then the restart must be a full cycle). Decided from the
 * stored steps when the undo is requested; the approval voids if it changes before it runs.
 */
export function undoEvidence(steps: readonly StepState[], n: number): unknown {
  const evidence = steps.find((s) => s.n === n)?.evidence ?? null;
  if (stepDefinition(n)?.undo !== 'schedulerStart') return evidence;
  return { ...(evidence as Record<string, unknown> | null), rulesChanged: rulesChangedSinceStop(steps) };
}

/**
 * Did the no-flow rules step change Connect Sync's rules (created some, even in a failed run, or was
 * undone, which disabled them)? Unknown counts as changed: a needless full cycle costs time, a
 * missing one leaves the changed rules unapplied.
 */
function rulesChangedSinceStop(steps: readonly StepState[]): boolean {
  const rules = steps.find((s) => s.n === stepByCheck({ kind: 'noFlowRules' }).n);
  if (!rules) return true;
  switch (rules.status) {
    case 'done':
    case 'in_progress':
    case 'waiting_approval':
    case 'skipped':
      return true;
    case 'failed':
    case 'pending':
      return rules.reason === 'undone' || createdRuleIds(rules.evidence).length > 0;
  }
}

/**
 * What an approved undo runs, from the stored approval alone; null when nothing runs (a reopened
 * step, which only goes back to not started). Disabling rules names only those the step's own
 * result says it created, a partly failed run's too.
 */
export function undoJob(approval: Pick<Approval, 'action' | 'evidence'>): StepJob | null {
  switch (approval.action) {
    case 'undo:schedulerStart':
      // The scheduler doc: changed rules are applied by a full sync only; Delta is for an unchanged configuration.
      return {
        action: 'adsync.startScheduler',
        policyType:
          (approval.evidence as { rulesChanged?: unknown } | null)?.rulesChanged === false ? 'Delta' : 'Initial',
      };
    case 'undo:schedulerStop':
      return { action: 'adsync.stopScheduler' };
    case 'undo:adsyncServiceStart': {
      const previous = previousStartType(approval.evidence);
      return previous === 'Automatic' || previous === 'Manual'
        ? { action: 'adsync.startService', startType: previous }
        : null;
    }
    case 'undo:disableRules': {
      const created = createdRuleIds(approval.evidence);
      return created.length > 0 ? { action: 'adsync.setRulesDisabled', identifiers: created, disabled: true } : null;
    }
    default:
      return null;
  }
}
