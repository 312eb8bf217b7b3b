import { jobPayload } from '../../src/relay/protocol';
import type { Approval } from '../../src/runbook/approvals';
import { parseOuInput } from '../../src/runbook/ou-input';
import { initialSteps, type StepState } from '../../src/runbook/runbook';
import {
  actionJob,
  checkJob,
  isUndo,
  precheckJob,
  undoEvidence,
  undoJob,
  type StepJob,
} from '../../src/runbook/step-jobs';
import { STEPS, stepByCheck } from '../../src/runbook/steps';

const PILOT = 'OU=Pilot,OU=Staff,DC=contoso,DC=com';
const RULE_A = '0b7e3c2a-5a4d-4b6e-9f10-0000000000a1';
const RULE_B = '0b7e3c2a-5a4d-4b6e-9f10-0000000000b2';

function withPilot(evidence: unknown): StepState[] {
  const n = stepByCheck({ kind: 'pilotOu' }).n;
  return initialSteps().map((s) => (s.n === n ? { ...s, status: 'done', evidence } : s));
}

const approval = (action: string, evidence: unknown = null): Pick<Approval, 'action' | 'evidence'> => ({
  action,
  evidence,
});

describe('stepByCheck: steps are found by what they do, never by number', () => {
  it('finds each software check on exactly one step', () => {
    const software = STEPS.filter((s) => s.check.kind !== 'person');
    for (const def of software)
      expect(stepByCheck(def.check as Exclude<typeof def.check, { kind: 'person' }>)).toBe(def);
    const keys = software.map((s) => JSON.stringify(s.check));
    expect(new Set(keys).size).toBe(keys.length);
  });

  it('tells the two verify steps apart by mode', () => {
    expect(stepByCheck({ kind: 'verify', mode: 'baseline' }).check).toEqual({ kind: 'verify', mode: 'baseline' });
    expect(stepByCheck({ kind: 'verify', mode: 'provisioned' }).check).toEqual({ kind: 'verify', mode: 'provisioned' });
    expect(stepByCheck({ kind: 'verify', mode: 'provisioned' }).dependsOn.length).toBeGreaterThan(0);
    expect(stepByCheck({ kind: 'verify', mode: 'baseline' }).n).toBeLessThan(
      stepByCheck({ kind: 'verify', mode: 'provisioned' }).n,
    );
  });
});

describe('checkJob: what the Run button of a software-checked step sends', () => {
  it('scans the OU the person typed for the pilot OU step, as the parser canonicalised it', () => {
    expect(checkJob({ kind: 'pilotOu' }, initialSteps(), '  OU=Pilot ')).toEqual({
      ok: true,
      job: { action: 'directory.scanOu', ou: 'OU=Pilot' },
    });
  });

  it('refuses a typed OU the parser refuses, with its reason and hint', () => {
    for (const typed of ['', '(objectClass=*)']) {
      const parsed = parseOuInput(typed);
      if (parsed.ok) throw new Error(`the parser accepted "${typed}"`);
      expect(checkJob({ kind: 'pilotOu' }, initialSteps(), typed)).toEqual({
        ok: false,
        reason: `${parsed.reason} ${parsed.hint}`,
      });
    }
  });

  it('scans the recorded pilot OU for both verify steps, whatever was typed', () => {
    const steps = withPilot({ pilotOu: PILOT, users: 7 });
    for (const mode of ['baseline', 'provisioned'] as const) {
      expect(checkJob({ kind: 'verify', mode }, steps, 'OU=Typed')).toEqual({
        ok: true,
        job: { action: 'directory.scanOu', ou: PILOT },
      });
    }
  });

  it('refuses a verify before the pilot OU is set, naming the step that sets it', () => {
    const n = stepByCheck({ kind: 'pilotOu' }).n;
    expect(n).toBe(5);
    expect(checkJob({ kind: 'verify', mode: 'baseline' }, initialSteps(), '')).toEqual({
      ok: false,
      reason: 'Set the pilot OU in step 5 first.',
    });
    expect(checkJob({ kind: 'verify', mode: 'baseline' }, withPilot({ pilotOu: '' }), '')).toEqual({
      ok: false,
      reason: 'Set the pilot OU in step 5 first.',
    });
  });

  it('exports the configuration for the backup step, and runs nothing for approval steps', () => {
    expect(checkJob({ kind: 'exportConfig' }, initialSteps(), '')).toEqual({
      ok: true,
      job: { action: 'adsync.exportConfig' },
    });
    for (const kind of ['schedulerStop', 'noFlowRules', 'schedulerStart', 'adsyncServiceStop', 'person'] as const) {
      expect(checkJob({ kind }, initialSteps(), 'OU=Pilot')).toEqual({
        ok: false,
        reason: 'This step is not run this way.',
      });
    }
  });
});

