import { parseStepAction, STEP_VERBS } from '../../src/runbook/step-actions';

const migrationId = '7d3c2b1a-0f9e-4d8c-b7a6-5e4d3c2b1a09';
const approvalId = '0a1b2c3d-4e5f-4a6b-8c7d-9e0f1a2b3c4d';

describe('parseStepAction: what a step card button may send', () => {
  it('takes the ids every button carries, and the typed inputs the verbs that use them read', () => {
    expect(parseStepAction(STEP_VERBS.confirm, { migrationId, n: 1 })).toEqual({
      ok: true,
      action: { verb: 'step.confirm', migrationId, n: 1 },
    });
    expect(parseStepAction(STEP_VERBS.approve, { migrationId, n: 8, approvalId })).toEqual({
      ok: true,
      action: { verb: 'step.approve', migrationId, n: 8, approvalId },
    });
    expect(parseStepAction(STEP_VERBS.skip, { migrationId, n: 6, reason: 'already there' })).toEqual({
      ok: true,
      action: { verb: 'step.skip', migrationId, n: 6, reason: 'already there' },
    });
    expect(parseStepAction(STEP_VERBS.skip, { migrationId, n: 6 })).toEqual({
      ok: true,
      action: { verb: 'step.skip', migrationId, n: 6, reason: '' },
    });
    expect(parseStepAction(STEP_VERBS.run, { migrationId, n: 5, ou: 'OU=Pilot' })).toEqual({
      ok: true,
      action: { verb: 'step.run', migrationId, n: 5, ou: 'OU=Pilot' },
    });
    // An acknowledgement carries the step and the typed reason only: the findings come from the store.
    expect(
      parseStepAction(STEP_VERBS.acknowledge, { migrationId, n: 7, reason: 'leavers', findingsHash: 'forged' }),
    ).toEqual({
      ok: true,
      action: { verb: 'step.acknowledge', migrationId, n: 7, reason: 'leavers' },
    });
  });

  it('drops what a button never carries instead of trusting it (the inputs of a card travel with all its buttons)', () => {
    expect(
      parseStepAction(STEP_VERBS.confirm, { migrationId, n: 6, reason: 'typed', approvalId, stepStatus: 'done' }),
    ).toEqual({ ok: true, action: { verb: 'step.confirm', migrationId, n: 6 } });
  });

  it.each([
    ['an unknown verb', 'step.delete', { migrationId, n: 1 }, ['verb']],
    ['no data', STEP_VERBS.confirm, undefined, ['data']],
    ['data that is a list', STEP_VERBS.confirm, [migrationId, 1], ['data']],
    ['no migration id', STEP_VERBS.confirm, { n: 1 }, ['migrationId']],
    ['a migration id that is no id', STEP_VERBS.confirm, { migrationId: "x' OR 1=1", n: 1 }, ['migrationId']],
    ['a migration id that is a number', STEP_VERBS.undo, { migrationId: 7, n: 8 }, ['migrationId']],
    ['no step', STEP_VERBS.run, { migrationId }, ['n']],
    ['a step as text', STEP_VERBS.run, { migrationId, n: '3' }, ['n']],
    ['a step that is not whole', STEP_VERBS.confirm, { migrationId, n: 1.5 }, ['n']],
    ['a step past the end', STEP_VERBS.confirm, { migrationId, n: 19 }, ['n']],
    ['step 0', STEP_VERBS.confirm, { migrationId, n: 0 }, ['n']],
    ['an approval without its id', STEP_VERBS.approve, { migrationId, n: 8 }, ['approvalId']],
    [
      'an approval id that is an object',
      STEP_VERBS.reject,
      { migrationId, n: 8, approvalId: { id: approvalId } },
      ['approvalId'],
    ],
    ['a typed OU that is not text', STEP_VERBS.run, { migrationId, n: 5, ou: ['OU=Pilot'] }, ['ou']],
    ['a reason that is not text', STEP_VERBS.skip, { migrationId, n: 6, reason: 42 }, ['reason']],
    ['two bad fields', STEP_VERBS.approve, { migrationId: null, n: 8 }, ['migrationId', 'approvalId']],
  ])('refuses %s and names the field', (_what, verb, data, fields) => {
    const parsed = parseStepAction(verb, data);
    expect(parsed).toMatchObject({ ok: false, fields });
    expect(parsed.ok ? '' : parsed.problem).not.toBe('');
  });
});
