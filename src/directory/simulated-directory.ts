/**
 * A directory held in memory, for the sandbox and tests that need no Samba: the same `Directory`
 * interface the agent's resolve and scan use, over a forest given as data. The sandbox builds it
 * from the seed spec the test Samba DC is seeded from (src/sandbox/seeded-forest.ts), so both
 * modes report the same counts.
 *
 * The forest crosses a process boundary (the sandbox writes it, an agent process reads it), so it
 * travels as JSON and is validated with zod when loaded.
 */
import { createHash, randomBytes } from 'node:crypto';
import { readFileSync, renameSync, writeFileSync } from 'node:fs';
import { z } from 'zod';
import type {
  Directory,
  DirectoryUser,
  FoundObject,
  NewDisabledUser,
  ObjectCounts,
  ScanOptions,
  ScanTotals,
} from './types';
import { countInto } from './scan-totals';
import { canonicalDn, isWithin, parseDn } from '../runbook/dn';
import { AppError } from '../shared/errors';

const base64Of16Bytes = z
  .string()
  .base64()
  .refine((s) => Buffer.from(s, 'base64').length === 16, 'must be 16 bytes, base64-encoded');

const dnString = z.string().refine((s) => parseDn(s).ok, 'is not an RFC 4514 distinguished name');

export const simulatedForestSchema = z.object({
  defaultNamingContext: dnString,
  /** Every organizationalUnit or container, parents before children. */
  containers: z.array(dnString),
  users: z.array(
    z.object({
      dn: dnString,
      objectGuid: base64Of16Bytes,
      consistencyGuid: base64Of16Bytes.nullable(),
      samAccountName: z.string().nullable(),
      userPrincipalName: z.string().nullable(),
      disabled: z.boolean(),
      /** isCriticalSystemObject TRUE (Administrator, Guest, krbtgt); absent means false. */
      criticalSystemObject: z.boolean().optional(),
      /** objectClass holds inetOrgPerson (a subclass of user); absent means false. */
      inetOrgPerson: z.boolean().optional(),
      mail: z.string().nullable().optional(),
      mailNickname: z.string().nullable().optional(),
      recipientTypeDetails: z.number().int().nullable().optional(),
    }),
  ),
  /** Groups, read by a scan of all object types; absent in forests written before they were. */
  groups: z
    .array(
      z.object({
        dn: dnString,
        objectGuid: base64Of16Bytes,
        consistencyGuid: base64Of16Bytes.nullable(),
        samAccountName: z.string().nullable(),
        /** objectSid as S-1-5-21-…; Graph's onPremisesSecurityIdentifier of the synced group. */
        sid: z.string().regex(/^S-1-\d+(-\d+)+$/),
        groupType: z.number().int(),
        /** Direct member count (what /readiness reports); absent means none. */
        members: z.number().int().min(0).optional(),
        mail: z.string().nullable().optional(),
        proxyAddresses: z.array(z.string()).optional(),
      }),
    )
    .optional(),
  /** Contacts, read by a scan of all object types; absent in forests written before they were. */
  contacts: z
    .array(
      z.object({
        dn: dnString,
        objectGuid: base64Of16Bytes,
        displayName: z.string().nullable().optional(),
        mail: z.string().nullable().optional(),
        proxyAddresses: z.array(z.string()).optional(),
      }),
    )
    .optional(),
  /**
   * Objects that exist but are not users (computers, contacts): a user scan must skip them, and
   * they are no search base. With their objectClass values when known.
   */
  otherObjects: z.array(
    z.union([dnString, z.object({ dn: dnString, objectClass: z.array(z.string().min(1)).min(1) })]),
  ),
});

export type SimulatedForest = z.infer<typeof simulatedForestSchema>;

