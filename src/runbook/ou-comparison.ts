import type { InScopeObject } from './cloud-sync-evidence';
import { filterReason, INETORGPERSON_REFUSAL, type ScannedType } from './connect-sync-scope';
import { dnKey, keyWithin } from './dn';
import { hash128 } from './key-hash';

/**
 * One on-premises object as the agent reports it. `anchor` is base64(ms-DS-ConsistencyGuid ?? objectGUID).
 * Without `type` it is a user (older agents scan users only).
 */
export interface OnPremUser {
  dn: string;
  anchor: string;
  /**
   * base64(objectGUID), only when it differs from `anchor`: a Cloud Sync log entry may name the
   * object by it instead (cloud-sync-evidence.ts). Absent from older agents' scans.
   */
  objectGuid?: string | undefined;
  disabled: boolean;
  /** isCriticalSystemObject is TRUE; absent from older agents' scans. */
  criticalSystemObject?: boolean | undefined;
  type?: Exclude<ScannedType, 'user'> | undefined;
  /** Ids of the Connect Sync default-scope conditions that keep it out of Entra (connect-sync-scope.ts). */
  filteredBy?: string[] | undefined;
  /** Groups: objectSid as S-1-5-…; matched against Graph's onPremisesSecurityIdentifier. */
  sid?: string | undefined;
  /** Contacts: mail; matched against the orgContact's mail. */
  mail?: string | undefined;
  /** Groups: the anchor is ms-DS-ConsistencyGuid, not objectGUID. */
  consistencyGuid?: boolean | undefined;
}

/**
 * Why a user is not expected in the cloud. Connect Sync's default "In from AD – User Join" rule
 * filters isCriticalSystemObject out, and Cloud Sync's default scope leaves it out too.
 */
export const NOT_SYNCED_CRITICAL = 'isCriticalSystemObject: not synced by Connect Sync or Cloud Sync';

/** An on-premises object that Connect Sync's default rules filter out, with no cloud object either: not missing. */
export interface NotSyncedUser {
  dn: string;
  reason: string;
  /** Absent for users. */
  type?: Exclude<ScannedType, 'user'>;
  /** The condition ids behind `reason`; absent when an older agent sent only isCriticalSystemObject. */
  conditions?: string[];
}

/** A synced Entra group as the verify reads it (GET /groups, onPremisesSyncEnabled eq true). */
export interface CloudGroupRef {
  id: string;
  displayName: string | null;
  onPremisesSecurityIdentifier: string | null;
}

/** A synced Entra organisational contact (GET /contacts, onPremisesSyncEnabled eq true). */
export interface CloudContactRef {
  id: string;
  displayName: string | null;
  mail: string | null;
}

/**
 * Groups or contacts of the OU against Entra. Graph gives neither an on-premises DN nor a source
 * anchor for them, so they are matched on what both sides carry (a group's SID, a contact's mail),
 * and Entra objects that left the OU cannot be told apart from those of other OUs: no "extra" list.
 */
export interface TypeComparison {
  /** Objects Connect Sync's default rules would export (filtered ones are in notSynced). */
  onPrem: number;
  matched: number;
  missing: string[];
  /** What both sides were matched on. */
  matchedOn: 'onPremisesSecurityIdentifier' | 'mail';
  /** Whether the cloud side was read; false when this bot's cloud directory cannot list the type. */
  cloudRead: boolean;
  /** Groups: how many carry ms-DS-ConsistencyGuid (the rest are anchored on objectGUID). */
  withConsistencyGuid?: number;
}

/**
 * inetOrgPerson objects of the OU: counted as their own type and refused (INETORGPERSON_REFUSAL).
 * Those Connect Sync's default rules filter out (and that are not in Entra) are in notSynced instead,
 * as for every other type: no engine exports them, so they are not refused.
 */
export interface InetOrgPersonReport {
  /** In scope: those Connect Sync's default rules export (reports stored before this counted all of them). */
  onPrem: number;
  /** Of them, in Entra as synced users (Connect Sync exports them with its inetOrgPerson rules). */
  inCloud: number;
  dns: string[];
  reason: string;
}

