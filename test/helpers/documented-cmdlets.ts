/**
 * The cmdlets SyncShift's fixed scripts may call, with the parameters Microsoft documents for each and
 * the page that documents them. The scripts run on Windows PowerShell 5.1 (`powershell -Command -`),
 * so the Windows cmdlets use the 5.1 pages.
 *
 * Pages (Microsoft Learn):
 * - REFERENCE: "Microsoft Entra Connect: ADSync PowerShell Reference",
 *   https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-adsync
 *   (source: MicrosoftDocs/entra-docs docs/identity/hybrid/connect/reference-connect-adsync.md, ms.date 04/09/2025).
 *   It lists the syntax of Get-/Set-ADSyncScheduler, Start-/Stop-ADSyncSyncCycle, Get-ADSyncCSObject,
 *   Get-ADSyncMVObject, Get-ADSyncRunProfileResult and a few others (their output is only "System.Object"), and
 *   shows `Get-ADSyncConnector -Identifier`; it does NOT cover the rule cmdlets, Get-ADSyncConnector
 *   -Name, Get-ADSyncGlobalSettings, Get-ADSyncAADCompanyFeature, Get-ADSyncConnectorRunStatus or
 *   Get-ADSyncServerConfiguration, which are documented by the usage pages below.
 * - SCHEDULER: "Microsoft Entra Connect Sync: Scheduler",
 *   https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler
 * - GROUP_WRITEBACK: "Migrate Microsoft Entra Connect Sync group writeback V2 to Microsoft Entra Cloud Sync"
 *   (its scripts call Get-ADSyncConnector -Name, New-ADSyncRule, Add-ADSyncAttributeFlowMapping,
 *   New-Object ScopeCondition, Add-ADSyncScopeConditionGroup, Add-ADSyncRule, Get-ADSyncRule -Identifier),
 *   https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/migrate-group-writeback
 * - IMPORT_EXPORT: "Import and export Microsoft Entra Connect configuration settings" (MigrateSettings.ps1
 *   calls Get-ADSyncServerConfiguration -Path),
 *   https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-import-export-config
 * - PHS_TROUBLESHOOT: "Troubleshoot password hash synchronization with Microsoft Entra Connect Sync"
 *   (its script calls Get-ADSyncConnector, Get-ADSyncAADCompanyFeature -ConnectorName),
 *   https://learn.microsoft.com/entra/identity/hybrid/connect/tshoot-connect-password-hash-synchronization
 * - CONNECT_TROUBLESHOOT: the Connect Sync troubleshooting guides that read
 *   `(Get-ADSyncGlobalSettings).Parameters | select Name, Value`.
 * - PS51: the PowerShell 5.1 module reference, https://learn.microsoft.com/powershell/module/<module>/<cmdlet>?view=powershell-5.1
 */

export interface DocumentedCmdlet {
  readonly parameters: readonly string[];
  /** Values Microsoft lists for a parameter; a bare-word value outside the list fails. */
  readonly acceptedValues?: Readonly<Record<string, readonly string[]>>;
  readonly source: string;
}

const REFERENCE = 'ADSync PowerShell Reference (reference-connect-adsync)';
const SCHEDULER = 'Connect Sync scheduler (how-to-connect-sync-feature-scheduler)';
const GROUP_WRITEBACK = 'Migrate group writeback (cloud-sync/migrate-group-writeback)';
const IMPORT_EXPORT = 'Import and export configuration (how-to-connect-import-export-config)';
const PHS_TROUBLESHOOT = 'Troubleshoot password hash sync (tshoot-connect-password-hash-synchronization)';
const CONNECT_TROUBLESHOOT = 'Connect Sync troubleshooting guides ((Get-ADSyncGlobalSettings).Parameters)';
const PS51 = (module: string, cmdlet: string): string =>
  `PowerShell 5.1 reference (powershell/module/${module}/${cmdlet.toLowerCase()}?view=powershell-5.1)`;

/** "This cmdlet supports the common parameters", as every page above says. */
export const COMMON_PARAMETERS: readonly string[] = [
  'Debug',
  'ErrorAction',
  'ErrorVariable',
  'InformationAction',
  'InformationVariable',
  'OutVariable',
  'OutBuffer',
  'PipelineVariable',
  'Verbose',
  'WarningAction',
  'WarningVariable',
];

const ACTION_PREFERENCE = ['SilentlyContinue', 'Stop', 'Continue', 'Inquire', 'Ignore', 'Suspend'];
export const COMMON_ACCEPTED_VALUES: Readonly<Record<string, readonly string[]>> = {
  ErrorAction: ACTION_PREFERENCE,
  WarningAction: ACTION_PREFERENCE,
  InformationAction: ACTION_PREFERENCE,
};

const POLICY_TYPE = ['Unspecified', 'Delta', 'Initial'];

