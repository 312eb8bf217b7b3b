import type { ScopeReading } from '../../src/runbook/cloud-sync-scope';
import { initialSteps, type StepState } from '../../src/runbook/runbook';
import { connectSyncExports, defaultState } from '../../src/sandbox/simulated-connect-sync';
import {
  approvedOus,
  cycleRequestRefusal,
  parseWaveApprovalAction,
  planWaveRules,
  rulesRequestRefusal,
  rulesUndoRefusal,
  scopeRequestRefusal,
  waveLedgerFlags,
  waveHoldsChanges,
  waveRollbackPlan,
  waveRulesApproval,
  waveScopeApproval,
  type WaveActionState,
  type WaveEngineWave,
} from '../../src/runbook/wave-engine';

const SALES = 'OU=Sales,DC=contoso,DC=com';
const REGIONS = 'OU=Regions,DC=contoso,DC=com';
const RULE_ID = '0b7e3c2a-5a4d-4b6e-9f10-0000000000a1';

/** Steps 1..n done, as a pilot through step n leaves them. */
function pilotThrough(n: number): StepState[] {
  return initialSteps().map((s) => (s.n <= n ? { ...s, status: 'done' } : s));
}

function wave(actions: Partial<WaveActionState>[] = [], ous = [SALES, REGIONS]): WaveEngineWave {
  return {
    name: 'Wave2',
    ous: ous.map((dn) => ({ input: dn.toLowerCase(), baseDn: dn, error: null })),
    actions: actions.map((a) => ({
      kind: 'rules',
      status: 'done',
      evidence: null,
      reason: null,
      updatedAt: null,
      ...a,
    })),
  };
}

const rulesDone: Partial<WaveActionState> = {
  kind: 'rules',
  status: 'done',
  evidence: { result: { created: [{ identifier: RULE_ID }] } },
  updatedAt: new Date('2026-12-01T10:00:00Z'),
};

/** The full cycle that ran after the rules of rulesDone were created. */
const cycled: Partial<WaveActionState> = {
  kind: 'cycle',
  status: 'done',
  evidence: { rulesChangedAt: '2026-12-01T10:00:00.000Z' },
  updatedAt: new Date('2026-12-01T11:00:00Z'),
};

function reading(containers: string[], statusCode = 'Active'): ScopeReading {
  return {
    servicePrincipalId: 'sp',
    jobId: 'AD2AADProvisioning.x',
    statusCode,
    scope: { rules: [{ id: 'user', includedContainers: containers }] },
  };
}

describe('wave engine: ordering', () => {
  it('refuses rules before the pilot is through step 13, and before every OU is counted', () => {
    expect(rulesRequestRefusal(wave(), pilotThrough(12))).toMatch(/not through step 13/);
    const uncounted = wave();
    uncounted.ous[1] = { input: 'ou=regions', baseDn: null, error: null };
    expect(rulesRequestRefusal(uncounted, pilotThrough(13))).toMatch(/has not resolved and counted ou=regions/);
    expect(rulesRequestRefusal(wave(), pilotThrough(13))).toBeNull();
  });

  it('refuses a second rules request while one is open or done, and after a partial failure', () => {
    expect(rulesRequestRefusal(wave([{ status: 'waiting_approval' }]), pilotThrough(13))).toMatch(/waiting approval/);
    expect(rulesRequestRefusal(wave([rulesDone]), pilotThrough(13))).toMatch(/exist already/);
    expect(
      rulesRequestRefusal(
        wave([{ status: 'failed', evidence: { created: [{ identifier: RULE_ID }] } }]),
        pilotThrough(13),
      ),
    ).toMatch(/roll them back first/);
    expect(
      rulesRequestRefusal(wave([{ status: 'undone', evidence: rulesDone.evidence }]), pilotThrough(13)),
    ).toBeNull();
  });

  it("refuses the scope until the wave's rules are done and a full cycle ran after them", () => {
    expect(scopeRequestRefusal(wave(), pilotThrough(13))).toMatch(/no-flow rules of wave Wave2 are not done/);
    expect(scopeRequestRefusal(wave([{ status: 'in_progress' }]), pilotThrough(13))).toMatch(/not done/);
    expect(scopeRequestRefusal(wave([rulesDone]), pilotThrough(13))).toMatch(/no full Connect Sync cycle/);
    expect(cycleRequestRefusal(wave([rulesDone]), pilotThrough(13))).toBeNull();
    expect(scopeRequestRefusal(wave([rulesDone, cycled]), pilotThrough(13))).toBeNull();
    expect(cycleRequestRefusal(wave([rulesDone, cycled]), pilotThrough(13))).toMatch(/ran already/);
    // A cycle asked for before the rules last changed does not count for them.
    const stale = { ...cycled, evidence: { rulesChangedAt: '2026-11-30T10:00:00.000Z' } };
    expect(scopeRequestRefusal(wave([rulesDone, stale]), pilotThrough(13))).toMatch(/no full Connect Sync cycle/);
    expect(scopeRequestRefusal(wave([rulesDone, cycled, { kind: 'scope', status: 'done' }]), pilotThrough(13))).toMatch(
      /in Cloud Sync's scope already/,
    );
  });

  it('refuses the rules undo while the scope is still added, and says when there is nothing to undo', () => {
    expect(rulesUndoRefusal(wave([rulesDone, { kind: 'scope', status: 'done' }]))).toMatch(
      /still in Cloud Sync's scope/,
    );
    expect(rulesUndoRefusal(wave([rulesDone, { kind: 'scope', status: 'undone' }]))).toBeNull();
    expect(rulesUndoRefusal(wave([{ status: 'failed', evidence: null }]))).toMatch(/^nothing to undo/);
  });
});

