/**
 * `/readiness`, the evidence of steps 1 and 2: what the agent read from Connect Sync and the forest,
 * checked against Cloud Sync's documented limits and unsupported features. Pure: the service reads
 * the agent's result with the relay protocol's schema and hands the values in; the shapes below are
 * the parts the rules read.
 *
 * Every check names the Microsoft page it rests on (SOURCES); docs/readiness.md lists the same table.
 * Global settings names other than Microsoft.OptionalFeature.FilterAAD are **unverified** (no
 * Microsoft page lists them); a name the server does not report reads as "off".
 */

export type Severity = 'blocker' | 'warning' | 'fact';

export const SOURCES = {
  decisionGuide: {
    title: 'Cloud Sync decision guide (Connect Sync or Cloud Sync)',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/connect-to-cloud-sync-decision-guide',
  },
  prerequisites: {
    title: 'Prerequisites for Microsoft Entra Cloud Sync',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/how-to-prerequisites',
  },
  migrationGuide: {
    title: 'Migrate from Connect Sync to Cloud Sync',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/migrate-azure-ad-connect-to-cloud-sync',
  },
  pilotTutorial: {
    title: 'Pilot Cloud Sync for an existing synced AD forest',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/tutorial-pilot-aadc-aadccp',
  },
  transitionTool: {
    title: 'Transition to Cloud Sync (the Connect Sync migration tool)',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/migrate-connect-sync-cloud-sync-tool',
  },
  deviceSync: {
    title: 'Device sync with Cloud Sync (preview)',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/device-sync',
  },
  groupWriteback: {
    title: 'Migrate Connect Sync group writeback V2 to Cloud Sync',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/migrate-group-writeback',
  },
  express: {
    title: 'Connect Sync express settings',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-install-express',
  },
  scheduler: {
    title: 'Connect Sync scheduler (staging mode)',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/connect/how-to-connect-sync-feature-scheduler',
  },
  adsyncReference: {
    title: 'Microsoft Entra Connect: ADSync PowerShell reference',
    url: 'https://learn.microsoft.com/entra/identity/hybrid/connect/reference-connect-adsync',
  },
} as const;
export type SourceKey = keyof typeof SOURCES;

/** Documented limits the checks compare with. */
export const LIMITS = {
  /** Decision guide: objects per domain. */
  objectsPerDomain: 150_000,
  /** Decision guide: group members. */
  groupMembers: 50_000,
  /** Prerequisites: the scoping configuration holds about 50 separate OUs or groups. */
  scopedContainers: 50,
  /** Transition tool: one forest, in-scope objects, included OUs. */
  transitionObjects: 2_000,
  transitionOus: 30,
  /** Migration guide, step 2. */
  minimumConnectSyncVersion: '1.4.32.0',
} as const;

export interface ReadingRule {
  name: string;
  immutableTag: string;
  disabled: boolean;
  precedence: number;
  sourceObjectType: string;
  targetObjectType: string;
}

export interface ReadingConnector {
  name: string;
  type: 'AD' | 'Entra' | 'Other';
  objectTypes: string[];
  partitions: { dn: string; included: string[]; excluded: string[] }[];
}

export interface ReadinessReading {
  connectSync: {
    globalSettings: { name: string; value: string }[];
    companyFeatures: Record<string, boolean>;
    stagingModeEnabled: boolean;
    connectors: ReadingConnector[];
    rules: ReadingRule[];
  };
  directory: {
    defaultNamingContext: string;
    bases: string[];
    users: number;
    groups: number;
    contacts: number;
    organizationalUnits: number;
    inetOrgPersons: number;
    inetOrgPersonSample: string[];
    usersWithoutConsistencyGuid: number;
    withoutConsistencyGuidSample: string[];
    largestGroups: { dn: string; count: number }[];
  };
}

export interface Finding {
  /** The check that produced it (CHECKS[].key). */
  key: string;
  severity: Severity;
  title: string;
  detail: string;
  /** Names and DNs behind the finding, shown literally. */
  items: string[];
  source: SourceKey;
}

export type PrerequisiteStatus = 'held' | 'failed' | 'person';

export interface Prerequisite {
  key: string;
  title: string;
  status: PrerequisiteStatus;
  detail: string;
  source: SourceKey;
}

export interface ReadinessReport {
  findings: Finding[];
  prerequisites: Prerequisite[];
}