/** One synced cloud user; only the fields the comparison needs. */
export interface CloudUserRef {
  id: string;
  userPrincipalName: string | null;
  onPremisesDistinguishedName: string | null;
  onPremisesImmutableId: string | null;
}

export interface MismatchedUser {
  dn: string;
  cloudId: string;
  userPrincipalName: string | null;
  expectedImmutableId: string;
  cloudImmutableId: string | null;
}

export interface ExtraUser {
  dn: string;
  cloudId: string;
  userPrincipalName: string | null;
}

export interface ComparisonReport {
  baseDn: string;
  /** Users expected in the cloud: those scanned, less `notSynced`. */
  onPrem: { users: number; disabled: number };
  cloud: { users: number };
  matched: number;
  missing: string[];
  extra: ExtraUser[];
  mismatched: MismatchedUser[];
  /** Cloud users whose onPremisesDistinguishedName could not be parsed; shown, never silently dropped. */
  unparsableCloudDns: number;
  /** Objects Connect Sync's default rules filter out and that are not in the cloud; absent from reports stored before it existed. */
  notSynced?: NotSyncedUser[];
  /** Absent from reports of scans without them (older agents) and stored before they existed. */
  inetOrgPersons?: InetOrgPersonReport;
  groups?: TypeComparison;
  contacts?: TypeComparison;
}

/** Counts only, for callers that need no names (the wave summary). */
export interface ComparisonTally {
  /** As in ComparisonReport: users expected in the cloud. */
  onPrem: { users: number; disabled: number };
  cloud: { users: number };
  matched: number;
  missing: number;
  mismatched: number;
  extra: number;
}

const SEEN = 1;
/** Connect Sync's default rules filter it out (isCriticalSystemObject, MSOL_ account, …). */
const FILTERED = 2;
const DISABLED = 4;
const INETORGPERSON = 8;

interface OtherObject {
  dn: string;
  /** SID (groups) or lower-cased mail (contacts); null when the agent sent none. */
  key: string | null;
  filteredBy: string[] | null;
  consistencyGuid: boolean;
  /** base64(ms-DS-ConsistencyGuid ?? objectGUID): what a Cloud Sync log entry's source id is checked against. */
  anchor: string;
  /** base64(objectGUID) when it differs from the anchor: a log entry may name the object by it too. */
  objectGuid: string | null;
  /** The Entra object found by the key; null while none is. */
  cloudId: string | null;
}

interface PendingMismatch {
  member: number;
  cloudId: string;
  userPrincipalName: string | null;
  cloudImmutableId: string | null;
}

/**
 * Compares an OU subtree on-premises with the synced users in the cloud.
 *
 * On-premises users are added first, then cloud users page by page. Neither side is held as
 * entries: per on-premises user the comparison keeps a 16-byte hash of its DN key, its 16-byte
 * anchor, a flag byte and its DN as UTF-8 in one shared buffer (for the few a report names), in
 * typed arrays with an open-addressing table over them: about 110 bytes a user, 11 MB for 100,000,
 * where objects with strings took about 200 bytes and most of the bot's garbage. Only a user whose
 * objectGUID differs from its anchor pays for it too (16 bytes and a map entry).
 *
 * Matching is by DN (component-wise, case-insensitive, escapes resolved: dnKey) because that is what
 * both sides carry; the anchor is then compared, since a wrong onPremisesImmutableId is what breaks
 * Cloud Sync's hard match.
 */
