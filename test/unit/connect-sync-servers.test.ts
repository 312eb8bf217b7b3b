import {
  connectSyncPhs,
  createdRuleNames,
  expectedRuleNames,
  finalStopPhs,
  isPasswordHashJob,
  judgeOtherServer,
  otherServersBlocker,
  type OtherServer,
  type PhsJobRead,
} from '../../src/runbook/connect-sync-servers';
import { applyEvent, initialSteps, type StepState } from '../../src/runbook/runbook';
import { parseStepAction } from '../../src/runbook/step-actions';
import { stepWhereAsked } from '../../src/runbook/steps';

const RULES = ['In from AD - User cloudNoFlow OU=Pilot (SyncShift)', 'Out to AAD - User JoinNoFlow (SyncShift)'];

const server = (patch: Partial<OtherServer>): OtherServer => ({
  agent: 'aadc-staging',
  stagingMode: true,
  rulesFound: RULES,
  readError: null,
  decommissioned: false,
  ...patch,
});

describe('other Connect Sync servers before the final stop (issue 16)', () => {
  it('a staging server with every no-flow rule enabled is safe', () => {
    expect(judgeOtherServer(server({}), RULES)).toEqual({
      agent: 'aadc-staging',
      safe: true,
      why: 'in staging mode with all 2 no-flow rules enabled',
    });
    expect(otherServersBlocker([server({})], RULES)).toBeNull();
    expect(otherServersBlocker([], RULES)).toBeNull();
  });

  it('a staging server missing a rule would export the migrated objects again once promoted', () => {
    const verdict = judgeOtherServer(server({ rulesFound: [RULES[0]!] }), RULES);
    expect(verdict).toMatchObject({ safe: false });
    expect(verdict.why).toBe(
      `in staging mode without 1 of the 2 no-flow rules (${RULES[1]}): promoted, it would export the migrated objects again`,
    );
    expect(otherServersBlocker([server({ rulesFound: [] })], RULES)).toContain(
      'another Connect Sync server would export the migrated objects again: aadc-staging in staging mode without 2 of the 2',
    );
  });

  it('a second server that is not in staging mode blocks, however many rules it has', () => {
    expect(judgeOtherServer(server({ stagingMode: false }), RULES)).toMatchObject({
      safe: false,
      why: 'is NOT in staging mode: a second active Connect Sync server exports too',
    });
  });

  it('an unread server blocks and says how to read it; a failed read says why', () => {
    expect(judgeOtherServer(server({ stagingMode: null, rulesFound: null }), RULES)).toMatchObject({
      safe: false,
      why: 'not read yet',
      todo: expect.stringContaining('/server staging') as unknown,
    });
    expect(judgeOtherServer(server({ stagingMode: null, readError: 'ADSync is not installed' }), RULES)).toMatchObject({
      safe: false,
      why: 'could not be read: ADSync is not installed',
    });
    expect(judgeOtherServer(server({ rulesFound: null }), RULES)).toMatchObject({ safe: false });
  });

  it('a decommissioned server (confirmed by a person) is safe whatever was read', () => {
    for (const patch of [{ stagingMode: false }, { stagingMode: null }, { rulesFound: [] }])
      expect(judgeOtherServer(server({ ...patch, decommissioned: true }), RULES)).toMatchObject({
        safe: true,
        why: 'decommissioned (confirmed by a person)',
      });
  });

  it('with no rules on the active server yet, nothing can be compared: it blocks', () => {
    expect(judgeOtherServer(server({}), [])).toMatchObject({ safe: false });
  });

  it('lists every unsafe server in the blocker, and only those', () => {
    const blocker = otherServersBlocker(
      [server({ agent: 'a' }), server({ agent: 'b', stagingMode: false }), server({ agent: 'c', rulesFound: [] })],
      RULES,
    );
    expect(blocker).not.toContain('a in staging');
    expect(blocker).toContain('b is NOT in staging mode');
    expect(blocker).toContain('c in staging mode without 2 of the 2');
  });
});