export const DOCUMENTED_CMDLETS: Readonly<Record<string, DocumentedCmdlet>> = {
  // ADSync module
  'Get-ADSyncScheduler': { parameters: [], source: REFERENCE },
  'Set-ADSyncScheduler': {
    parameters: [
      'CustomizedSyncCycleInterval',
      'SyncCycleEnabled',
      'NextSyncCyclePolicyType',
      'PurgeRunHistoryInterval',
      'MaintenanceEnabled',
      'SchedulerSuspended',
      'Force',
    ],
    acceptedValues: { NextSyncCyclePolicyType: POLICY_TYPE },
    source: REFERENCE,
  },
  'Start-ADSyncSyncCycle': {
    parameters: ['PolicyType', 'InteractiveMode'],
    acceptedValues: { PolicyType: POLICY_TYPE },
    source: REFERENCE,
  },
  'Stop-ADSyncSyncCycle': { parameters: [], source: REFERENCE },
  'Get-ADSyncConnectorRunStatus': { parameters: [], source: SCHEDULER },
  'Get-ADSyncServerConfiguration': { parameters: ['Path'], source: IMPORT_EXPORT },
  'Get-ADSyncConnector': { parameters: ['Identifier', 'Name'], source: `${REFERENCE}; ${GROUP_WRITEBACK}` },
  // The migration page ends each rule script with `Get-ADSyncRule -Identifier '<guid>'`.
  'Get-ADSyncRule': { parameters: ['Identifier'], source: GROUP_WRITEBACK },
  'New-ADSyncRule': {
    parameters: [
      'Name',
      'Identifier',
      'Description',
      'Direction',
      'Precedence',
      'PrecedenceAfter',
      'PrecedenceBefore',
      'SourceObjectType',
      'TargetObjectType',
      'Connector',
      'LinkType',
      'SoftDeleteExpiryInterval',
      'ImmutableTag',
    ],
    source: GROUP_WRITEBACK,
  },
  'Add-ADSyncAttributeFlowMapping': {
    parameters: ['SynchronizationRule', 'Source', 'Destination', 'FlowType', 'ValueMergeType'],
    source: GROUP_WRITEBACK,
  },
  'Add-ADSyncScopeConditionGroup': { parameters: ['SynchronizationRule', 'ScopeConditions'], source: GROUP_WRITEBACK },
  'Add-ADSyncRule': { parameters: ['SynchronizationRule'], source: GROUP_WRITEBACK },
  'Get-ADSyncGlobalSettings': { parameters: [], source: CONNECT_TROUBLESHOOT },
  'Get-ADSyncAADCompanyFeature': { parameters: ['ConnectorName'], source: PHS_TROUBLESHOOT },
  // Issue 16's no-flow check: all three on the reference page, with their parameter sets.
  'Get-ADSyncCSObject': {
    parameters: [
      'Identifier',
      'ConnectorIdentifier',
      'ConnectorName',
      'DistinguishedName',
      'SkipDNValidation',
      'Transient',
      'StartIndex',
      'MaxResultCount',
    ],
    source: REFERENCE,
  },
  'Get-ADSyncMVObject': { parameters: ['Identifier'], source: REFERENCE },
  'Get-ADSyncRunProfileResult': {
    parameters: [
      'RunHistoryId',
      'ConnectorId',
      'RunProfileId',
      'RunNumber',
      'NumberRequested',
      'RunStepDetails',
      'StepNumber',
      'WhatIf',
      'Confirm',
    ],
    source: REFERENCE,
  },

  // Windows PowerShell 5.1
  'Import-Module': {
    parameters: [
      'Name',
      'Global',
      'Prefix',
      'Function',
      'Cmdlet',
      'Variable',
      'Alias',
      'Force',
      'PassThru',
      'DisableNameChecking',
      'NoClobber',
      'Scope',
      'MinimumVersion',
      'RequiredVersion',
    ],
    source: PS51('microsoft.powershell.core', 'Import-Module'),
  },
  'ConvertTo-Json': {
    parameters: ['InputObject', 'Depth', 'Compress'],
    source: PS51('microsoft.powershell.utility', 'ConvertTo-Json'),
  },
  'ConvertFrom-Json': { parameters: ['InputObject'], source: PS51('microsoft.powershell.utility', 'ConvertFrom-Json') },
  'New-Object': {
    parameters: ['TypeName', 'ArgumentList', 'Property', 'ComObject', 'Strict'],
    source: PS51('microsoft.powershell.utility', 'New-Object'),
  },
  'Out-Null': { parameters: ['InputObject'], source: PS51('microsoft.powershell.core', 'Out-Null') },
  'Where-Object': {
    parameters: ['FilterScript', 'InputObject', 'Property', 'Value'],
    source: PS51('microsoft.powershell.core', 'Where-Object'),
  },
  'Get-Date': {
    parameters: [
      'Date',
      'Year',
      'Month',
      'Day',
      'Hour',
      'Minute',
      'Second',
      'Millisecond',
      'DisplayHint',
      'Format',
      'UFormat',
    ],
    source: PS51('microsoft.powershell.utility', 'Get-Date'),
  },
  'Start-Sleep': {
    parameters: ['Seconds', 'Milliseconds'],
    source: PS51('microsoft.powershell.utility', 'Start-Sleep'),
  },
  'Remove-Item': {
    parameters: [
      'Path',
      'LiteralPath',
      'Filter',
      'Include',
      'Exclude',
      'Recurse',
      'Force',
      'Credential',
      'Stream',
      'WhatIf',
      'Confirm',
    ],
    source: PS51('microsoft.powershell.management', 'Remove-Item'),
  },
  'Get-ChildItem': {
    parameters: [
      'Path',
      'LiteralPath',
      'Filter',
      'Include',
      'Exclude',
      'Recurse',
      'Depth',
      'Force',
      'Name',
      'Attributes',
      'Directory',
      'File',
      'Hidden',
      'ReadOnly',
      'System',
    ],
    source: PS51('microsoft.powershell.management', 'Get-ChildItem'),
  },
  'Get-Service': {
    parameters: [
      'Name',
      'DisplayName',
      'Include',
      'Exclude',
      'InputObject',
      'DependentServices',
      'RequiredServices',
      'ComputerName',
    ],
    source: PS51('microsoft.powershell.management', 'Get-Service'),
  },
  'Stop-Service': {
    parameters: [
      'Name',
      'DisplayName',
      'InputObject',
      'Include',
      'Exclude',
      'Force',
      'NoWait',
      'PassThru',
      'WhatIf',
      'Confirm',
    ],
    source: PS51('microsoft.powershell.management', 'Stop-Service'),
  },
  'Start-Service': {
    parameters: ['Name', 'DisplayName', 'InputObject', 'Include', 'Exclude', 'PassThru', 'WhatIf', 'Confirm'],
    source: PS51('microsoft.powershell.management', 'Start-Service'),
  },
  'Set-Service': {
    parameters: [
      'Name',
      'InputObject',
      'DisplayName',
      'Description',
      'StartupType',
      'Status',
      'ComputerName',
      'PassThru',
      'WhatIf',
      'Confirm',
    ],
    acceptedValues: { StartupType: ['Automatic', 'Manual', 'Disabled'] },
    source: PS51('microsoft.powershell.management', 'Set-Service'),
  },
};

