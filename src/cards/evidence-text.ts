import { stepByCheck } from '../runbook/steps';

/**
 * A step's evidence as a person reads it: "Scheduler: on · Staging mode: off · Sync cycle running:
 * no" rather than `scheduler.syncCycleEnabled true`. The raw key paths and values stay on the card
 * too (evidenceFacts in step-card.ts, behind "Show raw values"), so nothing is lost in translation.
 */

type Format = (value: unknown) => string;

const onOff: Format = (v) => (v === true ? 'on' : v === false ? 'off' : plain(v));
const noneIfNull: Format = (v) => (v === null ? 'none' : plain(v));

/**
 * Words for the keys the bot and the agent put into evidence (src/services/runbook-service.ts,
 * src/agent/actions/adsync.ts). Within a group, keys are shown in this order; keys not listed come
 * after, their camelCase spelled out.
 */
const KEYS: Record<string, { label: string; format?: Format }> = {
  syncCycleEnabled: { label: 'Scheduler', format: onOff },
  stagingModeEnabled: { label: 'Staging mode', format: onOff },
  syncCycleInProgress: { label: 'Sync cycle running' },
  schedulerSuspended: { label: 'Scheduler suspended' },
  maintenanceEnabled: { label: 'Maintenance', format: onOff },
  nextSyncCyclePolicyType: { label: 'Next cycle type' },
  nextSyncCycleStartTimeInUTC: { label: 'Next cycle starts (UTC)' },
  currentlyEffectiveSyncCycleInterval: { label: 'Cycle interval' },
  runningConnector: { label: 'Running connector', format: noneIfNull },
  stopped: { label: 'Stopped' },
  started: { label: 'Started' },
  policyType: { label: 'Cycle type' },
  startResult: { label: 'Start result' },
  pilotOu: { label: 'Pilot OU' },
  scopeValue: { label: 'Scope value (the DN as AD wrote it)' },
  jobStatus: { label: 'Cloud Sync job' },
  scopeBefore: { label: 'Cloud Sync scope before', format: (v) => scopeText(v) },
  scopeAfter: { label: 'Cloud Sync scope now', format: (v) => scopeText(v) },
  wholeDomainBefore: { label: 'Scope covered the whole domain before' },
  alreadyInScope: { label: 'Already in scope' },
  coveredByCloudSync: { label: 'Cloud Sync covers the OU' },
  missingPermission: { label: 'Missing Graph permission' },
  byHand: { label: 'Changed by hand, confirmed by' },
  ou: { label: 'OU' },
  users: { label: 'Users' },
  onPremUsers: { label: 'On-premises users' },
  disabled: { label: 'Disabled' },
  cloudUsers: { label: 'Cloud users (synced)' },
  baseline: {
    label: `Counted in step ${stepByCheck({ kind: 'verify', mode: 'baseline' }).n}`,
    format: (v) => (v === null ? 'not counted' : plain(v)),
  },
  missing: { label: 'Missing in cloud' },
  extra: { label: 'Extra in cloud' },
  immutableIdMismatches: { label: 'ImmutableId differs' },
  missingSample: { label: 'Missing, first few' },
  // In-scope inetOrgPersons: the baseline count shows them as a warning, the provisioned check refuses them.
  inetOrgPersons: {
    label: `inetOrgPerson objects (not covered by the no-flow rules; step ${stepByCheck({ kind: 'verify', mode: 'provisioned' }).n} refuses them)`,
  },
  inetOrgPersonSample: { label: 'inetOrgPerson, first few' },
  // Never "provisioned": being in Entra with the right anchor is true before Cloud Sync does anything.
  inEntraWithAnchor: { label: 'In Entra with the right anchor' },
  confirmedByCloudSync: {
    label: 'Confirmed by Cloud Sync (provisioning logs)',
    format: (v) => (v === null ? 'not read' : plain(v)),
  },
  // The three numbers of a group or contact type (cloudSyncGroups, cloudSyncContacts below).
  onPrem: { label: 'On-premises' },
  inEntra: { label: 'In Entra' },
  confirmed: { label: 'Confirmed by Cloud Sync' },
  unconfirmed: { label: 'Not yet confirmed by Cloud Sync' },
  unconfirmedSample: { label: 'Not yet confirmed, first few' },
  cloudSyncJob: { label: 'Cloud Sync job' },
  notInEntra: { label: 'Not in Entra' },
  differentAnchor: { label: 'Different onPremisesImmutableId' },
  sample: { label: 'First few' },
  acknowledgedBy: { label: 'Acknowledged by' },
  acknowledgedAt: { label: 'Acknowledged at' },
  acknowledgedReason: { label: 'Reason' },
  usedPrecedences: {
    label: 'Precedences in use (0–99)',
    format: (v) => (Array.isArray(v) && v.length === 0 ? 'none' : plain(v)),
  },
  plan: { label: 'Rules planned', format: (v) => (Array.isArray(v) ? String(v.length) : plain(v)) },
  created: { label: 'Rules created', format: (v) => (Array.isArray(v) ? String(v.length) : plain(v)) },
  rules: { label: 'Rules', format: (v) => (Array.isArray(v) ? String(v.length) : plain(v)) },
  path: { label: 'Folder' },
  files: { label: 'Files' },
  bytes: { label: 'Bytes' },
  status: { label: 'Service status' },
  startType: { label: 'Start type' },
  previousStartType: { label: 'Start type before' },
  job: { label: 'Agent job' },
  agent: { label: 'Agent' },
  approvedBy: { label: 'Approved by', format: (v) => (v === null || v === '' ? 'nobody' : plain(v)) },
};