describe('what the steps recorded', () => {
  const withStep = (n: number, patch: Partial<StepState>): StepState[] =>
    initialSteps().map((s) => (s.n === n ? { ...s, ...patch } : s));

  it('names the rules the rules step created, done or partly failed', () => {
    expect(
      createdRuleNames(withStep(9, { status: 'done', evidence: { result: { created: [{ name: RULES[0] }] } } })),
    ).toEqual([RULES[0]]);
    expect(createdRuleNames(withStep(9, { status: 'failed', evidence: { created: [{ name: RULES[1] }] } }))).toEqual([
      RULES[1],
    ]);
    expect(createdRuleNames(initialSteps())).toEqual([]);
  });

  it("expects step 9's rules and every wave rule created and not undone", () => {
    const steps = withStep(9, { status: 'done', evidence: { result: { created: [{ name: RULES[0] }] } } });
    const wave1 = 'In from AD - User cloudNoFlow OU=Sales (SyncShift) (wave Wave1)';
    const wave2 = 'In from AD - User cloudNoFlow OU=HR (SyncShift) (wave Wave2)';
    const partial = 'In from AD - Group cloudNoFlow OU=IT (SyncShift) (wave Wave3)';
    const rules = (status: string, evidence: unknown) => ({ kind: 'rules', status, evidence });
    const expected = expectedRuleNames(steps, [
      {
        actions: [
          rules('done', { ous: [], result: { created: [{ name: wave1 }] } }),
          { kind: 'cycle', status: 'done', evidence: {} },
        ],
      },
      // Undone: disabled on the active server, so not needed on a staging server either.
      { actions: [rules('undone', { result: { created: [{ name: wave2 }] } })] },
      // Partly failed: what it created exists until the wave's rollback disables it.
      { actions: [rules('failed', { created: [{ name: partial }] })] },
      // Still being created: nothing created yet.
      { actions: [rules('in_progress', { plan: [{ name: 'planned' }] })] },
      // A scope action's evidence names no rule.
      { actions: [{ kind: 'scope', status: 'done', evidence: { result: { created: [{ name: 'x' }] } } }] },
    ]);
    expect(expected).toEqual([RULES[0], wave1, partial]);

    // A staging server with only the pilot's rules blocks the final stop, naming the wave's rule.
    const blocker = otherServersBlocker([server({ rulesFound: [RULES[0]!] })], expected);
    expect(blocker).toContain(`aadc-staging in staging mode without 2 of the 3 no-flow rules (${wave1}; ${partial})`);
    expect(otherServersBlocker([server({ rulesFound: [RULES[0]!], decommissioned: true })], expected)).toBeNull();
    expect(otherServersBlocker([server({ rulesFound: expected })], expected)).toBeNull();
  });

  it("reads step 11's answer about Connect Sync's password hash sync", () => {
    expect(connectSyncPhs(withStep(11, { evidence: { connectSyncPhs: 'on' } }), 11)).toBe('on');
    expect(connectSyncPhs(withStep(11, { evidence: { connectSyncPhs: 'off' } }), 11)).toBe('off');
    expect(connectSyncPhs(withStep(11, { evidence: { confirmedBy: 'a' } }), 11)).toBeNull();
  });
});