/** SyncShift's own no-flow rules carry this in their name (sync-rules.ts); they are not the admin's custom rules. */
const SYNCSHIFT_MARKER = '(SyncShift)';

const SETTING = {
  version: 'Microsoft.Synchronize.ServerConfigurationVersion',
  anchor: 'Microsoft.SynchronizationOption.AnchorAttribute',
  filterAad: 'Microsoft.OptionalFeature.FilterAAD',
  userWriteback: 'Microsoft.OptionalFeature.UserWriteBack',
  deviceWriteback: 'Microsoft.OptionalFeature.DeviceWriteBack',
  groupWriteback: 'Microsoft.OptionalFeature.GroupWriteBack',
  directoryExtension: 'Microsoft.OptionalFeature.DirectoryExtension',
  directoryExtensionAttributes: 'Microsoft.OptionalFeature.DirectoryExtensionAttributes',
} as const;

class Facts {
  constructor(readonly r: ReadinessReading) {}
  setting(name: string): string | null {
    const found = this.r.connectSync.globalSettings.find((s) => s.name.toLowerCase() === name.toLowerCase());
    return found ? found.value : null;
  }
  on(name: string): boolean {
    return (this.setting(name) ?? '').trim().toLowerCase() === 'true';
  }
  feature(name: string): boolean {
    const key = Object.keys(this.r.connectSync.companyFeatures).find((k) => k.toLowerCase() === name.toLowerCase());
    return key !== undefined && this.r.connectSync.companyFeatures[key] === true;
  }
  adConnectors(): ReadingConnector[] {
    return this.r.connectSync.connectors.filter((c) => c.type === 'AD');
  }
  /** Enabled rules without Microsoft's ImmutableTag, SyncShift's own excepted. */
  customRules(): ReadingRule[] {
    return this.r.connectSync.rules.filter(
      (r) => !r.disabled && r.immutableTag.trim() === '' && !r.name.includes(SYNCSHIFT_MARKER),
    );
  }
  deviceSync(): string[] {
    const connectors = this.adConnectors()
      .filter((c) => c.objectTypes.some((t) => t.toLowerCase() === 'computer'))
      .map((c) => `AD connector ${c.name} imports computer objects`);
    const rules = this.r.connectSync.rules
      .filter(
        (r) =>
          !r.disabled &&
          (r.sourceObjectType.toLowerCase() === 'computer' || r.targetObjectType.toLowerCase() === 'device'),
      )
      .map((r) => `rule ${r.name}`);
    return [...connectors, ...rules];
  }
  /** The OUs Connect Sync is filtered to, per AD partition; empty when it syncs whole partitions. */
  includedOus(): string[] {
    return this.adConnectors().flatMap((c) =>
      c.partitions.flatMap((p) => p.included.filter((dn) => dn.toLowerCase() !== p.dn.toLowerCase())),
    );
  }
  excludedOus(): string[] {
    return this.adConnectors().flatMap((c) => c.partitions.flatMap((p) => p.excluded));
  }
  objects(): number {
    const d = this.r.directory;
    return d.users + d.groups + d.contacts;
  }
  largestGroup(): { dn: string; count: number } | null {
    return this.r.directory.largestGroups[0] ?? null;
  }
  version(): string | null {
    const v = this.setting(SETTING.version);
    return v && /^\d+(\.\d+)*$/.test(v.trim()) ? v.trim() : null;
  }
  anchor(): string | null {
    const v = this.setting(SETTING.anchor);
    return v && v.trim() !== '' ? v.trim() : null;
  }
  unsupportedWriteback(): string[] {
    const out: string[] = [];
    if (this.feature('UserWriteBack') || this.on(SETTING.userWriteback)) out.push('user writeback');
    if (this.feature('DeviceWriteback') || this.on(SETTING.deviceWriteback)) out.push('device writeback');
    return out;
  }
}

const n = (v: number): string => v.toLocaleString('en-US');

interface Check {
  key: string;
  severity: Severity;
  title: string;
  source: SourceKey;
  /** Null when the check found nothing to say. */
  run: (f: Facts) => { detail: string; items?: string[] } | null;
}

/**
 * The checks, in the order the card lists them. docs/readiness.md is this table in words; a unit
 * test keeps the two in step.
 */