export class OuComparison {
  private readonly baseKey: string;
  private members = 0;
  private lanes = new Uint32Array(4 * 256);
  private anchors = new Uint8Array(16 * 256);
  private flags = new Uint8Array(256);
  /** Where each member's DN starts in `dnText`; it ends where the next one starts. */
  private dnStarts = new Int32Array(256);
  private dnText = Buffer.alloc(64 * 256);
  private dnUsed = 0;
  /** Anchors that are not base64 of 16 bytes, kept as text so they still compare exactly. */
  private readonly oddAnchors = new Map<number, string>();
  /**
   * The objectGUIDs of the members whose anchor is other bytes (ms-DS-ConsistencyGuid set): member →
   * slot, 16 bytes a slot in `objectGuidBytes`. Every other member pays nothing for them.
   */
  private readonly objectGuidSlots = new Map<number, number>();
  private objectGuidBytes = new Uint8Array(0);
  /**
   * The Entra object id each matched member was found under, as the 16 bytes of its GUID text (16
   * bytes a user, not a string): the Cloud Sync evidence is looked up by it (inScope()).
   */
  private cloudIds = new Uint8Array(16 * 256);
  /** Entra ids that are not GUID text, kept as they are. */
  private readonly oddCloudIds = new Map<number, string>();
  private readonly mismatchedMembers = new Set<number>();
  /** Open addressing over members: member + 1, 0 for an empty slot. */
  private slots = new Int32Array(512);
  private readonly hash = new Uint32Array(4);
  private readonly decoded = new Uint8Array(16);
  private onPremDisabled = 0;
  /** Filtered users scanned, and how many of them (and of their disabled ones) the cloud has anyway. */
  private critical = 0;
  private criticalDisabled = 0;
  private criticalMatched = 0;
  private criticalMatchedDisabled = 0;
  /** Condition ids of filtered members; null ids: an older agent's isCriticalSystemObject flag. */
  private readonly filteredBy = new Map<number, string[] | null>();
  private inetOrgPersons = 0;
  private inetOrgPersonsMatched = 0;
  private readonly others = { group: new Map<string, OtherObject>(), contact: new Map<string, OtherObject>() };
  private readonly cloudRead = { group: false, contact: false };
  private cloudUsers = 0;
  private matched = 0;
  private unparsable = 0;
  private readonly extra: ExtraUser[] = [];
  private readonly mismatches: PendingMismatch[] = [];

  constructor(readonly baseDn: string) {
    const key = dnKey(baseDn);
    if (key === null) throw new Error(`The base DN "${baseDn}" cannot be parsed; resolve the OU before comparing.`);
    this.baseKey = key;
  }

  addOnPrem(user: OnPremUser): void {
    const key = dnKey(user.dn);
    // The agent read this DN from AD, so it parses; a failure here is a bug worth surfacing loudly.
    if (key === null) throw new Error(`The directory returned a DN that cannot be parsed: ${user.dn}`);
    if (!keyWithin(key, this.baseKey)) return;
    if (user.type === 'group' || user.type === 'contact') {
      this.addOther(user.type, key, user);
      return;
    }
    hash128(key, this.hash, 0);
    // AD keeps DNs unique; a repeat in one scan is the same user reported twice and is counted once.
    if (this.find(this.hash) >= 0) return;
    const m = this.members++;
    if (m === this.flags.length) this.grow();
    this.lanes.set(this.hash, 4 * m);
    if (!decodeAnchor(user.anchor, this.anchors, 16 * m)) this.oddAnchors.set(m, user.anchor);
    if (user.objectGuid !== undefined && user.objectGuid !== user.anchor) this.keepObjectGuid(m, user.objectGuid);
    this.keepDn(m, user.dn);
    if (user.disabled && user.type !== 'inetOrgPerson') {
      this.onPremDisabled++;
      this.flags[m]! |= DISABLED;
    }
    if (user.type === 'inetOrgPerson') {
      // Counted and listed as its own type, never as a user (INETORGPERSON_REFUSAL says why).
      this.flags[m]! |= INETORGPERSON;
      this.inetOrgPersons++;
      // Filtered like a user (the default rules "also apply to the iNetOrgPerson object type"), but
      // kept out of the user tallies: report() lists it as not synced unless Entra has it anyway.
      if ((user.filteredBy?.length ?? 0) > 0 || user.criticalSystemObject === true) {
        this.flags[m]! |= FILTERED;
        this.filteredBy.set(m, user.filteredBy?.length ? [...user.filteredBy] : null);
      }
    } else if ((user.filteredBy?.length ?? 0) > 0 || user.criticalSystemObject === true) {
      this.flags[m]! |= FILTERED;
      this.filteredBy.set(m, user.filteredBy?.length ? [...user.filteredBy] : null);
      this.critical++;
      if (user.disabled) this.criticalDisabled++;
    }
    if (2 * this.members > this.slots.length) this.rehash(2 * this.slots.length);
    else this.insert(m);
  }

