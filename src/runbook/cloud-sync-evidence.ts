/**
 * Which on-premises objects Cloud Sync has provably handled, from the provisioning logs of its job.
 *
 * Connect Sync writes no provisioning logs (domain.md §4, §8), so a successful entry of the Cloud Sync
 * job that names an object is the proof that Cloud Sync, not Connect Sync, now owns it. An object
 * merely being in Entra with the right onPremisesImmutableId proves nothing: Connect Sync put it
 * there before the migration began. Both numbers are kept, under names that say which is which.
 *
 * Which fields carry what (docs/verify.md, "Confirmed by Cloud Sync", names the pages):
 * - provisioningObjectSummary.jobId: the job the entry belongs to;
 * - provisioningStatusInfo.status: success, failure, skipped, warning;
 * - provisioningAction: create, update, delete, stagedDelete, disable, other;
 * - sourceIdentity.id: the object in the source system (AD), by an identifier Microsoft does not
 *   name (its anchor or its objectGUID: both are accepted); targetIdentity.id: the object in the
 *   target system (for Cloud Sync, Entra ID: the Entra object id).
 * Users, groups and contacts follow the same rule, each counted on its own ("Groups and contacts
 * confirmed by Cloud Sync" in docs/verify.md): Cloud Sync provisions all three, and the no-flow rules
 * hand all three over. Pure: the service reads the logs and hands the entries in.
 */

/** One provisioning log entry, reduced to what the rule reads. */
export interface ProvisioningLogEntry {
  jobId: string;
  /** provisioningStatusInfo.status (statusInfo.status in older payloads). */
  status: string;
  /** provisioningAction (action in older payloads); null when the entry had none. */
  action: string | null;
  /** sourceIdentity.id: the AD object. */
  sourceId: string | null;
  /** targetIdentity.id: the Entra object. */
  targetId: string | null;
}

/**
 * Actions that leave the object provisioned in Entra. A delete, stagedDelete or disable entry is
 * Cloud Sync taking the object away (or out of scope), which proves no hand-over. Microsoft's
 * prerequisites page says the logs do not reliably tell a create from an update, so both count.
 */
const PROVISIONING_ACTIONS: ReadonlySet<string> = new Set(['create', 'update', 'other']);

/** Whether an entry counts as Cloud Sync having provisioned its object for this job. */
export function isConfirmingEntry(jobId: string, e: ProvisioningLogEntry): boolean {
  return (
    e.jobId === jobId &&
    e.status.toLowerCase() === 'success' &&
    e.action !== null &&
    PROVISIONING_ACTIONS.has(e.action.toLowerCase()) &&
    !!e.sourceId &&
    !!e.targetId
  );
}

/** The successful entries of one job, by the Entra object they name. */
export class ConfirmationIndex {
  private readonly byTarget = new Map<string, Set<string>>();

  constructor(
    readonly jobId: string,
    entries: Iterable<ProvisioningLogEntry> = [],
  ) {
    for (const e of entries) this.add(e);
  }

  add(e: ProvisioningLogEntry): void {
    if (!isConfirmingEntry(this.jobId, e)) return;
    const target = e.targetId!.toLowerCase();
    const sources = this.byTarget.get(target) ?? new Set<string>();
    sources.add(normalSourceId(e.sourceId!));
    this.byTarget.set(target, sources);
  }

  get size(): number {
    return this.byTarget.size;
  }

  /**
   * Whether a successful entry names both this Entra object and this on-premises object. The AD
   * object is named by either identifier the agent read from it: its anchor,
   * base64(ms-DS-ConsistencyGuid ?? objectGUID), or its objectGUID (base64; given only when it
   * differs from the anchor). Microsoft does not say which of the two Cloud Sync writes as
   * sourceIdentity.id (docs/verify.md), and both name this object and no other. Each is accepted as
   * its base64 text or as the same 16 bytes written as a GUID string, the two forms an AD object id takes.
   */
  verdict(cloudId: string, anchor: string, objectGuid?: string | null): 'confirmed' | 'no-entry' | 'other-source' {
    const sources = this.byTarget.get(cloudId.toLowerCase());
    if (!sources) return 'no-entry';
    for (const form of sourceIdForms(anchor, objectGuid)) if (sources.has(form)) return 'confirmed';
    return 'other-source';
  }
}

/** GUID strings compare case-insensitively and with or without braces; base64 stays as it is (it is case-sensitive). */
function normalSourceId(id: string): string {
  const t = id.trim();
  const guid = /^\{?([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12})\}?$/i.exec(t);
  return guid ? guid[1]!.toLowerCase() : t;
}