export const CHECKS: readonly Check[] = [
  {
    key: 'objectsPerDomain',
    severity: 'blocker',
    title: 'More objects than Cloud Sync supports in one domain',
    source: 'decisionGuide',
    run: (f) =>
      f.objects() > LIMITS.objectsPerDomain
        ? {
            detail: `${n(f.objects())} users, groups and contacts under ${f.r.directory.bases.join('; ')}; Cloud Sync supports ${n(LIMITS.objectsPerDomain)} objects per domain.`,
          }
        : null,
  },
  {
    key: 'groupMembers',
    severity: 'blocker',
    title: 'A group larger than Cloud Sync supports',
    source: 'decisionGuide',
    run: (f) => {
      const big = f.r.directory.largestGroups.filter((g) => g.count > LIMITS.groupMembers);
      return big.length > 0
        ? {
            detail: `${big.length} group(s) have more than ${n(LIMITS.groupMembers)} members.`,
            items: big.map((g) => `${g.dn} (${n(g.count)} members)`),
          }
        : null;
    },
  },
  {
    key: 'deviceSync',
    severity: 'blocker',
    title: 'Connect Sync syncs devices',
    source: 'decisionGuide',
    run: (f) => {
      const found = f.deviceSync();
      return found.length > 0
        ? {
            detail:
              'Device sync (Microsoft Entra hybrid join) is not supported by Cloud Sync outside its preview; the migration guide assumes no device sync.',
            items: found,
          }
        : null;
    },
  },
  {
    key: 'customRules',
    severity: 'blocker',
    title: 'Custom sync rules that are not Microsoft defaults',
    source: 'decisionGuide',
    run: (f) => {
      const rules = f.customRules();
      return rules.length > 0
        ? {
            detail: `${rules.length} enabled rule(s) carry no Microsoft ImmutableTag, so an admin made them. Cloud Sync has no advanced sync rules, and the Transition to Cloud Sync tool blocks on custom rules: re-create what they do as Cloud Sync attribute mappings, or accept why they can go.`,
            items: rules.map((r) => `${r.name} (precedence ${r.precedence})`),
          }
        : null;
    },
  },
  {
    key: 'attributeFiltering',
    severity: 'blocker',
    title: 'Microsoft Entra app and attribute filtering is on',
    source: 'decisionGuide',
    run: (f) =>
      f.on(SETTING.filterAad)
        ? {
            detail: `${SETTING.filterAad} is True: Connect Sync sends only some attributes. Cloud Sync does not support full attribute filtering.`,
          }
        : null,
  },
  {
    key: 'unsupportedWriteback',
    severity: 'blocker',
    title: 'Writeback that Cloud Sync does not do',
    source: 'transitionTool',
    run: (f) => {
      const found = f.unsupportedWriteback();
      return found.length > 0
        ? { detail: `Connect Sync has ${found.join(' and ')} on; Cloud Sync has no equivalent.`, items: found }
        : null;
    },
  },
  {
    key: 'multipleForests',
    severity: 'warning',
    title: 'More than one forest',
    source: 'decisionGuide',
    run: (f) => {
      const ads = f.adConnectors();
      return ads.length > 1
        ? {
            detail: `${ads.length} Active Directory connectors. Cloud Sync syncs several forests, but not cross-forest references or attributes merged from several domains; the manual migration assumes express settings (one forest).`,
            items: ads.map((c) => c.name),
          }
        : null;
    },
  },
  {
    key: 'scopedOus',
    severity: 'warning',
    title: 'More OUs than one Cloud Sync scoping filter holds',
    source: 'prerequisites',
    run: (f) => {
      const ous = f.includedOus();
      return ous.length > LIMITS.scopedContainers
        ? {
            detail: `Connect Sync is filtered to ${n(ous.length)} OUs; a Cloud Sync scoping configuration holds about ${LIMITS.scopedContainers} OUs or groups. Nested OUs need no entry of their own: scope parent OUs, or split the forest over several configurations.`,
            items: ous.slice(0, 5),
          }
        : null;
    },
  },
  {
    key: 'inetOrgPerson',
    severity: 'warning',
    title: 'inetOrgPerson objects',
    source: 'prerequisites',
    run: (f) =>
      f.r.directory.inetOrgPersons > 0
        ? {
            detail: `${n(f.r.directory.inetOrgPersons)} inetOrgPerson object(s). Cloud Sync's password hash sync does not support inetOrgPerson: their passwords will not sync.`,
            items: f.r.directory.inetOrgPersonSample,
          }
        : null,
  },
  {
    key: 'consistencyGuid',
    severity: 'warning',
    title: 'Users without ms-DS-ConsistencyGuid',
    source: 'pilotTutorial',
    run: (f) =>
      f.r.directory.usersWithoutConsistencyGuid > 0
        ? {
            detail: `${n(f.r.directory.usersWithoutConsistencyGuid)} of ${n(f.r.directory.users)} users have no ms-DS-ConsistencyGuid, so their onPremisesImmutableId rests on objectGUID. Give them one before they move (step 6) so Cloud Sync hard-matches them to their Entra accounts.`,
            items: f.r.directory.withoutConsistencyGuidSample,
          }
        : null,
  },
  {
    key: 'stagingMode',
    severity: 'warning',
    title: 'This Connect Sync server is in staging mode',
    source: 'scheduler',
    run: (f) =>
      f.r.connectSync.stagingModeEnabled
        ? {
            detail:
              'A staging server does not export. Read the active server: the migration changes its scheduler and rules, and a staging server promoted later must carry the same rules.',
          }
        : null,
  },
  {
    key: 'groupWriteback',
    severity: 'warning',
    title: 'Group writeback is on',
    source: 'groupWriteback',
    run: (f) =>
      f.on(SETTING.groupWriteback) || f.feature('UnifiedGroupWriteback') || f.feature('GroupWritebackV2')
        ? {
            detail:
              'Cloud Sync takes over group writeback V2 for cloud security groups written back as universal groups only; mail-enabled groups and distribution lists written back by V1 or V2 are not supported.',
          }
        : null,
  },
  {
    key: 'directoryExtensions',
    severity: 'warning',
    title: 'Directory extensions are synced',
    source: 'transitionTool',
    run: (f) => {
      if (!f.on(SETTING.directoryExtension)) return null;
      const attributes = (f.setting(SETTING.directoryExtensionAttributes) ?? '')
        .split(',')
        .map((a) => a.trim())
        .filter(Boolean);
      return {
        detail:
          'Connect Sync syncs directory extension attributes; the Transition to Cloud Sync tool blocks on them, and Cloud Sync needs each one mapped in its own configuration.',
        items: attributes,
      };
    },
  },
  {
    key: 'version',
    severity: 'fact',
    title: 'Connect Sync version',
    source: 'migrationGuide',
    run: (f) => ({ detail: f.version() ?? `not reported (${SETTING.version} was not read)` }),
  },
  {
    key: 'sourceAnchor',
    severity: 'fact',
    title: 'Source anchor',
    source: 'migrationGuide',
    run: (f) => ({ detail: f.anchor() ?? `not reported (${SETTING.anchor} was not read)` }),
  },
  {
    key: 'connectors',
    severity: 'fact',
    title: 'Connectors',
    source: 'adsyncReference',
    run: (f) => ({
      detail: `${f.adConnectors().length} Active Directory, ${f.r.connectSync.connectors.filter((c) => c.type === 'Entra').length} Microsoft Entra`,
      items: f.r.connectSync.connectors.map((c) => `${c.type}: ${c.name}`),
    }),
  },
  {
    key: 'features',
    severity: 'fact',
    title: 'Sync features on',
    source: 'adsyncReference',
    run: (f) => {
      const on = Object.entries(f.r.connectSync.companyFeatures)
        .filter(([, v]) => v)
        .map(([k]) => k);
      return { detail: on.length > 0 ? on.join(', ') : 'none reported' };
    },
  },
  {
    key: 'ouFiltering',
    severity: 'fact',
    title: 'OU filtering',
    source: 'express',
    run: (f) => {
      const included = f.includedOus();
      const excluded = f.excludedOus();
      return {
        detail:
          included.length === 0 && excluded.length === 0
            ? 'none: whole domains are synced'
            : `${n(included.length)} OU(s) included, ${n(excluded.length)} excluded`,
        items: [...included.slice(0, 5), ...excluded.slice(0, 5).map((dn) => `excluded: ${dn}`)],
      };
    },
  },
  {
    key: 'objects',
    severity: 'fact',
    title: 'Objects read',
    source: 'decisionGuide',
    run: (f) => {
      const d = f.r.directory;
      const largest = f.largestGroup();
      return {
        detail: `${n(d.users)} users, ${n(d.groups)} groups, ${n(d.contacts)} contacts, ${n(d.organizationalUnits)} OUs under ${d.bases.join('; ')}${largest ? `; largest group ${n(largest.count)} members` : ''}`,
      };
    },
  },
  {
    key: 'transitionTool',
    severity: 'fact',
    title: 'Transition to Cloud Sync tool',
    source: 'transitionTool',
    run: (f) => {
      const why = transitionToolBlocks(f);
      return {
        detail:
          why.length === 0
            ? 'Eligible as far as SyncShift can read: one forest, at most 2,000 objects and 30 OUs, no custom rules. Group filtering and a custom UPN are not read.'
            : `Not eligible: ${why.join('; ')}. Migrate with the runbook.`,
      };
    },
  },
];