export interface CallProblem {
  readonly script: string;
  readonly line: number;
  readonly message: string;
}

function findCaseInsensitive(list: readonly string[], name: string): string | undefined {
  return list.find((x) => x.toLowerCase() === name.toLowerCase());
}

/**
 * What is wrong with one call, if anything. Functions the script defines itself are checked against
 * their own declared parameters. PowerShell accepts any case, so names are compared without case;
 * abbreviated parameter names are refused (they break when a module adds a parameter).
 */
export function checkCall(
  script: string,
  call: { name: string; parameters: readonly string[]; literalValues: ReadonlyMap<string, string>; line: number },
  localFunctions: ReadonlyMap<string, readonly string[]>,
): CallProblem[] {
  const problems: CallProblem[] = [];
  const at = (message: string): CallProblem => ({ script, line: call.line, message });
  const local = [...localFunctions.entries()].find(([n]) => n.toLowerCase() === call.name.toLowerCase());
  if (local) {
    return call.parameters
      .filter((p) => !findCaseInsensitive(local[1], p))
      .map((p) =>
        at(`${script}: ${call.name} -${p}: the script's own function ${call.name} declares no such parameter`),
      );
  }
  const cmdletName = Object.keys(DOCUMENTED_CMDLETS).find((n) => n.toLowerCase() === call.name.toLowerCase());
  if (!cmdletName) {
    return [
      at(
        `${script}: ${call.name} is not in the table of documented cmdlets (test/helpers/documented-cmdlets.ts); add it with the Microsoft page that documents it, or use a documented one`,
      ),
    ];
  }
  const doc = DOCUMENTED_CMDLETS[cmdletName]!;
  for (const p of call.parameters) {
    const known = findCaseInsensitive(doc.parameters, p) ?? findCaseInsensitive(COMMON_PARAMETERS, p);
    if (!known) {
      problems.push(
        at(
          `${script}: ${cmdletName} -${p}: Microsoft documents no such parameter (${doc.source}); documented: ${doc.parameters.map((x) => '-' + x).join(' ') || '(none)'}`,
        ),
      );
      continue;
    }
    const value = call.literalValues.get(p);
    const accepted = doc.acceptedValues?.[known] ?? COMMON_ACCEPTED_VALUES[known];
    if (value !== undefined && accepted && !findCaseInsensitive(accepted, value)) {
      problems.push(
        at(
          `${script}: ${cmdletName} -${known} ${value}: not an accepted value (${accepted.join(', ')}; ${doc.source})`,
        ),
      );
    }
  }
  return problems;
}
