/**
 * The only PowerShell the agent ever runs. Each script is a constant; parameters arrive as JSON in
 * the SYNCSHIFT_PARAMS environment variable and are only ever used as values, never as code, so an
 * OU named `O'Brien $(Remove-Item x)` stays a string.
 *
 * Shape rules, all enforced by test/unit/sync-rules.test.ts (and relied on by the executor):
 * - The agent pipes the text to `powershell -Command -`, which reads stdin like a console prompt:
 *   a multi-line statement only runs once an empty line follows it, and an empty line inside a
 *   block would end the statement early. So the whole body is ONE `& { ... }` statement with no
 *   empty lines, followed by the two newlines that "press Enter".
 * - ASCII only: Windows PowerShell decodes stdin with the console code page, which would garble
 *   anything else. Non-ASCII output is escaped to \uXXXX for the same reason.
 * - The first line names the script (`# syncshift-script: <id>`) so logs and the test stand-in can
 *   tell which one ran.
 * - The last line written is one JSON envelope: {"ok":true,"result":...} or
 *   {"ok":false,"error":{"message","type","cmdlet","code"}}; anything printed before it (warnings,
 *   module banners) is ignored by the executor.
 */

export interface FixedScript {
  readonly id: string;
  readonly text: string;
}

export const SCRIPT_ID_MARKER = '# syncshift-script: ';

/** Codes a script may put in error.code; anything else is a plain cmdlet failure. */
export type ScriptErrorCode =
  | 'NOT_AVAILABLE'
  | 'SYNC_IN_PROGRESS'
  | 'RULE_CONFLICT'
  | 'NOT_FOUND'
  | 'REFUSED'
  | 'INVALID_PARAMS'
  | 'STAGING_SERVER';

const PRELUDE = [
  "$ErrorActionPreference = 'Stop'",
  "$ProgressPreference = 'SilentlyContinue'",
  'function Write-SyncShiftEnvelope($envelope) {',
  '  $json = ConvertTo-Json -InputObject $envelope -Compress -Depth 8',
  '  $sb = New-Object System.Text.StringBuilder',
  '  foreach ($ch in $json.ToCharArray()) {',
  "    if ([int]$ch -lt 128) { [void]$sb.Append($ch) } else { [void]$sb.Append(('\\u{0:x4}' -f [int]$ch)) }",
  '  }',
  '  [Console]::Out.WriteLine($sb.ToString())',
  '  [Console]::Out.Flush()',
  '}',
  'function Stop-SyncShift([string]$code, [string]$message) {',
  '  $ex = [System.InvalidOperationException]::new($message)',
  "  $ex.Data['SyncShiftCode'] = $code",
  '  throw $ex',
  '}',
  'function Import-SyncShiftAdsync {',
  "  try { Import-Module ADSync } catch { Stop-SyncShift 'NOT_AVAILABLE' ('The ADSync PowerShell module could not be loaded: ' + $_.Exception.Message) }",
  '}',
  // Every script that changes Connect Sync asks the server itself, in the same run as the change: a
  // staging server imports and synchronizes but does not export, and turns exporting on, with its own
  // rules, when staging mode is disabled; SyncShift changes the active server only, whatever the bot asked.
  'function Assert-SyncShiftNotStaging([string]$what) {',
  '  if ([bool](Get-ADSyncScheduler).StagingModeEnabled) {',
  "    Stop-SyncShift 'STAGING_SERVER' ('This Connect Sync server is in staging mode, so SyncShift refused to ' + $what + '. Nothing was changed. Run it on the active Connect Sync server (the agent named with /server); make changes on a staging server by hand.')",
  '  }',
  '}',
  'function Get-SyncShiftScheduler {',
  '  $s = Get-ADSyncScheduler',
  '  $run = @(Get-ADSyncConnectorRunStatus)',
  '  $running = $null',
  '  if ($run.Count -gt 0 -and $null -ne $run[0]) {',
  '    $running = [string]$run[0].ConnectorName',
  "    if (-not $running) { $running = '(unknown connector)' }",
  '  }',
  '  $next = $null',
  '  if ($s.NextSyncCycleStartTimeInUTC) {',
  "    $next = ([datetime]$s.NextSyncCycleStartTimeInUTC).ToString(\"yyyy-MM-dd'T'HH:mm:ss'Z'\", [System.Globalization.CultureInfo]::InvariantCulture)",
  '  }',
  '  $interval = $null',
  '  if ($null -ne $s.CurrentlyEffectiveSyncCycleInterval) { $interval = [string]$s.CurrentlyEffectiveSyncCycleInterval }',
  '  [ordered]@{',
  '    syncCycleEnabled = [bool]$s.SyncCycleEnabled',
  '    syncCycleInProgress = [bool]$s.SyncCycleInProgress',
  '    stagingModeEnabled = [bool]$s.StagingModeEnabled',
  '    schedulerSuspended = [bool]$s.SchedulerSuspended',
  '    maintenanceEnabled = [bool]$s.MaintenanceEnabled',
  '    nextSyncCyclePolicyType = [string]$s.NextSyncCyclePolicyType',
  '    nextSyncCycleStartTimeInUTC = $next',
  '    currentlyEffectiveSyncCycleInterval = $interval',
  '    runningConnector = $running',
  '  }',
  '}',
  '$p = $null',
  'if ($env:SYNCSHIFT_PARAMS) { $p = ConvertFrom-Json -InputObject $env:SYNCSHIFT_PARAMS }',
  // Nothing this script starts needs the parameters; do not hand them on.
  'Remove-Item -Path Env:SYNCSHIFT_PARAMS -ErrorAction SilentlyContinue',
];