function transitionToolBlocks(f: Facts): string[] {
  const why: string[] = [];
  if (f.adConnectors().length !== 1) why.push(`${f.adConnectors().length} forests (it supports one)`);
  if (f.objects() > LIMITS.transitionObjects)
    why.push(`${n(f.objects())} objects (it supports ${n(LIMITS.transitionObjects)})`);
  const ous = f.includedOus().length > 0 ? f.includedOus().length : f.r.directory.organizationalUnits;
  if (ous > LIMITS.transitionOus) why.push(`${n(ous)} OUs (it supports ${LIMITS.transitionOus})`);
  if (f.customRules().length > 0) why.push('custom sync rules');
  if (f.deviceSync().length > 0) why.push('device sync');
  if (f.on(SETTING.directoryExtension)) why.push('directory extensions');
  if (f.unsupportedWriteback().length > 0) why.push('unsupported writeback');
  return why;
}

/** What is read for step 2, then what stays for a person to check (the agent cannot read it on the future agent host). */
function prerequisites(f: Facts): Prerequisite[] {
  const version = f.version();
  const anchor = f.anchor();
  const ads = f.adConnectors();
  const included = f.includedOus();
  const device = f.deviceSync();
  const read: Prerequisite[] = [
    {
      key: 'version',
      title: `Connect Sync ${LIMITS.minimumConnectSyncVersion} or later`,
      status:
        version === null
          ? 'person'
          : compareVersions(version, LIMITS.minimumConnectSyncVersion) >= 0
            ? 'held'
            : 'failed',
      detail:
        version === null ? 'The version was not reported; check it in Programs and Features.' : `Version ${version}.`,
      source: 'migrationGuide',
    },
    {
      key: 'sourceAnchor',
      title: 'Source anchor is objectGUID or ms-DS-ConsistencyGuid',
      status:
        anchor === null
          ? 'person'
          : ['objectguid', 'ms-ds-consistencyguid', 'msds-consistencyguid'].includes(anchor.toLowerCase())
            ? 'held'
            : 'failed',
      detail: anchor === null ? 'The source anchor was not reported; check it in the Connect Sync wizard.' : anchor,
      source: 'migrationGuide',
    },
    {
      key: 'oneForest',
      title: 'Express settings: one forest',
      status: ads.length === 1 ? 'held' : 'failed',
      detail: `${ads.length} Active Directory connector(s).`,
      source: 'express',
    },
    {
      key: 'passwordHashSync',
      title: 'Express settings: password hash sync on',
      status: f.feature('PasswordHashSync') ? 'held' : 'failed',
      detail: f.feature('PasswordHashSync')
        ? 'PasswordHashSync is on.'
        : 'PasswordHashSync is off or was not reported.',
      source: 'express',
    },
    {
      key: 'allObjects',
      title: 'Express settings: all users, groups and contacts',
      status: included.length === 0 && f.excludedOus().length === 0 ? 'held' : 'failed',
      detail:
        included.length === 0 && f.excludedOus().length === 0
          ? 'No OU filtering.'
          : `OU filtering: ${included.length} included, ${f.excludedOus().length} excluded.`,
      source: 'express',
    },
    {
      key: 'noDeviceSync',
      title: 'No device sync',
      status: device.length === 0 ? 'held' : 'failed',
      detail: device.length === 0 ? 'No computer objects or device rules.' : device.join('; '),
      source: 'migrationGuide',
    },
  ];
  const person = (key: string, title: string, detail: string): Prerequisite => ({
    key,
    title,
    status: 'person',
    detail,
    source: 'prerequisites',
  });
  return [
    ...read,
    person('hybridIdentityAdmin', 'A Hybrid Identity Administrator account', 'Not a guest account.'),
    person(
      'gmsa',
      'gMSA for the provisioning agent',
      'Forest schema 2012 or later and a 2012+ domain controller; Domain or Enterprise Admin creates it.',
    ),
    person(
      'agentHost',
      'Provisioning agent host',
      'Domain-joined Windows Server 2016 or later (not Server Core), 4 GB RAM, .NET 4.7.1+.',
    ),
    person(
      'tls12',
      'TLS 1.2 on the agent host',
      'SCHANNEL TLS 1.2 keys and SchUseStrongCrypto set before the install.',
    ),
    person(
      'network',
      'Outbound network from the agent host',
      'Port 443 (and 80 for CRLs) to *.msappproxy.net, *.servicebus.windows.net, login.windows.net and the other listed URLs.',
    ),
  ];
}

