import {
  applyEvent,
  currentStep,
  initialSteps,
  readySteps,
  undoAllowed,
  type StepState,
  type StepStatus,
} from '../../src/runbook/runbook';
import { STEPS } from '../../src/runbook/steps';

const at = new Date('2026-11-25T10:00:00Z');

function apply(steps: StepState[], event: Parameters<typeof applyEvent>[1]): StepState[] {
  const r = applyEvent(steps, event);
  if (!r.ok) throw new Error(r.reason);
  return steps.map((s) => (s.n === r.step.n ? r.step : s));
}

describe('runbook state machine', () => {
  it("has the guide's 18 steps in order, each depending only on earlier steps", () => {
    expect(STEPS.map((s) => s.n)).toEqual(Array.from({ length: 18 }, (_, i) => i + 1));
    for (const s of STEPS) for (const d of s.dependsOn) expect(d).toBeLessThan(s.n);
    expect(STEPS.filter((s) => s.mutating).map((s) => s.n)).toEqual([8, 9, 11, 13, 16]);
  });

  it('walks person steps, software steps and approvals in order', () => {
    let s = initialSteps();
    expect(currentStep(s)).toBe(1);
    expect(applyEvent(s, { type: 'start', n: 2, by: 'a', at })).toEqual({
      ok: false,
      reason: 'Step 2 needs step 1 first.',
    });
    // 1 and 2 are the readiness report: checked by SyncShift, not marked done by hand.
    expect(applyEvent(s, { type: 'confirm', n: 1, by: 'a', at })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('checked by SyncShift'),
    });
    s = apply(s, { type: 'start', n: 1, by: 'a', at });
    s = apply(s, { type: 'failed', n: 1, at, reason: '1 blocker', evidence: { readiness: true } });
    expect(applyEvent(s, { type: 'blockersAccepted', n: 2, by: 'a', at, evidence: {} })).toMatchObject({
      ok: false,
      reason: 'Step 2 has no blockers to accept.',
    });
    s = apply(s, { type: 'blockersAccepted', n: 1, by: 'Megan', at, evidence: { accepted: true } });
    expect(s[0]).toMatchObject({ status: 'done', updatedBy: 'Megan', evidence: { accepted: true } });
    s = apply(s, { type: 'start', n: 2, by: 'syncshift', at });
    s = apply(s, { type: 'succeeded', n: 2, at, evidence: { prerequisites: [] } });
    expect(applyEvent(s, { type: 'confirm', n: 3, by: 'a', at })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('checked by SyncShift'),
    });
    s = apply(s, { type: 'start', n: 3, by: 'a', at });
    expect(s[2]!.status).toBe('in_progress');
    s = apply(s, { type: 'succeeded', n: 3, at, evidence: { path: 'x' } });
    s = apply(s, { type: 'confirm', n: 4, by: 'a', at });
    s = apply(s, { type: 'start', n: 5, by: 'a', at });
    s = apply(s, { type: 'succeeded', n: 5, at, evidence: { baseDn: 'OU=P' } });
    // 6 is optional; 7 depends on 5 only, so both are ready
    expect(readySteps(s)).toEqual([6, 7]);
    expect(applyEvent(s, { type: 'skip', n: 7, by: 'a', at, reason: 'x' })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('cannot be skipped'),
    });
    expect(applyEvent(s, { type: 'skip', n: 6, by: 'a', at, reason: ' ' })).toMatchObject({ ok: false });
    s = apply(s, { type: 'skip', n: 6, by: 'a', at, reason: 'users already in the OU' });
    expect(s[5]).toMatchObject({ status: 'skipped', reason: 'users already in the OU' });
    s = apply(s, { type: 'start', n: 7, by: 'a', at });
    s = apply(s, { type: 'failed', n: 7, at, reason: 'agent offline' });
    s = apply(s, { type: 'start', n: 7, by: 'a', at });
    s = apply(s, { type: 'succeeded', n: 7, at, evidence: { onPrem: 10 } });
    expect(applyEvent(s, { type: 'start', n: 8, by: 'a', at })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('needs approval'),
    });
    s = apply(s, { type: 'awaitApproval', n: 8, by: 'a', at });
    s = apply(s, { type: 'approvalEnded', n: 8, at, reason: 'expired' });
    expect(s[7]).toMatchObject({ status: 'pending', reason: 'expired' });
    s = apply(s, { type: 'awaitApproval', n: 8, by: 'a', at });
    s = apply(s, { type: 'approved', n: 8, at });
    s = apply(s, { type: 'succeeded', n: 8, at, evidence: { syncCycleEnabled: false } });
    expect(currentStep(s)).toBe(9);
  });

  it('undo walks back from the latest step; a step that changed nothing is reopened instead', () => {
    let s = initialSteps().map((x) => (x.n <= 8 ? { ...x, status: 'done' as const } : x));
    // Step 7 (a count) changed nothing: it is reopened, but only once step 8, which builds on it, is undone.
    expect(applyEvent(s, { type: 'undone', n: 7, by: 'a', at, evidence: null })).toMatchObject({
      ok: false,
      reason: 'Step 8 already builds on step 7; undo or reopen that first.',
    });
    const created = { result: { created: [{ identifier: '0b7e3c2a-5a4d-4b6e-9f10-0000000000a1' }] } };
    s = s.map((x) => (x.n === 9 ? { ...x, status: 'done' as const, evidence: created } : x));
    expect(applyEvent(s, { type: 'undone', n: 8, by: 'a', at, evidence: null })).toMatchObject({
      ok: false,
      reason: 'Step 9 already builds on step 8; undo or reopen that first.',
    });
    s = apply(s, { type: 'undone', n: 9, by: 'a', at, evidence: { disabled: 6 } });
    expect(s[8]).toMatchObject({ status: 'pending', reason: 'undone' });
    s = apply(s, { type: 'undone', n: 8, by: 'a', at, evidence: { syncCycleEnabled: true } });
    expect(currentStep(s)).toBe(8);
    s = apply(s, { type: 'undone', n: 7, by: 'a', at, evidence: { reopenedBy: 'a' } });
    expect(s[6]).toMatchObject({ status: 'pending', reason: 'undone', evidence: { reopenedBy: 'a' } });
    expect(currentStep(s)).toBe(7);
  });

  it('refuses unknown steps and events out of order', () => {
    const s = initialSteps();
    expect(applyEvent(s, { type: 'confirm', n: 19, by: 'a', at })).toEqual({
      ok: false,
      reason: 'There is no step 19; the runbook has steps 1 to 18.',
    });
    expect(applyEvent(s, { type: 'succeeded', n: 3, at, evidence: null })).toMatchObject({
      ok: false,
      reason: 'Step 3 is not running.',
    });
    expect(applyEvent(s, { type: 'approved', n: 8, at })).toMatchObject({ ok: false });
  });
});

