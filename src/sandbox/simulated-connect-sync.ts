import { createHash } from 'node:crypto';
import { chmodSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { ADSYNC_SCRIPTS } from '../agent/powershell/scripts';

/**
 * A configuration `/readiness` finds nothing blocking in: the default without the admin-made rule
 * and without directory extensions.
 */
export function cleanReadinessState(): Partial<FakeAdsyncState> {
  const base = defaultState();
  return {
    rules: base.rules.filter((r) => r.ImmutableTag !== ''),
    globalSettings: (base.globalSettings ?? [])
      .map((g) => (g.Name === 'Microsoft.OptionalFeature.DirectoryExtension' ? { ...g, Value: 'False' } : g))
      .filter((g) => g.Name !== 'Microsoft.OptionalFeature.DirectoryExtensionAttributes'),
  };
}

/** The stand-in's state file (see src/sandbox/fake-powershell/powershell.js). */
export interface FakeAdsyncState {
  scheduler: {
    SyncCycleEnabled: boolean;
    StagingModeEnabled: boolean;
    SchedulerSuspended: boolean;
    MaintenanceEnabled: boolean;
    NextSyncCyclePolicyType: string;
    NextSyncCycleStartTimeInUTC: string | null;
    CurrentlyEffectiveSyncCycleInterval: string | null;
  };
  /** A cycle is running (what SyncCycleInProgress reports). */
  syncCycleInProgress: boolean;
  /** What Get-ADSyncConnectorRunStatus reports as running, or null. */
  runningConnector: string | null;
  connectors: FakeConnector[];
  rules: FakeRule[];
  /** What Get-ADSyncGlobalSettings returns in Parameters (Name/Value pairs). */
  globalSettings?: { Name: string; Value: string }[];
  /** What Get-ADSyncAADCompanyFeature returns: the tenant's sync features as booleans. */
  companyFeatures?: Record<string, boolean>;
  /** null: the ADSync service is not installed. */
  service: { Status: string; StartType: string } | null;
  /** Every emulated cmdlet call, in order. */
  calls: { cmdlet: string; args?: Record<string, unknown> }[];
  scriptsRun: string[];
  /** Environment variable names the last run inherited (names only). */
  envNames?: string[];
  lastStartedPolicy?: string;
  /** Issue 16's no-flow check: the runs Get-ADSyncRunProfileResult returns (completed cycles add them). */
  runHistory?: FakeRunResult[];
  /** The rules the last completed cycle ran with: they decide what the metaverse holds (cloudNoFlow). */
  syncedRules?: FakeRule[];
  /** The AD connector's connector space; absent: every DN asked about under its partitions, as a user. */
  connectorSpace?: { DistinguishedName: string; ObjectType: string }[];
  cycleStartedAt?: string;
  /** When the running cycle completes (on the next script run after it); null: not by itself. */
  cycleCompletesAt?: string | null;
  // knobs
  /** A started cycle completes this long after it started; absent: only when a test ends it. */
  cycleDurationMs?: number;
  cycleStuck?: boolean;
  /** A message, or a message after `after` successful calls of that cmdlet (across runs). */
  failCmdlet?: Record<string, string | { message: string; after: number }>;
  slowMs?: number;
  output?: 'garbage' | 'wrongShape';
  adsyncModuleMissing?: boolean;
}

export interface FakeConnector {
  Identifier: string;
  Name: string;
  ConnectorTypeName: string;
  SubType: string;
  Partitions: string[];
  /** OU filtering per partition DN (ConnectorPartitionScope); absent: the whole partition. */
  PartitionScope?: Record<string, { ContainerInclusionList: string[]; ContainerExclusionList: string[] }>;
  ObjectInclusionList?: string[];
  AttributeInclusionList?: string[];
}

export interface FakeRule {
  Identifier: string;
  Name: string;
  Description: string;
  Direction: 'Inbound' | 'Outbound';
  Precedence: number;
  ImmutableTag: string;
  Disabled: boolean;
  Connector: string;
  SourceObjectType: string;
  TargetObjectType: string;
  LinkType: string;
  AttributeFlowMappings?: { Source: string[]; Destination: string; FlowType: string; ValueMergeType: string }[];
  ScopeFilter?: { Attribute: string; ComparisonValue: string; ComparisonOperator: string }[][];
}

export interface FakeRunResult {
  RunHistoryId: string;
  ConnectorId: string;
  ConnectorName: string;
  RunProfileName: string;
  RunNumber: number;
  IsRunComplete: boolean;
  Result: string;
  StartDate: string;
  EndDate: string | null;
}

/**
 * Ends the running sync cycle: the stand-in completes it on its next run (records its runs, and the
 * rules it synced with decide the metaverse from then on). Throws when no cycle is running.
 */
export function finishSyncCycle(fake: FakePowerShell): void {
  const state = fake.readState();
  if (!state.syncCycleInProgress) throw new Error('No sync cycle is running in the simulated Connect Sync.');
  fake.writeState({ cycleCompletesAt: new Date(0).toISOString() });
}

export interface FakePowerShell {
  binDir: string;
  statePath: string;
  /** Pass as AdsyncRunOptions.env: PATH finds the stand-in first. */
  env: Record<string, string>;
  readState(): FakeAdsyncState;
  writeState(patch: Partial<FakeAdsyncState>): void;
  cleanup(): void;
}

export const FAKE_AD_CONNECTOR_ID = '8f2a3c41-6d5e-4b7a-9c1d-2e3f4a5b6c7d';
// The Entra connector id in Microsoft's own group-writeback migration script.
export const FAKE_ENTRA_CONNECTOR_ID = 'b891884f-051e-4a83-95af-2544101c9083';
export const FAKE_CUSTOM_RULE_ID = '0d7c5e1a-4b3f-4e2d-8a9b-1c2d3e4f5a6b';

// The stand-in is plain JavaScript, run from the source tree (tests and the sandbox run from src).
// PATH finds it as `powershell`, a symlink to powershell.js (the .js name is what lint covers).
const BIN_DIR = path.resolve(__dirname, 'fake-powershell');

/**
 * A simulated Connect Sync server: a stand-in `powershell` on PATH that emulates the ADSync cmdlets
 * against a JSON state file. Used by the tests and by the sandbox; never by production code.
 */
export function installFakePowerShell(overrides: Partial<FakeAdsyncState> = {}, stateDir?: string): FakePowerShell {
  chmodSync(path.join(BIN_DIR, 'powershell'), 0o755);
  const dir = stateDir ?? mkdtempSync(path.join(tmpdir(), 'syncshift-fake-adsync-'));
  mkdirSync(dir, { recursive: true });
  const statePath = path.join(dir, 'state.json');
  // A sandbox keeps its Connect Sync state across restarts; tests always start fresh.
  if (!stateDir || !existsSync(statePath))
    writeFileSync(statePath, JSON.stringify({ ...defaultState(), ...overrides }, null, 2));
  const hashes = Object.fromEntries(
    ADSYNC_SCRIPTS.map((s) => [s.id, createHash('sha256').update(s.text, 'utf8').digest('hex')]),
  );
  const env = {
    PATH: `${BIN_DIR}${path.delimiter}${process.env.PATH ?? ''}`,
    FAKE_ADSYNC_STATE: statePath,
    FAKE_PWSH_SCRIPT_HASHES: JSON.stringify(hashes),
  };
  const readState = (): FakeAdsyncState => JSON.parse(readFileSync(statePath, 'utf8')) as FakeAdsyncState;
  return {
    binDir: BIN_DIR,
    statePath,
    env,
    readState,
    writeState: (patch) => writeFileSync(statePath, JSON.stringify({ ...readState(), ...patch }, null, 2)),
    cleanup: () => rmSync(dir, { recursive: true, force: true }),
  };
}

const AD_ATTRIBUTES = [
  'objectGUID',
  'mS-DS-ConsistencyGuid',
  'sAMAccountName',
  'userPrincipalName',
  'displayName',
  'mail',
  'member',
  'extensionAttribute10',
];

/**
 * Connect Sync as the express install leaves it, plus one admin-made rule at precedence 99 (the
 * sandbox's readiness blocker: a custom sync rule) and directory extensions (its warning).
 */
export function defaultState(): FakeAdsyncState {
  const ad = FAKE_AD_CONNECTOR_ID;
  const aad = FAKE_ENTRA_CONNECTOR_ID;
  const builtIn: [string, 'Inbound' | 'Outbound', string, string, string, string, string][] = [
    // name, direction, connector, source, target, link, tag
    ['In from AD - User Join', 'Inbound', ad, 'user', 'person', 'Provision', 'Microsoft.InfromADUserJoin.003'],
    [
      'In from AD - User AccountEnabled',
      'Inbound',
      ad,
      'user',
      'person',
      'Join',
      'Microsoft.InfromADUserAccountEnabled.003',
    ],
    ['In from AD - User Common', 'Inbound', ad, 'user', 'person', 'Join', 'Microsoft.InfromADUserCommon.003'],
    ['In from AD - User Identity', 'Inbound', ad, 'user', 'person', 'Join', 'Microsoft.InfromADUserIdentity.003'],
    [
      'In from AD - InetOrgPerson Join',
      'Inbound',
      ad,
      'inetOrgPerson',
      'person',
      'Provision',
      'Microsoft.InfromADInetOrgPersonJoin.003',
    ],
    ['In from AD - Group Join', 'Inbound', ad, 'group', 'group', 'Provision', 'Microsoft.InfromADGroupJoin.003'],
    ['In from AD - Group Common', 'Inbound', ad, 'group', 'group', 'Join', 'Microsoft.InfromADGroupCommon.003'],
    ['In from AD - Contact Join', 'Inbound', ad, 'contact', 'person', 'Provision', 'Microsoft.InfromADContactJoin.003'],
    ['In from AD - Contact Common', 'Inbound', ad, 'contact', 'person', 'Join', 'Microsoft.InfromADContactCommon.003'],
    [
      'In from AD - ForeignSecurityPrincipal Join',
      'Inbound',
      ad,
      'foreignSecurityPrincipal',
      'person',
      'Join',
      'Microsoft.InfromADForeignSecurityPrincipalJoin.003',
    ],
    ['In from AAD - User Join', 'Inbound', aad, 'user', 'person', 'Join', 'Microsoft.InfromAADUserJoin.003'],
    ['In from AAD - Group Join', 'Inbound', aad, 'group', 'group', 'Join', 'Microsoft.InfromAADGroupJoin.003'],
    ['In from AAD - Contact Join', 'Inbound', aad, 'contact', 'person', 'Join', 'Microsoft.InfromAADContactJoin.003'],
    ['Out to AAD - User Join', 'Outbound', aad, 'person', 'user', 'Provision', 'Microsoft.OuttoAADUserJoin.003'],
    ['Out to AAD - User Identity', 'Outbound', aad, 'person', 'user', 'Join', 'Microsoft.OuttoAADUserIdentity.003'],
    ['Out to AAD - Group Join', 'Outbound', aad, 'group', 'group', 'Provision', 'Microsoft.OuttoAADGroupJoin.003'],
    ['Out to AAD - Group Identity', 'Outbound', aad, 'group', 'group', 'Join', 'Microsoft.OuttoAADGroupIdentity.003'],
    [
      'Out to AAD - Contact Join',
      'Outbound',
      aad,
      'person',
      'contact',
      'Provision',
      'Microsoft.OuttoAADContactJoin.003',
    ],
    [
      'Out to AAD - Contact Identity',
      'Outbound',
      aad,
      'person',
      'contact',
      'Join',
      'Microsoft.OuttoAADContactIdentity.003',
    ],
    ['Out to AD - User ImmutableId', 'Outbound', ad, 'person', 'user', 'Join', 'Microsoft.OuttoADUserImmutableId.003'],
  ];
  const rules: FakeRule[] = builtIn.map(
    ([Name, Direction, Connector, SourceObjectType, TargetObjectType, LinkType, ImmutableTag], i) => ({
      Identifier: `00000000-0000-4000-8000-${String(i + 1).padStart(12, '0')}`,
      Name,
      Description: '',
      Direction,
      Precedence: 100 + i,
      ImmutableTag,
      Disabled: false,
      Connector,
      SourceObjectType,
      TargetObjectType,
      LinkType,
    }),
  );
  rules.push({
    Identifier: FAKE_CUSTOM_RULE_ID,
    Name: 'In from AD - User extensionAttribute10 (Contoso)',
    Description: 'Made by the identity team in 2021',
    Direction: 'Inbound',
    Precedence: 99,
    ImmutableTag: '',
    Disabled: false,
    Connector: ad,
    SourceObjectType: 'user',
    TargetObjectType: 'person',
    LinkType: 'Join',
  });
  return {
    scheduler: {
      SyncCycleEnabled: true,
      StagingModeEnabled: false,
      SchedulerSuspended: false,
      MaintenanceEnabled: true,
      NextSyncCyclePolicyType: 'Delta',
      NextSyncCycleStartTimeInUTC: '2026-07-01T12:30:00Z',
      CurrentlyEffectiveSyncCycleInterval: '00:30:00',
    },
    syncCycleInProgress: false,
    runningConnector: null,
    connectors: [
      {
        Identifier: ad,
        Name: 'contoso.com',
        ConnectorTypeName: 'AD',
        SubType: '',
        Partitions: ['DC=contoso,DC=com'],
        // The object types the troubleshooting guide lists as enabled by default (no computer: no device sync).
        ObjectInclusionList: ['user', 'group', 'contact', 'inetOrgPerson', 'foreignSecurityPrincipal'],
        AttributeInclusionList: AD_ATTRIBUTES,
      },
      {
        Identifier: aad,
        Name: 'contoso.onmicrosoft.com - AAD',
        ConnectorTypeName: 'Extensible2',
        SubType: 'Windows Azure Active Directory (Microsoft)',
        Partitions: ['default'],
        ObjectInclusionList: ['user', 'group', 'contact'],
        AttributeInclusionList: ['sourceAnchor', 'userPrincipalName', 'displayName', 'member'],
      },
    ],
    rules,
    // The last cycle before SyncShift: it ran with the rules above, so no object carries cloudNoFlow.
    syncedRules: JSON.parse(JSON.stringify(rules)) as FakeRule[],
    runHistory: lastCycleBefore([
      { Identifier: ad, Name: 'contoso.com' },
      { Identifier: aad, Name: 'contoso.onmicrosoft.com - AAD' },
    ]),
    globalSettings: [
      { Name: 'Microsoft.Synchronize.ServerConfigurationVersion', Value: '2.4.129.0' },
      { Name: 'Microsoft.SynchronizationOption.AnchorAttribute', Value: 'mS-DS-ConsistencyGuid' },
      { Name: 'Microsoft.OptionalFeature.FilterAAD', Value: 'False' },
      { Name: 'Microsoft.OptionalFeature.UserWriteBack', Value: 'False' },
      { Name: 'Microsoft.OptionalFeature.GroupWriteBack', Value: 'False' },
      { Name: 'Microsoft.OptionalFeature.DeviceWriteBack', Value: 'False' },
      // The sandbox's warning: two directory extension attributes synced (Cloud Sync maps them differently).
      { Name: 'Microsoft.OptionalFeature.DirectoryExtension', Value: 'True' },
      {
        Name: 'Microsoft.OptionalFeature.DirectoryExtensionAttributes',
        Value: 'extensionAttribute10.user.String.True,employeeType.user.String.True',
      },
    ],
    companyFeatures: {
      PasswordHashSync: true,
      ForcePasswordChangeOnLogOn: false,
      UserWriteBack: false,
      DeviceWriteback: false,
      UnifiedGroupWriteback: false,
      GroupWritebackV2: false,
    },
    service: { Status: 'Running', StartType: 'Automatic' },
    calls: [],
    scriptsRun: [],
  };
}

/** One completed delta cycle on 2026-07-01, before anything SyncShift does. */
function lastCycleBefore(connectors: { Identifier: string; Name: string }[]): FakeRunResult[] {
  const profiles = ['Delta Import', 'Delta Synchronization', 'Export'];
  let n = 0;
  return profiles.flatMap((profile, p) =>
    connectors.map((c) => ({
      RunHistoryId: `00000000-0000-4000-9000-${String(++n).padStart(12, '0')}`,
      ConnectorId: c.Identifier,
      ConnectorName: c.Name,
      RunProfileName: profile,
      RunNumber: n,
      IsRunComplete: true,
      Result: 'success',
      StartDate: `2026-07-01T12:0${p}:00Z`,
      EndDate: `2026-07-01T12:0${p}:30Z`,
    })),
  );
}

const NO_FLOW_TYPES = {
  user: { mv: 'person', entra: 'user' },
  group: { mv: 'group', entra: 'group' },
  contact: { mv: 'person', entra: 'contact' },
} as const;

/**
 * Would this simulated Connect Sync export the AD object at `dn` to Entra? Not when the pilot
 * tutorial's pair holds it back: an enabled inbound rule on an AD connector for its type that sets
 * cloudNoFlow to true, one of whose scope groups (ORed) has every condition true (`dn ENDSWITH`,
 * compared case-insensitively: **unverified** against a real server), and an enabled outbound
 * JoinNoFlow rule on the Entra connector for it scoped `cloudNoFlow EQUAL true`. Any number of such
 * rules (the pilot's, each wave's) count; a disabled one holds nothing back, so after a rollback the
 * OU's objects are exported again.
 */
export function connectSyncExports(
  state: Pick<FakeAdsyncState, 'rules' | 'connectors'>,
  dn: string,
  objectType: keyof typeof NO_FLOW_TYPES = 'user',
): boolean {
  const t = NO_FLOW_TYPES[objectType];
  const ad = new Set(state.connectors.filter((c) => c.ConnectorTypeName === 'AD').map((c) => c.Identifier));
  const entra = new Set(state.connectors.filter((c) => c.ConnectorTypeName !== 'AD').map((c) => c.Identifier));
  const holds = (c: { Attribute: string; ComparisonValue: string; ComparisonOperator: string }): boolean =>
    c.Attribute === 'dn' &&
    c.ComparisonOperator === 'ENDSWITH' &&
    dn.toLowerCase().endsWith(c.ComparisonValue.toLowerCase());
  const stamped = state.rules.some(
    (r) =>
      !r.Disabled &&
      r.Direction === 'Inbound' &&
      ad.has(r.Connector) &&
      r.SourceObjectType === objectType &&
      (r.AttributeFlowMappings ?? []).some(
        (f) => f.FlowType === 'Constant' && f.Destination === 'cloudNoFlow' && f.Source[0]?.toLowerCase() === 'true',
      ) &&
      (r.ScopeFilter ?? []).some((group) => group.length > 0 && group.every(holds)),
  );
  const blocked = state.rules.some(
    (r) =>
      !r.Disabled &&
      r.Direction === 'Outbound' &&
      entra.has(r.Connector) &&
      r.LinkType === 'JoinNoFlow' &&
      r.SourceObjectType === t.mv &&
      r.TargetObjectType === t.entra &&
      (r.ScopeFilter ?? []).some((group) =>
        group.some(
          (c) =>
            c.Attribute === 'cloudNoFlow' &&
            c.ComparisonOperator === 'EQUAL' &&
            c.ComparisonValue.toLowerCase() === 'true',
        ),
      ),
  );
  return !(stamped && blocked);
}
