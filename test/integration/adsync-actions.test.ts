import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { z } from 'zod';
import {
  createNoFlowRules,
  exportConfig,
  getScheduler,
  listRules,
  readConnectSync,
  setRulesDisabled,
  startScheduler,
  startService,
  stopScheduler,
  stopService,
} from '../../src/agent/actions/adsync';
import { AdsyncError, runPowerShellScript } from '../../src/agent/powershell/executor';
import { getSchedulerScript, setRulesDisabledScript } from '../../src/agent/powershell/scripts';
import { planNoFlowRules } from '../../src/runbook/sync-rules';
import { planWaveRules } from '../../src/runbook/wave-engine';
import {
  FAKE_AD_CONNECTOR_ID,
  FAKE_CUSTOM_RULE_ID,
  FAKE_ENTRA_CONNECTOR_ID,
  cleanReadinessState,
  connectSyncExports,
  installFakePowerShell,
  type FakePowerShell,
} from '../../src/sandbox/simulated-connect-sync';

// An OU name a hostile or merely creative admin could create; AD stores it escaped like this.
const NASTY_OU = 'OU=O\'Brien $(Remove-Item x) \\; \\"quote\\" `whoami` Z\u00fcrich,DC=contoso,DC=com';

let fake: FakePowerShell;
beforeEach(() => {
  fake = installFakePowerShell();
});
afterEach(() => fake.cleanup());

async function rejection(p: Promise<unknown>): Promise<AdsyncError> {
  const err = await p.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AdsyncError);
  return err as AdsyncError;
}

describe('scheduler', () => {
  it('reads the scheduler and the running connector', async () => {
    expect(await getScheduler({ env: fake.env })).toEqual({
      syncCycleEnabled: true,
      syncCycleInProgress: false,
      stagingModeEnabled: false,
      schedulerSuspended: false,
      maintenanceEnabled: true,
      nextSyncCyclePolicyType: 'Delta',
      nextSyncCycleStartTimeInUTC: '2026-07-01T12:30:00Z',
      currentlyEffectiveSyncCycleInterval: '00:30:00',
      runningConnector: null,
    });
    fake.writeState({ syncCycleInProgress: true, runningConnector: 'contoso.com' });
    expect(await getScheduler({ env: fake.env })).toMatchObject({
      syncCycleInProgress: true,
      runningConnector: 'contoso.com',
    });
  });

  it('disables the scheduler, then stops the running cycle', async () => {
    fake.writeState({ syncCycleInProgress: true, runningConnector: 'contoso.com' });
    const result = await stopScheduler({ env: fake.env, waitSeconds: 0 });
    expect(result).toMatchObject({
      stopped: true,
      scheduler: { syncCycleEnabled: false, syncCycleInProgress: false, runningConnector: null },
    });
    const order = fake
      .readState()
      .calls.map((c) => c.cmdlet)
      .filter((c) => c === 'Set-ADSyncScheduler' || c === 'Stop-ADSyncSyncCycle');
    expect(order).toEqual(['Set-ADSyncScheduler', 'Stop-ADSyncSyncCycle']);
  });

  it('does not claim success when the cycle will not stop', async () => {
    fake.writeState({ syncCycleInProgress: true, runningConnector: 'contoso.onmicrosoft.com - AAD', cycleStuck: true });
    const err = await rejection(stopScheduler({ env: fake.env, waitSeconds: 0 }));
    expect(err.code).toBe('ADSYNC.SYNC_IN_PROGRESS');
    expect(err.message).toContain('contoso.onmicrosoft.com - AAD');
    expect(err.message).toContain('scheduler is now disabled');
    expect(fake.readState().scheduler.SyncCycleEnabled).toBe(false);
  });

  it('refuses to start while a cycle runs, and starts otherwise', async () => {
    fake.writeState({
      syncCycleInProgress: true,
      scheduler: { ...fake.readState().scheduler, SyncCycleEnabled: false },
    });
    const err = await rejection(startScheduler('Initial', { env: fake.env }));
    expect(err.code).toBe('ADSYNC.SYNC_IN_PROGRESS');
    expect(fake.readState().calls.some((c) => c.cmdlet === 'Start-ADSyncSyncCycle')).toBe(false);

    fake.writeState({ syncCycleInProgress: false });
    const result = await startScheduler('Initial', { env: fake.env });
    expect(result).toMatchObject({
      started: true,
      policyType: 'Initial',
      startResult: 'Success',
      scheduler: { syncCycleEnabled: true, syncCycleInProgress: true },
    });
    expect(fake.readState().lastStartedPolicy).toBe('Initial');
  });
});