const EPILOGUE = [
  '  Write-SyncShiftEnvelope ([ordered]@{ ok = $true; result = $result })',
  '} catch {',
  '  $err = $_',
  '  $code = $null',
  '  $cmdlet = $null',
  "  if ($err.Exception.Data.Contains('SyncShiftCode')) { $code = [string]$err.Exception.Data['SyncShiftCode'] }",
  '  elseif ($err.InvocationInfo -and $err.InvocationInfo.MyCommand) { $cmdlet = [string]$err.InvocationInfo.MyCommand.Name }',
  '  Write-SyncShiftEnvelope ([ordered]@{ ok = $false; error = [ordered]@{ message = [string]$err.Exception.Message; type = $err.Exception.GetType().FullName; cmdlet = $cmdlet; code = $code } })',
  '}',
];

function defineScript(id: string, options: { importAdsync: boolean }, body: string[]): FixedScript {
  const lines = [
    `${SCRIPT_ID_MARKER}${id}`,
    '& {',
    ...PRELUDE.map((l) => '  ' + l),
    '  try {',
    ...(options.importAdsync ? ['    Import-SyncShiftAdsync'] : []),
    ...body.map((l) => '    ' + l),
    ...EPILOGUE.map((l) => '  ' + l),
    '}',
  ];
  // The trailing empty line is what makes `-Command -` run the statement (see the header).
  return Object.freeze({ id, text: lines.join('\n') + '\n\n' });
}

export const getSchedulerScript = defineScript('adsync.getScheduler', { importAdsync: true }, [
  '$result = Get-SyncShiftScheduler',
]);

/**
 * Disables the scheduler before stopping the running cycle (the tutorial does it the other way
 * round): otherwise the scheduler may start a new cycle between the two calls.
 */
export const stopSchedulerScript = defineScript('adsync.stopScheduler', { importAdsync: true }, [
  '$wait = 60',
  'if ($p -and $null -ne $p.waitSeconds) { $wait = [int]$p.waitSeconds }',
  "Assert-SyncShiftNotStaging 'stop the sync scheduler'",
  'Set-ADSyncScheduler -SyncCycleEnabled $false | Out-Null',
  '$state = Get-SyncShiftScheduler',
  'if ($state.syncCycleInProgress -or $state.runningConnector) { Stop-ADSyncSyncCycle | Out-Null }',
  '$deadline = (Get-Date).AddSeconds($wait)',
  '$state = Get-SyncShiftScheduler',
  'while (($state.syncCycleInProgress -or $state.runningConnector) -and (Get-Date) -lt $deadline) {',
  '  Start-Sleep -Seconds 2',
  '  $state = Get-SyncShiftScheduler',
  '}',
  '$result = [ordered]@{ stopped = (-not ($state.syncCycleInProgress -or $state.runningConnector)); scheduler = $state }',
]);