  addCloud(user: CloudUserRef): void {
    const dn = user.onPremisesDistinguishedName;
    if (!dn) return;
    const key = dnKey(dn);
    if (key === null) {
      this.unparsable++;
      return;
    }
    if (!keyWithin(key, this.baseKey)) return;
    hash128(key, this.hash, 0);
    const m = this.find(this.hash);
    if (m >= 0 && (this.flags[m]! & INETORGPERSON) !== 0) {
      // Connect Sync exports an inetOrgPerson as an Entra user: it belongs to that type's count.
      if ((this.flags[m]! & SEEN) === 0) {
        this.flags[m]! |= SEEN;
        this.inetOrgPersonsMatched++;
      }
      return;
    }
    this.cloudUsers++;
    if (m < 0 || (this.flags[m]! & SEEN) !== 0) {
      this.extra.push({ dn, cloudId: user.id, userPrincipalName: user.userPrincipalName });
      return;
    }
    this.flags[m]! |= SEEN;
    this.matched++;
    if (!encodeGuidText(user.id, this.cloudIds, 16 * m)) this.oddCloudIds.set(m, user.id);
    // Synced all the same (a custom rule does that): then it is an ordinary, matched user.
    if ((this.flags[m]! & FILTERED) !== 0) {
      this.criticalMatched++;
      if ((this.flags[m]! & DISABLED) !== 0) this.criticalMatchedDisabled++;
    }
    if (!this.anchorMatches(m, user.onPremisesImmutableId)) {
      this.mismatchedMembers.add(m);
      this.mismatches.push({
        member: m,
        cloudId: user.id,
        userPrincipalName: user.userPrincipalName,
        cloudImmutableId: user.onPremisesImmutableId,
      });
    }
  }

  /** A synced Entra group: matched to the OU's group with the same SID, otherwise not this OU's. */
  addCloudGroup(group: CloudGroupRef): void {
    this.cloudRead.group = true;
    this.matchOther('group', group.onPremisesSecurityIdentifier, group.id);
  }

  /** A synced Entra contact: matched to the OU's contact with the same mail, otherwise not this OU's. */
  addCloudContact(contact: CloudContactRef): void {
    this.cloudRead.contact = true;
    this.matchOther('contact', contact.mail?.toLowerCase() ?? null, contact.id);
  }

  /** The cloud side of a type was read in full, even if it held nothing (so an empty read is not "not read"). */
  cloudTypeRead(type: 'group' | 'contact'): void {
    this.cloudRead[type] = true;
  }

  /** Whether the scan held objects of this type (an older agent's scan holds users only). */
  hasOnPrem(type: 'group' | 'contact'): boolean {
    return this.others[type].size > 0;
  }

  tally(): ComparisonTally {
    return {
      onPrem: this.expected(),
      cloud: { users: this.cloudUsers },
      matched: this.matched,
      missing: this.userMembers() - this.matched - (this.critical - this.criticalMatched),
      mismatched: this.mismatches.length,
      extra: this.extra.length,
    };
  }

