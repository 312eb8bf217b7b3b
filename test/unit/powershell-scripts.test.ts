import * as scripts from '../../src/agent/powershell/scripts';
import { ADSYNC_SCRIPTS, type FixedScript } from '../../src/agent/powershell/scripts';
import { checkCall } from '../helpers/documented-cmdlets';
import { parsePowerShell, type ParsedScript } from '../helpers/powershell-grammar';

/**
 * No PowerShell runs here, so every fixed script the agent runs is parsed with the PowerShell grammar
 * (tree-sitter-powershell) and each command it calls is checked against the parameters Microsoft
 * documents (test/helpers/documented-cmdlets.ts names the page for each cmdlet). The scripts take
 * their parameters from SYNCSHIFT_PARAMS at run time and are never templated, so the text parsed here
 * is byte for byte what the agent pipes to `powershell -Command -`.
 */

function isFixedScript(value: unknown): value is FixedScript {
  return typeof value === 'object' && value !== null && 'id' in value && 'text' in value;
}

const exported = Object.entries(scripts)
  .filter(([, v]) => isFixedScript(v))
  .map(([name, v]) => [name, v as FixedScript] as const);

describe('the fixed PowerShell scripts, read with the PowerShell grammar', () => {
  const parsed = new Map<string, ParsedScript>();

  beforeAll(async () => {
    for (const [, s] of exported) parsed.set(s.id, await parsePowerShell(s.text));
  });

  it('covers every exported script, and ADSYNC_SCRIPTS lists them all', () => {
    expect(exported.length).toBeGreaterThanOrEqual(10);
    expect(new Set(ADSYNC_SCRIPTS)).toEqual(new Set(exported.map(([, s]) => s)));
  });

  it.each(exported.map(([name, s]) => [name, s.id, s]))('%s (%s) parses with no ERROR or MISSING node', (_n, id) => {
    expect({ id, errors: parsed.get(id)!.syntaxErrors }).toEqual({ id, errors: [] });
  });

  it('calls only documented cmdlets, with documented parameters and values', () => {
    const problems = exported.flatMap(([, s]) => {
      const p = parsed.get(s.id)!;
      return p.calls.flatMap((c) => checkCall(s.id, c, p.functions)).map((x) => `line ${x.line}: ${x.message}`);
    });
    expect(problems).toEqual([]);
  });

  it('finds the calls each script is there to make, continuation lines included', () => {
    const calls = (id: string): Map<string, string[]> => {
      const m = new Map<string, string[]>();
      for (const c of parsed.get(id)!.calls) m.set(c.name, [...(m.get(c.name) ?? []), ...c.parameters]);
      return m;
    };
    // The rule is created with one New-ADSyncRule spread over five lines joined by backticks.
    expect(calls('adsync.createRule').get('New-ADSyncRule')).toEqual([
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
    ]);
    expect(calls('adsync.createRule').get('Add-ADSyncAttributeFlowMapping')).toEqual([
      'SynchronizationRule',
      'Source',
      'Destination',
      'FlowType',
      'ValueMergeType',
    ]);
    expect(calls('adsync.createRule').get('Add-ADSyncScopeConditionGroup')).toEqual([
      'SynchronizationRule',
      'ScopeConditions',
    ]);
    expect(calls('adsync.startScheduler').get('Start-ADSyncSyncCycle')).toEqual(['PolicyType']);
    expect(calls('adsync.stopScheduler').get('Set-ADSyncScheduler')).toEqual(['SyncCycleEnabled']);
    expect(calls('adsync.exportConfig').get('Get-ADSyncServerConfiguration')).toEqual(['Path']);
    expect(calls('adsync.stopService').get('Set-Service')).toEqual(['Name', 'StartupType']);
    expect(calls('adsync.startService').get('Start-Service')).toEqual(['Name']);
    expect(calls('adsync.readiness').get('Get-ADSyncAADCompanyFeature')).toEqual(['ConnectorName']);
    // Issue 16's no-flow check: connector space by name and DN, metaverse by id, the AD connector's runs.
    expect(calls('adsync.noFlowCheck').get('Get-ADSyncCSObject')).toEqual(['ConnectorName', 'DistinguishedName']);
    expect(calls('adsync.noFlowCheck').get('Get-ADSyncMVObject')).toEqual(['Identifier']);
    expect(calls('adsync.noFlowCheck').get('Get-ADSyncRunProfileResult')).toEqual(['ConnectorId', 'NumberRequested']);
    expect(calls('adsync.noFlowCheck').has('Assert-SyncShiftNotStaging')).toBe(false);
    // The staging check helper every changing script calls, and the scheduler helper it reads.
    for (const id of [
      'adsync.stopScheduler',
      'adsync.startScheduler',
      'adsync.createRule',
      'adsync.setRulesDisabled',
      'adsync.stopService',
      'adsync.startService',
    ]) {
      expect([id, calls(id).has('Assert-SyncShiftNotStaging')]).toEqual([id, true]);
    }
    expect([...parsed.get('adsync.getScheduler')!.functions.keys()]).toEqual([
      'Write-SyncShiftEnvelope',
      'Stop-SyncShift',
      'Import-SyncShiftAdsync',
      'Assert-SyncShiftNotStaging',
      'Get-SyncShiftScheduler',
    ]);
  });
});

describe('the cmdlet check', () => {
  const check = async (text: string): Promise<string[]> => {
    const p = await parsePowerShell(text);
    expect(p.syntaxErrors).toEqual([]);
    return p.calls.flatMap((c) => checkCall('test.script', c, p.functions)).map((x) => x.message);
  };

  it('names the script, cmdlet and parameter of an undocumented parameter', async () => {
    // Set-ADSyncScheduler cannot set staging mode; the reference lists no such parameter.
    const problems = await check('Set-ADSyncScheduler -StagingModeEnabled $true');
    expect(problems).toHaveLength(1);
    expect(problems[0]).toMatch(
      /^test\.script: Set-ADSyncScheduler -StagingModeEnabled: Microsoft documents no such parameter/,
    );
  });

  it('fails an unknown cmdlet, a wrong value and an undeclared parameter of a local function', async () => {
    expect(await check('Invoke-Expression $x')).toEqual([
      expect.stringMatching(/^test\.script: Invoke-Expression is not in the table/),
    ]);
    expect(await check('Start-ADSyncSyncCycle -PolicyType Full')).toEqual([
      expect.stringMatching(/-PolicyType Full: not an accepted value/),
    ]);
    expect(await check('Set-Service -Name ADSync -StartupType AutomaticDelayedStart')).toHaveLength(1);
    expect(await check('function Stop-X([string]$code) { }\nStop-X -code a -message b')).toEqual([
      expect.stringMatching(/Stop-X -message: the script's own function Stop-X declares no such parameter/),
    ]);
  });

  it('accepts common parameters, any case, and parameters split over continuation lines', async () => {
    expect(
      await check(
        "get-service -name ADSync -ErrorAction SilentlyContinue\nNew-ADSyncRule -Name 'x' `\n  -Direction 'Inbound'",
      ),
    ).toEqual([]);
  });

  it('reports a script the grammar cannot read', async () => {
    const p = await parsePowerShell('& {\n  if ($a) { Get-ADSyncRule\n');
    expect(p.syntaxErrors.length).toBeGreaterThan(0);
  });
});
