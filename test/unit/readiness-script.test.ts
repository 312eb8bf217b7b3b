import { readinessScript } from '../../src/agent/powershell/scripts';

/**
 * The cmdlets the readiness script calls, with the parameters Microsoft's pages show them called
 * with: the ADSync PowerShell reference (Get-ADSyncScheduler takes none), the Connect Sync
 * troubleshooting guide (`(Get-ADSyncGlobalSettings).Parameters`, `Get-ADSyncConnector` and its
 * ObjectInclusionList/AttributeInclusionList, `Get-ADSyncRule` piped to Where-Object) and the
 * password hash sync troubleshooting script (`Get-ADSyncAADCompanyFeature -ConnectorName`).
 */
const DOCUMENTED: Record<string, readonly string[]> = {
  'Get-ADSyncGlobalSettings': [],
  'Get-ADSyncConnector': ['Name', 'Identifier'],
  'Get-ADSyncAADCompanyFeature': ['ConnectorName'],
  'Get-ADSyncRule': ['Identifier'],
  'Get-ADSyncScheduler': [],
};

/** The script's own statements: what runs after the ADSync module is loaded, before the result is written. */
function body(): string {
  const text = readinessScript.text;
  const start = text.indexOf('Import-SyncShiftAdsync\n');
  const end = text.indexOf('Write-SyncShiftEnvelope ([ordered]@{ ok = $true');
  expect(start).toBeGreaterThan(0);
  return text.slice(start, end);
}

describe('the readiness script', () => {
  it('calls only documented ADSync cmdlets, with documented parameters', () => {
    const calls = [...body().matchAll(/\b([A-Z][a-z]+-ADSync[A-Za-z]+)\b([^\n|)]*)/g)];
    expect(new Set(calls.map((c) => c[1]))).toEqual(new Set(Object.keys(DOCUMENTED)));
    for (const [, cmdlet, rest] of calls) {
      const params = [...(rest ?? '').matchAll(/(?:^|\s)-([A-Za-z]+)/g)].map((m) => m[1]!);
      for (const p of params) expect([cmdlet, p, DOCUMENTED[cmdlet!]!.includes(p)]).toEqual([cmdlet, p, true]);
    }
  });

  it('only reads: every command it runs is a Get', () => {
    const verbs = [...body().matchAll(/\b([A-Z][a-z]+)-[A-Z][A-Za-z]+\b/g)].map((m) => m[1]);
    expect(new Set(verbs)).toEqual(new Set(['Import', 'Get']));
  });
});
