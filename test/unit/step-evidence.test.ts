import type { ComparisonReport } from '../../src/runbook/ou-comparison';
import { initialSteps, type StepState } from '../../src/runbook/runbook';
import {
  noFlowRulesApproval,
  pilotOu,
  pilotOuEvidence,
  schedulerApproval,
  verifyOutcome,
  type SchedulerReading,
} from '../../src/runbook/step-evidence';
import { stepByCheck } from '../../src/runbook/steps';
import { planNoFlowRules, renderRulesScriptPreview } from '../../src/runbook/sync-rules';

const PILOT = 'OU=Pilot,OU=Staff,DC=contoso,DC=com';

function withEvidence(
  check: Parameters<typeof stepByCheck>[0],
  evidence: unknown,
  steps: StepState[] = initialSteps(),
): StepState[] {
  const n = stepByCheck(check).n;
  return steps.map((s) => (s.n === n ? { ...s, status: 'done', evidence } : s));
}

function report(over: Partial<ComparisonReport> = {}): ComparisonReport {
  return {
    baseDn: PILOT,
    onPrem: { users: 7, disabled: 1 },
    cloud: { users: 7 },
    matched: 7,
    missing: [],
    extra: [],
    mismatched: [],
    unparsableCloudDns: 0,
    ...over,
  };
}

describe('pilotOu: the pilot OU as its step recorded it', () => {
  it('reads the OU and the count from the pilot OU step', () => {
    expect(
      pilotOu(
        withEvidence(
          { kind: 'pilotOu' },
          pilotOuEvidence({ baseDn: PILOT, totals: { users: 7, disabled: 1 } }, 'abcd1234'),
        ),
      ),
    ).toEqual({ baseDn: PILOT, users: 7 });
    expect(pilotOu(withEvidence({ kind: 'pilotOu' }, { pilotOu: PILOT }))).toEqual({ baseDn: PILOT, users: null });
  });

  it('is null until that step found one', () => {
    expect(pilotOu(initialSteps())).toBeNull();
    expect(pilotOu(withEvidence({ kind: 'pilotOu' }, { pilotOu: '' }))).toBeNull();
    expect(pilotOu(withEvidence({ kind: 'pilotOu' }, { users: 3 }))).toBeNull();
    // Another step's evidence never counts as the pilot OU.
    expect(pilotOu(withEvidence({ kind: 'verify', mode: 'baseline' }, { pilotOu: PILOT }))).toBeNull();
  });

  it('records what the scan found, under the job that found it', () => {
    expect(pilotOuEvidence({ baseDn: PILOT, totals: { users: 7, disabled: 1 } }, 'abcd1234')).toEqual({
      pilotOu: PILOT,
      users: 7,
      disabled: 1,
      job: 'abcd1234',
    });
  });
});

describe('verifyOutcome: when a verify step passes', () => {
  const missing = ['CN=Ann,' + PILOT, 'CN=Bob,' + PILOT, 'CN=Cy,' + PILOT, 'CN=Di,' + PILOT];

  it('records the baseline count whatever it finds', () => {
    const outcome = verifyOutcome('baseline', report({ cloud: { users: 3 }, missing }), initialSteps(), 'abcd1234');
    expect(outcome).toEqual({
      ok: true,
      reason: '',
      evidence: {
        ou: PILOT,
        onPremUsers: 7,
        disabled: 1,
        cloudUsers: 3,
        missing: 4,
        extra: 0,
        immutableIdMismatches: 0,
        missingSample: missing.slice(0, 3),
        job: 'abcd1234',
      },
    });
  });

  it('passes the provisioned check on a clean match with the baseline, and records the baseline', () => {
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    expect(verifyOutcome('provisioned', report(), steps, 'abcd1234')).toMatchObject({
      ok: true,
      reason: '',
      evidence: { cloudUsers: 7, baseline: 7 },
    });
  });

  it('fails the provisioned check with fewer cloud users than the baseline step counted, naming that step', () => {
    expect(stepByCheck({ kind: 'verify', mode: 'baseline' }).n).toBe(7);
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    const outcome = verifyOutcome(
      'provisioned',
      report({ cloud: { users: 6 }, missing: missing.slice(0, 1) }),
      steps,
      'abcd1234',
    );
    expect(outcome).toMatchObject({
      ok: false,
      reason: '6 of the 7 users counted in step 7 are provisioned; 1 missing in the cloud',
      evidence: { baseline: 7, missing: 1 },
    });
  });

  it('fails on missing users or a different onPremisesImmutableId even when the count matches', () => {
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    const mismatched = ['Ann', 'Bob'].map((cn) => ({
      dn: `CN=${cn},${PILOT}`,
      cloudId: cn,
      userPrincipalName: null,
      expectedImmutableId: 'AAAA',
      cloudImmutableId: 'BBBB',
    }));
    expect(verifyOutcome('provisioned', report({ mismatched }), steps, 'j')).toMatchObject({
      ok: false,
      reason: '2 with a different onPremisesImmutableId',
      evidence: { immutableIdMismatches: 2 },
    });
    expect(verifyOutcome('provisioned', report({ cloud: { users: 9 }, missing }), steps, 'j')).toMatchObject({
      ok: false,
      reason: '4 missing in the cloud',
    });
  });

  it('without a baseline, judges by missing and mismatched users alone', () => {
    expect(verifyOutcome('provisioned', report({ cloud: { users: 0 } }), initialSteps(), 'j')).toMatchObject({
      ok: true,
      evidence: { baseline: null },
    });
  });
});

