import type { Approval } from './approvals';
import { parseOuInput } from './ou-input';
import type { StepState } from './runbook';
import { pilotOu } from './step-evidence';
import { stepByCheck, type StepCheck } from './steps';

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
  | { action: 'adsync.startService' }
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
 * What an approved undo runs, from the stored approval alone; null when nothing runs. Disabling
 * rules names only those the step's own result says it created.
 */
export function undoJob(approval: Pick<Approval, 'action' | 'evidence'>): StepJob | null {
  switch (approval.action) {
    case 'undo:schedulerStart':
      return { action: 'adsync.startScheduler', policyType: 'Delta' };
    case 'undo:schedulerStop':
      return { action: 'adsync.stopScheduler' };
    case 'undo:adsyncServiceStart':
      return { action: 'adsync.startService' };
    case 'undo:disableRules': {
      const created = (
        (approval.evidence as { result?: { created?: { identifier?: string }[] } } | null)?.result?.created ?? []
      )
        .map((c) => c.identifier)
        .filter((id): id is string => typeof id === 'string');
      return created.length > 0 ? { action: 'adsync.setRulesDisabled', identifiers: created, disabled: true } : null;
    }
    default:
      return null;
  }
}