describe('exportConfig', () => {
  it('exports into a new timestamped folder and counts what was written', async () => {
    const base = mkdtempSync(path.join(tmpdir(), 'syncshift-backup-'));
    try {
      const result = await exportConfig(base, { env: fake.env, now: new Date('2026-07-01T12:00:00.123Z') });
      expect(result.path).toBe(path.join(base, 'syncshift-20260701T120000123Z'));
      expect(result.files).toBe(1 + 2 + 21);
      expect(result.bytes).toBeGreaterThan(0);
      expect(readdirSync(base)).toEqual(['syncshift-20260701T120000123Z']);
      // The same second again must not overwrite the first backup.
      const again = await rejection(exportConfig(base, { env: fake.env, now: new Date('2026-07-01T12:00:00.123Z') }));
      expect(again.code).toBe('ADSYNC.CMDLET_FAILED');
      expect(again.message).toContain('already exists');
    } finally {
      rmSync(base, { recursive: true, force: true });
    }
  });

  it('refuses a relative or wildcard folder before running anything', async () => {
    await expect(exportConfig('backups', { env: fake.env })).rejects.toMatchObject({ code: 'CONFIG.INVALID' });
    await expect(exportConfig('C:\\Backups\\[x]', { env: fake.env })).rejects.toMatchObject({ code: 'CONFIG.INVALID' });
    expect(fake.readState().scriptsRun).toEqual([]);
  });
});

