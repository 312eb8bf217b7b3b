import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { renderStepCard } from '../../src/cards/step-card';
import {
  acceptBlocker,
  CHECKS,
  compareVersions,
  evaluateReadiness,
  openBlockers,
  prerequisitesOutcome,
  SOURCES,
  toolOutcome,
  type ReadinessEvidence,
  type ReadinessReading,
} from '../../src/runbook/readiness';
import { initialSteps } from '../../src/runbook/runbook';
import { parseStepAction } from '../../src/runbook/step-actions';
import { STEPS } from '../../src/runbook/steps';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';

/** Connect Sync with express settings and a small clean forest: nothing blocks. */
function clean(): ReadinessReading {
  return {
    connectSync: {
      globalSettings: [
        { name: 'Microsoft.Synchronize.ServerConfigurationVersion', value: '2.4.129.0' },
        { name: 'Microsoft.SynchronizationOption.AnchorAttribute', value: 'mS-DS-ConsistencyGuid' },
        { name: 'Microsoft.OptionalFeature.FilterAAD', value: 'False' },
      ],
      companyFeatures: { PasswordHashSync: true, UserWriteBack: false, DeviceWriteback: false },
      stagingModeEnabled: false,
      connectors: [
        {
          name: 'contoso.com',
          type: 'AD',
          objectTypes: ['user', 'group', 'contact'],
          partitions: [{ dn: 'DC=contoso,DC=com', included: [], excluded: [] }],
        },
        { name: 'contoso.onmicrosoft.com - AAD', type: 'Entra', objectTypes: ['user'], partitions: [] },
      ],
      rules: [
        {
          name: 'In from AD - User Join',
          immutableTag: 'Microsoft.InfromADUserJoin.003',
          disabled: false,
          precedence: 100,
          sourceObjectType: 'user',
          targetObjectType: 'person',
        },
        {
          name: 'In from AD - User cloudNoFlow OU=Pilot (SyncShift)',
          immutableTag: '',
          disabled: false,
          precedence: 99,
          sourceObjectType: 'user',
          targetObjectType: 'person',
        },
      ],
    },
    directory: {
      defaultNamingContext: 'DC=contoso,DC=com',
      bases: ['DC=contoso,DC=com'],
      users: 1200,
      groups: 40,
      contacts: 10,
      organizationalUnits: 12,
      inetOrgPersons: 0,
      inetOrgPersonSample: [],
      usersWithoutConsistencyGuid: 0,
      withoutConsistencyGuidSample: [],
      largestGroups: [{ dn: 'CN=All Staff,OU=Groups,DC=contoso,DC=com', count: 1200 }],
    },
  };
}

const keys = (reading: ReadinessReading, severity: string): string[] =>
  evaluateReadiness(reading)
    .findings.filter((f) => f.severity === severity)
    .map((f) => f.key);