  report(): ComparisonReport {
    const nameOf = (m: number): string =>
      this.dnText.toString('utf8', this.dnStarts[m]!, m + 1 < this.members ? this.dnStarts[m + 1]! : this.dnUsed);
    const missing: string[] = [];
    const notSynced: NotSyncedUser[] = [];
    const inetOrgPersonDns: string[] = [];
    for (let m = 0; m < this.members; m++) {
      const flags = this.flags[m]!;
      if ((flags & INETORGPERSON) !== 0) {
        if ((flags & (FILTERED | SEEN)) === FILTERED)
          notSynced.push({ ...notSyncedEntry(nameOf(m), this.filteredBy.get(m) ?? null), type: 'inetOrgPerson' });
        else inetOrgPersonDns.push(nameOf(m));
      } else if ((flags & SEEN) !== 0) continue;
      else if ((flags & FILTERED) !== 0) notSynced.push(notSyncedEntry(nameOf(m), this.filteredBy.get(m) ?? null));
      else missing.push(nameOf(m));
    }
    const groups = this.otherReport('group', notSynced);
    const contacts = this.otherReport('contact', notSynced);
    const mismatched: MismatchedUser[] = this.mismatches.map((x) => ({
      dn: nameOf(x.member),
      cloudId: x.cloudId,
      userPrincipalName: x.userPrincipalName,
      expectedImmutableId: this.anchorText(x.member),
      cloudImmutableId: x.cloudImmutableId,
    }));
    const byDn = (a: { dn: string }, b: { dn: string }): number => a.dn.localeCompare(b.dn);
    return {
      baseDn: this.baseDn,
      onPrem: this.expected(),
      cloud: { users: this.cloudUsers },
      matched: this.matched,
      missing: missing.sort((a, b) => a.localeCompare(b)),
      extra: [...this.extra].sort(byDn),
      mismatched: mismatched.sort(byDn),
      unparsableCloudDns: this.unparsable,
      notSynced: notSynced.sort(byDn),
      ...(inetOrgPersonDns.length > 0
        ? {
            inetOrgPersons: {
              onPrem: inetOrgPersonDns.length,
              inCloud: this.inetOrgPersonsMatched,
              dns: inetOrgPersonDns.sort((a, b) => a.localeCompare(b)),
              reason: INETORGPERSON_REFUSAL,
            },
          }
        : {}),
      ...(groups ? { groups } : {}),
      ...(contacts ? { contacts } : {}),
    };
  }

  private userMembers(): number {
    return this.members - this.inetOrgPersons;
  }

  private addOther(type: 'group' | 'contact', dnKeyText: string, object: OnPremUser): void {
    const map = this.others[type];
    if (map.has(dnKeyText)) return;
    const key = type === 'group' ? (object.sid?.toUpperCase() ?? null) : (object.mail?.toLowerCase() ?? null);
    delete this.otherIndex[type];
    map.set(dnKeyText, {
      dn: object.dn,
      key,
      filteredBy: object.filteredBy?.length ? [...object.filteredBy] : object.criticalSystemObject ? [] : null,
      consistencyGuid: object.consistencyGuid === true,
      anchor: object.anchor,
      objectGuid: object.objectGuid !== undefined && object.objectGuid !== object.anchor ? object.objectGuid : null,
      cloudId: null,
    });
  }

  private matchOther(type: 'group' | 'contact', key: string | null, cloudId: string): void {
    if (key === null || key === '') return;
    // Few groups and contacts per OU: a scan over them per cloud object would not scale to a tenant's
    // thousands, so the index is built once, on the first cloud object.
    let index = this.otherIndex[type];
    if (!index) {
      index = new Map();
      for (const object of this.others[type].values()) if (object.key !== null) index.set(object.key, object);
      this.otherIndex[type] = index;
    }
    const object = index.get(type === 'group' ? key.toUpperCase() : key);
    if (object) object.cloudId = cloudId;
  }

  private readonly otherIndex: { group?: Map<string, OtherObject>; contact?: Map<string, OtherObject> } = {};

  private otherReport(type: 'group' | 'contact', notSynced: NotSyncedUser[]): TypeComparison | null {
    const objects = [...this.others[type].values()];
    if (objects.length === 0 && !this.cloudRead[type]) return null;
    let onPrem = 0;
    let matched = 0;
    let withConsistencyGuid = 0;
    const missing: string[] = [];
    for (const o of objects) {
      if (o.filteredBy !== null && o.cloudId === null) {
        notSynced.push({ ...notSyncedEntry(o.dn, o.filteredBy.length > 0 ? o.filteredBy : null), type });
        continue;
      }
      onPrem++;
      if (o.consistencyGuid) withConsistencyGuid++;
      if (o.cloudId !== null) matched++;
      else missing.push(o.dn);
    }
    return {
      onPrem,
      matched,
      missing: missing.sort((a, b) => a.localeCompare(b)),
      matchedOn: type === 'group' ? 'onPremisesSecurityIdentifier' : 'mail',
      cloudRead: this.cloudRead[type],
      ...(type === 'group' ? { withConsistencyGuid } : {}),
    };
  }