describe('rules', () => {
  it('lists rules and classifies the connectors', async () => {
    const { rules, connectors } = await listRules({ env: fake.env });
    expect(rules).toHaveLength(21);
    expect(rules.find((r) => r.precedence === 99)).toMatchObject({ identifier: FAKE_CUSTOM_RULE_ID, immutableTag: '' });
    expect(rules.find((r) => r.precedence === 100)).toMatchObject({
      immutableTag: 'Microsoft.InfromADUserJoin.003',
      direction: 'Inbound',
    });
    expect(connectors.map((c) => [c.name, c.type])).toEqual([
      ['contoso.com', 'AD'],
      ['contoso.onmicrosoft.com - AAD', 'Entra'],
    ]);
  });

  it('plans past precedence 99 and creates six rules with the OU passed as data', async () => {
    const before = await listRules({ env: fake.env });
    const plan = planNoFlowRules({ ouDn: NASTY_OU, usedPrecedences: before.rules.map((r) => r.precedence) });
    expect(plan.map((r) => r.precedence)).toEqual([98, 97, 96, 95, 94, 93]);

    const { created } = await createNoFlowRules(plan, { env: fake.env });
    expect(created.map((c) => [c.key, c.precedence, c.connectorId])).toEqual([
      ['inbound-user', 98, FAKE_AD_CONNECTOR_ID],
      ['outbound-user', 97, FAKE_ENTRA_CONNECTOR_ID],
      ['inbound-group', 96, FAKE_AD_CONNECTOR_ID],
      ['outbound-group', 95, FAKE_ENTRA_CONNECTOR_ID],
      ['inbound-contact', 94, FAKE_AD_CONNECTOR_ID],
      ['outbound-contact', 93, FAKE_ENTRA_CONNECTOR_ID],
    ]);

    const state = fake.readState();
    const inbound = state.rules.find((r) => r.Identifier === created[0]!.identifier)!;
    // Exactly the OU string: nothing was evaluated, re-quoted or mangled on the way.
    expect(inbound.ScopeFilter).toEqual([
      [{ Attribute: 'dn', ComparisonValue: NASTY_OU, ComparisonOperator: 'ENDSWITH' }],
    ]);
    expect(inbound.AttributeFlowMappings).toEqual([
      { Source: ['true'], Destination: 'cloudNoFlow', FlowType: 'Constant', ValueMergeType: 'Update' },
    ]);
    expect(inbound).toMatchObject({
      Name: plan[0]!.name,
      Direction: 'Inbound',
      LinkType: 'Join',
      SourceObjectType: 'user',
      TargetObjectType: 'person',
      ImmutableTag: '',
    });
    const outbound = state.rules.find((r) => r.Identifier === created[1]!.identifier)!;
    expect(outbound.ScopeFilter).toEqual([
      [{ Attribute: 'cloudNoFlow', ComparisonValue: 'true', ComparisonOperator: 'EQUAL' }],
    ]);
    expect(outbound.AttributeFlowMappings).toEqual([]);
    expect(outbound).toMatchObject({
      Direction: 'Outbound',
      LinkType: 'JoinNoFlow',
      SourceObjectType: 'person',
      TargetObjectType: 'user',
    });
    // The stand-in refuses any script text it does not know byte for byte; six creates ran.
    expect(state.scriptsRun.filter((s) => s === 'adsync.createRule')).toHaveLength(6);
  });

  it('refuses a plan whose precedences were taken since it was made', async () => {
    const plan = planNoFlowRules({ ouDn: 'OU=Pilot,DC=contoso,DC=com', usedPrecedences: [99] });
    const state = fake.readState();
    state.rules.push({
      ...state.rules[0]!,
      Identifier: '11111111-2222-4333-8444-555555555555',
      Name: 'Someone else',
      ImmutableTag: '',
      Precedence: 96,
    });
    fake.writeState({ rules: state.rules });
    const err = await rejection(createNoFlowRules(plan, { env: fake.env }));
    expect(err.code).toBe('ADSYNC.RULE_CONFLICT');
    expect(err.message).toContain('96');
    expect(fake.readState().scriptsRun).not.toContain('adsync.createRule');
  });

  it("creates a wave's rule set for each of its OUs, and the stand-in stops exporting exactly those OUs", async () => {
    const dns = ['OU=Sales,DC=contoso,DC=com', 'OU=Regions,DC=contoso,DC=com'];
    const before = await listRules({ env: fake.env });
    const plan = planWaveRules(
      'Wave2',
      dns,
      before.rules.map((r) => r.precedence),
    );
    const { created } = await createNoFlowRules(plan, { env: fake.env });
    expect(created).toHaveLength(12);
    const state = fake.readState();
    const scopes = created
      .filter((c) => c.key.startsWith('inbound-'))
      .map((c) => state.rules.find((r) => r.Identifier === c.identifier)!.ScopeFilter![0]![0]!.ComparisonValue);
    expect(scopes).toEqual([dns[0], dns[0], dns[0], dns[1], dns[1], dns[1]]);
    expect(connectSyncExports(state, `CN=A,${dns[0]}`)).toBe(false);
    expect(connectSyncExports(state, `CN=B,OU=EMEA,${dns[1]}`, 'group')).toBe(false);
    expect(connectSyncExports(state, 'CN=C,OU=SalesOps,DC=contoso,DC=com')).toBe(true);
    // The plan repeating a name (two OUs planned under one label) is refused before anything is created.
    const twice = [...planWaveRules('W', [dns[0]!], []), ...planWaveRules('W', [dns[0]!], [99, 98, 97, 96, 95, 94])];
    expect((await rejection(createNoFlowRules(twice, { env: fake.env }))).code).toBe('ADSYNC.RULE_CONFLICT');
  });

  it('reports which rules were created when a cmdlet fails midway', async () => {
    const plan = planNoFlowRules({ ouDn: 'OU=Pilot,DC=contoso,DC=com', usedPrecedences: [99], objectTypes: ['user'] });
    fake.writeState({
      failCmdlet: {
        'Add-ADSyncScopeConditionGroup': 'Scope condition attribute cloudNoFlow is not in the metaverse schema.',
      },
    });
    const err = await rejection(createNoFlowRules(plan, { env: fake.env }));
    expect(err.code).toBe('ADSYNC.CMDLET_FAILED');
    expect(err.message).toContain(
      'Add-ADSyncScopeConditionGroup failed: Scope condition attribute cloudNoFlow is not in the metaverse schema.',
    );
    expect(err.details).toMatchObject({ created: [], failedKey: 'inbound-user' });
  });

  it('lists the rules created before the failing one', async () => {
    const plan = planNoFlowRules({ ouDn: 'OU=Pilot,DC=contoso,DC=com', usedPrecedences: [99] });
    fake.writeState({
      failCmdlet: { 'Add-ADSyncRule': { message: 'The precedence value is already in use.', after: 2 } },
    });
    const err = await rejection(createNoFlowRules(plan, { env: fake.env }));
    expect(err.code).toBe('ADSYNC.CMDLET_FAILED');
    expect(err.message).toBe(
      'Created 2 of 6 no-flow rules; creating "In from AD - Group cloudNoFlow (SyncShift) Pilot" failed: Add-ADSyncRule failed: The precedence value is already in use.',
    );
    const details = err.details as { created: { key: string; identifier: string }[]; failedKey: string };
    expect(details.created.map((c) => c.key)).toEqual(['inbound-user', 'outbound-user']);
    expect(details.failedKey).toBe('inbound-group');
    const live = fake.readState().rules.map((r) => r.Identifier);
    expect(details.created.every((c) => live.includes(c.identifier))).toBe(true);
    expect(err.hint).toContain('details.created');
  });

  it('disables and re-enables created rules, and refuses built-in ones', async () => {
    const plan = planNoFlowRules({ ouDn: 'OU=Pilot,DC=contoso,DC=com', usedPrecedences: [99], objectTypes: ['user'] });
    const { created } = await createNoFlowRules(plan, { env: fake.env });
    const ids = created.map((c) => c.identifier);
    const off = await setRulesDisabled(ids, true, { env: fake.env });
    expect(off.rules.map((r) => r.disabled)).toEqual([true, true]);
    expect(
      fake
        .readState()
        .rules.filter((r) => ids.includes(r.Identifier))
        .every((r) => r.Disabled),
    ).toBe(true);
    await setRulesDisabled(ids, false, { env: fake.env });
    expect(
      fake
        .readState()
        .rules.filter((r) => ids.includes(r.Identifier))
        .some((r) => r.Disabled),
    ).toBe(false);

    const builtIn = fake.readState().rules.find((r) => r.ImmutableTag !== '')!;
    const err = await rejection(setRulesDisabled([ids[0]!, builtIn.Identifier], true, { env: fake.env }));
    expect(err.code).toBe('ADSYNC.CMDLET_FAILED');
    expect(err.message).toContain('built-in rule');
    // Checked before changing anything: the first rule was not touched either.
    expect(fake.readState().rules.find((r) => r.Identifier === ids[0])!.Disabled).toBe(false);
  });

  it("refuses a custom rule SyncShift did not create (another admin's), before any rule is changed", async () => {
    const plan = planNoFlowRules({ ouDn: 'OU=Pilot,DC=contoso,DC=com', usedPrecedences: [99], objectTypes: ['user'] });
    const { created } = await createNoFlowRules(plan, { env: fake.env });
    const ours = created[0]!.identifier;
    const theirs = fake.readState().rules.find((r) => r.Identifier === FAKE_CUSTOM_RULE_ID)!;
    expect(theirs).toMatchObject({ ImmutableTag: '', Disabled: false });
    const err = await setRulesDisabled([ours, FAKE_CUSTOM_RULE_ID.toUpperCase()], true, { env: fake.env }).then(
      () => undefined,
      (e: unknown) => e as { code?: string; message?: string; hint?: string },
    );
    expect(err?.code).toBe('POLICY.FOREIGN_RULE');
    expect(err?.message).toContain(`"${theirs.Name}": SyncShift did not create it. Nothing was changed.`);
    expect(err?.hint).toContain('(SyncShift)');
    const state = fake.readState();
    expect(state.rules.find((r) => r.Identifier === FAKE_CUSTOM_RULE_ID)!.Disabled).toBe(false);
    expect(state.rules.find((r) => r.Identifier === ours)!.Disabled).toBe(false);
    // The agent only read the rules; the script that changes them never ran.
    expect(state.scriptsRun.filter((s) => s === 'adsync.setRulesDisabled')).toEqual([]);
  });

  it("the script itself refuses a rule without SyncShift's marker, for a caller that skipped the agent's check", async () => {
    const err = await rejection(
      runPowerShellScript({
        script: setRulesDisabledScript,
        params: { identifiers: [FAKE_CUSTOM_RULE_ID], disabled: true },
        resultSchema: z.unknown(),
        env: fake.env,
      }),
    );
    expect(err.message).toContain('was not created by SyncShift');
    expect(fake.readState().rules.find((r) => r.Identifier === FAKE_CUSTOM_RULE_ID)!.Disabled).toBe(false);
  });
});