const DEFAULT_PAGE_SIZE = 500;
// objectClass values as AD returns them: the class chain, most specific last.
const DOMAIN_CLASSES = ['top', 'domain', 'domainDNS'];
const OU_CLASSES = ['top', 'organizationalUnit'];
const CONTAINER_CLASSES = ['top', 'container'];
const USER_CLASSES = ['top', 'person', 'organizationalPerson', 'user'];
export const COMPUTER_CLASSES = [...USER_CLASSES, 'computer'];
const INETORGPERSON_CLASSES = [...USER_CLASSES, 'inetOrgPerson'];
const GROUP_CLASSES = ['top', 'group'];
export const CONTACT_CLASSES = ['top', 'person', 'organizationalPerson', 'contact'];

/** A stable objectGUID per DN, shaped like a version 4 GUID, so reruns build the same forest. */
export function simulatedObjectGuid(dn: string): Buffer {
  const bytes = createHash('md5').update(`syncshift-objectGUID:${dn}`).digest();
  // Byte 7 holds the version nibble in AD's little-endian storage of the third group.
  bytes[7] = (bytes[7]! & 0x0f) | 0x40;
  bytes[8] = (bytes[8]! & 0x3f) | 0x80;
  return bytes;
}

export function writeForestFile(path: string, forest: SimulatedForest): void {
  // Written next to the target and renamed, so an agent reading it meanwhile never sees half a file.
  const temporary = `${path}.${process.pid}.tmp`;
  writeFileSync(temporary, JSON.stringify(forest));
  renameSync(temporary, path);
}

export function readForestFile(path: string): SimulatedForest {
  let raw: unknown;
  try {
    raw = JSON.parse(readFileSync(path, 'utf8'));
  } catch (err) {
    throw new AppError('CONFIG.INVALID', `The simulated forest ${path} cannot be read: ${(err as Error).message}.`, {
      hint: 'The sandbox writes it at start (.data/sandbox/forest.json); start the sandbox again, or point SYNCSHIFT_SIMULATED_FOREST at an existing file.',
    });
  }
  const parsed = simulatedForestSchema.safeParse(raw);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new AppError(
      'CONFIG.INVALID',
      `The simulated forest ${path} is malformed at ${issue.path.join('.') || '(root)'}: ${issue.message}.`,
      {
        hint: 'Delete it and start the sandbox again; it is regenerated from src/sandbox/forest-spec.ts.',
      },
    );
  }
  return parsed.data;
}

interface IndexedUser {
  keys: string[];
  user: DirectoryUser;
}

type Forest = SimulatedForest;

/** Answers the agent's questions the way the LDAP implementation does, including its errors. */
export class SimulatedDirectory implements Directory {
  private readonly ncKeys: string[];
  /** Every object by its DN key, with its objectClass values. */
  private readonly existing = new Map<string, string[]>();
  /** Every object's DN as the forest spells it, by DN key: what AD returns as distinguishedName. */
  private readonly spelled = new Map<string, string>();
  private readonly ous: { dn: string; keys: string[]; name: string }[] = [];
  private readonly users: IndexedUser[] = [];
  private readonly groups: { keys: string[]; dn: string; members: number }[] = [];
  private closed = false;

  /**
   * `persist` receives the forest after each write (the agent's copy is written back to the forest
   * file, so the simulated Cloud Sync, which reads that file, sees the change).
   */
  constructor(
    private readonly forest: SimulatedForest,
    private readonly defaultPageSize = DEFAULT_PAGE_SIZE,
    private readonly persist?: (forest: SimulatedForest) => void,
  ) {
    this.ncKeys = keysOf(forest.defaultNamingContext);
    this.existing.set(this.ncKeys.join(','), DOMAIN_CLASSES);
    this.spelled.set(this.ncKeys.join(','), forest.defaultNamingContext);
    for (const dn of forest.containers) {
      const keys = keysOf(dn);
      this.spelled.set(keys.join(','), dn);
      const first = parseDn(dn);
      const isOu = first.ok && first.rdns[0]![0]!.type.toLowerCase() === 'ou';
      this.existing.set(keys.join(','), isOu ? OU_CLASSES : CONTAINER_CLASSES);
      if (isOu) this.ous.push({ dn, keys, name: first.rdns[0]![0]!.value.toLowerCase() });
    }
    for (const other of forest.otherObjects) {
      if (typeof other === 'string') this.existing.set(keysOf(other).join(','), ['top']);
      else this.existing.set(keysOf(other.dn).join(','), other.objectClass);
    }
    // In the order the forest lists them, each kind after the other, as a DC's scan would page them.
    for (const object of allObjects(forest)) {
      this.existing.set(object.keys.join(','), object.classes);
      this.users.push({ keys: object.keys, user: object.user });
    }
    for (const g of forest.groups ?? []) this.groups.push({ keys: keysOf(g.dn), dn: g.dn, members: g.members ?? 0 });
  }

