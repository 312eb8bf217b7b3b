import { resolveOu } from '../../src/agent/resolve-ou';
import { SimulatedDirectory } from '../../src/directory/simulated-directory';
import {
  cloudSyncCovers,
  includedOus,
  sameScopeAsApproved,
  scopeAddApproval,
  scopeCovers,
  scopeReadBack,
  scopeValueFromEvidence,
  scopeWithOu,
  scopeWithoutOu,
  type CloudSyncScope,
  type ScopeReading,
} from '../../src/runbook/cloud-sync-scope';
import { pilotOuEvidence } from '../../src/runbook/step-evidence';
import { OU } from '../../src/sandbox/forest-spec';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';

const scope = (...lists: string[][]): CloudSyncScope => ({
  rules: lists.map((includedContainers, i) => ({ id: `rule-${i}`, includedContainers })),
});
const reading = (s: CloudSyncScope, statusCode = 'Active'): ScopeReading => ({
  servicePrincipalId: 'sp',
  jobId: 'AD2AADProvisioning.x.y',
  statusCode,
  scope: s,
});

describe('Cloud Sync scope (containerFilter.includedContainers)', () => {
  it('reads an empty list as no filter: the whole domain is covered', () => {
    expect(scopeCovers(scope([]), OU.rAndD)).toBe(true);
    expect(includedOus(scope([]))).toEqual([]);
    // A schema without rules provisions nothing.
    expect(scopeCovers({ rules: [] }, OU.rAndD)).toBe(false);
  });

  it('covers an OU listed in every rule, or under a listed parent, compared as AD compares DNs', () => {
    const s = scope([OU.sales.toUpperCase(), OU.rAndD], [OU.rAndD.toLowerCase()]);
    expect(scopeCovers(s, OU.rAndD)).toBe(true);
    // Sales is only in one rule: part of its objects would stay out.
    expect(scopeCovers(s, OU.sales)).toBe(false);
    expect(scopeCovers(scope(['DC=contoso,DC=com']), OU.legacy)).toBe(true);
    // SalesOps is not under Sales, however the strings begin.
    expect(scopeCovers(scope([OU.sales]), OU.salesOps)).toBe(false);
    expect(includedOus(s)).toEqual([OU.rAndD]);
  });

  it('adds an OU to every rule exactly as given, once', () => {
    const added = scopeWithOu(scope([OU.sales]), OU.rAndD);
    expect(added).toEqual({
      ok: true,
      changed: true,
      rules: [{ id: 'rule-0', includedContainers: [OU.sales, OU.rAndD] }],
    });
    expect(scopeWithOu(scope([OU.rAndD]), OU.rAndD.toLowerCase())).toMatchObject({ ok: true, changed: false });
    expect(scopeWithOu({ rules: [] }, OU.rAndD)).toMatchObject({ ok: false });
  });

  it('takes an OU out, but never the last one: an empty list would cover the whole domain', () => {
    expect(scopeWithoutOu(scope([OU.sales, OU.rAndD]), OU.rAndD.toLowerCase())).toEqual({
      ok: true,
      changed: true,
      rules: [{ id: 'rule-0', includedContainers: [OU.sales] }],
    });
    const last = scopeWithoutOu(scope([OU.rAndD]), OU.rAndD);
    expect(last).toMatchObject({ ok: false, reason: expect.stringContaining('whole domain') });
    expect(scopeWithoutOu(scope([OU.sales]), OU.rAndD)).toMatchObject({ ok: true, changed: false });
  });

  it('counts an OU as covered only while the job is Active', () => {
    expect(cloudSyncCovers(reading(scope([OU.rAndD])), OU.rAndD)).toBe(true);
    expect(cloudSyncCovers(reading(scope([OU.rAndD]), 'Paused'), OU.rAndD)).toBe(false);
    expect(scopeReadBack(OU.rAndD, reading(scope([OU.rAndD]), 'Paused'), 'covered')).toMatchObject({
      ok: false,
      reason: 'the Cloud Sync job is Paused, not Active',
    });
    expect(scopeReadBack(OU.rAndD, reading(scope([OU.sales])), 'uncovered')).toMatchObject({ ok: true });
  });

  it('voids an approval when the scope or the job status read before running differs', () => {
    const approved = scopeAddApproval(OU.rAndD, reading(scope([OU.sales]), 'Paused'));
    expect('evidence' in approved && approved.evidence).toMatchObject({
      scopeValue: OU.rAndD,
      scopeBefore: [[OU.sales]],
      jobStatus: 'Paused',
      wholeDomainBefore: false,
      alreadyInScope: false,
    });
    const evidence = 'evidence' in approved ? approved.evidence : null;
    expect(sameScopeAsApproved(evidence, reading(scope([OU.sales]), 'Paused'))).toBe(true);
    expect(sameScopeAsApproved(evidence, reading(scope([OU.sales, OU.legacy]), 'Paused'))).toBe(false);
    expect(sameScopeAsApproved(evidence, reading(scope([OU.sales]), 'Active'))).toBe(false);
    expect(scopeAddApproval(null, reading(scope([])))).toMatchObject({ refusal: expect.any(String) });
  });
});

describe('the scope value is the DN as AD wrote it, never the text typed', () => {
  const directory = () => new SimulatedDirectory(buildSeededForest());

  it.each([
    ['a relative DN in lower case', 'ou=r\\,d'],
    ['a full DN in lower case', 'ou=r\\,d,dc=contoso,dc=com'],
    ['a full DN with spaces and upper-case types', 'OU=R\\,D, DC=CONTOSO, DC=COM'],
  ])('%s', async (_what, typed) => {
    const resolved = await resolveOu(directory(), typed);
    expect(resolved.baseDn).toBe(OU.rAndD);
    // What step 5 stores from the agent's scan, and what step 11 then writes into the scope.
    const evidence = pilotOuEvidence({ baseDn: resolved.baseDn, totals: { users: 7, disabled: 0 } }, 'job1');
    const value = scopeValueFromEvidence(evidence);
    expect(value).toBe('OU=R\\,D,DC=contoso,DC=com');
    const approval = scopeAddApproval(value, reading(scope([])));
    expect('evidence' in approval && approval.evidence.scopeValue).toBe('OU=R\\,D,DC=contoso,DC=com');
  });

  it('takes nothing that is not a DN', () => {
    expect(scopeValueFromEvidence({ pilotOu: 'R&D' })).toBeNull();
    expect(scopeValueFromEvidence({ baseDn: OU.legacy })).toBe(OU.legacy);
    expect(scopeValueFromEvidence(null)).toBeNull();
  });
});
