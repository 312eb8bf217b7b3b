import {
  andCanaryCondition,
  canaryCondition,
  canaryCreateTarget,
  canaryDeleteTarget,
  canaryLines,
  canaryName,
  isCanaryName,
  isMigrationOu,
  nextCanaryState,
  schedulerStoppedByRunbook,
  type Canary,
} from '../../src/runbook/canary';
import { initialSteps, type StepState, type StepStatus } from '../../src/runbook/runbook';

const PILOT = 'OU=Pilot,DC=contoso,DC=com';
const T0 = new Date('2026-12-05T08:00:00Z');
const TIMEOUTS = { provisionMs: 10 * 60_000, deleteMs: 10 * 60_000 };

/** Steps 1 to `through` done, the pilot OU recorded at step 5, the others as given. */
function steps(through: number, over: Record<number, StepStatus> = {}): StepState[] {
  return initialSteps().map((s) => ({
    ...s,
    status: over[s.n] ?? (s.n <= through ? 'done' : 'pending'),
    evidence: s.n === 5 ? { pilotOu: PILOT, users: 7 } : null,
  }));
}

function canary(over: Partial<Canary> = {}): Canary {
  return {
    id: 'c1',
    migrationId: 'm1',
    name: 'syncshift-canary-0a1b2c3d',
    ouDn: PILOT,
    dn: `CN=syncshift-canary-0a1b2c3d,${PILOT}`,
    objectGuid: '33221100-5544-7766-8899-aabbccddeeff',
    anchor: 'ABEiM0RVZneImaq7zN3u/w==',
    status: 'waiting',
    requestedByName: 'Adele Vance',
    createdAt: T0,
    provisionedAt: null,
    cloudId: null,
    createLogAt: null,
    deletedAt: null,
    goneAt: null,
    deleteLogAt: null,
    problem: null,
    schedulerStopped: null,
    ...over,
  };
}

const later = (ms: number) => new Date(T0.getTime() + ms);

describe('canary names', () => {
  it('carry the fixed prefix and 8 hex characters from the random bytes', () => {
    expect(canaryName(Uint8Array.from([0x0a, 0x1b, 0x2c, 0x3d, 0xff]))).toBe('syncshift-canary-0a1b2c3d');
    expect(isCanaryName('syncshift-canary-0a1b2c3d')).toBe(true);
    for (const name of ['syncshift-canary-0A1B2C3D', 'syncshift-canary-0a1b2c3', 'x-syncshift-canary-0a1b2c3d'])
      expect(isCanaryName(name)).toBe(false);
  });
});

describe('where a canary may go', () => {
  it('only into the pilot OU, after Cloud Sync is configured, before step 12 is done, one at a time', () => {
    expect(canaryCreateTarget(steps(11), [])).toEqual({ ok: true, value: { ouDn: PILOT } });
    expect(canaryCreateTarget(steps(10), [])).toMatchObject({ ok: false, reason: expect.stringContaining('step 11') });
    expect(canaryCreateTarget(steps(12), [])).toMatchObject({ ok: false, reason: expect.stringContaining('done') });
    const noPilot = steps(11).map((s) => ({ ...s, evidence: null }));
    expect(canaryCreateTarget(noPilot, [])).toMatchObject({ ok: false, reason: expect.stringContaining('pilot OU') });
    expect(canaryCreateTarget(steps(11), [canary({ status: 'provisioned' })])).toMatchObject({
      ok: false,
      reason: expect.stringContaining('delete it first'),
    });
    expect(canaryCreateTarget(steps(11), [canary({ status: 'gone' })]).ok).toBe(true);
    expect(canaryCreateTarget(steps(11), [canary({ status: 'createFailed' })]).ok).toBe(true);
  });

  it('the migration OUs are the pilot OU and given wave OUs, compared as DNs', () => {
    expect(isMigrationOu(steps(11), 'ou=pilot,dc=CONTOSO,dc=com')).toBe(true);
    expect(isMigrationOu(steps(11), 'OU=Sales,DC=contoso,DC=com')).toBe(false);
    expect(isMigrationOu(steps(11), 'OU=Sales,DC=contoso,DC=com', ['OU=Sales,DC=contoso,DC=com'])).toBe(true);
    expect(isMigrationOu(steps(11), 'not a dn')).toBe(false);
  });

  it('a delete takes the live canary the agent created, never one still being created', () => {
    expect(canaryDeleteTarget([])).toMatchObject({ ok: false });
    expect(canaryDeleteTarget([canary({ status: 'creating' })])).toMatchObject({ ok: false });
    expect(canaryDeleteTarget([canary({ status: 'gone' })])).toMatchObject({ ok: false });
    expect(canaryDeleteTarget([canary({ status: 'timedOut' })])).toMatchObject({ ok: true });
    expect(canaryDeleteTarget([canary({ status: 'provisioned', objectGuid: null })])).toMatchObject({ ok: false });
  });
});