/** Dotted version numbers compared part by part; a missing part counts as 0. */
export function compareVersions(a: string, b: string): number {
  const pa = a.split('.').map(Number);
  const pb = b.split('.').map(Number);
  for (let i = 0; i < Math.max(pa.length, pb.length); i++) {
    const d = (pa[i] ?? 0) - (pb[i] ?? 0);
    if (d !== 0) return d < 0 ? -1 : 1;
  }
  return 0;
}

export function evaluateReadiness(reading: ReadinessReading): ReadinessReport {
  const f = new Facts(reading);
  const findings: Finding[] = [];
  for (const check of CHECKS) {
    const out = check.run(f);
    if (!out) continue;
    findings.push({
      key: check.key,
      severity: check.severity,
      title: check.title,
      detail: out.detail,
      items: out.items ?? [],
      source: check.source,
    });
  }
  return { findings, prerequisites: prerequisites(f) };
}

/** A blocker as step 1 stores it: an opaque id for the card's button, and who accepted it and why. */
export interface StoredFinding extends Finding {
  id?: string;
  accepted?: { by: string; byId: string; reason: string; at: string };
}

export interface ReadinessEvidence {
  readiness: true;
  job: string;
  findings: StoredFinding[];
  prerequisites: Prerequisite[];
}

export function isReadinessEvidence(value: unknown): value is ReadinessEvidence {
  const v = value as Partial<ReadinessEvidence> | null;
  return typeof v === 'object' && v !== null && v.readiness === true && Array.isArray(v.findings);
}