describe('precheckJob: the read before an approval and before it runs', () => {
  it('reads the scheduler for scheduler steps and the live rules for the no-flow rules', () => {
    expect(precheckJob('schedulerStop')).toEqual({ action: 'adsync.getScheduler' });
    expect(precheckJob('schedulerStart')).toEqual({ action: 'adsync.getScheduler' });
    expect(precheckJob('noFlowRules')).toEqual({ action: 'adsync.listRules' });
  });

  it('reads nothing first for the service stop and for undos', () => {
    for (const action of ['adsyncServiceStop', 'undo:schedulerStart', 'undo:disableRules', 'exportConfig'])
      expect(precheckJob(action)).toBeNull();
  });
});

describe('actionJob and undoJob: what an approval runs, from the stored approval alone', () => {
  it('stops the scheduler, and starts it with a full cycle because the rules changed', () => {
    expect(actionJob(approval('schedulerStop'))).toEqual({ action: 'adsync.stopScheduler' });
    expect(actionJob(approval('schedulerStart'))).toEqual({ action: 'adsync.startScheduler', policyType: 'Initial' });
    expect(actionJob(approval('adsyncServiceStop'))).toEqual({ action: 'adsync.stopService' });
  });

  it('creates exactly the approved rule plan', () => {
    const plan = [{ key: 'inbound-user', precedence: 99 }];
    expect(actionJob(approval('noFlowRules', { plan, pilotOu: PILOT }))).toEqual({
      action: 'adsync.createNoFlowRules',
      plan,
    });
  });

  it('runs nothing for an action it does not know', () => {
    expect(actionJob(approval('exportConfig', {}))).toBeNull();
    expect(actionJob(approval('undo:schedulerStart', {}))).toBeNull();
  });

  // Changed deliberately (issue 16): undoing step 8 used to restart with a Delta cycle always. After
  // any rule change the scheduler doc asks for a full cycle (Delta does not re-evaluate changed rules),
  // so the undo restarts with Initial unless the undo's evidence says the rules did not change.
  it('undoes the scheduler steps with the opposite action; the restart is a full cycle unless no rule changed', () => {
    expect(undoJob(approval('undo:schedulerStart', { rulesChanged: false }))).toEqual({
      action: 'adsync.startScheduler',
      policyType: 'Delta',
    });
    for (const evidence of [{ rulesChanged: true }, {}, null])
      expect(undoJob(approval('undo:schedulerStart', evidence))).toEqual({
        action: 'adsync.startScheduler',
        policyType: 'Initial',
      });
    expect(undoJob(approval('undo:schedulerStop'))).toEqual({ action: 'adsync.stopScheduler' });
  });

  it("restores the service's start type read before the final stop, and runs nothing without it", () => {
    for (const startType of ['Automatic', 'Manual'] as const)
      expect(undoJob(approval('undo:adsyncServiceStart', { result: { previousStartType: startType } }))).toEqual({
        action: 'adsync.startService',
        startType,
      });
    expect(undoJob(approval('undo:adsyncServiceStart', { result: { previousStartType: 'Disabled' } }))).toBeNull();
    expect(undoJob(approval('undo:adsyncServiceStart', {}))).toBeNull();
  });

  it('undoEvidence records whether the rules changed since the scheduler stop', () => {
    const rulesStep = 9;
    const withRules = (patch: Partial<StepState>): StepState[] =>
      initialSteps().map((s) => (s.n === rulesStep ? { ...s, ...patch } : s.n === 8 ? { ...s, status: 'done' } : s));
    expect(undoEvidence(withRules({}), 8)).toEqual({ rulesChanged: false });
    expect(
      undoEvidence(withRules({ status: 'done', evidence: { result: { created: [{ identifier: RULE_A }] } } }), 8),
    ).toEqual({ rulesChanged: true });
    // Undone: the rules were disabled, which is a rule change too.
    expect(undoEvidence(withRules({ status: 'pending', reason: 'undone', evidence: { undo: {} } }), 8)).toEqual({
      rulesChanged: true,
    });
    // A failed run that created some before failing changed them; one that created none did not.
    expect(undoEvidence(withRules({ status: 'failed', evidence: { created: [{ identifier: RULE_B }] } }), 8)).toEqual({
      rulesChanged: true,
    });
    expect(undoEvidence(withRules({ status: 'failed', evidence: { created: [] } }), 8)).toEqual({
      rulesChanged: false,
    });
    // Other steps keep their own evidence unchanged.
    expect(undoEvidence(withRules({ evidence: { x: 1 } }), 9)).toEqual({ x: 1 });
  });

  it('disables only the rules the step reported creating, and runs nothing when it created none', () => {
    const evidence = {
      result: { created: [{ identifier: RULE_A, key: 'inbound-user' }, { key: 'no-id' }, { identifier: RULE_B }] },
    };
    expect(undoJob(approval('undo:disableRules', evidence))).toEqual({
      action: 'adsync.setRulesDisabled',
      identifiers: [RULE_A, RULE_B],
      disabled: true,
    });
    // A partly failed creation keeps what it made under `created`: exactly those are disabled.
    expect(undoJob(approval('undo:disableRules', { created: [{ identifier: RULE_B }], before: {} }))).toEqual({
      action: 'adsync.setRulesDisabled',
      identifiers: [RULE_B],
      disabled: true,
    });
    expect(undoJob(approval('undo:disableRules', { result: { created: [] } }))).toBeNull();
    expect(undoJob(approval('undo:disableRules', null))).toBeNull();
    expect(undoJob(approval('schedulerStop'))).toBeNull();
  });

  it('tells undo requests from step actions', () => {
    expect(isUndo(approval('undo:schedulerStart'))).toBe(true);
    expect(isUndo(approval('schedulerStart'))).toBe(false);
  });
});

describe('every job the runbook builds is one the relay protocol accepts', () => {
  it('passes the jobPayload schema unchanged', () => {
    const plan = [{ key: 'inbound-user', precedence: 99 }];
    const jobs: (StepJob | null)[] = [
      ...(['pilotOu', 'exportConfig'] as const).map((kind) => {
        const r = checkJob({ kind }, initialSteps(), 'OU=Pilot');
        return r.ok ? r.job : null;
      }),
      ...['schedulerStop', 'schedulerStart', 'noFlowRules'].map(precheckJob),
      ...['schedulerStop', 'schedulerStart', 'adsyncServiceStop'].map((a) => actionJob(approval(a))),
      actionJob(approval('noFlowRules', { plan })),
      ...['undo:schedulerStart', 'undo:schedulerStop'].map((a) => undoJob(approval(a))),
      undoJob(approval('undo:adsyncServiceStart', { result: { previousStartType: 'Manual' } })),
      undoJob(approval('undo:disableRules', { result: { created: [{ identifier: RULE_A }] } })),
    ];
    expect(jobs).not.toContain(null);
    for (const job of jobs) expect(jobPayload.parse(job)).toEqual(job);
  });
});