describe('undoAllowed: the one rule behind the Undo button and the undo the bot accepts', () => {
  const upTo8 = (status8: StepStatus, status9: StepStatus = 'pending'): StepState[] =>
    initialSteps().map((x) =>
      x.n < 8
        ? { ...x, status: 'done' as const }
        : x.n === 8
          ? { ...x, status: status8 }
          : x.n === 9
            ? { ...x, status: status9 }
            : x,
    );

  it.each([
    ['pending', 'Step 8 is not started; only a done or failed step can be undone.'],
    ['in_progress', 'Step 8 is in progress; only a done or failed step can be undone.'],
    ['waiting_approval', 'Step 8 is waiting for approval; only a done or failed step can be undone.'],
    ['skipped', 'Step 8 is skipped; only a done or failed step can be undone.'],
  ] as const)('refuses a step that is %s', (status, reason) => {
    expect(undoAllowed(upTo8(status), 8, null, [])).toEqual({ ok: false, reason });
  });

  it.each(['done', 'failed'] as const)(
    "allows a %s step that changed something, with the step's own undo",
    (status) => {
      expect(undoAllowed(upTo8(status), 8, null, [])).toEqual({ ok: true, undo: 'schedulerStart' });
    },
  );

  // Changed deliberately (issue 16): a person-confirmed step (or a count) used to be final; rollback
  // needs it reopened, with the same approval and audit as an undo.
  it('reopens a done or skipped step that changed nothing; refuses one still open, and a step that does not exist', () => {
    expect(undoAllowed(upTo8('pending'), 7, null, [])).toEqual({ ok: true, undo: 'reopen' });
    expect(undoAllowed(upTo8('done'), 7, null, [])).toEqual({
      ok: false,
      reason: 'Step 8 already builds on step 7; undo or reopen that first.',
    });
    const skipped6 = upTo8('pending').map((x) =>
      x.n === 6 ? { ...x, status: 'skipped' as const } : x.n === 7 ? { ...x, status: 'pending' as const } : x,
    );
    expect(undoAllowed(skipped6, 6, null, [])).toEqual({ ok: true, undo: 'reopen' });
    expect(
      undoAllowed(
        upTo8('pending').map((x) => (x.n === 7 ? { ...x, status: 'failed' as const } : x)),
        7,
        null,
        [],
      ),
    ).toEqual({
      ok: false,
      reason: 'Step 7 is failed; only a done or skipped step can be reopened.',
    });
    expect(undoAllowed(upTo8('done'), 19, null, [])).toEqual({
      ok: false,
      reason: 'There is no step 19; the runbook has steps 1 to 18.',
    });
  });

  // Changed deliberately (issue 16): undoing step 9 was refused once step 10 was confirmed, exactly
  // when rollback is needed. Step 10 (installing the provisioning agent) does not rest on the rules;
  // step 11 (Cloud Sync's scope) does, and the tutorial's rollback takes Cloud Sync out first.
  it('undoes the rules while step 10 is done, but not while Cloud Sync is configured (step 11)', () => {
    const created = { result: { created: [{ identifier: '0b7e3c2a-5a4d-4b6e-9f10-0000000000a1' }] } };
    const through = (last: number): StepState[] =>
      initialSteps().map((x) =>
        x.n <= last ? { ...x, status: 'done' as const, evidence: x.n === 9 ? created : null } : x,
      );
    expect(undoAllowed(through(10), 9, null, [])).toEqual({ ok: true, undo: 'disableRules' });
    expect(undoAllowed(through(11), 9, null, [])).toEqual({
      ok: false,
      reason: 'Step 11 already builds on step 9; undo or reopen that first.',
    });
    // Undoing 11 (taking the pilot out of Cloud Sync's scope; 10 stays done) opens the way back.
    expect(undoAllowed(through(11), 11, null, [])).toEqual({ ok: true, undo: 'removeFromScope' });
  });

  it('an undo with nothing to undo says so and is refused, not marked done', () => {
    const rulesStep = (evidence: unknown, status: StepStatus = 'done'): StepState[] =>
      upTo8('done', status).map((x) => (x.n === 9 ? { ...x, evidence } : x));
    expect(undoAllowed(rulesStep({ result: { created: [] } }), 9, null, [])).toEqual({
      ok: false,
      reason: expect.stringContaining(
        'Nothing to undo in step 9: its evidence lists no rule SyncShift created',
      ) as unknown,
    });
    expect(applyEvent(rulesStep(null), { type: 'undone', n: 9, by: 'a', at, evidence: null })).toMatchObject({
      ok: false,
    });
    // A partly failed creation keeps what it made: that run can be undone.
    expect(
      undoAllowed(
        rulesStep({ created: [{ identifier: '0b7e3c2a-5a4d-4b6e-9f10-0000000000b2' }] }, 'failed'),
        9,
        null,
        [],
      ),
    ).toEqual({ ok: true, undo: 'disableRules' });
    const stopped = (result: unknown): StepState[] =>
      initialSteps().map((x) =>
        x.n <= 16 ? { ...x, status: 'done' as const, evidence: x.n === 16 ? { result } : null } : x,
      );
    expect(undoAllowed(stopped({ previousStartType: 'Manual' }), 16, null, [])).toEqual({
      ok: true,
      undo: 'adsyncServiceStart',
    });
    expect(undoAllowed(stopped({}), 16, null, [])).toMatchObject({
      ok: false,
      reason: expect.stringContaining("does not say the ADSync service's start type before the stop") as unknown,
    });
  });

  it('refuses while the step has an open request, naming which kind', () => {
    expect(undoAllowed(upTo8('done'), 8, { action: 'undo:schedulerStart', status: 'pending' }, [])).toEqual({
      ok: false,
      reason: 'An undo of step 8 is already requested.',
    });
    expect(undoAllowed(upTo8('failed'), 8, { action: 'schedulerStop', status: 'approved' }, [])).toEqual({
      ok: false,
      reason: 'Step 8 has an open approval request; settle it first.',
    });
  });

  it.each([
    ['done', 'Step 9 already builds on step 8; undo or reopen that first.'],
    ['skipped', 'Step 9 already builds on step 8; undo or reopen that first.'],
    ['in_progress', 'Step 9 is in progress and builds on step 8; let it finish first.'],
    ['waiting_approval', 'Step 9 is waiting for approval and builds on step 8; let it finish first.'],
  ] as const)('refuses when the later step that builds on it is %s', (status9, reason) => {
    expect(undoAllowed(upTo8('done', status9), 8, null, [])).toEqual({ ok: false, reason });
  });

  it('allows when the later step is pending or failed (it built nothing that stays)', () => {
    expect(undoAllowed(upTo8('done', 'failed'), 8, null, [])).toMatchObject({ ok: true });
    expect(undoAllowed(upTo8('done', 'pending'), 8, null, [])).toMatchObject({ ok: true });
  });

  it('is what the undone event applies too', () => {
    expect(
      applyEvent(upTo8('done', 'waiting_approval'), { type: 'undone', n: 8, by: 'a', at, evidence: null }),
    ).toEqual(undoAllowed(upTo8('done', 'waiting_approval'), 8, null, []));
  });

  it('refuses to undo step 13, or a step it rests on, while a wave holds a change', () => {
    const upTo = (last: number): StepState[] =>
      initialSteps().map((st) => (st.n <= last ? { ...st, status: 'done' } : st));
    const undo13 = undoAllowed(upTo(13), 13, null, ['Wave1']);
    expect(undo13).toEqual({
      ok: false,
      reason: expect.stringContaining(
        'Wave Wave1 still holds changes that rest on the pilot through step 13',
      ) as unknown,
    });
    expect(!undo13.ok && undo13.reason).toContain(
      'Roll it back first (/rollback Wave1), until it has nothing left, then undo step 13.',
    );
    expect(undoAllowed(upTo(13), 13, null, [])).toEqual({ ok: true, undo: 'schedulerStop' });
    // Step 12 with 13 already undone is under the floor too.
    expect(undoAllowed(upTo(12), 12, null, ['Wave1'])).toMatchObject({ ok: false });
    // Steps after 13 do not carry the waves: reopening step 14 stays allowed.
    expect(undoAllowed(upTo(14), 14, null, ['Wave1'])).toEqual({ ok: true, undo: 'reopen' });
    // A reopen passes the waves with its event.
    const at = new Date('2026-12-05T09:00:00Z');
    expect(
      applyEvent(upTo(12), { type: 'undone', n: 12, by: 'a', at, evidence: null, wavesHolding: ['Wave1'] }),
    ).toMatchObject({ ok: false });
  });
});
