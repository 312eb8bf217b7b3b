import { readinessScript } from '../../src/agent/powershell/scripts';
import { checkCall } from '../helpers/documented-cmdlets';
import { parsePowerShell, type CommandCall, type ParsedScript } from '../helpers/powershell-grammar';

/**
 * The readiness script, read with the PowerShell grammar (test/unit/powershell-scripts.test.ts checks
 * every script the same way; the cmdlet table and its Microsoft pages are in
 * test/helpers/documented-cmdlets.ts).
 */

let parsed: ParsedScript;

beforeAll(async () => {
  parsed = await parsePowerShell(readinessScript.text);
});

/** The script's own calls: after the ADSync module is loaded, before the result is written. */
function bodyCalls(): CommandCall[] {
  const text = readinessScript.text;
  const start = text.indexOf('Import-SyncShiftAdsync\n');
  const end = text.indexOf('Write-SyncShiftEnvelope ([ordered]@{ ok = $true');
  expect(start).toBeGreaterThan(0);
  expect(end).toBeGreaterThan(start);
  return parsed.calls.filter((c) => c.start >= start && c.start < end);
}

describe('the readiness script', () => {
  it('parses, and calls the ADSync cmdlets it reads with documented parameters only', () => {
    expect(parsed.syntaxErrors).toEqual([]);
    const adsync = bodyCalls().filter((c) => /-ADSync/i.test(c.name));
    expect(new Set(adsync.map((c) => c.name))).toEqual(
      new Set([
        'Get-ADSyncGlobalSettings',
        'Get-ADSyncConnector',
        'Get-ADSyncAADCompanyFeature',
        'Get-ADSyncRule',
        'Get-ADSyncScheduler',
      ]),
    );
    expect(bodyCalls().flatMap((c) => checkCall(readinessScript.id, c, parsed.functions))).toEqual([]);
  });

  it('only reads: every command it runs is a Get', () => {
    const verbs = bodyCalls().map((c) => c.name.split('-')[0]);
    expect(new Set(verbs)).toEqual(new Set(['Import', 'Get']));
  });
});