describe('schedulerApproval: when a scheduler change may be asked for and run', () => {
  const idle: SchedulerReading = {
    syncCycleEnabled: true,
    syncCycleInProgress: false,
    stagingModeEnabled: false,
    runningConnector: null,
  };

  it('rests the approval on the scheduler and staging state alone', () => {
    expect(schedulerApproval(idle)).toEqual({
      evidence: { scheduler: { syncCycleEnabled: true, syncCycleInProgress: false, stagingModeEnabled: false } },
    });
    expect(schedulerApproval({ ...idle, syncCycleEnabled: false })).toEqual({
      evidence: { scheduler: { syncCycleEnabled: false, syncCycleInProgress: false, stagingModeEnabled: false } },
    });
  });

  it('refuses while a cycle is in progress, or a connector still runs', () => {
    const refusal = 'a Connect Sync cycle is in progress; ask again when it has finished';
    expect(schedulerApproval({ ...idle, syncCycleInProgress: true })).toEqual({ refusal });
    expect(schedulerApproval({ ...idle, runningConnector: 'contoso.com' })).toEqual({ refusal });
    expect(schedulerApproval({ ...idle, syncCycleInProgress: true, stagingModeEnabled: true })).toEqual({ refusal });
  });

  it('refuses on a staging server', () => {
    expect(schedulerApproval({ ...idle, stagingModeEnabled: true })).toEqual({
      refusal: 'this Connect Sync server is in staging mode; use the active server',
    });
  });
});

describe('noFlowRulesApproval: the rule plan an approval of step 9 shows', () => {
  it('plans for the pilot OU at precedences the live rules leave free', () => {
    const steps = withEvidence({ kind: 'pilotOu' }, { pilotOu: PILOT, users: 7 });
    const live = [{ precedence: 150 }, { precedence: 99 }, { precedence: 0 }, { precedence: 97 }];
    const plan = planNoFlowRules({ ouDn: PILOT, usedPrecedences: [0, 97, 99, 150] });
    expect(noFlowRulesApproval(steps, live)).toEqual({
      evidence: { pilotOu: PILOT, usedPrecedences: [0, 97, 99], plan, script: renderRulesScriptPreview(plan) },
    });
  });

  it('refuses before the pilot OU is set, naming its step', () => {
    expect(noFlowRulesApproval(initialSteps(), [])).toEqual({ refusal: 'the pilot OU is not set (step 5)' });
  });

  it("refuses with the planner's reason when no precedences are free", () => {
    const steps = withEvidence({ kind: 'pilotOu' }, { pilotOu: PILOT });
    const full = Array.from({ length: 100 }, (_, precedence) => ({ precedence }));
    let plannerReason = '';
    try {
      planNoFlowRules({ ouDn: PILOT, usedPrecedences: full.map((r) => r.precedence) });
    } catch (err) {
      plannerReason = (err as Error).message;
    }
    expect(plannerReason).not.toBe('');
    expect(noFlowRulesApproval(steps, full)).toEqual({ refusal: plannerReason });
  });
});
