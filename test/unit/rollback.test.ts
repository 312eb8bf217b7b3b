import { pilotRollbackPlan, type RollbackPartState } from '../../src/runbook/rollback';
import { applyEvent, initialSteps, type StepState, type StepStatus } from '../../src/runbook/runbook';

const rules = { result: { created: [{ identifier: '0b7e3c2a-5a4d-4b6e-9f10-0000000000a1' }] } };

/** Steps 1..last done (step 9 with a created rule), then `overrides` per step. */
function through(last: number, overrides: Record<number, Partial<StepState>> = {}): StepState[] {
  return initialSteps().map((s) => ({
    ...s,
    ...(s.n <= last ? { status: 'done' as StepStatus, evidence: s.n === 9 ? rules : null } : {}),
    ...overrides[s.n],
  }));
}

const states = (plan: ReturnType<typeof pilotRollbackPlan>): Record<number, RollbackPartState> =>
  Object.fromEntries(plan.parts.map((p) => [p.n, p.state]));

describe('pilotRollbackPlan (the pilot tutorial: scope out, rules disabled, scheduler started)', () => {
  it('after step 12: reopen 12, then 11 out of scope, 9 rules disabled, 8 scheduler started, in that order', () => {
    const plan = pilotRollbackPlan(through(12), []);
    expect(plan).toMatchObject({ ok: true, next: 12 });
    expect(plan.parts.map((p) => p.n)).toEqual([12, 11, 9, 8]);
    expect(states(plan)).toEqual({ 12: 'next', 11: 'waiting', 9: 'waiting', 8: 'waiting' });
  });

  it('starts at the latest step still done and skips what was never done', () => {
    expect(pilotRollbackPlan(through(11), [])).toMatchObject({ ok: true, next: 11 });
    expect(states(pilotRollbackPlan(through(11), []))[12]).toBe('not-needed');
    // Step 10 (the provisioning agent) stays done: neither 9's nor 8's undo rests on it.
    const before11 = pilotRollbackPlan(through(10), []);
    expect(before11).toMatchObject({ ok: true, next: 9 });
    expect(states(before11)).toEqual({ 12: 'not-needed', 11: 'not-needed', 9: 'next', 8: 'waiting' });
    expect(pilotRollbackPlan(through(8), [])).toMatchObject({ ok: true, next: 8 });
    expect(pilotRollbackPlan(through(7), [])).toMatchObject({ ok: true, next: null });
    expect(states(pilotRollbackPlan(through(7), []))).toEqual({
      12: 'not-needed',
      11: 'not-needed',
      9: 'not-needed',
      8: 'not-needed',
    });
  });

  it('marks parts already undone and goes on with the next one', () => {
    const undone = { status: 'pending' as StepStatus, reason: 'undone', evidence: null };
    const plan = pilotRollbackPlan(through(12, { 12: undone, 11: undone }), []);
    expect(plan).toMatchObject({ ok: true, next: 9 });
    expect(states(plan)).toEqual({ 12: 'undone', 11: 'undone', 9: 'next', 8: 'waiting' });
    const all = pilotRollbackPlan(through(12, { 12: undone, 11: undone, 9: undone, 8: undone }), []);
    expect(all).toMatchObject({ ok: true, next: null });
  });

  it('follows the state machine: each applied undo moves the plan one part on', () => {
    let steps = through(11);
    const at = new Date('2026-12-05T09:00:00Z');
    const seen: (number | null)[] = [];
    for (;;) {
      const plan = pilotRollbackPlan(steps, []);
      if (!plan.ok) throw new Error(plan.reason);
      seen.push(plan.next);
      if (plan.next === null) break;
      const r = applyEvent(steps, { type: 'undone', n: plan.next, by: 'Ana', at, evidence: {} });
      if (!r.ok) throw new Error(r.reason);
      steps = steps.map((s) => (s.n === r.step.n ? r.step : s));
    }
    expect(seen).toEqual([11, 9, 8, null]);
  });

  it('undoes a partly failed rules step, and skips a rules step that created nothing', () => {
    const failed = pilotRollbackPlan(
      through(8, { 9: { status: 'failed', evidence: { created: rules.result.created } } }),
      [],
    );
    expect(failed).toMatchObject({ ok: true, next: 9 });
    const nothing = pilotRollbackPlan(through(8, { 9: { status: 'failed', evidence: { created: [] } } }), []);
    expect(nothing).toMatchObject({ ok: true, next: 8 });
    expect(states(nothing)[9]).toBe('not-needed');
  });

  // Refused, not half done: after step 13 Connect Sync runs again with the rules and the waves build
  // on the pilot (14 to 18); those are undone or reopened from their own cards first, from the latest back.
  it.each([
    [13, 'Step 13 already builds on step 12; undo or reopen that first.'],
    [16, 'Steps 13, 14, 15, 16 already build on step 12; undo or reopen them first, from step 16 back.'],
  ])('refuses while step %i (a later step) is done, with the Undo button reason', (last, reason) => {
    const plan = pilotRollbackPlan(through(last), []);
    expect(plan).toEqual({
      ok: false,
      parts: expect.any(Array),
      reason: `The pilot cannot be rolled back yet. ${reason}`,
    });
  });

  it('refuses while a step after the pilot is running or waiting for approval', () => {
    const plan = pilotRollbackPlan(through(12, { 13: { status: 'waiting_approval' } }), []);
    expect(plan).toMatchObject({
      ok: false,
      reason: expect.stringContaining('Step 13 is waiting for approval and builds on step 12; let it finish first.'),
    });
    // Step 11 being written now: the rules under it cannot be disabled yet.
    const writing = pilotRollbackPlan(through(10, { 11: { status: 'in_progress' } }), []);
    expect(writing).toMatchObject({ ok: false, reason: expect.stringContaining('Step 11 is in progress') });
  });

  it('refuses while a wave holds a change, naming the waves and their rollbacks, even with step 13 undone', () => {
    const expected = expect.stringContaining(
      'Waves Wave1, Wave2 still hold changes that rest on the pilot through step 13',
    ) as unknown;
    for (const steps of [through(13), through(12)]) {
      const plan = pilotRollbackPlan(steps, ['Wave1', 'Wave2']);
      expect(plan).toEqual({ ok: false, parts: expect.any(Array), reason: expected });
      if (!plan.ok) expect(plan.reason).toContain('(/rollback Wave1, then /rollback Wave2)');
    }
    // Nothing of the pilot left to undo: nothing to refuse.
    expect(pilotRollbackPlan(through(7), ['Wave1'])).toMatchObject({ ok: true, next: null });
  });
});
