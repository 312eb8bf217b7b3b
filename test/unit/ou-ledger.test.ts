import { initialSteps, type StepState } from '../../src/runbook/runbook';
import type { CloudSyncScope } from '../../src/runbook/cloud-sync-scope';
import { buildLedger, ledgerAlarms, ledgerFacts, ledgerState, type OuFacts } from '../../src/runbook/ou-ledger';
import { OU } from '../../src/sandbox/forest-spec';

const base: OuFacts = {
  dn: OU.rAndD,
  owner: 'pilot',
  noFlowRules: false,
  scopeAdded: false,
  cloudSyncCovers: false,
  confirmation: null,
  connectSyncStopped: false,
};

const scope = (...dns: string[]): CloudSyncScope => ({ rules: [{ id: 'r', includedContainers: dns }] });

function steps(done: Record<number, unknown>): StepState[] {
  return initialSteps().map((s) =>
    s.n in done ? { ...s, status: 'done', evidence: done[s.n] ?? null, updatedAt: new Date(0) } : s,
  );
}

describe('OU ownership ledger', () => {
  it('walks owned by Connect Sync → rules → scope → confirmed → Connect Sync stopped, each from its evidence', () => {
    expect(ledgerState(base)).toBe('connectSync');
    expect(ledgerState({ ...base, noFlowRules: true })).toBe('noFlowRules');
    expect(ledgerState({ ...base, noFlowRules: true, scopeAdded: true })).toBe('cloudSyncScope');
    // Confirmation is per object: 6 of 7 is not confirmed.
    const inScope = { ...base, noFlowRules: true, scopeAdded: true };
    expect(ledgerState({ ...inScope, confirmation: { inScope: 7, confirmed: 6 } })).toBe('cloudSyncScope');
    expect(ledgerState({ ...inScope, confirmation: { inScope: 0, confirmed: 0 } })).toBe('cloudSyncScope');
    expect(ledgerState({ ...inScope, confirmation: { inScope: 7, confirmed: 7 } })).toBe('confirmedByCloudSync');
    expect(ledgerState({ ...inScope, confirmation: { inScope: 7, confirmed: 7 }, connectSyncStopped: true })).toBe(
      'connectSyncStopped',
    );
  });

  it('goes back the same way: no state holds without the ones before it', () => {
    // Rules undone while the scope step is still recorded: back to Connect Sync, not "in scope".
    expect(ledgerState({ ...base, scopeAdded: true, confirmation: { inScope: 7, confirmed: 7 } })).toBe('connectSync');
    // Scope taken out: back to "no-flow rules", whatever was confirmed before.
    expect(ledgerState({ ...base, noFlowRules: true, confirmation: { inScope: 7, confirmed: 7 } })).toBe('noFlowRules');
    // Connect Sync stopped is not reached without confirmation of every object.
    expect(ledgerState({ ...base, noFlowRules: true, scopeAdded: true, connectSyncStopped: true })).toBe(
      'cloudSyncScope',
    );
  });

  it('raises "both engines write" for an OU Cloud Sync covers without no-flow rules', () => {
    const alarms = ledgerAlarms({ ...base, cloudSyncCovers: true });
    expect(alarms.map((a) => a.kind)).toEqual(['bothEnginesWrite']);
    expect(alarms[0]!.text).toContain(OU.rAndD);
  });

  it('raises "nobody writes" for an OU under no-flow rules that Cloud Sync does not cover', () => {
    expect(ledgerAlarms({ ...base, noFlowRules: true, cloudSyncCovers: false }).map((a) => a.kind)).toEqual([
      'nobodyWrites',
    ]);
    expect(ledgerAlarms({ ...base, noFlowRules: true, scopeAdded: true, cloudSyncCovers: false })[0]!.text).toContain(
      'someone took it out or paused the job',
    );
  });

  it('says nothing when the engines agree, and nothing from a scope it could not read', () => {
    expect(ledgerAlarms(base)).toEqual([]);
    expect(ledgerAlarms({ ...base, noFlowRules: true, scopeAdded: true, cloudSyncCovers: true })).toEqual([]);
    expect(ledgerAlarms({ ...base, cloudSyncCovers: null })).toEqual([]);
    expect(ledgerAlarms({ ...base, noFlowRules: true, cloudSyncCovers: true }).map((a) => a.kind)).toEqual([
      'scopeNotApproved',
    ]);
  });
});

describe('ledger facts from stored steps, waves and the scope read', () => {
  it('takes the pilot from step 5 and its rules, scope and stop from steps 9, 11 and 16', () => {
    const facts = ledgerFacts({
      steps: steps({ 5: { pilotOu: OU.rAndD }, 9: {}, 11: {} }),
      waveOus: [
        { wave: 'W1', baseDn: OU.salesOps },
        { wave: 'W1', baseDn: null },
        // The pilot named again by a wave counts once.
        { wave: 'W2', baseDn: OU.rAndD.toLowerCase() },
      ],
      reading: { statusCode: 'Active', scope: scope(OU.rAndD, OU.salesOps) },
      confirmations: new Map([[OU.rAndD.toUpperCase(), { inScope: 7, confirmed: 7 }]]),
    });
    expect(facts).toEqual([
      {
        dn: OU.rAndD,
        owner: 'pilot',
        noFlowRules: true,
        scopeAdded: true,
        cloudSyncCovers: true,
        confirmation: { inScope: 7, confirmed: 7 },
        connectSyncStopped: false,
      },
      {
        dn: OU.salesOps,
        owner: 'W1',
        noFlowRules: false,
        scopeAdded: false,
        cloudSyncCovers: true,
        confirmation: null,
        connectSyncStopped: false,
      },
    ]);
    const ledger = buildLedger(facts);
    expect(ledger.map((e) => [e.owner, e.state, e.alarms.map((a) => a.kind)])).toEqual([
      ['pilot', 'confirmedByCloudSync', []],
      // A wave OU put into Cloud Sync's scope with no rules: both engines write it.
      ['W1', 'connectSync', ['bothEnginesWrite']],
    ]);
  });

  it('reads a paused job as covering nothing, and an unreadable scope as unknown', () => {
    const pilot = { 5: { pilotOu: OU.rAndD }, 9: {}, 11: {} };
    const paused = ledgerFacts({
      steps: steps(pilot),
      waveOus: [],
      reading: { statusCode: 'Paused', scope: scope(OU.rAndD) },
    });
    expect(buildLedger(paused)[0]!.alarms.map((a) => a.kind)).toEqual(['nobodyWrites']);
    const unread = ledgerFacts({ steps: steps(pilot), waveOus: [], reading: null });
    expect(unread[0]!.cloudSyncCovers).toBeNull();
    expect(buildLedger(unread)[0]!.alarms).toEqual([]);
    expect(ledgerFacts({ steps: steps({}), waveOus: [], reading: null })).toEqual([]);
  });
});