export const startSchedulerScript = defineScript('adsync.startScheduler', { importAdsync: true }, [
  '$policy = [string]$p.policyType',
  "if ($policy -ne 'Delta' -and $policy -ne 'Initial') { Stop-SyncShift 'INVALID_PARAMS' 'policyType must be Delta or Initial.' }",
  "Assert-SyncShiftNotStaging 'start the sync scheduler'",
  '$state = Get-SyncShiftScheduler',
  'if ($state.syncCycleInProgress -or $state.runningConnector) {',
  "  Stop-SyncShift 'SYNC_IN_PROGRESS' 'A sync cycle is still running, so a new one was not started.'",
  '}',
  'Set-ADSyncScheduler -SyncCycleEnabled $true | Out-Null',
  '$startResult = $null',
  'try { $startResult = @(Start-ADSyncSyncCycle -PolicyType $policy)[0] } catch {',
  // Start-ADSyncSyncCycle reports a running cycle as InvalidOperationException "... is busy".
  "  if ($_.Exception.Message -like '*busy*') { Stop-SyncShift 'SYNC_IN_PROGRESS' $_.Exception.Message }",
  '  throw',
  '}',
  '$resultText = $null',
  'if ($null -ne $startResult) { $resultText = [string]$startResult.Result }',
  '$result = [ordered]@{ started = $true; policyType = $policy; startResult = $resultText; scheduler = (Get-SyncShiftScheduler) }',
]);

/** Writes into a new folder so a backup never overwrites or mixes with an earlier one. */
export const exportConfigScript = defineScript('adsync.exportConfig', { importAdsync: true }, [
  '$base = [string]$p.baseDir',
  '$name = [string]$p.folderName',
  "if (-not [System.IO.Directory]::Exists($base)) { Stop-SyncShift 'INVALID_PARAMS' ('The backup folder ' + $base + ' does not exist on this server.') }",
  "if ($name -notmatch '^[A-Za-z0-9._-]{1,100}$') { Stop-SyncShift 'INVALID_PARAMS' 'The backup subfolder name is not a plain folder name.' }",
  '$dir = [System.IO.Path]::Combine($base, $name)',
  "if ([System.IO.Directory]::Exists($dir)) { Stop-SyncShift 'REFUSED' ('The backup folder ' + $dir + ' already exists; nothing was written.') }",
  '[void][System.IO.Directory]::CreateDirectory($dir)',
  'Get-ADSyncServerConfiguration -Path $dir | Out-Null',
  '$files = @(Get-ChildItem -LiteralPath $dir -Recurse -File)',
  '[long]$bytes = 0',
  'foreach ($f in $files) { $bytes += $f.Length }',
  '$result = [ordered]@{ path = $dir; files = $files.Count; bytes = $bytes }',
]);

/**
 * Connector kinds: the AD connector reports ConnectorTypeName 'AD'; the Entra connector is an
 * Extensible2 connector whose SubType names Azure AD (**unverified** on current builds, so the raw
 * values are returned too).
 */