describe("step 12's canary condition", () => {
  const provisioned = canary({ status: 'gone', provisionedAt: later(90_000), cloudId: 'e1', schedulerStopped: true });

  it('fails without a canary that came through, passes with one or with a waiver', () => {
    expect(canaryCondition(steps(11), [], null)).toMatchObject({ ok: false });
    expect(canaryCondition(steps(11), [canary({ status: 'timedOut' })], null)).toMatchObject({ ok: false });
    expect(canaryCondition(steps(11), [provisioned], null)).toEqual({
      ok: true,
      evidence: { canary: { name: provisioned.name, provisionedInSeconds: 90, schedulerStopped: true } },
    });
    // A canary of another OU (the pilot OU changed since) does not count.
    expect(canaryCondition(steps(11), [{ ...provisioned, ouDn: 'OU=Old,DC=contoso,DC=com' }], null).ok).toBe(false);
    expect(canaryCondition(steps(11), [], { byName: 'Megan Bowen', reason: 'no test users allowed', at: T0 })).toEqual({
      ok: true,
      evidence: { canaryWaived: { by: 'Megan Bowen', reason: 'no test users allowed' } },
    });
  });

  it('ANDs with the other checks of step 12', () => {
    const passing = { ok: true, evidence: { onPremUsers: 7 }, reason: '' };
    const failing = { ok: false, evidence: { onPremUsers: 7 }, reason: '1 missing in the cloud' };
    const noCanary = canaryCondition(steps(11), [], null);
    const withCanary = canaryCondition(steps(11), [provisioned], null);
    expect(andCanaryCondition(passing, withCanary)).toMatchObject({
      ok: true,
      evidence: { onPremUsers: 7, canary: {} },
    });
    expect(andCanaryCondition(passing, noCanary)).toMatchObject({
      ok: false,
      reason: expect.stringContaining('no canary has come through'),
    });
    expect(andCanaryCondition(failing, withCanary)).toMatchObject({ ok: false, reason: '1 missing in the cloud' });
    expect(andCanaryCondition(failing, noCanary).reason).toMatch(/^1 missing in the cloud; no canary/);
  });
});

describe('the scheduler is stopped by the runbook between steps 8 and 13', () => {
  it('reads the step states only', () => {
    expect(schedulerStoppedByRunbook(steps(7))).toBe(false);
    expect(schedulerStoppedByRunbook(steps(11))).toBe(true);
    expect(schedulerStoppedByRunbook(steps(13))).toBe(false);
    // Step 8 undone (pending again): not stopped by the runbook.
    expect(schedulerStoppedByRunbook(steps(11, { 8: 'pending' }))).toBe(false);
  });
});

describe('watching a canary', () => {
  it('is provisioned only with both the Entra object and a log entry; times out with a clear message', () => {
    const c = canary();
    expect(nextCanaryState(c, { cloudId: null, logAt: null }, later(60_000), TIMEOUTS, steps(11))).toBeNull();
    expect(nextCanaryState(c, { cloudId: 'e1', logAt: null }, later(60_000), TIMEOUTS, steps(11))).toBeNull();
    expect(nextCanaryState(c, { cloudId: 'e1', logAt: later(50_000) }, later(60_000), TIMEOUTS, steps(11))).toEqual({
      status: 'provisioned',
      cloudId: 'e1',
      createLogAt: later(50_000),
      provisionedAt: later(60_000),
      schedulerStopped: true,
      problem: null,
    });
    expect(
      nextCanaryState(c, { cloudId: 'e1', logAt: later(50_000) }, later(60_000), TIMEOUTS, steps(13))?.schedulerStopped,
    ).toBe(false);
    const timedOut = nextCanaryState(c, { cloudId: 'e1', logAt: null }, later(10 * 60_000), TIMEOUTS, steps(11));
    expect(timedOut).toMatchObject({ status: 'timedOut', problem: expect.stringContaining('within 10 min') });
    expect(timedOut?.problem).toContain('no successful log entry');
  });

  it('is gone when Entra no longer has it; a Delete log entry is recorded when seen', () => {
    const c = canary({ status: 'deleteWaiting', cloudId: 'e1', provisionedAt: later(1000), deletedAt: later(2000) });
    expect(nextCanaryState(c, { cloudId: 'e1', logAt: null }, later(3000), TIMEOUTS, steps(11))).toBeNull();
    expect(nextCanaryState(c, { cloudId: null, logAt: later(4000) }, later(5000), TIMEOUTS, steps(11))).toEqual({
      status: 'gone',
      goneAt: later(5000),
      deleteLogAt: later(4000),
      problem: null,
    });
    expect(
      nextCanaryState(c, { cloudId: 'e1', logAt: null }, later(2000 + 10 * 60_000), TIMEOUTS, steps(11)),
    ).toMatchObject({ status: 'deleteTimedOut', problem: expect.stringContaining('still in Entra') });
  });

  it("the card's lines give progress, timings, and say Cloud Sync alone did it only while the scheduler is stopped", () => {
    expect(canaryLines([canary()], steps(11), later(30_000)).join('\n')).toContain('created in AD 30 s ago; waiting');
    const through = canary({
      status: 'gone',
      provisionedAt: later(90_000),
      cloudId: 'e1',
      createLogAt: later(85_000),
      deletedAt: later(100_000),
      goneAt: later(160_000),
      deleteLogAt: later(150_000),
      schedulerStopped: true,
    });
    const text = canaryLines([through], steps(11), later(200_000)).join('\n');
    expect(text).toContain('provisioned by Cloud Sync 90 s after it was created');
    expect(text).toContain('Cloud Sync alone provisioned it');
    expect(text).toContain('gone from Entra 60 s later (Delete log entry at 2026-12-05T08:02:30Z)');
    expect(canaryLines([{ ...through, schedulerStopped: false }], steps(13), later(200_000)).join('\n')).not.toContain(
      'alone',
    );
    expect(canaryLines([], steps(11), T0).join('\n')).toContain('proves Cloud Sync alone did it');
    expect(canaryLines([], steps(13), T0)).toEqual([]);
  });
});