/** Every form of the object's identifiers a log entry may name it by: anchorForms of each. */
export function sourceIdForms(anchor: string, objectGuid?: string | null): string[] {
  return objectGuid && objectGuid !== anchor
    ? [...anchorForms(anchor), ...anchorForms(objectGuid)]
    : anchorForms(anchor);
}

/** The anchor as base64 and, when it is 16 bytes, as the GUID string of those bytes. */
export function anchorForms(anchor: string): string[] {
  const forms = [anchor];
  const bytes = Buffer.from(anchor, 'base64');
  if (bytes.length === 16 && bytes.toString('base64') === anchor) forms.push(guidString(bytes));
  return forms;
}

/**
 * 16 GUID bytes as AD stores them (the layout of .NET Guid.ToByteArray(): the first three fields
 * little-endian) written as the usual lower-case GUID string.
 */
export function guidString(bytes: Uint8Array): string {
  if (bytes.length !== 16) throw new Error(`A GUID has 16 bytes, not ${bytes.length}.`);
  const hex = (i: number): string => bytes[i]!.toString(16).padStart(2, '0');
  const run = (order: number[]): string => order.map(hex).join('');
  return [run([3, 2, 1, 0]), run([5, 4]), run([7, 6]), run([8, 9]), run([10, 11, 12, 13, 14, 15])].join('-');
}

/** The object types a verify confirms: users by DN and anchor, groups by SID, contacts by mail. */
export type OtherType = 'group' | 'contact';

/** One in-scope on-premises object and what Entra has for it. */
export interface InScopeObject {
  dn: string;
  /** base64(ms-DS-ConsistencyGuid ?? objectGUID), as the agent sent it. */
  anchor: string;
  /**
   * base64(objectGUID), present only when it differs from the anchor (ms-DS-ConsistencyGuid is set
   * to other bytes): a log entry naming it names this object too.
   */
  objectGuid?: string;
  /**
   * The Entra object found for it: a user under the same DN, a group with the same
   * onPremisesSecurityIdentifier, a contact with the same mail. Null when Entra has none.
   */
  cloudId: string | null;
  /**
   * Users: the Entra object's onPremisesImmutableId equals the anchor. Groups and contacts: Graph
   * returns no source anchor for them, so this is true whenever the Entra object was found.
   */
  anchorMatches: boolean;
  /** Absent: a user. */
  type?: OtherType;
  /** Groups and contacts: false when this bot could not list the type in Entra (then nothing is known). */
  cloudRead?: boolean;
}

export type UnconfirmedReason =
  | 'not in Entra'
  | 'different anchor in Entra'
  | 'no Cloud Sync log entry'
  | 'log entry names another source object'
  | 'Entra side not read';

export interface UnconfirmedObject {
  dn: string;
  reason: UnconfirmedReason;
  /** Absent: a user. */
  type?: OtherType;
}

/** The three numbers for groups or for contacts, and the ones not yet confirmed. */
export interface TypeConfirmation {
  onPrem: number;
  /** Found in Entra by what both sides carry (matchedOn); Graph gives no anchor to compare. */
  inEntra: number;
  confirmed: number;
  matchedOn: 'onPremisesSecurityIdentifier' | 'mail';
  /** Sorted by DN. */
  unconfirmed: UnconfirmedObject[];
}

/** The three honest numbers, and the objects not yet confirmed. */
export interface CloudSyncConfirmation {
  jobId: string;
  /**
   * In-scope users on-premises (those a sync engine is expected to put in Entra). Never inetOrgPerson
   * objects: they are refused, not handed over (OuComparison.inScope() leaves them out).
   */
  onPrem: number;
  /** In Entra under the same DN with onPremisesImmutableId equal to the anchor: true before the migration too. */
  inEntraWithAnchor: number;
  /** In Entra with the right anchor and named by a successful entry of the Cloud Sync job. */
  confirmed: number;
  /** Users, sorted by DN. */
  unconfirmed: UnconfirmedObject[];
  /** Present when the OU has in-scope groups (absent from reports stored before groups were confirmed). */
  groups?: TypeConfirmation;
  /** Present when the OU has in-scope contacts. */
  contacts?: TypeConfirmation;
}

/** The evidence as a verify reports it: the confirmation, or why it could not be had. */
export type CloudSyncReading = CloudSyncConfirmation | { unavailable: string };

const MATCHED_ON: Record<OtherType, TypeConfirmation['matchedOn']> = {
  group: 'onPremisesSecurityIdentifier',
  contact: 'mail',
};

