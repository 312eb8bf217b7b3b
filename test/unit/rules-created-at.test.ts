import { initialSteps, type StepState } from '../../src/runbook/runbook';
import { rulesCreatedAt } from '../../src/runbook/rules-created-at';
import type { WaveActionState } from '../../src/runbook/wave-engine';

const PILOT = 'OU=Pilot,DC=contoso,DC=com';
const SALES = 'OU=Sales,DC=contoso,DC=com';
const STEP9_AT = new Date('2026-12-01T09:00:00Z');
const WAVE_AT = new Date('2026-12-05T10:00:00Z');

function steps(step9: StepState['status']): StepState[] {
  return initialSteps().map((s) =>
    s.n === 5
      ? { ...s, status: 'done', evidence: { pilotOu: PILOT, users: 3 } }
      : s.n === 9
        ? { ...s, status: step9, updatedAt: STEP9_AT }
        : s,
  );
}

function rules(status: WaveActionState['status'], ous: string[] = [SALES], at: Date = WAVE_AT): WaveActionState {
  return {
    kind: 'rules',
    status,
    evidence: { wave: 'Wave1', ous, result: { created: [] } },
    reason: null,
    updatedAt: at,
  };
}

describe('rulesCreatedAt', () => {
  it('the pilot OU: when step 9 finished, only while it is done', () => {
    expect(rulesCreatedAt(steps('done'), [], PILOT)).toEqual(STEP9_AT);
    expect(rulesCreatedAt(steps('pending'), [], PILOT)).toBeNull();
  });

  it("a wave's OU: when the wave's rules action finished, matched by the OU its evidence names", () => {
    expect(rulesCreatedAt(steps('done'), [{ actions: [rules('done')] }], SALES)).toEqual(WAVE_AT);
    // The DN as the agent wrote it may differ in case and spacing.
    expect(rulesCreatedAt(steps('done'), [{ actions: [rules('done')] }], 'ou=sales, dc=Contoso,dc=com')).toEqual(
      WAVE_AT,
    );
    // Another wave's rules do not cover the OU; the pilot's time is not a wave's.
    expect(
      rulesCreatedAt(steps('done'), [{ actions: [rules('done', ['OU=HR,DC=contoso,DC=com'])] }], SALES),
    ).toBeNull();
    expect(rulesCreatedAt(steps('done'), [], SALES)).toBeNull();
  });

  it('rules undone, failed, or still being created or undone are not a creation time', () => {
    for (const status of ['undone', 'failed', 'in_progress', 'waiting_approval', 'undoing'] as const)
      expect(rulesCreatedAt(steps('done'), [{ actions: [rules(status)] }], SALES)).toBeNull();
  });

  it("a scope or cycle action's time is not the rules' time", () => {
    const scope: WaveActionState = { ...rules('done'), kind: 'scope', evidence: { scopeValues: [SALES] } };
    expect(rulesCreatedAt(steps('done'), [{ actions: [scope] }], SALES)).toBeNull();
  });
});
