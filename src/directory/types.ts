import type { ScannedType } from '../runbook/connect-sync-scope';

/**
 * What the agent reads from Active Directory: a user, or with `objectTypes: 'all'` also an
 * inetOrgPerson, group or contact. Kept compact: a verify of a large OU holds many.
 */
export interface DirectoryUser {
  /** Absent: a user. */
  objectType?: ScannedType;
  dn: string;
  /** objectGUID as raw bytes (16), in AD's little-endian storage order. */
  objectGuid: Buffer;
  /** ms-DS-ConsistencyGuid raw bytes when set. */
  consistencyGuid: Buffer | null;
  samAccountName: string | null;
  userPrincipalName: string | null;
  /** userAccountControl has ACCOUNTDISABLE (0x2). */
  disabled: boolean;
  /**
   * isCriticalSystemObject is TRUE (Administrator, Guest, krbtgt and the like): neither Connect
   * Sync's default rules nor Cloud Sync's default scope ever sync such an object.
   */
  criticalSystemObject: boolean;
  /** What Connect Sync's default scope reads (src/runbook/connect-sync-scope.ts); absent when not set. */
  mailNickname?: string | null;
  mail?: string | null;
  proxyAddresses?: string[] | null;
  recipientTypeDetails?: number | null;
  displayName?: string | null;
  hideFromAddressLists?: boolean | null;
  groupType?: number | null;
  /** objectSid as S-1-5-…, read for groups: Graph's group onPremisesSecurityIdentifier. */
  sid?: string | null;
}

export interface ScanTotals {
  /** Users (not inetOrgPerson, which is counted apart). */
  users: number;
  disabled: number;
  /** Only with `objectTypes: 'all'`. */
  inetOrgPersons?: number;
  groups?: number;
  contacts?: number;
}

export interface ScanOptions {
  /** LDAP page size (paged results control 1.2.840.113556.1.4.319); AD caps pages at 1,000. */
  pageSize?: number;
  /** Called once per page, in order, before the next page is requested. */
  onPage?: (users: DirectoryUser[], scannedSoFar: number) => void | Promise<void>;
  /**
   * 'users' (default): users only. 'all': also inetOrgPerson, group and contact objects, each with
   * its objectType, and their counts in the totals.
   */
  objectTypes?: 'users' | 'all';
}

/** What `/readiness` counts besides users (src/agent/actions/readiness.ts). */
export interface ObjectCounts {
  /** objectClass=group. */
  groups: number;
  /** objectClass=contact. */
  contacts: number;
  /** objectClass=organizationalUnit, the base itself included when it is one. */
  organizationalUnits: number;
  /** objectClass=inetOrgPerson (a subclass of user: they are in the user count too). */
  inetOrgPersons: number;
  /** The first few inetOrgPerson DNs, to show on the card. */
  inetOrgPersonSample: string[];
  /** The largest groups by direct member count, largest first (at most `top`). */
  largestGroups: { dn: string; count: number }[];
}

/** A new user the agent writes (the canary of step 12). The password is never logged or stored. */
export interface NewDisabledUser {
  /** The OU it goes into. */
  parentDn: string;
  /** cn and displayName; plain characters only (the canary prefix and hex). */
  name: string;
  /** At most 20 characters, as AD allows. */
  samAccountName: string;
  userPrincipalName: string;
  description: string;
  password: string;
}

/** One object found by its objectGUID, with what the canary's delete checks before it deletes. */
export interface FoundObject {
  dn: string;
  objectClasses: string[];
  samAccountName: string | null;
  disabled: boolean;
  /** Groups it is a member of (memberOf); a canary is never a member of any. */
  memberOf: string[];
}

export interface Directory {
  /** rootDSE defaultNamingContext, e.g. DC=contoso,DC=com. */
  defaultNamingContext(): Promise<string>;
  /** True when an object with exactly this DN exists (base-scope read). */
  exists(dn: string): Promise<boolean>;
  /** The objectClass values of the object with exactly this DN, or null when there is none. */
  objectClasses(dn: string): Promise<string[] | null>;
  /**
   * The object's distinguishedName as the directory holds it (case and escaping as AD wrote them),
   * read with a base-scope search, or null when there is none. What a person typed may differ.
   */
  storedDn(dn: string): Promise<string | null>;
  /** DNs of every organizationalUnit under `base` whose `ou` equals `name` (case-insensitive). */
  findOusByName(base: string, name: string): Promise<string[]>;
  /**
   * Users (objectCategory=person, objectClass=user, not inetOrgPerson) in the subtree of `baseDn`,
   * paged; with `objectTypes: 'all'` also inetOrgPersons, groups and contacts.
   */
  scanUsers(baseDn: string, options?: ScanOptions): Promise<ScanTotals>;
  /** Groups (with their member counts), contacts, OUs and inetOrgPerson objects in the subtree of `baseDn`. */
  countObjects(baseDn: string, options?: { top?: number; sample?: number }): Promise<ObjectCounts>;
  /**
   * Creates a user with userAccountControl NORMAL_ACCOUNT | ACCOUNTDISABLE and the given password
   * (unicodePwd, which needs LDAPS), in one add. Returns its DN and objectGUID bytes.
   */
  createDisabledUser(user: NewDisabledUser): Promise<{ dn: string; objectGuid: Buffer }>;
  /** The object with this objectGUID (16 bytes, AD storage order) anywhere in the domain, or null. */
  findByObjectGuid(objectGuid: Buffer): Promise<FoundObject | null>;
  /** Deletes the leaf object with exactly this DN. */
  deleteLeaf(dn: string): Promise<void>;
  close(): Promise<void>;
}
