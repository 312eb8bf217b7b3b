import { isDnWithin } from './dn';
import { stepByCheck } from './steps';
import type { StepState } from './runbook';
import { pilotOu } from './step-evidence';
import { approvedOus, type WaveActionState } from './wave-engine';

/**
 * When SyncShift created the no-flow rules that cover this OU, from its own records only, for the
 * no-flow check (issue 16): a reading older than that says nothing about the rules.
 *   The pilot OU: when step 9 finished (it is done only once its rules exist).
 *   A wave's OU: when the wave's rules action finished, if it is done (not undone, not failed) and its
 *   approved evidence names the OU. That is also the time the wave engine counts a full cycle from
 *   (rulesChangedAt), so the check and `/wave scope` judge "a cycle since the rules" alike.
 * Null when no record covers the OU: the card then says so instead of comparing.
 */
export function rulesCreatedAt(
  steps: readonly StepState[],
  waves: readonly { actions: readonly WaveActionState[] }[],
  ouDn: string,
): Date | null {
  const pilot = pilotOu(steps);
  if (pilot && sameDn(pilot.baseDn, ouDn)) {
    const rules = steps.find((s) => s.n === stepByCheck({ kind: 'noFlowRules' }).n);
    return rules?.status === 'done' ? rules.updatedAt : null;
  }
  let latest: Date | null = null;
  for (const wave of waves)
    for (const a of wave.actions) {
      if (a.kind !== 'rules' || a.status !== 'done' || !a.updatedAt) continue;
      if (!approvedOus(a.evidence).some((dn) => sameDn(dn, ouDn))) continue;
      if (!latest || a.updatedAt > latest) latest = a.updatedAt;
    }
  return latest;
}

export function sameDn(a: string, b: string): boolean {
  return isDnWithin(a, b) && isDnWithin(b, a);
}