describe('readiness', () => {
  it('reads global settings, connectors, company features, rules and staging mode in one script', async () => {
    const read = await readConnectSync({ env: fake.env });
    expect(read.globalSettings).toContainEqual({
      name: 'Microsoft.SynchronizationOption.AnchorAttribute',
      value: 'mS-DS-ConsistencyGuid',
    });
    expect(read.companyFeatures).toMatchObject({ PasswordHashSync: true, DeviceWriteback: false });
    expect(read.stagingModeEnabled).toBe(false);
    expect(read.connectors.map((c) => [c.type, c.name, c.objectTypes.includes('computer')])).toEqual([
      ['AD', 'contoso.com', false],
      ['Entra', 'contoso.onmicrosoft.com - AAD', false],
    ]);
    expect(read.connectors[0]!.partitions).toEqual([{ dn: 'DC=contoso,DC=com', included: [], excluded: [] }]);
    expect(read.rules.find((r) => r.identifier === FAKE_CUSTOM_RULE_ID)).toMatchObject({ immutableTag: '' });
    const state = fake.readState();
    expect(state.scriptsRun).toEqual(['adsync.readiness']);
    // Read only: nothing but Get-* cmdlets ran, and the company features were asked of the Entra connector.
    expect(state.calls.map((c) => c.cmdlet)).toEqual([
      'Import-Module',
      'Get-ADSyncGlobalSettings',
      'Get-ADSyncConnector',
      'Get-ADSyncAADCompanyFeature',
      'Get-ADSyncRule',
      'Get-ADSyncScheduler',
    ]);
    expect(state.calls[3]!.args).toEqual({ ConnectorName: 'contoso.onmicrosoft.com - AAD' });
  });

  it('reports OU filtering and the clean configuration without the custom rule', async () => {
    fake.writeState(cleanReadinessState());
    const state = fake.readState();
    state.connectors[0]!.PartitionScope = {
      'DC=contoso,DC=com': { ContainerInclusionList: ['OU=Sales,DC=contoso,DC=com'], ContainerExclusionList: [] },
    };
    fake.writeState({ connectors: state.connectors });
    const read = await readConnectSync({ env: fake.env });
    expect(read.rules.every((r) => r.immutableTag !== '')).toBe(true);
    expect(read.connectors[0]!.partitions[0]!.included).toEqual(['OU=Sales,DC=contoso,DC=com']);
  });
});