describe('wave engine: plans and approvals', () => {
  it('plans one rule set per OU, scoped to the DN as AD wrote it, on free precedences', () => {
    const plan = planWaveRules('Wave2', [SALES, REGIONS], [99, 98, 97, 96, 95, 94, 93]);
    expect(plan).toHaveLength(12);
    expect(plan.map((r) => r.precedence)).toEqual([92, 91, 90, 89, 88, 87, 86, 85, 84, 83, 82, 81]);
    const inbound = plan.filter((r) => r.direction === 'Inbound');
    expect(inbound.map((r) => r.scope[0]!.value)).toEqual([SALES, SALES, SALES, REGIONS, REGIONS, REGIONS]);
    expect(inbound.every((r) => r.scope[0]!.value === r.ouDn && r.scope[0]!.operator === 'ENDSWITH')).toBe(true);
    expect(new Set(plan.map((r) => r.name)).size).toBe(12);
    expect(plan.every((r) => r.name.includes('(SyncShift)') && r.name.includes('wave Wave2'))).toBe(true);
  });

  it('bases the rules approval on the live precedences, and refuses when they run out', () => {
    const basis = waveRulesApproval(wave(), [{ precedence: 99 }, { precedence: 150 }]);
    expect('evidence' in basis && basis.evidence.ous).toEqual([SALES, REGIONS]);
    expect('evidence' in basis && basis.evidence.usedPrecedences).toEqual([99]);
    const full = Array.from({ length: 95 }, (_, i) => ({ precedence: i }));
    expect(waveRulesApproval(wave(), full)).toMatchObject({ refusal: expect.stringMatching(/precedence/) });
  });

  it('bases the scope approval on the job read now, with every OU as AD wrote it', () => {
    const basis = waveScopeApproval(wave([rulesDone]), reading(['OU=R\\,D,DC=contoso,DC=com']));
    expect(basis).toMatchObject({
      evidence: { scopeValues: [SALES, REGIONS], jobStatus: 'Active', scopeBefore: [['OU=R\\,D,DC=contoso,DC=com']] },
    });
    expect(approvedOus('evidence' in basis ? basis.evidence : null)).toEqual([SALES, REGIONS]);
  });

  it('reads only its own approval actions', () => {
    expect(parseWaveApprovalAction('wave.undo:scope')).toEqual({ kind: 'scope', undo: true });
    expect(parseWaveApprovalAction('wave.cycle')).toEqual({ kind: 'cycle', undo: false });
    expect(parseWaveApprovalAction('wave.undo:cycle')).toBeNull();
    expect(parseWaveApprovalAction('noFlowRules')).toBeNull();
  });
});