export const listRulesScript = defineScript('adsync.listRules', { importAdsync: true }, [
  '$rules = @(foreach ($r in @(Get-ADSyncRule)) {',
  '  [ordered]@{',
  '    identifier = [string]$r.Identifier',
  '    name = [string]$r.Name',
  '    description = [string]$r.Description',
  '    direction = [string]$r.Direction',
  '    precedence = [int]$r.Precedence',
  '    immutableTag = [string]$r.ImmutableTag',
  '    disabled = [bool]$r.Disabled',
  '    connector = [string]$r.Connector',
  '    sourceObjectType = [string]$r.SourceObjectType',
  '    targetObjectType = [string]$r.TargetObjectType',
  '    linkType = [string]$r.LinkType',
  '  }',
  '})',
  '$connectors = @(foreach ($c in @(Get-ADSyncConnector)) {',
  "  $type = 'Other'",
  "  if ([string]$c.ConnectorTypeName -eq 'AD') { $type = 'AD' }",
  "  elseif ([string]$c.SubType -like '*Azure Active Directory*' -or [string]$c.SubType -like '*Entra*') { $type = 'Entra' }",
  '  $partitions = @(foreach ($part in $c.Partitions) { if ($part.DN) { [string]$part.DN } else { [string]$part.Name } })',
  '  [ordered]@{',
  '    identifier = [string]$c.Identifier',
  '    name = [string]$c.Name',
  '    type = $type',
  '    connectorTypeName = [string]$c.ConnectorTypeName',
  '    subType = [string]$c.SubType',
  '    partitions = $partitions',
  '  }',
  '})',
  '$result = [ordered]@{ rules = $rules; connectors = $connectors }',
]);

/**
 * One rule per run, so a failure names exactly the rule that failed. The precedence is checked
 * again here because another admin may have used it since the agent last listed the rules.
 */
export const createRuleScript = defineScript('adsync.createRule', { importAdsync: true }, [
  "Assert-SyncShiftNotStaging 'create a sync rule'",
  '$r = $p.rule',
  '$precedence = [int]$r.precedence',
  '$clash = @(Get-ADSyncRule | Where-Object { $_.Precedence -eq $precedence })',
  "if ($clash.Count -gt 0) { Stop-SyncShift 'RULE_CONFLICT' ('Precedence ' + $precedence + ' is already used by the rule ' + [string]$clash[0].Name + '.') }",
  '$rule = @(New-ADSyncRule -Name ([string]$r.name) -Identifier ([guid][string]$p.identifier) -Description ([string]$r.description) `',
  '  -Direction ([string]$r.direction) -Precedence $precedence `',
  "  -PrecedenceAfter '00000000-0000-0000-0000-000000000000' -PrecedenceBefore '00000000-0000-0000-0000-000000000000' `",
  '  -SourceObjectType ([string]$r.sourceObjectType) -TargetObjectType ([string]$r.targetObjectType) `',
  "  -Connector ([guid][string]$p.connectorId) -LinkType ([string]$r.linkType) -SoftDeleteExpiryInterval 0 -ImmutableTag '')[0]",
  'foreach ($f in $r.attributeFlows) {',
  '  $rule = @(Add-ADSyncAttributeFlowMapping -SynchronizationRule $rule -Source @([string]$f.source) -Destination ([string]$f.destination) `',
  '    -FlowType ([string]$f.flowType) -ValueMergeType ([string]$f.valueMergeType))[0]',
  '}',
  '$conditions = @(foreach ($c in $r.scope) {',
  "  New-Object -TypeName 'Microsoft.IdentityManagement.PowerShell.ObjectModel.ScopeCondition' -ArgumentList ([string]$c.attribute), ([string]$c.value), ([string]$c.operator)",
  '})',
  '$rule = @(Add-ADSyncScopeConditionGroup -SynchronizationRule $rule -ScopeConditions $conditions)[0]',
  'Add-ADSyncRule -SynchronizationRule $rule | Out-Null',
  '$result = [ordered]@{ identifier = [string]$rule.Identifier; name = [string]$rule.Name; precedence = [int]$rule.Precedence }',
]);

/**
 * Looks every rule up before changing any, so a wrong identifier changes nothing. Refuses built-in
 * rules (non-empty ImmutableTag): disabling those is unsupported and SyncShift never created them.
 * Refuses custom rules without SyncShift's name marker too: another admin's rule is not ours to
 * switch off, whatever identifier the bot sends (checked here, in the same run as the change).
 */
