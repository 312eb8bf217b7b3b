import type { CloudSyncConfirmation } from '../../src/runbook/cloud-sync-evidence';
import { INETORGPERSON_REFUSAL } from '../../src/runbook/connect-sync-scope';
import type { ComparisonReport } from '../../src/runbook/ou-comparison';
import { initialSteps, type StepState } from '../../src/runbook/runbook';
import {
  findingsHash,
  inetOrgPersonProblem,
  noFlowRulesApproval,
  preflightFindings,
  pilotOu,
  pilotOuEvidence,
  schedulerApproval,
  verifyOutcome,
  type SchedulerReading,
} from '../../src/runbook/step-evidence';
import { stepByCheck } from '../../src/runbook/steps';
import { planNoFlowRules, renderRulesScriptPreview } from '../../src/runbook/sync-rules';

const PILOT = 'OU=Pilot,OU=Staff,DC=contoso,DC=com';
const JOB = 'AD2AADProvisioning.5a4d60c1.0b7e3c2a-5a4d-4b6e-9f10-000000000011';

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
  const allConfirmed: CloudSyncConfirmation = {
    jobId: JOB,
    onPrem: 7,
    inEntraWithAnchor: 7,
    confirmed: 7,
    unconfirmed: [],
  };

  it('passes the baseline on a clean count and records it', () => {
    const outcome = verifyOutcome('baseline', report(), initialSteps(), 'abcd1234');
    expect(outcome).toEqual({
      ok: true,
      reason: '',
      evidence: {
        ou: PILOT,
        onPremUsers: 7,
        disabled: 1,
        cloudUsers: 7,
        missing: 0,
        extra: 0,
        immutableIdMismatches: 0,
        missingSample: [],
        job: 'abcd1234',
      },
    });
  });

  it('holds the baseline on users whose hard match is predicted to fail, until they are acknowledged', () => {
    const mismatched = [
      {
        dn: 'CN=Eve,' + PILOT,
        cloudId: 'e',
        userPrincipalName: null,
        expectedImmutableId: 'AAAA',
        cloudImmutableId: 'BBBB',
      },
    ];
    const dirty = report({ cloud: { users: 4 }, missing, mismatched });
    const held = verifyOutcome('baseline', dirty, initialSteps(), 'abcd1234');
    expect(held.ok).toBe(false);
    expect(held.reason).toContain("Cloud Sync's hard match is predicted to fail for 5 user(s): 4 not in Entra, 1 with");
    expect(held.evidence).toMatchObject({
      onPremUsers: 7,
      preflight: {
        notInEntra: 4,
        differentAnchor: 1,
        findingsHash: findingsHash(preflightFindings(dirty)),
        sample: [`CN=Ann,${PILOT} (not in Entra)`, `CN=Bob,${PILOT} (not in Entra)`, `CN=Cy,${PILOT} (not in Entra)`],
      },
    });
    const at = new Date('2026-12-05T08:00:00Z');
    const passed = verifyOutcome('baseline', dirty, initialSteps(), 'abcd1234', {
      acknowledgement: { by: 'Megan Bowen', at, reason: 'Leavers, deleted in Entra on purpose' },
    });
    expect(passed).toMatchObject({
      ok: true,
      evidence: {
        preflight: {
          acknowledgedBy: 'Megan Bowen',
          acknowledgedAt: at.toISOString(),
          acknowledgedReason: 'Leavers, deleted in Entra on purpose',
        },
      },
    });
  });

  it('ties an acknowledgement to exactly the findings it was given for', () => {
    const one = preflightFindings(report({ missing: missing.slice(0, 1) }));
    const two = preflightFindings(report({ missing: missing.slice(0, 2) }));
    expect(findingsHash(one)).not.toBe(findingsHash(two));
    // The order the comparison listed them in does not matter.
    expect(findingsHash(preflightFindings(report({ missing: [...missing].reverse() })))).toBe(
      findingsHash(preflightFindings(report({ missing }))),
    );
  });

  it('passes the provisioned check only with every object confirmed by Cloud Sync, and records all three numbers', () => {
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    expect(verifyOutcome('provisioned', report(), steps, 'abcd1234', { cloudSync: allConfirmed })).toMatchObject({
      ok: true,
      reason: '',
      evidence: {
        onPremUsers: 7,
        inEntraWithAnchor: 7,
        confirmedByCloudSync: 7,
        unconfirmed: 0,
        cloudSyncJob: JOB,
        baseline: 7,
      },
    });
  });

  it('refuses the provisioned check for a pilot all in Entra with the right anchors but not in the logs', () => {
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    const none: CloudSyncConfirmation = {
      ...allConfirmed,
      confirmed: 0,
      unconfirmed: ['Ann', 'Bob', 'Cy', 'Di', 'Ed', 'Fay', 'Gus'].map((cn) => ({
        dn: `CN=${cn},${PILOT}`,
        reason: 'no Cloud Sync log entry' as const,
      })),
    };
    const outcome = verifyOutcome('provisioned', report(), steps, 'abcd1234', { cloudSync: none });
    expect(outcome.ok).toBe(false);
    expect(outcome.reason).toBe(
      `0 of 7 in-scope objects are confirmed by Cloud Sync (a successful entry of job ${JOB} in the provisioning logs); 7 are not yet (/verify list unconfirmed names them)`,
    );
    expect(outcome.evidence).toMatchObject({
      inEntraWithAnchor: 7,
      confirmedByCloudSync: 0,
      unconfirmed: 7,
      unconfirmedSample: [
        `CN=Ann,${PILOT} (no Cloud Sync log entry)`,
        `CN=Bob,${PILOT} (no Cloud Sync log entry)`,
        `CN=Cy,${PILOT} (no Cloud Sync log entry)`,
      ],
    });
  });

  it('refuses the provisioned check while a group or contact is not confirmed, and records their numbers', () => {
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    const groupDn = `CN=Sales Team,${PILOT}`;
    const withGroups: CloudSyncConfirmation = {
      ...allConfirmed,
      groups: {
        onPrem: 2,
        inEntra: 2,
        confirmed: 1,
        matchedOn: 'onPremisesSecurityIdentifier',
        unconfirmed: [{ dn: groupDn, reason: 'no Cloud Sync log entry', type: 'group' }],
      },
      contacts: { onPrem: 1, inEntra: 1, confirmed: 1, matchedOn: 'mail', unconfirmed: [] },
    };
    const typed = (onPrem: number, matchedOn: 'onPremisesSecurityIdentifier' | 'mail') => ({
      onPrem,
      matched: onPrem,
      missing: [],
      matchedOn,
      cloudRead: true,
    });
    const withTypes = report({ groups: typed(2, 'onPremisesSecurityIdentifier'), contacts: typed(1, 'mail') });
    const outcome = verifyOutcome('provisioned', withTypes, steps, 'abcd1234', { cloudSync: withGroups });
    expect(outcome.ok).toBe(false);
    expect(outcome.reason).toBe(
      `1 of 2 in-scope groups are confirmed by Cloud Sync (a successful entry of job ${JOB} in the provisioning logs); 1 are not yet (/verify list unconfirmed names them)`,
    );
    expect(outcome.evidence).toMatchObject({
      confirmedByCloudSync: 7,
      unconfirmed: 1,
      unconfirmedSample: [`group: ${groupDn} (no Cloud Sync log entry)`],
      cloudSyncGroups: { onPrem: 2, inEntra: 2, confirmed: 1, unconfirmed: 1 },
      cloudSyncContacts: { onPrem: 1, inEntra: 1, confirmed: 1, unconfirmed: 0 },
    });
    const groups = { ...withGroups.groups!, confirmed: 2, unconfirmed: [] };
    expect(
      verifyOutcome('provisioned', withTypes, steps, 'abcd1234', { cloudSync: { ...withGroups, groups } }),
    ).toMatchObject({ ok: true, reason: '' });
    // Evidence that leaves a type out proves nothing about it.
    expect(verifyOutcome('provisioned', withTypes, steps, 'abcd1234', { cloudSync: allConfirmed }).reason).toBe(
      'the Cloud Sync evidence covers 0 of the 2 in-scope groups; verify again to read them all; the Cloud Sync evidence covers 0 of the 1 in-scope contacts; verify again to read them all',
    );
  });

  it('refuses the provisioned check when the logs could not be read or were never asked for', () => {
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    expect(
      verifyOutcome('provisioned', report(), steps, 'j', { cloudSync: { unavailable: 'no Cloud Sync job is set' } }),
    ).toMatchObject({ ok: false, reason: 'no Cloud Sync job is set', evidence: { confirmedByCloudSync: null } });
    expect(verifyOutcome('provisioned', report(), steps, 'j')).toMatchObject({
      ok: false,
      reason: 'the Cloud Sync provisioning logs were not read',
    });
  });

  it('fails the provisioned check with fewer cloud users than the baseline step counted, never calling them provisioned', () => {
    expect(stepByCheck({ kind: 'verify', mode: 'baseline' }).n).toBe(7);
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });
    const outcome = verifyOutcome(
      'provisioned',
      report({ cloud: { users: 6 }, missing: missing.slice(0, 1) }),
      steps,
      'abcd1234',
      { cloudSync: allConfirmed },
    );
    expect(outcome).toMatchObject({
      ok: false,
      reason: '6 of the 7 users counted in step 7 are in Entra; 1 missing in the cloud',
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
    const cloudSync = allConfirmed;
    expect(verifyOutcome('provisioned', report({ mismatched }), steps, 'j', { cloudSync })).toMatchObject({
      ok: false,
      reason: '2 with a different onPremisesImmutableId',
      evidence: { immutableIdMismatches: 2 },
    });
    expect(
      verifyOutcome('provisioned', report({ cloud: { users: 9 }, missing }), steps, 'j', { cloudSync }),
    ).toMatchObject({
      ok: false,
      reason: '4 missing in the cloud',
    });
  });

  describe('inetOrgPerson objects in the OU', () => {
    const inets = [`CN=Inet 1,${PILOT}`, `CN=Inet 2,${PILOT}`, `CN=Inet 3,${PILOT}`, `CN=Inet 4,${PILOT}`];
    const withInets = report({
      inetOrgPersons: { onPrem: 4, inCloud: 4, dns: inets, reason: INETORGPERSON_REFUSAL },
    });
    const steps = withEvidence({ kind: 'verify', mode: 'baseline' }, { onPremUsers: 7 });

    it('are shown by the baseline count as a warning, which passes with the users alone', () => {
      const outcome = verifyOutcome('baseline', withInets, initialSteps(), 'abcd1234');
      expect(outcome.ok).toBe(true);
      expect(outcome.evidence).toMatchObject({
        onPremUsers: 7,
        inetOrgPersons: 4,
        inetOrgPersonSample: inets.slice(0, 3),
      });
    });

    it('make the provisioned check refuse, saying why and what to do, though every user is confirmed', () => {
      const outcome = verifyOutcome('provisioned', withInets, steps, 'abcd1234', { cloudSync: allConfirmed });
      const rules = stepByCheck({ kind: 'noFlowRules' }).n;
      expect(outcome).toMatchObject({
        ok: false,
        evidence: { onPremUsers: 7, confirmedByCloudSync: 7, inetOrgPersons: 4 },
        reason: inetOrgPersonProblem({ onPrem: 4 }),
      });
      expect(outcome.reason).toContain('the pilot OU holds 4 inetOrgPerson object(s)');
      expect(outcome.reason).toContain(`the no-flow rules of step ${rules} are for user, group and contact objects`);
      expect(outcome.reason).toContain('Cloud Sync password hash sync does not support InetOrgPerson');
      expect(outcome.reason).toContain('Move them out of the pilot OU, then run this check again');
      // With other problems it comes first, and they are all still named.
      const dirty = verifyOutcome('provisioned', { ...withInets, missing: missing.slice(0, 1) }, steps, 'j', {
        cloudSync: allConfirmed,
      });
      expect(dirty.reason).toBe(`${inetOrgPersonProblem({ onPrem: 4 })}; 1 missing in the cloud`);
    });

    it('block nothing when none is in scope (those Connect Sync filters out are listed as not synced)', () => {
      const filteredOnly = report({
        notSynced: [
          {
            dn: `CN=Svc,${PILOT}`,
            type: 'inetOrgPerson',
            reason: 'no sAMAccountName',
            conditions: ['noSamAccountName'],
          },
        ],
      });
      const outcome = verifyOutcome('provisioned', filteredOnly, steps, 'j', { cloudSync: allConfirmed });
      expect(outcome).toMatchObject({ ok: true, reason: '' });
      expect(outcome.evidence).not.toHaveProperty('inetOrgPersons');
    });
  });

  it('without a baseline, judges by missing and mismatched users and the Cloud Sync evidence', () => {
    expect(
      verifyOutcome('provisioned', report({ cloud: { users: 0 } }), initialSteps(), 'j', { cloudSync: allConfirmed }),
    ).toMatchObject({
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