const GROUPS: Record<string, string> = {
  scheduler: 'Connect Sync scheduler',
  before: 'Before',
  result: 'Result',
  undo: 'Undo',
  export: 'Export',
  preflight: 'Pre-flight: hard match predicted to fail',
  cloudSyncGroups: 'Groups (found in Entra by onPremisesSecurityIdentifier)',
  cloudSyncContacts: 'Contacts (found in Entra by mail)',
};

const ORDER = Object.keys(KEYS);
const MAX_ROWS = 20;

/** One row per top-level value, and one per group of values (an object), its parts joined with " · ". */
export function readableEvidence(evidence: Record<string, unknown>): { title: string; value: string }[] {
  const rows: { title: string; value: string }[] = [];
  const visit = (path: string[], obj: Record<string, unknown>, depth: number): void => {
    const entries = Object.entries(obj).filter(([k, v]) => v !== undefined && k !== 'script');
    const leaves = entries.filter(([, v]) => !isGroup(v));
    if (path.length === 0) for (const [k, v] of leaves) rows.push({ title: label(k), value: format(k, v) });
    else if (leaves.length > 0)
      rows.push({
        title: path.join(' · '),
        value: sortKeys(leaves)
          .map(([k, v]) => `${label(k)}: ${format(k, v)}`)
          .join(' · '),
      });
    if (depth < 2) for (const [k, v] of entries) if (isGroup(v)) visit([...path, GROUPS[k] ?? label(k)], v, depth + 1);
  };
  visit([], evidence, 0);
  return rows.slice(0, MAX_ROWS);
}

function isGroup(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function sortKeys(entries: [string, unknown][]): [string, unknown][] {
  const rank = (k: string) => (ORDER.includes(k) ? ORDER.indexOf(k) : ORDER.length);
  return [...entries].sort((a, b) => rank(a[0]) - rank(b[0]));
}

function label(key: string): string {
  const known = KEYS[key]?.label;
  if (known) return known;
  const words = key.replace(/([a-z0-9])([A-Z])/g, '$1 $2').toLowerCase();
  return words.charAt(0).toUpperCase() + words.slice(1);
}

function format(key: string, value: unknown): string {
  return (KEYS[key]?.format ?? plain)(value);
}

function plain(value: unknown): string {
  if (value === null) return 'not reported';
  if (value === true) return 'yes';
  if (value === false) return 'no';
  if (typeof value === 'number') return value.toLocaleString('en-US');
  // DNs contain commas, so list items are set apart with semicolons.
  if (Array.isArray(value))
    return value.length === 0
      ? 'none'
      : value.every((v) => typeof v !== 'object' || v === null)
        ? value.map(plain).join('; ')
        : `${value.length} items`;
  if (typeof value === 'object') return 'see raw values';
  return String(value);
}

/** Each rule's OU list; an empty list is no filter. One rule is the usual case. */
function scopeText(v: unknown): string {
  if (!Array.isArray(v)) return plain(v);
  const lists = v.map((list) =>
    Array.isArray(list) ? (list.length === 0 ? 'no filter (the whole domain)' : list.join('; ')) : plain(list),
  );
  return lists.length === 1 ? lists[0]! : lists.map((l, i) => `rule ${i + 1}: ${l}`).join(' · ');
}