describe('password hash sync at the final stop', () => {
  const answered = (connectSyncPhs: unknown): StepState[] =>
    initialSteps().map((s) => (s.n === 11 ? { ...s, status: 'done', evidence: { connectSyncPhs } } : s));
  const at = new Date('2026-12-05T09:00:00Z');
  const PHS_JOB = 'AD2AADPasswordHash.5a4d60c1.0b7e3c2a';
  const read = (...jobs: { jobId: string; statusCode: string }[]): PhsJobRead => ({
    kind: 'read',
    at,
    servicePrincipalId: 'sp-1',
    jobs,
  });

  it("asks nothing and reads nothing when Connect Sync's was off", () => {
    expect(finalStopPhs(answered('off'), 11, undefined, null)).toEqual({
      ok: true,
      evidence: { connectSyncPhs: 'off' },
    });
  });

  it('confirms it from Graph when the AD2AADPasswordHash job is Active, whatever the requester says', () => {
    for (const answer of ['on', undefined])
      for (const says of ['on', 'off', undefined] as const)
        expect(finalStopPhs(answered(answer), 11, says, read({ jobId: PHS_JOB, statusCode: 'Active' }))).toEqual({
          ok: true,
          evidence: {
            connectSyncPhs: answer ?? 'not recorded in step 11 (taken as on)',
            cloudSyncPhs: `on, read from Graph: job ${PHS_JOB} is Active (2026-12-05T09:00:00.000Z)`,
          },
        });
  });

  it('refuses when the configuration has no password hash job, or it is paused or quarantined, saying what to do', () => {
    const absent = finalStopPhs(answered('on'), 11, 'on', read());
    expect(absent).toMatchObject({ ok: false });
    expect((absent as { reason: string }).reason).toContain('has no AD2AADPasswordHash job');
    expect((absent as { reason: string }).reason).toContain(
      'Turn on password hash sync in the Cloud Sync configuration',
    );
    for (const statusCode of ['Paused', 'Quarantine', 'NotRun']) {
      const stopped = finalStopPhs(answered('on'), 11, 'on', read({ jobId: PHS_JOB, statusCode }));
      expect(stopped).toMatchObject({ ok: false });
      expect((stopped as { reason: string }).reason).toContain(`job ${PHS_JOB} is ${statusCode}`);
      expect((stopped as { reason: string }).reason).toContain(`jobs/${PHS_JOB}/start`);
    }
  });

  it("falls back to the requester's word, labelled unverified, only when Graph answers 403", () => {
    const forbidden: PhsJobRead = {
      kind: 'forbidden',
      message: 'the app registration lacks Synchronization.Read.All.',
    };
    const refused = finalStopPhs(answered('on'), 11, undefined, forbidden);
    expect(refused).toMatchObject({ ok: false });
    expect((refused as { reason: string }).reason).toContain('choose On for it on this card');
    expect(finalStopPhs(answered('on'), 11, 'off', forbidden)).toMatchObject({ ok: false });
    expect(finalStopPhs(answered('on'), 11, 'on', forbidden)).toEqual({
      ok: true,
      evidence: {
        connectSyncPhs: 'on',
        cloudSyncPhs:
          'on, confirmed by the requester (unverified: Graph refused to list the AD2AADPasswordHash job: the app registration lacks Synchronization.Read.All.)',
      },
    });
    // Any other failure refuses: a requester's word does not stand in for an unreachable Graph.
    const failed = finalStopPhs(answered('on'), 11, 'on', { kind: 'failed', message: 'Graph timed out', hint: null });
    expect((failed as { reason: string }).reason).toContain('could not be read from Microsoft Graph: Graph timed out');
  });

  it('knows the password hash job by its template or its id', () => {
    expect(isPasswordHashJob({ jobId: PHS_JOB, templateId: 'AD2AADPasswordHash' })).toBe(true);
    expect(isPasswordHashJob({ jobId: PHS_JOB, templateId: 'ADDCInPassthrough' })).toBe(true);
    expect(isPasswordHashJob({ jobId: 'AD2AADProvisioning.5a4d60c1.x', templateId: 'AD2AADProvisioning' })).toBe(false);
  });
});

describe('step 10 records the answer on its confirmation', () => {
  const at = new Date('2026-12-05T08:00:00Z');
  const upTo9 = (): StepState[] => initialSteps().map((s) => (s.n <= 9 ? { ...s, status: 'done' } : s));

  it('refuses a confirmation without the answer, and keeps the answer as evidence', () => {
    expect(applyEvent(upTo9(), { type: 'confirm', n: 10, by: 'Megan', at })).toEqual({
      ok: false,
      reason: "Say on step 10's card whether Connect Sync's password hash sync is on (On or Off), then mark it done.",
    });
    expect(applyEvent(upTo9(), { type: 'confirm', n: 10, by: 'Megan', at, connectSyncPhs: 'off' })).toMatchObject({
      ok: true,
      step: { status: 'done', evidence: { confirmedBy: 'Megan', connectSyncPhs: 'off' } },
    });
    // Other person steps take no answer.
    expect(applyEvent(upTo9(), { type: 'confirm', n: 1, by: 'Megan', at })).toMatchObject({ ok: false });
    expect(stepWhereAsked('connectSync')).toBe(10);
    expect(stepWhereAsked('cloudSync')).toBe(16);
  });

  it('the card carries the answer: parseStepAction keeps phs on confirm and request, and nothing else', () => {
    const migrationId = '7d0c3a52-9a43-4d6b-8a8e-6b0c1f6d2a11';
    expect(parseStepAction('step.confirm', { migrationId, n: 11, phs: 'on' })).toEqual({
      ok: true,
      action: { verb: 'step.confirm', migrationId, n: 11, phs: 'on' },
    });
    expect(parseStepAction('step.requestApproval', { migrationId, n: 16, phs: 'off' })).toMatchObject({
      ok: true,
      action: { phs: 'off' },
    });
    expect(parseStepAction('step.confirm', { migrationId, n: 11, phs: 'maybe' })).toMatchObject({
      ok: false,
      fields: ['phs'],
    });
    expect(parseStepAction('step.undo', { migrationId, n: 11, phs: 'on' })).toEqual({
      ok: true,
      action: { verb: 'step.undo', migrationId, n: 11 },
    });
  });
});