describe('wave engine: rollback plan and ledger flags', () => {
  it('takes the scope out first, then the rules, then a full cycle', () => {
    const both = wave([rulesDone, { kind: 'scope', status: 'done', evidence: { scopeValues: [SALES] } }]);
    expect(waveRollbackPlan(both)).toMatchObject({
      ok: true,
      next: 'scope',
      parts: [
        { kind: 'scope', state: 'next' },
        { kind: 'rules', state: 'waiting' },
        { kind: 'cycle', state: 'waiting' },
      ],
    });
    const scopeOut = wave([rulesDone, { kind: 'scope', status: 'undone' }]);
    expect(waveRollbackPlan(scopeOut)).toMatchObject({ ok: true, next: 'rules' });
    const undoneAt = new Date('2026-12-02T10:00:00Z');
    const rulesOff = wave([
      { ...rulesDone, status: 'undone', updatedAt: undoneAt },
      cycled,
      { kind: 'scope', status: 'undone' },
    ]);
    // The creation's cycle does not count for the disabled rules.
    expect(waveRollbackPlan(rulesOff)).toMatchObject({ ok: true, next: 'cycle' });
    const after = wave([
      { ...rulesDone, status: 'undone', updatedAt: undoneAt },
      { kind: 'scope', status: 'undone' },
      { kind: 'cycle', status: 'done', evidence: { rulesChangedAt: undoneAt.toISOString() } },
    ]);
    expect(waveRollbackPlan(after)).toMatchObject({
      ok: true,
      next: null,
      parts: [
        { kind: 'scope', state: 'undone' },
        { kind: 'rules', state: 'undone' },
        { kind: 'cycle', state: 'undone' },
      ],
    });
  });

  it('has nothing to roll back for an untouched wave, and undoes a partly failed rule creation', () => {
    expect(waveRollbackPlan(wave())).toMatchObject({ ok: true, next: null });
    const partial = wave([{ status: 'failed', evidence: { created: [{ identifier: RULE_ID }] } }]);
    expect(waveRollbackPlan(partial)).toMatchObject({ ok: true, next: 'rules' });
  });

  it('refuses while a part is waiting for approval or running', () => {
    const waiting = wave([rulesDone, { kind: 'scope', status: 'undoing' }]);
    expect(waveRollbackPlan(waiting)).toMatchObject({ ok: false, reason: expect.stringMatching(/scope part/) });
  });

  it('holds changes while its rollback has a part left or a part is open, and not once it is through', () => {
    expect(waveHoldsChanges(wave())).toBe(false);
    expect(waveHoldsChanges(wave([rulesDone]))).toBe(true);
    expect(waveHoldsChanges(wave([rulesDone, cycled]))).toBe(true);
    expect(waveHoldsChanges(wave([{ kind: 'scope', status: 'done', evidence: { scopeValues: [SALES] } }]))).toBe(true);
    // Rules disabled but no full cycle since: the rollback's cycle is still owed.
    const undoneAt = new Date('2026-12-02T10:00:00Z');
    expect(waveHoldsChanges(wave([{ ...rulesDone, status: 'undone', updatedAt: undoneAt }, cycled]))).toBe(true);
    const through = wave([
      { ...rulesDone, status: 'undone', updatedAt: undoneAt },
      { kind: 'cycle', status: 'done', evidence: { rulesChangedAt: undoneAt.toISOString() } },
    ]);
    expect(waveHoldsChanges(through)).toBe(false);
    // A request still open may yet change something.
    expect(waveHoldsChanges(wave([{ kind: 'rules', status: 'waiting_approval' }]))).toBe(true);
    expect(waveHoldsChanges(wave([{ kind: 'rules', status: 'failed' }]))).toBe(false);
  });

  it('feeds the ledger from done actions only', () => {
    expect(waveLedgerFlags([])).toEqual({ noFlowRules: false, scopeAdded: false });
    expect(waveLedgerFlags(wave([rulesDone, { kind: 'scope', status: 'failed' }]).actions)).toEqual({
      noFlowRules: true,
      scopeAdded: false,
    });
    expect(waveLedgerFlags(wave([{ ...rulesDone, status: 'undone' }]).actions)).toEqual({
      noFlowRules: false,
      scopeAdded: false,
    });
  });
});

describe('simulated Connect Sync: which objects it exports', () => {
  it('holds back objects under any OU with an enabled rule pair, and exports them again once disabled', () => {
    const state = defaultState();
    const ad = state.connectors[0]!.Identifier;
    const aad = state.connectors[1]!.Identifier;
    const pair = (ou: string, id: string) => [
      {
        ...state.rules[0]!,
        Identifier: `${id}-in`,
        Name: `in ${ou}`,
        Connector: ad,
        LinkType: 'Join',
        Precedence: 1,
        ImmutableTag: '',
        AttributeFlowMappings: [
          { Source: ['true'], Destination: 'cloudNoFlow', FlowType: 'Constant', ValueMergeType: 'Update' },
        ],
        ScopeFilter: [[{ Attribute: 'dn', ComparisonValue: ou, ComparisonOperator: 'ENDSWITH' }]],
      },
      {
        ...state.rules[0]!,
        Identifier: `${id}-out`,
        Name: `out ${ou}`,
        Direction: 'Outbound' as const,
        Connector: aad,
        SourceObjectType: 'person',
        TargetObjectType: 'user',
        LinkType: 'JoinNoFlow',
        Precedence: 2,
        ImmutableTag: '',
        ScopeFilter: [[{ Attribute: 'cloudNoFlow', ComparisonValue: 'true', ComparisonOperator: 'EQUAL' }]],
      },
    ];
    state.rules.push(...pair(SALES, 'a'), ...pair(REGIONS, 'b'));
    expect(connectSyncExports(state, `CN=Ann,${SALES}`)).toBe(false);
    expect(connectSyncExports(state, `CN=Bo,OU=EMEA,${REGIONS}`)).toBe(false);
    expect(connectSyncExports(state, 'CN=Cy,OU=SalesOps,DC=contoso,DC=com')).toBe(true);
    state.rules.find((r) => r.Identifier === 'b-in')!.Disabled = true;
    expect(connectSyncExports(state, `CN=Bo,OU=EMEA,${REGIONS}`)).toBe(true);
    expect(connectSyncExports(state, `CN=Ann,${SALES}`)).toBe(false);
  });
});