  /**
   * Every on-premises object a sync engine is expected to put in the cloud (those report() counts in
   * onPrem, and each type's onPrem), with the Entra object found for it: a user under its DN, a group
   * by its SID, a contact by its mail. What the Cloud Sync evidence is checked against.
   * inetOrgPerson objects are not: they are refused (report().inetOrgPersons), not handed over, and
   * addCloud() records no Entra id for them.
   */
  *inScope(): Generator<InScopeObject> {
    for (let m = 0; m < this.members; m++) {
      const flags = this.flags[m]!;
      if ((flags & INETORGPERSON) !== 0) continue;
      const seen = (flags & SEEN) !== 0;
      if ((flags & FILTERED) !== 0 && !seen) continue;
      const slot = this.objectGuidSlots.get(m);
      yield {
        dn: this.nameOf(m),
        anchor: this.anchorText(m),
        ...(slot === undefined
          ? {}
          : { objectGuid: Buffer.from(this.objectGuidBytes.subarray(16 * slot, 16 * slot + 16)).toString('base64') }),
        cloudId: seen ? (this.oddCloudIds.get(m) ?? decodeGuidText(this.cloudIds, 16 * m)) : null,
        anchorMatches: seen && !this.mismatchedMembers.has(m),
      };
    }
    for (const type of ['group', 'contact'] as const)
      for (const o of this.others[type].values()) {
        // As otherReport(): a filtered object is in scope only when the cloud has it anyway.
        if (o.filteredBy !== null && o.cloudId === null) continue;
        yield {
          dn: o.dn,
          anchor: o.anchor,
          ...(o.objectGuid === null ? {} : { objectGuid: o.objectGuid }),
          cloudId: o.cloudId,
          // Graph returns no source anchor for groups or contacts: there is nothing to compare.
          anchorMatches: o.cloudId !== null,
          type,
          cloudRead: this.cloudRead[type],
        };
      }
  }

  private nameOf(m: number): string {
    return this.dnText.toString('utf8', this.dnStarts[m]!, m + 1 < this.members ? this.dnStarts[m + 1]! : this.dnUsed);
  }

  /** The on-premises users a sync engine is expected to have put in the cloud. */
  private expected(): { users: number; disabled: number } {
    return {
      users: this.userMembers() - (this.critical - this.criticalMatched),
      disabled: this.onPremDisabled - (this.criticalDisabled - this.criticalMatchedDisabled),
    };
  }

  /**
   * Keeps a member's objectGUID when it is base64 of 16 bytes. The wire refuses any other
   * (scannedUsersProblem), so one that is not came from nowhere the evidence should trust: it is
   * dropped, and the object is still named by its anchor.
   */
  private keepObjectGuid(m: number, objectGuid: string): void {
    const slot = this.objectGuidSlots.size;
    if (16 * slot + 16 > this.objectGuidBytes.length)
      this.objectGuidBytes = copyInto(
        new Uint8Array(Math.max(256, 2 * this.objectGuidBytes.length)),
        this.objectGuidBytes,
      );
    if (decodeAnchor(objectGuid, this.objectGuidBytes, 16 * slot)) this.objectGuidSlots.set(m, slot);
  }

  private keepDn(m: number, dn: string): void {
    const bytes = Buffer.byteLength(dn, 'utf8');
    if (this.dnUsed + bytes > this.dnText.length) {
      const bigger = Buffer.alloc(Math.max(2 * this.dnText.length, this.dnUsed + bytes));
      this.dnText.copy(bigger, 0, 0, this.dnUsed);
      this.dnText = bigger;
    }
    this.dnStarts[m] = this.dnUsed;
    this.dnUsed += this.dnText.write(dn, this.dnUsed, 'utf8');
  }

  private anchorMatches(m: number, cloud: string | null): boolean {
    const odd = this.oddAnchors.get(m);
    if (odd !== undefined) return cloud === odd;
    if (cloud === null || !decodeAnchor(cloud, this.decoded, 0)) return false;
    for (let i = 0; i < 16; i++) if (this.decoded[i] !== this.anchors[16 * m + i]) return false;
    return true;
  }

  private anchorText(m: number): string {
    return (
      this.oddAnchors.get(m) ??
      Buffer.from(this.anchors.buffer, this.anchors.byteOffset + 16 * m, 16).toString('base64')
    );
  }