  // async throughout, so a closed directory or a bad DN rejects as the LDAP one does, never throws.
  async defaultNamingContext(): Promise<string> {
    this.ready();
    return this.forest.defaultNamingContext;
  }

  async exists(dn: string): Promise<boolean> {
    this.ready();
    return this.existing.has(requireKeys(dn, 'exists').join(','));
  }

  async objectClasses(dn: string): Promise<string[] | null> {
    this.ready();
    const classes = this.existing.get(requireKeys(dn, 'objectClasses').join(','));
    return classes ? [...classes] : null;
  }

  async storedDn(dn: string): Promise<string | null> {
    this.ready();
    const key = requireKeys(dn, 'storedDn').join(',');
    return this.existing.has(key) ? (this.spelled.get(key) ?? dn) : null;
  }

  async findOusByName(base: string, name: string): Promise<string[]> {
    this.ready();
    const baseKeys = requireKeys(base, 'findOusByName');
    const wanted = name.toLowerCase();
    return this.ous.filter((o) => o.name === wanted && isWithin(o.keys, baseKeys)).map((o) => o.dn);
  }

  async scanUsers(baseDn: string, options: ScanOptions = {}): Promise<ScanTotals> {
    this.ready();
    const baseKeys = requireKeys(baseDn, 'scanUsers');
    if (!this.existing.has(baseKeys.join(','))) {
      throw new AppError('DIRECTORY.OU_NOT_FOUND', `"${baseDn}" does not exist in the simulated directory`, {
        hint: 'Check the OU distinguished name and that it lies under this domain.',
      });
    }
    const pageSize = options.pageSize ?? this.defaultPageSize;
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 1000) {
      throw new AppError('CONFIG.INVALID', `page size must be a whole number from 1 to 1000, got ${String(pageSize)}`);
    }
    const all = options.objectTypes === 'all';
    const matching = this.users
      .filter((u) => isWithin(u.keys, baseKeys) && (all || (u.user.objectType ?? 'user') === 'user'))
      .map((u) => (all ? u.user : withoutType(u.user)));
    const totals: ScanTotals = all
      ? { users: 0, disabled: 0, inetOrgPersons: 0, groups: 0, contacts: 0 }
      : { users: 0, disabled: 0 };
    for (let i = 0; i < matching.length; i += pageSize) {
      const page = matching.slice(i, i + pageSize);
      countInto(totals, page);
      if (options.onPage) await options.onPage(page, Math.min(i + pageSize, matching.length));
      // Let other work (progress reports, the relay's long poll) run between pages, as it would
      // while a real server sends the next one.
      await new Promise<void>((resolve) => setImmediate(resolve));
    }
    return totals;
  }

  async countObjects(baseDn: string, options: { top?: number; sample?: number } = {}): Promise<ObjectCounts> {
    this.ready();
    const baseKeys = requireKeys(baseDn, 'countObjects');
    if (!this.existing.has(baseKeys.join(','))) {
      throw new AppError('DIRECTORY.OU_NOT_FOUND', `"${baseDn}" does not exist in the simulated directory`, {
        hint: 'Check the OU distinguished name and that it lies under this domain.',
      });
    }
    const within = (dn: string): boolean => isWithin(keysOf(dn), baseKeys);
    const others = this.forest.otherObjects
      .map((o) => (typeof o === 'string' ? { dn: o, objectClass: ['top'] } : o))
      .filter((o) => within(o.dn));
    const inetOrgPersons = [
      ...this.forest.users.filter((u) => u.inetOrgPerson === true && within(u.dn)),
      ...others.filter((o) => o.objectClass.some((c) => c.toLowerCase() === 'inetorgperson')),
    ];
    const groups = this.groups.filter((g) => isWithin(g.keys, baseKeys));
    return {
      groups: groups.length,
      contacts:
        (this.forest.contacts ?? []).filter((c) => within(c.dn)).length +
        others.filter((o) => o.objectClass.some((c) => c.toLowerCase() === 'contact')).length,
      organizationalUnits: this.ous.filter((o) => isWithin(o.keys, baseKeys)).length,
      inetOrgPersons: inetOrgPersons.length,
      inetOrgPersonSample: inetOrgPersons.slice(0, options.sample ?? 5).map((o) => o.dn),
      largestGroups: groups
        .map((g) => ({ dn: g.dn, count: g.members }))
        .sort((a, b) => b.count - a.count || a.dn.localeCompare(b.dn))
        .slice(0, options.top ?? 5),
    };
  }

  async createDisabledUser(user: NewDisabledUser): Promise<{ dn: string; objectGuid: Buffer }> {
    this.ready();
    const parentKeys = requireKeys(user.parentDn, 'createDisabledUser');
    if (!this.existing.has(parentKeys.join(',')))
      throw new AppError(
        'DIRECTORY.ERROR',
        `"${user.parentDn}" does not exist in the simulated directory (noSuchObject)`,
        {
          hint: 'Check the OU distinguished name.',
        },
      );
    const dn = `CN=${user.name},${user.parentDn}`;
    const keys = keysOf(dn);
    if (this.existing.has(keys.join(',')))
      throw new AppError('DIRECTORY.ERROR', `"${dn}" already exists (entryAlreadyExists)`, {
        hint: 'Pick another name.',
      });
    // A real DC draws a fresh objectGUID; the password is not kept, as a DC keeps only hashes.
    const objectGuid = randomBytes(16);
    objectGuid[7] = (objectGuid[7]! & 0x0f) | 0x40;
    objectGuid[8] = (objectGuid[8]! & 0x3f) | 0x80;
    const stored = {
      dn,
      objectGuid: objectGuid.toString('base64'),
      consistencyGuid: null,
      samAccountName: user.samAccountName,
      userPrincipalName: user.userPrincipalName,
      disabled: true,
    };
    this.forest.users.push(stored);
    this.existing.set(keys.join(','), USER_CLASSES);
    this.users.push({
      keys,
      user: {
        dn,
        objectGuid,
        consistencyGuid: null,
        samAccountName: user.samAccountName,
        userPrincipalName: user.userPrincipalName,
        disabled: true,
        criticalSystemObject: false,
      },
    });
    this.persist?.(this.forest);
    return { dn, objectGuid: Buffer.from(objectGuid) };
  }

  async findByObjectGuid(objectGuid: Buffer): Promise<FoundObject | null> {
    this.ready();
    const found = this.users.find((u) => u.user.objectGuid.equals(objectGuid));
    if (!found) return null;
    return {
      dn: found.user.dn,
      objectClasses: [...(this.existing.get(found.keys.join(',')) ?? USER_CLASSES)],
      samAccountName: found.user.samAccountName,
      disabled: found.user.disabled,
      // The simulated forest holds no groups, so nobody is a member of one.
      memberOf: [],
    };
  }

  async deleteLeaf(dn: string): Promise<void> {
    this.ready();
    const keys = requireKeys(dn, 'deleteLeaf').join(',');
    if (!this.existing.has(keys))
      throw new AppError('DIRECTORY.ERROR', `"${dn}" does not exist in the simulated directory (noSuchObject)`, {
        hint: 'It may have been deleted already.',
      });
    const index = this.users.findIndex((u) => u.keys.join(',') === keys);
    if (index < 0)
      throw new AppError('DIRECTORY.ERROR', `"${dn}" is not a leaf user; the simulated directory deletes only users`);
    this.users.splice(index, 1);
    this.existing.delete(keys);
    const stored = this.forest.users.findIndex((u) => keysOf(u.dn).join(',') === keys);
    if (stored >= 0) this.forest.users.splice(stored, 1);
    this.persist?.(this.forest);
  }

  async close(): Promise<void> {
    this.closed = true;
  }

  private ready(): void {
    if (this.closed)
      throw new AppError('DIRECTORY.ERROR', 'the simulated directory was already closed', {
        hint: 'Open a new one with openSimulatedDirectory.',
      });
  }
}