describe('readiness rules', () => {
  it('find nothing blocking in express settings, and list the facts with their sources', () => {
    const report = evaluateReadiness(clean());
    expect(keys(clean(), 'blocker')).toEqual([]);
    expect(keys(clean(), 'warning')).toEqual([]);
    expect(keys(clean(), 'fact')).toEqual([
      'version',
      'sourceAnchor',
      'connectors',
      'features',
      'ouFiltering',
      'objects',
      'transitionTool',
    ]);
    expect(report.findings.find((f) => f.key === 'version')!.detail).toBe('2.4.129.0');
    expect(report.findings.find((f) => f.key === 'transitionTool')!.detail).toMatch(/^Eligible/);
    expect(prerequisitesOutcome(report.prerequisites)).toEqual({ ok: true, reason: '' });
    for (const f of report.findings) expect(SOURCES[f.source].url).toMatch(/^https:\/\/learn\.microsoft\.com\//);
  });

  it('block on the documented limits: 150,000 objects per domain, 50,000 members per group', () => {
    const r = clean();
    r.directory.users = 150_001 - r.directory.groups - r.directory.contacts;
    expect(keys(r, 'blocker')).toEqual(['objectsPerDomain']);
    r.directory.users -= 1;
    expect(keys(r, 'blocker')).toEqual([]);
    r.directory.largestGroups = [{ dn: 'CN=Everyone\\, really,DC=contoso,DC=com', count: 50_001 }];
    const report = evaluateReadiness(r);
    expect(report.findings.filter((f) => f.severity === 'blocker')).toEqual([
      expect.objectContaining({
        key: 'groupMembers',
        items: ['CN=Everyone\\, really,DC=contoso,DC=com (50,001 members)'],
        source: 'decisionGuide',
      }),
    ]);
    r.directory.largestGroups = [{ dn: 'CN=x,DC=contoso,DC=com', count: 50_000 }];
    expect(keys(r, 'blocker')).toEqual([]);
  });

  it("block on custom rules (no ImmutableTag), but not on Microsoft's, disabled ones or SyncShift's own", () => {
    const r = clean();
    const custom = {
      name: 'In from AD - User extensionAttribute10 (Contoso)',
      immutableTag: '',
      disabled: false,
      precedence: 98,
      sourceObjectType: 'user',
      targetObjectType: 'person',
    };
    r.connectSync.rules.push({ ...custom, name: 'old', disabled: true });
    expect(keys(r, 'blocker')).toEqual([]);
    r.connectSync.rules.push(custom);
    const found = evaluateReadiness(r).findings.find((f) => f.key === 'customRules')!;
    expect(found).toMatchObject({ severity: 'blocker', items: [`${custom.name} (precedence 98)`] });
    expect(evaluateReadiness(r).findings.find((f) => f.key === 'transitionTool')!.detail).toContain(
      'Not eligible: custom sync rules',
    );
  });

  it('block on device sync, attribute filtering and unsupported writeback', () => {
    const r = clean();
    r.connectSync.connectors[0]!.objectTypes.push('computer');
    r.connectSync.globalSettings.push({ name: 'Microsoft.OptionalFeature.FilterAAD', value: 'True' });
    r.connectSync.globalSettings.splice(2, 1);
    r.connectSync.companyFeatures.DeviceWriteback = true;
    expect(keys(r, 'blocker')).toEqual(['deviceSync', 'attributeFiltering', 'unsupportedWriteback']);
    const prereq = evaluateReadiness(r).prerequisites.find((p) => p.key === 'noDeviceSync')!;
    expect(prereq.status).toBe('failed');
  });

  it('warn on forests, OU count, inetOrgPerson, missing ms-DS-ConsistencyGuid, staging, group writeback and extensions', () => {
    const r = clean();
    r.connectSync.connectors.push({ ...r.connectSync.connectors[0]!, name: 'fabrikam.com' });
    r.connectSync.connectors[0]!.partitions[0]!.included = Array.from(
      { length: 51 },
      (_, i) => `OU=Branch ${i},DC=contoso,DC=com`,
    );
    r.directory.inetOrgPersons = 2;
    r.directory.inetOrgPersonSample = ['CN=Ivan,OU=Legacy,DC=contoso,DC=com'];
    r.directory.usersWithoutConsistencyGuid = 7;
    r.connectSync.stagingModeEnabled = true;
    r.connectSync.globalSettings.push(
      { name: 'Microsoft.OptionalFeature.GroupWriteBack', value: 'True' },
      { name: 'Microsoft.OptionalFeature.DirectoryExtension', value: 'True' },
      {
        name: 'Microsoft.OptionalFeature.DirectoryExtensionAttributes',
        value: 'a.user.String.True,b.user.String.True',
      },
    );
    expect(keys(r, 'warning')).toEqual([
      'multipleForests',
      'scopedOus',
      'inetOrgPerson',
      'consistencyGuid',
      'stagingMode',
      'groupWriteback',
      'directoryExtensions',
    ]);
    expect(keys(r, 'blocker')).toEqual([]);
    const report = evaluateReadiness(r);
    expect(report.findings.find((f) => f.key === 'directoryExtensions')!.items).toEqual([
      'a.user.String.True',
      'b.user.String.True',
    ]);
    // Express settings no longer hold: two forests and OU filtering.
    expect(prerequisitesOutcome(report.prerequisites)).toMatchObject({ ok: false });
    expect(report.prerequisites.filter((p) => p.status === 'failed').map((p) => p.key)).toEqual([
      'oneForest',
      'allObjects',
    ]);
  });

  it('check the version and source anchor of step 2, and leave what cannot be read to a person', () => {
    const r = clean();
    r.connectSync.globalSettings[0]!.value = '1.1.880.0';
    r.connectSync.globalSettings[1]!.value = 'employeeID';
    r.connectSync.companyFeatures.PasswordHashSync = false;
    const report = evaluateReadiness(r);
    expect(report.prerequisites.filter((p) => p.status === 'failed').map((p) => p.key)).toEqual([
      'version',
      'sourceAnchor',
      'passwordHashSync',
    ]);
    expect(report.prerequisites.filter((p) => p.status === 'person').map((p) => p.key)).toEqual([
      'hybridIdentityAdmin',
      'gmsa',
      'agentHost',
      'tls12',
      'network',
    ]);
    r.connectSync.globalSettings = [];
    const unread = evaluateReadiness(r);
    expect(unread.prerequisites.find((p) => p.key === 'version')!.status).toBe('person');
    expect(unread.findings.find((f) => f.key === 'version')!.detail).toContain('not reported');
    expect(compareVersions('1.4.32.0', '1.4.32')).toBe(0);
    expect(compareVersions('1.10.0.0', '1.4.32.0')).toBe(1);
  });

  it('step 1 passes once an approver has accepted each blocker with a reason', () => {
    const r = clean();
    r.directory.largestGroups = [{ dn: 'CN=Big,DC=contoso,DC=com', count: 60_000 }];
    r.connectSync.connectors[0]!.objectTypes.push('computer');
    const report = evaluateReadiness(r);
    const evidence: ReadinessEvidence = {
      readiness: true,
      job: 'abc',
      findings: report.findings.map((f, i) =>
        f.severity === 'blocker' ? { ...f, id: `00000000-0000-4000-8000-00000000000${i}` } : f,
      ),
      prerequisites: report.prerequisites,
    };
    expect(toolOutcome(evidence)).toMatchObject({ ok: false, reason: expect.stringContaining('2 blocker(s)') });
    const [first, second] = openBlockers(evidence);
    const at = new Date('2026-12-05T08:00:00Z');
    const input = { by: 'Megan Bowen', byId: 'megan', at };
    expect(acceptBlocker(evidence, { ...input, findingId: first!.id!, reason: '  ' })).toEqual({
      ok: false,
      reason: 'Say why this blocker is accepted (type it in the reason box).',
    });
    expect(
      acceptBlocker(evidence, { ...input, findingId: '11111111-1111-4111-8111-111111111111', reason: 'x' }),
    ).toMatchObject({ ok: false });
    expect(acceptBlocker({ pilotOu: 'x' }, { ...input, findingId: first!.id!, reason: 'x' })).toMatchObject({
      ok: false,
    });
    const once = acceptBlocker(evidence, {
      ...input,
      findingId: first!.id!,
      reason: 'The group is split before its wave',
    });
    if (!once.ok) throw new Error(once.reason);
    expect(once.finding.accepted).toEqual({
      by: 'Megan Bowen',
      byId: 'megan',
      reason: 'The group is split before its wave',
      at: '2026-12-05T08:00:00.000Z',
    });
    expect(toolOutcome(once.evidence).ok).toBe(false);
    expect(acceptBlocker(once.evidence, { ...input, findingId: first!.id!, reason: 'again' })).toMatchObject({
      ok: false,
      reason: expect.stringContaining('already accepted by Megan Bowen'),
    });
    const twice = acceptBlocker(once.evidence, {
      ...input,
      findingId: second!.id!,
      reason: 'Devices stay on Connect Sync',
    });
    if (!twice.ok) throw new Error(twice.reason);
    expect(toolOutcome(twice.evidence)).toEqual({ ok: true, reason: '' });
  });

  it('the accept button carries opaque ids and the typed reason only', () => {
    const migrationId = '7c9e6679-7425-40de-944b-e07fc1f90ae7';
    const findingId = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    expect(parseStepAction('step.acceptBlocker', { migrationId, n: 1, findingId, reason: 'ok', extra: 1 })).toEqual({
      ok: true,
      action: { verb: 'step.acceptBlocker', migrationId, n: 1, findingId, reason: 'ok' },
    });
    expect(parseStepAction('step.acceptBlocker', { migrationId, n: 1, findingId: 'customRules' })).toMatchObject({
      ok: false,
      fields: ['findingId'],
    });
  });

  it('shows blockers, warnings and facts on step 1, with Accept buttons for approvers only', () => {
    const r = clean();
    r.connectSync.connectors[0]!.objectTypes.push('computer');
    r.directory.usersWithoutConsistencyGuid = 3;
    r.directory.withoutConsistencyGuidSample = ['CN=Doe\\, Jane,OU=R\\,D,DC=contoso,DC=com'];
    const report = evaluateReadiness(r);
    const id = '3f2504e0-4f89-41d3-9a0c-0305e82c3301';
    const evidence: ReadinessEvidence = {
      readiness: true,
      job: 'abc',
      findings: report.findings.map((f) => (f.severity === 'blocker' ? { ...f, id } : f)),
      prerequisites: report.prerequisites,
    };
    const steps = initialSteps();
    steps[0] = { ...steps[0]!, status: 'failed', reason: '1 blocker(s)', evidence };
    const input = {
      migrationId: '7c9e6679-7425-40de-944b-e07fc1f90ae7',
      migrationName: 'Contoso pilot',
      def: STEPS[0]!,
      step: steps[0],
      steps,
      approval: null,
      policy: { approvers: ['megan'], required: 1, ttlMs: 3_600_000 },
      now: new Date('2026-12-05T08:00:00Z'),
    };
    const forMegan = renderStepCard({ ...input, viewer: 'megan' });
    expect(cardProblems(forMegan)).toEqual([]);
    const text = cardText(forMegan);
    expect(text).toContain('Blockers');
    expect(text).toContain('Connect Sync syncs devices');
    expect(text).toContain('Warnings');
    expect(text).toContain('CN=Doe\\, Jane,OU=R\\,D,DC=contoso,DC=com');
    expect(text).toContain(`Source: ${SOURCES.decisionGuide.title} · ${SOURCES.decisionGuide.url}`);
    const json = JSON.stringify(forMegan);
    expect(json).toContain('Reason (to accept a blocker)');
    expect(json).toContain('"verb":"step.acceptBlocker"');
    expect(json).toContain(`"findingId":"${id}"`);
    const forMallory = JSON.stringify(renderStepCard({ ...input, viewer: 'mallory' }));
    expect(forMallory).not.toContain('step.acceptBlocker');
    expect(forMallory).not.toContain('Reason (to accept a blocker)');
  });

  it('docs/readiness.md lists every check with its source page', () => {
    const doc = readFileSync(join(__dirname, '../../docs/readiness.md'), 'utf8');
    for (const check of CHECKS) {
      const row = doc.split('\n').find((l) => l.startsWith(`| \`${check.key}\` |`));
      expect([check.key, row ?? '']).toEqual([check.key, expect.stringContaining(SOURCES[check.source].url)]);
    }
  });
});