  private find(hash: Uint32Array): number {
    const mask = this.slots.length - 1;
    for (let slot = hash[0]! & mask; ; slot = (slot + 1) & mask) {
      const entry = this.slots[slot]!;
      if (entry === 0) return -1;
      const at = 4 * (entry - 1);
      if (
        this.lanes[at] === hash[0] &&
        this.lanes[at + 1] === hash[1] &&
        this.lanes[at + 2] === hash[2] &&
        this.lanes[at + 3] === hash[3]
      )
        return entry - 1;
    }
  }

  private insert(m: number): void {
    const mask = this.slots.length - 1;
    let slot = this.lanes[4 * m]! & mask;
    while (this.slots[slot] !== 0) slot = (slot + 1) & mask;
    this.slots[slot] = m + 1;
  }

  private rehash(size: number): void {
    this.slots = new Int32Array(size);
    for (let m = 0; m < this.members; m++) this.insert(m);
  }

  private grow(): void {
    const size = 2 * this.flags.length;
    this.lanes = copyInto(new Uint32Array(4 * size), this.lanes);
    this.anchors = copyInto(new Uint8Array(16 * size), this.anchors);
    this.flags = copyInto(new Uint8Array(size), this.flags);
    this.dnStarts = copyInto(new Int32Array(size), this.dnStarts);
    this.cloudIds = copyInto(new Uint8Array(16 * size), this.cloudIds);
  }
}

function notSyncedEntry(dn: string, conditions: string[] | null): NotSyncedUser {
  return conditions === null
    ? { dn, reason: NOT_SYNCED_CRITICAL }
    : { dn, reason: filterReason(conditions), conditions };
}

function copyInto<T extends Uint8Array | Uint32Array | Int32Array>(target: T, source: T): T {
  target.set(source as never);
  return target;
}

const BASE64 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/';
const BASE64_VALUE = new Int8Array(128).fill(-1);
for (let i = 0; i < BASE64.length; i++) BASE64_VALUE[BASE64.charCodeAt(i)] = i;

/**
 * Decodes canonical base64 of exactly 16 bytes (24 characters ending in "==") into `target`.
 * Anything else returns false, so anchors compare as bytes only when their text would compare
 * equal too: a padded or non-canonical variant is not silently taken for the same anchor.
 */
function decodeAnchor(text: string, target: Uint8Array, offset: number): boolean {
  if (text.length !== 24 || text.charCodeAt(22) !== 61 || text.charCodeAt(23) !== 61) return false;
  let bits = 0;
  let count = 0;
  let out = offset;
  for (let i = 0; i < 22; i++) {
    const c = text.charCodeAt(i);
    const v = c < 128 ? BASE64_VALUE[c]! : -1;
    if (v < 0) return false;
    bits = (bits << 6) | v;
    count += 6;
    if (count >= 8) {
      count -= 8;
      target[out++] = (bits >>> count) & 0xff;
    }
  }
  // 22 characters carry 132 bits for 128: the last 4 must be zero in canonical base64.
  return (bits & 0xf) === 0;
}

const GUID_TEXT = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

/** Lower-case GUID text into its 16 bytes in text order; anything else returns false and is kept as text. */
function encodeGuidText(text: string, target: Uint8Array, offset: number): boolean {
  if (!GUID_TEXT.test(text)) return false;
  const hex = text.replace(/-/g, '');
  for (let i = 0; i < 16; i++) target[offset + i] = parseInt(hex.slice(2 * i, 2 * i + 2), 16);
  return true;
}

function decodeGuidText(source: Uint8Array, offset: number): string {
  let hex = '';
  for (let i = 0; i < 16; i++) hex += source[offset + i]!.toString(16).padStart(2, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

/** base64 of the 16 raw GUID bytes, as Connect Sync and Cloud Sync compute onPremisesImmutableId. */
export function sourceAnchor(objectGuid: Uint8Array, consistencyGuid: Uint8Array | null): string {
  const bytes = consistencyGuid && consistencyGuid.length === 16 ? consistencyGuid : objectGuid;
  return Buffer.from(bytes).toString('base64');
}