describe('service', () => {
  it('stops and disables ADSync, then restores it', async () => {
    expect(await stopService({ env: fake.env })).toEqual({
      status: 'Stopped',
      startType: 'Disabled',
      previousStartType: 'Automatic',
    });
    expect(await startService('Automatic', { env: fake.env })).toEqual({
      status: 'Running',
      startType: 'Automatic',
      previousStartType: 'Disabled',
    });
  });

  it('reports a missing ADSync service as NOT_AVAILABLE', async () => {
    fake.writeState({ service: null });
    expect((await rejection(stopService({ env: fake.env }))).code).toBe('ADSYNC.NOT_AVAILABLE');
  });
});

describe('staging server', () => {
  const staging = (on: boolean): void =>
    fake.writeState({ scheduler: { ...fake.readState().scheduler, StagingModeEnabled: on } });

  it('refuses every mutating script, each checking StagingModeEnabled itself, and changes nothing', async () => {
    // Rules SyncShift made while the server was active, so there is something to disable.
    const plan = planNoFlowRules({ ouDn: 'OU=Pilot,DC=contoso,DC=com', usedPrecedences: [99], objectTypes: ['user'] });
    const { created } = await createNoFlowRules(plan, { env: fake.env });
    staging(true);
    const before = fake.readState();
    const attempts: [string, () => Promise<unknown>][] = [
      ['adsync.stopScheduler', () => stopScheduler({ env: fake.env, waitSeconds: 0 })],
      ['adsync.startScheduler', () => startScheduler('Initial', { env: fake.env })],
      [
        'adsync.createRule',
        () =>
          createNoFlowRules(planNoFlowRules({ ouDn: 'OU=Wave1,DC=contoso,DC=com', usedPrecedences: [99, 98, 97] }), {
            env: fake.env,
          }),
      ],
      ['adsync.setRulesDisabled', () => setRulesDisabled([created[0]!.identifier], true, { env: fake.env })],
      ['adsync.stopService', () => stopService({ env: fake.env })],
    ];
    for (const [scriptId, attempt] of attempts) {
      const ran = fake.readState().scriptsRun.length;
      const err = await rejection(attempt());
      expect([scriptId, err.code]).toEqual([scriptId, 'ADSYNC.STAGING_SERVER']);
      expect(err.message).toContain('This Connect Sync server is in staging mode, so SyncShift refused to');
      expect(err.message).toContain('Nothing was changed.');
      expect(err.hint).toContain('/server');
      // The script that refused is the one that would have made the change (the agent's own reads aside).
      expect(fake.readState().scriptsRun.slice(ran)).toContain(scriptId);
    }
    const after = fake.readState();
    expect(after.rules).toEqual(before.rules);
    expect(after.scheduler).toEqual(before.scheduler);
    expect(after.service).toEqual(before.service);
    expect(after.lastStartedPolicy).toBeUndefined();
    const changing = [
      'Set-ADSyncScheduler',
      'Stop-ADSyncSyncCycle',
      'Start-ADSyncSyncCycle',
      'New-ADSyncRule',
      'Add-ADSyncRule',
      'Stop-Service',
      'Set-Service',
    ];
    expect(after.calls.slice(before.calls.length).filter((c) => changing.includes(c.cmdlet))).toEqual([]);
  });

  it('the undo of the final stop starts the service only to read staging mode, and puts it back', async () => {
    await stopService({ env: fake.env });
    staging(true);
    const err = await rejection(startService('Automatic', { env: fake.env }));
    expect(err.code).toBe('ADSYNC.STAGING_SERVER');
    expect(fake.readState().service).toEqual({ Status: 'Stopped', StartType: 'Disabled' });
  });

  it('still reads a staging server: scheduler, rules and a backup are read-only', async () => {
    staging(true);
    expect(await getScheduler({ env: fake.env })).toMatchObject({ stagingModeEnabled: true });
    expect((await listRules({ env: fake.env })).rules.length).toBeGreaterThan(0);
    const dir = mkdtempSync(path.join(tmpdir(), 'syncshift-staging-export-'));
    try {
      expect(await exportConfig(dir, { env: fake.env })).toMatchObject({ files: expect.any(Number) as number });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('refuses to stop a service it cannot ask about staging mode (already stopped)', async () => {
    fake.writeState({ service: { Status: 'Stopped', StartType: 'Manual' } });
    const err = await rejection(stopService({ env: fake.env }));
    expect(err.message).toContain('cannot read whether this server is in staging mode');
    expect(fake.readState().service).toEqual({ Status: 'Stopped', StartType: 'Manual' });
  });
});

describe('executor failures', () => {
  it('maps a failing cmdlet to CMDLET_FAILED with its message', async () => {
    fake.writeState({
      failCmdlet: {
        'Get-ADSyncScheduler': 'Retrieving the COM class factory failed: the ADSync service is not running.',
      },
    });
    const err = await rejection(getScheduler({ env: fake.env }));
    expect(err.code).toBe('ADSYNC.CMDLET_FAILED');
    expect(err.message).toBe(
      'Get-ADSyncScheduler failed: Retrieving the COM class factory failed: the ADSync service is not running.',
    );
    expect(err.toJSON().details).toMatchObject({ scriptId: 'adsync.getScheduler', cmdlet: 'Get-ADSyncScheduler' });
  });

  it('maps a missing ADSync module to NOT_AVAILABLE', async () => {
    fake.writeState({ adsyncModuleMissing: true });
    expect((await rejection(listRules({ env: fake.env }))).code).toBe('ADSYNC.NOT_AVAILABLE');
  });

  it('reports output without a result line as BAD_OUTPUT', async () => {
    fake.writeState({ output: 'garbage' });
    const err = await rejection(getScheduler({ env: fake.env }));
    expect(err.code).toBe('ADSYNC.BAD_OUTPUT');
    expect(err.message).toContain('without writing a result line');
  });

  it('reports a result of the wrong shape as BAD_OUTPUT', async () => {
    fake.writeState({ output: 'wrongShape' });
    const err = await rejection(getScheduler({ env: fake.env }));
    expect(err.code).toBe('ADSYNC.BAD_OUTPUT');
    expect(err.message).toContain('syncCycleEnabled');
  });

  it('kills a script that runs too long', async () => {
    fake.writeState({ slowMs: 10_000 });
    const started = Date.now();
    const err = await rejection(getScheduler({ env: fake.env, timeoutMs: 500 }));
    expect(err.code).toBe('ADSYNC.TIMEOUT');
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('reports a missing PowerShell as NOT_AVAILABLE', async () => {
    const err = await rejection(getScheduler({ env: { PATH: '/nonexistent' } }));
    expect(err.code).toBe('ADSYNC.NOT_AVAILABLE');
    expect(err.message).toContain('ENOENT');
    const explicit = await rejection(getScheduler({ env: fake.env, executable: '/nonexistent/powershell.exe' }));
    expect(explicit.code).toBe('ADSYNC.NOT_AVAILABLE');
  });

  it('keeps secrets out of the child environment and out of errors', async () => {
    const secret = 'agent-secret-value-123456';
    process.env.SYNCSHIFT_AGENT_SECRET = secret;
    try {
      // The stand-in dies (non-zero, stderr) when the script text is not a known constant.
      const err = await rejection(
        runPowerShellScript({
          script: { id: 'adsync.getScheduler', text: `${getSchedulerScript.text}# ${secret}\n` },
          params: {},
          resultSchema: z.unknown(),
          env: fake.env,
        }),
      );
      expect(err.code).toBe('ADSYNC.BAD_OUTPUT');
      expect(JSON.stringify(err.toJSON())).toContain('differs from the fixed constant');
      expect(JSON.stringify(err.toJSON())).not.toContain(secret);
      // And the child never saw it.
      await runPowerShellScript({ script: getSchedulerScript, params: {}, resultSchema: z.unknown(), env: fake.env });
      const names = fake.readState().envNames ?? [];
      expect(names).toContain('SYNCSHIFT_PARAMS');
      expect(names).not.toContain('SYNCSHIFT_AGENT_SECRET');
    } finally {
      delete process.env.SYNCSHIFT_AGENT_SECRET;
    }
  });
});