export const setRulesDisabledScript = defineScript('adsync.setRulesDisabled', { importAdsync: true }, [
  '$disabled = [bool]$p.disabled',
  "Assert-SyncShiftNotStaging 'change sync rules'",
  '$found = @(foreach ($id in $p.identifiers) {',
  '  $rule = $null',
  '  try { $rule = Get-ADSyncRule -Identifier ([guid][string]$id) } catch { $rule = $null }',
  "  if (-not $rule) { Stop-SyncShift 'NOT_FOUND' ('No sync rule has the identifier ' + [string]$id + '.') }",
  "  if ([string]$rule.ImmutableTag) { Stop-SyncShift 'REFUSED' ('The rule ' + [string]$rule.Name + ' is a built-in rule; SyncShift only changes rules it created.') }",
  "  if (-not ([string]$rule.Name).Contains('(SyncShift)')) { Stop-SyncShift 'REFUSED' ('The rule ' + [string]$rule.Name + ' was not created by SyncShift; SyncShift only changes rules it created.') }",
  '  $rule',
  '})',
  '$changed = @(foreach ($rule in $found) {',
  '  $rule.Disabled = $disabled',
  '  Add-ADSyncRule -SynchronizationRule $rule | Out-Null',
  '  [ordered]@{ identifier = [string]$rule.Identifier; name = [string]$rule.Name; disabled = $disabled }',
  '})',
  '$result = [ordered]@{ rules = $changed }',
]);

const SERVICE_STATE = [
  '$svc = Get-Service -Name ADSync',
  '$result = [ordered]@{ status = [string]$svc.Status; startType = [string]$svc.StartType; previousStartType = $previous }',
];

/**
 * Reads staging mode through the ADSync module while the service still runs (the module talks to
 * it), then stops the service. The start type is read before anything changes and returned, so the
 * undo can restore it. Stopping and disabling a service needs local Administrators on the server;
 * ADSyncAdmins is not enough.
 */
export const stopServiceScript = defineScript('adsync.stopService', { importAdsync: false }, [
  '$svc = Get-Service -Name ADSync -ErrorAction SilentlyContinue',
  "if (-not $svc) { Stop-SyncShift 'NOT_AVAILABLE' 'The ADSync service is not installed on this server.' }",
  '$previous = [string]$svc.StartType',
  // Staging mode is read through the service; a stopped one cannot say whether this is the active server.
  "if ([string]$svc.Status -ne 'Running') { Stop-SyncShift 'REFUSED' ('The ADSync service is ' + [string]$svc.Status + ', so SyncShift cannot read whether this server is in staging mode and changed nothing. Start it, or disable it by hand.') }",
  'Import-SyncShiftAdsync',
  "Assert-SyncShiftNotStaging 'stop the ADSync service'",
  'Stop-Service -Name ADSync',
  'Set-Service -Name ADSync -StartupType Disabled',
  ...SERVICE_STATE,
]);

export const startServiceScript = defineScript('adsync.startService', { importAdsync: false }, [
  '$svc = Get-Service -Name ADSync -ErrorAction SilentlyContinue',
  "if (-not $svc) { Stop-SyncShift 'NOT_AVAILABLE' 'The ADSync service is not installed on this server.' }",
  '$previous = [string]$svc.StartType',
  '$startType = [string]$p.startType',
  "if ($startType -ne 'Automatic' -and $startType -ne 'Manual') { Stop-SyncShift 'INVALID_PARAMS' 'startType must be Automatic or Manual.' }",
  'Set-Service -Name ADSync -StartupType $startType',
  'Start-Service -Name ADSync',
  // Staging mode can only be read once the service runs; on a staging server everything goes back as it was.
  'Import-SyncShiftAdsync',
  'if ([bool](Get-ADSyncScheduler).StagingModeEnabled) {',
  '  Stop-Service -Name ADSync',
  '  Set-Service -Name ADSync -StartupType $previous',
  "  Assert-SyncShiftNotStaging 'start the ADSync service'",
  '}',
  ...SERVICE_STATE,
]);

/**
 * `/readiness`: what Connect Sync is configured to do, read only. Global settings are passed on by
 * name (the troubleshooting guide reads Microsoft.OptionalFeature.FilterAAD this way); the rules in
 * src/runbook/readiness.ts decide what each name means. ObjectInclusionList and
 * AttributeInclusionList are the properties the same guide reads; ConnectorPartitionScope's
 * ContainerInclusionList/ContainerExclusionList (OU filtering) are **unverified** property names,
 * so a missing one reads as "no OU filtering reported". Get-ADSyncAADCompanyFeature is called with
 * -ConnectorName as Microsoft's password hash sync troubleshooting script calls it.
 */