/**
 * Counts the in-scope objects against the job's successful entries. Each type is counted on its own:
 * the users' numbers stay where they were (what the wave summary and older reports read), groups
 * and contacts get their own three numbers. The rule is the same for all: an object counts only when
 * a successful entry of the job names both the on-premises object (by its anchor or its objectGUID)
 * and the Entra object found for it.
 */
export function confirmObjects(objects: Iterable<InScopeObject>, index: ConfirmationIndex): CloudSyncConfirmation {
  type Tally = Omit<TypeConfirmation, 'matchedOn'>;
  const fresh = (): Tally => ({ onPrem: 0, inEntra: 0, confirmed: 0, unconfirmed: [] });
  const users = fresh();
  const others: Partial<Record<OtherType, Tally>> = {};
  for (const o of objects) {
    const tally = o.type ? (others[o.type] ??= fresh()) : users;
    const typed = o.type ? { type: o.type } : {};
    tally.onPrem++;
    if (o.cloudId === null) {
      const reason = o.type && o.cloudRead === false ? 'Entra side not read' : 'not in Entra';
      tally.unconfirmed.push({ dn: o.dn, reason, ...typed });
      continue;
    }
    if (!o.anchorMatches) {
      tally.unconfirmed.push({ dn: o.dn, reason: 'different anchor in Entra', ...typed });
      continue;
    }
    tally.inEntra++;
    const verdict = index.verdict(o.cloudId, o.anchor, o.objectGuid);
    if (verdict === 'confirmed') tally.confirmed++;
    else
      tally.unconfirmed.push({
        dn: o.dn,
        reason: verdict === 'no-entry' ? 'no Cloud Sync log entry' : 'log entry names another source object',
        ...typed,
      });
  }
  const byDn = (a: UnconfirmedObject, b: UnconfirmedObject): number => a.dn.localeCompare(b.dn);
  for (const t of [users, others.group, others.contact]) t?.unconfirmed.sort(byDn);
  return {
    jobId: index.jobId,
    onPrem: users.onPrem,
    inEntraWithAnchor: users.inEntra,
    confirmed: users.confirmed,
    unconfirmed: users.unconfirmed,
    ...(others.group ? { groups: { ...others.group, matchedOn: MATCHED_ON.group } } : {}),
    ...(others.contact ? { contacts: { ...others.contact, matchedOn: MATCHED_ON.contact } } : {}),
  };
}

/**
 * Every unconfirmed object of every type: groups, then contacts, then users. An OU has a few groups
 * and contacts and may have thousands of users; listed after them, they would never reach a card.
 */
export function allUnconfirmed(c: CloudSyncConfirmation): UnconfirmedObject[] {
  return [...(c.groups?.unconfirmed ?? []), ...(c.contacts?.unconfirmed ?? []), ...c.unconfirmed];
}

/**
 * Why the objects are not all confirmed by Cloud Sync; empty when every in-scope object of every
 * type is. The pilot check (and every wave's) passes only on an empty list; further conditions (a
 * canary) are ANDed by the caller.
 */
export function confirmationProblems(c: CloudSyncConfirmation): string[] {
  const total = c.onPrem + (c.groups?.onPrem ?? 0) + (c.contacts?.onPrem ?? 0);
  if (total === 0) return ['the OU has no in-scope objects, so nothing shows that Cloud Sync provisions it'];
  const problems: string[] = [];
  const source = `(a successful entry of job ${c.jobId} in the provisioning logs)`;
  const missing = c.onPrem - c.confirmed;
  // "objects" for users: the wording step 12 has always used for them.
  if (missing > 0)
    problems.push(
      `${c.confirmed} of ${c.onPrem} in-scope objects are confirmed by Cloud Sync ${source}; ${missing} are not yet (/verify list unconfirmed names them)`,
    );
  for (const [name, t] of [
    ['groups', c.groups],
    ['contacts', c.contacts],
  ] as const) {
    if (!t || t.confirmed === t.onPrem) continue;
    problems.push(
      `${t.confirmed} of ${t.onPrem} in-scope ${name} are confirmed by Cloud Sync ${source}; ${t.onPrem - t.confirmed} are not yet (/verify list unconfirmed names them)`,
    );
  }
  return problems;
}

/** Line for a list of unconfirmed objects: the DN as it is, then why. */
export function unconfirmedLine(u: UnconfirmedObject): string {
  return `${u.type ? `${u.type}: ` : ''}${u.dn} (${u.reason})`;
}