function withoutType(user: DirectoryUser): DirectoryUser {
  const { objectType: _type, ...rest } = user;
  return rest;
}

/** Every object of the forest a scan can return, with its objectClass values. */
function allObjects(forest: Forest): { keys: string[]; classes: string[]; user: DirectoryUser }[] {
  const objects: { keys: string[]; classes: string[]; user: DirectoryUser }[] = [];
  for (const u of forest.users) {
    objects.push({
      keys: keysOf(u.dn),
      classes: u.inetOrgPerson ? INETORGPERSON_CLASSES : USER_CLASSES,
      user: {
        objectType: u.inetOrgPerson ? 'inetOrgPerson' : 'user',
        dn: u.dn,
        objectGuid: Buffer.from(u.objectGuid, 'base64'),
        consistencyGuid: u.consistencyGuid === null ? null : Buffer.from(u.consistencyGuid, 'base64'),
        samAccountName: u.samAccountName,
        userPrincipalName: u.userPrincipalName,
        disabled: u.disabled,
        criticalSystemObject: u.criticalSystemObject === true,
        mail: u.mail ?? null,
        mailNickname: u.mailNickname ?? null,
        recipientTypeDetails: u.recipientTypeDetails ?? null,
      },
    });
  }
  for (const g of forest.groups ?? []) {
    objects.push({
      keys: keysOf(g.dn),
      classes: GROUP_CLASSES,
      user: {
        objectType: 'group',
        dn: g.dn,
        objectGuid: Buffer.from(g.objectGuid, 'base64'),
        consistencyGuid: g.consistencyGuid === null ? null : Buffer.from(g.consistencyGuid, 'base64'),
        samAccountName: g.samAccountName,
        userPrincipalName: null,
        disabled: false,
        criticalSystemObject: false,
        groupType: g.groupType,
        sid: g.sid,
        mail: g.mail ?? null,
        proxyAddresses: g.proxyAddresses ?? null,
      },
    });
  }
  for (const c of forest.contacts ?? []) {
    objects.push({
      keys: keysOf(c.dn),
      classes: CONTACT_CLASSES,
      user: {
        objectType: 'contact',
        dn: c.dn,
        objectGuid: Buffer.from(c.objectGuid, 'base64'),
        consistencyGuid: null,
        samAccountName: null,
        userPrincipalName: null,
        disabled: false,
        criticalSystemObject: false,
        displayName: c.displayName ?? null,
        mail: c.mail ?? null,
        proxyAddresses: c.proxyAddresses ?? null,
      },
    });
  }
  return objects;
}

/** What the agent's directory selection calls for SYNCSHIFT_DIRECTORY=simulated. */
export async function openSimulatedDirectory(forestFile: string, pageSize?: number): Promise<Directory> {
  return new SimulatedDirectory(readForestFile(forestFile), pageSize, (forest) => writeForestFile(forestFile, forest));
}

/** The canonical keys of a DN the forest holds; a DN that does not parse means the forest is corrupt. */
export function keysOf(dn: string): string[] {
  const keys = canonicalDn(dn);
  if (keys === null)
    throw new AppError('CONFIG.INVALID', `The simulated forest holds "${dn}", which is not a distinguished name.`);
  return keys;
}

function requireKeys(dn: string, what: string): string[] {
  const keys = canonicalDn(dn);
  if (keys === null)
    throw new AppError('INPUT.BAD_DN', `${what}: "${dn}" is not a valid distinguished name`, {
      hint: 'Pass an RFC 4514 DN such as OU=Sales,DC=contoso,DC=com.',
    });
  return keys;
}