export const readinessScript = defineScript('adsync.readiness', { importAdsync: true }, [
  '$settings = @(foreach ($prm in @((Get-ADSyncGlobalSettings).Parameters)) {',
  '  $name = [string]$prm.Name',
  "  if ($name -like 'Microsoft.OptionalFeature.*' -or $name -like 'Microsoft.SynchronizationOption.*' -or $name -like 'Microsoft.Synchronize.*') {",
  '    [ordered]@{ name = $name; value = [string]$prm.Value }',
  '  }',
  '})',
  '$connectors = @(foreach ($c in @(Get-ADSyncConnector)) {',
  "  $type = 'Other'",
  "  if ([string]$c.ConnectorTypeName -eq 'AD') { $type = 'AD' }",
  "  elseif ([string]$c.SubType -like '*Azure Active Directory*' -or [string]$c.SubType -like '*Entra*') { $type = 'Entra' }",
  '  $partitions = @(foreach ($part in @($c.Partitions)) {',
  '    $dn = [string]$part.DN',
  '    if (-not $dn) { $dn = [string]$part.Name }',
  '    $scope = $part.ConnectorPartitionScope',
  '    $included = @(foreach ($x in @($scope.ContainerInclusionList)) { if ($x) { [string]$x } })',
  '    $excluded = @(foreach ($x in @($scope.ContainerExclusionList)) { if ($x) { [string]$x } })',
  '    [ordered]@{ dn = $dn; included = $included; excluded = $excluded }',
  '  })',
  '  $objectTypes = @(foreach ($o in @($c.ObjectInclusionList)) { if ($o) { [string]$o } })',
  '  $attributes = @(foreach ($a in @($c.AttributeInclusionList)) { if ($a) { [string]$a } })',
  '  [ordered]@{',
  '    name = [string]$c.Name',
  '    type = $type',
  '    connectorTypeName = [string]$c.ConnectorTypeName',
  '    subType = [string]$c.SubType',
  '    objectTypes = $objectTypes',
  '    attributeCount = $attributes.Count',
  '    partitions = $partitions',
  '  }',
  '})',
  '$features = [ordered]@{}',
  "$entra = @(foreach ($c in $connectors) { if ($c.type -eq 'Entra') { $c.name } })",
  'if ($entra.Count -eq 1) {',
  '  $f = Get-ADSyncAADCompanyFeature -ConnectorName $entra[0]',
  '  foreach ($pp in $f.PSObject.Properties) { if ($pp.Value -is [bool]) { $features[[string]$pp.Name] = [bool]$pp.Value } }',
  '}',
  '$rules = @(foreach ($r in @(Get-ADSyncRule)) {',
  '  [ordered]@{',
  '    identifier = [string]$r.Identifier',
  '    name = [string]$r.Name',
  '    description = [string]$r.Description',
  '    direction = [string]$r.Direction',
  '    precedence = [int]$r.Precedence',
  '    immutableTag = [string]$r.ImmutableTag',
  '    disabled = [bool]$r.Disabled',
  '    connector = [string]$r.Connector',
  '    sourceObjectType = [string]$r.SourceObjectType',
  '    targetObjectType = [string]$r.TargetObjectType',
  '    linkType = [string]$r.LinkType',
  '  }',
  '})',
  '$staging = [bool](Get-ADSyncScheduler).StagingModeEnabled',
  '$result = [ordered]@{ globalSettings = $settings; companyFeatures = $features; stagingModeEnabled = $staging; connectors = $connectors; rules = $rules }',
]);