/** The blockers not yet accepted. */
export function openBlockers(evidence: ReadinessEvidence): StoredFinding[] {
  return evidence.findings.filter((f) => f.severity === 'blocker' && !f.accepted);
}

/** Step 1's outcome: it passes with no blocker left open. */
export function toolOutcome(evidence: ReadinessEvidence): { ok: boolean; reason: string } {
  const open = openBlockers(evidence);
  if (open.length === 0) return { ok: true, reason: '' };
  return {
    ok: false,
    reason: `${open.length} blocker(s): ${open.map((b) => b.title).join('; ')}. An approver may accept each with a reason, or fix it and run the check again.`,
  };
}

/** Step 2's outcome: every prerequisite SyncShift can read holds; the others are listed for a person. */
export function prerequisitesOutcome(prereqs: readonly Prerequisite[]): { ok: boolean; reason: string } {
  const failed = prereqs.filter((p) => p.status === 'failed');
  if (failed.length === 0) return { ok: true, reason: '' };
  return { ok: false, reason: `Not met: ${failed.map((p) => `${p.title} (${p.detail})`).join('; ')}` };
}

export type AcceptResult =
  { ok: true; evidence: ReadinessEvidence; finding: StoredFinding } | { ok: false; reason: string };

/** Records an approver's acceptance of one blocker, by the id the card carried. */
export function acceptBlocker(
  evidence: unknown,
  input: { findingId: string; by: string; byId: string; reason: string; at: Date },
): AcceptResult {
  if (!isReadinessEvidence(evidence))
    return { ok: false, reason: 'There is no readiness report on this step; run /readiness first.' };
  const finding = evidence.findings.find((f) => f.id === input.findingId);
  if (!finding || finding.severity !== 'blocker')
    return { ok: false, reason: 'That blocker is not in the current readiness report; look at the card again.' };
  if (finding.accepted)
    return { ok: false, reason: `${finding.title} was already accepted by ${finding.accepted.by}.` };
  const reason = input.reason.trim();
  if (reason === '') return { ok: false, reason: 'Say why this blocker is accepted (type it in the reason box).' };
  const accepted = { by: input.by, byId: input.byId, reason: reason.slice(0, 500), at: input.at.toISOString() };
  const updated: StoredFinding = { ...finding, accepted };
  return {
    ok: true,
    finding: updated,
    evidence: { ...evidence, findings: evidence.findings.map((f) => (f.id === input.findingId ? updated : f)) },
  };
}