/**
 * Issue 16's no-flow check, read only: for each DN the agent read from the OU over LDAP, the AD
 * connector's connector space object (Get-ADSyncCSObject -ConnectorName -DistinguishedName) and the
 * metaverse object it is joined to (Get-ADSyncMVObject -Identifier ConnectedMVObjectId), and from that
 * the metaverse attribute cloudNoFlow. Both cmdlets are on the ADSync PowerShell Reference page; their
 * output properties (ConnectedMVObjectId, ObjectType, Attributes with Name and Values) are not, so they
 * are **unverified** and read defensively. A lookup that throws (a DN not in the connector space may
 * throw or return nothing, **unverified**) is reported per object rather than failing the run.
 * With readRuns, the AD connector's latest runs (Get-ADSyncRunProfileResult -ConnectorId
 * -NumberRequested) and the scheduler come too; dates are written as UTC (the sync engine keeps its run
 * history in UTC, **unverified** for this cmdlet), to the millisecond, since a run is compared with the
 * moment the rules were created.
 */
export const noFlowCheckScript = defineScript('adsync.noFlowCheck', { importAdsync: true }, [
  '$connectorName = [string]$p.connectorName',
  "if (-not $connectorName) { Stop-SyncShift 'INVALID_PARAMS' 'No AD connector name was given.' }",
  "$emptyId = '00000000-0000-0000-0000-000000000000'",
  '$objects = @(foreach ($dn in @($p.dns)) {',
  '  $dnText = [string]$dn',
  '  $cs = $null',
  '  $readError = $null',
  '  try { $cs = Get-ADSyncCSObject -ConnectorName $connectorName -DistinguishedName $dnText } catch { $readError = [string]$_.Exception.Message }',
  '  $csType = $null',
  '  $mvId = $null',
  '  $flag = $null',
  '  if ($null -ne $cs) {',
  '    $csType = [string]$cs.ObjectType',
  '    $joined = [string]$cs.ConnectedMVObjectId',
  '    if ($joined -and $joined -ne $emptyId) {',
  '      $mvId = $joined',
  '      try {',
  '        $mv = Get-ADSyncMVObject -Identifier ([guid]$joined)',
  "        $attr = @(@($mv.Attributes) | Where-Object { [string]$_.Name -eq 'cloudNoFlow' })",
  '        if ($attr.Count -gt 0) {',
  '          $values = @($attr[0].Values)',
  '          if ($values.Count -gt 0 -and $null -ne $values[0]) { $flag = [string]$values[0] }',
  '        }',
  '      } catch { $readError = [string]$_.Exception.Message }',
  '    }',
  '  }',
  '  [ordered]@{ dn = $dnText; inConnectorSpace = ($null -ne $cs); csObjectType = $csType; mvObjectId = $mvId; cloudNoFlow = $flag; readError = $readError }',
  '})',
  '$runs = @()',
  '$scheduler = $null',
  'if ($p.readRuns) {',
  '  $runs = @(foreach ($r in @(Get-ADSyncRunProfileResult -ConnectorId ([guid][string]$p.connectorId) -NumberRequested 20)) {',
  '    if ($null -ne $r) {',
  '      $start = $null',
  '      $end = $null',
  "      if ($r.StartDate) { $start = ([datetime]$r.StartDate).ToString(\"yyyy-MM-dd'T'HH:mm:ss.fff'Z'\", [System.Globalization.CultureInfo]::InvariantCulture) }",
  "      if ($r.EndDate) { $end = ([datetime]$r.EndDate).ToString(\"yyyy-MM-dd'T'HH:mm:ss.fff'Z'\", [System.Globalization.CultureInfo]::InvariantCulture) }",
  '      [ordered]@{ connectorName = [string]$r.ConnectorName; runProfileName = [string]$r.RunProfileName; result = [string]$r.Result; isRunComplete = [bool]$r.IsRunComplete; startDate = $start; endDate = $end }',
  '    }',
  '  })',
  '  $scheduler = Get-SyncShiftScheduler',
  '}',
  '$result = [ordered]@{ objects = $objects; runs = $runs; scheduler = $scheduler }',
]);

export const ADSYNC_SCRIPTS: readonly FixedScript[] = Object.freeze([
  getSchedulerScript,
  stopSchedulerScript,
  startSchedulerScript,
  exportConfigScript,
  listRulesScript,
  createRuleScript,
  setRulesDisabledScript,
  stopServiceScript,
  startServiceScript,
  readinessScript,
  noFlowCheckScript,
]);
