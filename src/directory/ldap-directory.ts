/**
 * Directory over LDAPS (ldapts), for Active Directory and Samba AD.
 *
 * Only LDAPS: the agent binds with a password, and a simple bind over plain LDAP would send it in
 * clear text (AD and Samba refuse it anyway unless signing is switched off).
 */
import { readFileSync } from 'node:fs';
import type { ConnectionOptions } from 'node:tls';
import { Attribute, Client, EqualityFilter, ResultCodeError } from 'ldapts';
import type { Entry } from 'ldapts';
import { AppError } from '../shared/errors';
import { escapeFilterValue, parseDn } from '../runbook/dn';
import type { ScannedType } from '../runbook/connect-sync-scope';
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

export interface LdapDirectoryOptions {
  /** ldaps://host[:port]; port defaults to 636. */
  url: string;
  bindDn: string;
  password: string;
  /** PEM file of the CA that issued the DC's certificate. */
  caPath?: string;
  /** PEM bytes of that CA; wins over caPath. */
  ca?: Buffer;
  /** Defaults to true. Turning it off lets anyone on the path read the bind password. */
  rejectUnauthorized?: boolean;
  /** Connect timeout and per-request timeout, ms. Default 30,000. */
  timeoutMs?: number;
  /** Default page size for scanUsers. Default 500, at most 1,000. */
  pageSize?: number;
}

// inetOrgPerson is a subclass of user: without the exclusion it would be counted as a user.
const USER_FILTER = '(&(objectCategory=person)(objectClass=user)(!(objectClass=inetOrgPerson)))';
// Computers are users too, but with objectCategory=computer, so they stay out of both filters.
const ALL_TYPES_FILTER =
  '(|(&(objectCategory=person)(objectClass=user))(objectClass=group)(&(objectCategory=person)(objectClass=contact)))';
const DEFAULT_PAGE_SIZE = 500;
// AD's default MaxPageSize; asking for more only gets 1,000 per page anyway.
const MAX_PAGE_SIZE = 1000;
const DEFAULT_TIMEOUT_MS = 30_000;
const UF_ACCOUNTDISABLE = 0x2;

const ATTR_GUID = 'objectGUID';
const ATTR_CONSISTENCY = 'mS-DS-ConsistencyGuid';
const USER_ATTRIBUTES = [
  ATTR_GUID,
  ATTR_CONSISTENCY,
  'sAMAccountName',
  'userPrincipalName',
  'userAccountControl',
  'isCriticalSystemObject',
  // What Connect Sync's default scope reads (src/runbook/connect-sync-scope.ts). The msExch ones exist
  // only with Exchange's schema extension; a DC without it returns nothing for them, no error.
  'mailNickname',
  'mail',
  'proxyAddresses',
  'msExchRecipientTypeDetails',
  'msExchHideFromAddressLists',
  'displayName',
];
const ALL_TYPES_ATTRIBUTES = [...USER_ATTRIBUTES, 'objectClass', 'groupType', 'objectSid'];
// ldapts matches these names case-sensitively against what the server sends back, and servers
// differ in the spelling they echo (schema case or the requested case), so list the usual ones.
const BUFFER_ATTRIBUTES = [
  ATTR_GUID,
  'objectGuid',
  'objectguid',
  ATTR_CONSISTENCY,
  'msDS-ConsistencyGuid',
  'ms-DS-ConsistencyGuid',
  'ms-ds-consistencyguid',
  'objectSid',
  'objectsid',
];

// LDAP result codes (RFC 4511 section 4.1.9) the mapping cares about.
const RC = {
  unavailableCriticalExtension: 12,
  strongerAuthRequired: 8,
  referral: 10,
  confidentialityRequired: 13,
  noSuchObject: 32,
  invalidDnSyntax: 34,
  inappropriateAuthentication: 48,
  invalidCredentials: 49,
  insufficientAccessRights: 50,
  busy: 51,
  unavailable: 52,
} as const;

const NETWORK_CODES = new Set([
  'ECONNREFUSED',
  'ECONNRESET',
  'ETIMEDOUT',
  'EHOSTUNREACH',
  'ENETUNREACH',
  'EHOSTDOWN',
  'EPIPE',
  'ENOTFOUND',
  'EAI_AGAIN',
  'EADDRNOTAVAIL',
]);
const TLS_CODE =
  /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|UNABLE_TO_GET_ISSUER|ERR_TLS|ERR_SSL|EPROTO|HOSTNAME_MISMATCH|ALTNAME/;

type Operation =
  | 'connect'
  | 'rootDSE'
  | 'exists'
  | 'objectClass'
  | 'distinguishedName'
  | 'findOus'
  | 'scan'
  | 'add'
  | 'findGuid'
  | 'delete'
  | 'count';
// userAccountControl NORMAL_ACCOUNT (0x200) | ACCOUNTDISABLE (0x2): a user nobody can sign in as.
const UAC_DISABLED_USER = 0x200 | UF_ACCOUNTDISABLE;

export async function connectLdapDirectory(options: LdapDirectoryOptions): Promise<Directory> {
  const target = parseLdapsUrl(options.url);
  const timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS;
  if (!Number.isFinite(timeoutMs) || timeoutMs <= 0) {
    throw new AppError(
      'CONFIG.INVALID',
      `timeoutMs must be a positive number of milliseconds, got ${String(options.timeoutMs)}`,
    );
  }
  const defaultPageSize = checkPageSize(options.pageSize ?? DEFAULT_PAGE_SIZE);
  const tlsOptions: ConnectionOptions = {
    ca: options.ca ?? readCa(options.caPath),
    rejectUnauthorized: options.rejectUnauthorized ?? true,
    minVersion: 'TLSv1.2',
  };
  const client = new Client({ url: target, connectTimeout: timeoutMs, timeout: timeoutMs, tlsOptions });
  // ldapts asks the server for a 10 s limit unless told otherwise, and a DC works out a paged search's
  // whole result set before the first page: about 10 s for 100,000 users on Samba, which then fails
  // the search with "Operations error". The server gets the same budget as the client instead.
  const timeLimitSeconds = Math.ceil(timeoutMs / 1000);
  const directory = new LdapDirectory(
    client,
    target,
    options.bindDn,
    options.password,
    defaultPageSize,
    timeLimitSeconds,
  );
  try {
    await directory.bind();
  } catch (err) {
    // A rejected bind leaves the TLS connection open; nobody else holds the client to close it.
    await directory.close();
    throw err;
  }
  return directory;
}

class LdapDirectory implements Directory {
  private binding: Promise<void> | null = null;
  private namingContext: string | null = null;
  private closed = false;

  constructor(
    private readonly client: Client,
    private readonly url: string,
    private readonly bindDn: string,
    private readonly password: string,
    private readonly defaultPageSize: number,
    private readonly timeLimitSeconds: number,
  ) {}

  /** Binds once; concurrent callers share the same attempt. */
  bind(): Promise<void> {
    this.binding ??= this.client.bind(this.bindDn, this.password).catch((err: unknown) => {
      this.binding = null;
      throw this.fail(err, 'connect');
    });
    return this.binding;
  }

  // AD and Samba drop idle connections; ldapts then reconnects on the next request but does not
  // bind again, and an anonymous search on AD returns an error or nothing. Re-bind first instead.
  private async ready(): Promise<void> {
    if (this.closed)
      throw new AppError('DIRECTORY.ERROR', 'the directory connection was already closed', {
        hint: 'Open a new connection with connectLdapDirectory.',
      });
    if (!this.client.isConnected) this.binding = null;
    await this.bind();
  }

  async defaultNamingContext(): Promise<string> {
    if (this.namingContext !== null) return this.namingContext;
    await this.ready();
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await this.client.search('', {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['defaultNamingContext'],
        timeLimit: this.timeLimitSeconds,
      }));
    } catch (err) {
      throw this.fail(err, 'rootDSE');
    }
    const value = firstString(entries[0], 'defaultNamingContext');
    if (!value) {
      throw new AppError('DIRECTORY.ERROR', `the rootDSE of ${this.url} has no defaultNamingContext`, {
        hint: 'Check that the URL points at an Active Directory domain controller, not another kind of LDAP server or a global catalog port.',
      });
    }
    this.namingContext = value;
    return value;
  }

  async exists(dn: string): Promise<boolean> {
    requireDn(dn, 'exists');
    await this.ready();
    try {
      const { searchEntries } = await this.client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: ['1.1'],
        timeLimit: this.timeLimitSeconds,
      });
      return searchEntries.length > 0;
    } catch (err) {
      // A referral means the DN lies outside every naming context this DC holds, so not here.
      if (isResultCode(err, RC.noSuchObject) || isResultCode(err, RC.referral)) return false;
      throw this.fail(err, 'exists', dn);
    }
  }

  async objectClasses(dn: string): Promise<string[] | null> {
    requireDn(dn, 'objectClasses');
    await this.ready();
    const entry = await this.readBase(dn, 'objectClass', 'objectClass');
    if (!entry) return null;
    const value = attribute(entry, 'objectClass');
    const values = value === undefined ? [] : Array.isArray(value) ? value : [value];
    return values.map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
  }

  /** One attribute of the object at `dn` itself, or null when AD has no such object there. */
  private async readBase(dn: string, name: string, op: Operation): Promise<Entry | null> {
    try {
      const { searchEntries } = await this.client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: [name],
        timeLimit: this.timeLimitSeconds,
      });
      return searchEntries[0] ?? null;
    } catch (err) {
      if (isResultCode(err, RC.noSuchObject) || isResultCode(err, RC.referral)) return null;
      throw this.fail(err, op, dn);
    }
  }

  async storedDn(dn: string): Promise<string | null> {
    requireDn(dn, 'storedDn');
    await this.ready();
    const entry = await this.readBase(dn, 'distinguishedName', 'distinguishedName');
    if (!entry) return null;
    // AD's distinguishedName attribute is the stored spelling; the entry's own DN is the fallback.
    const value = attribute(entry, 'distinguishedName');
    const stored = Array.isArray(value) ? value[0] : value;
    if (typeof stored === 'string' && stored !== '') return stored;
    if (Buffer.isBuffer(stored)) return stored.toString('utf8');
    return entry.dn;
  }

  async findOusByName(base: string, name: string): Promise<string[]> {
    requireDn(base, 'findOusByName');
    if (name.trim() === '') return [];
    await this.ready();
    const filter = `(&(objectClass=organizationalUnit)(ou=${escapeFilterValue(name)}))`;
    const found: string[] = [];
    try {
      for await (const page of this.client.searchPaginated(base, {
        scope: 'sub',
        filter,
        attributes: ['1.1'],
        paged: { pageSize: DEFAULT_PAGE_SIZE },
        timeLimit: this.timeLimitSeconds,
      })) {
        for (const entry of page.searchEntries) found.push(entry.dn);
      }
    } catch (err) {
      throw this.fail(err, 'findOus', base);
    }
    return found;
  }

  async scanUsers(baseDn: string, options: ScanOptions = {}): Promise<ScanTotals> {
    requireDn(baseDn, 'scanUsers');
    const pageSize = options.pageSize === undefined ? this.defaultPageSize : checkPageSize(options.pageSize);
    const all = options.objectTypes === 'all';
    await this.ready();
    const pages = this.client.searchPaginated(baseDn, {
      scope: 'sub',
      filter: all ? ALL_TYPES_FILTER : USER_FILTER,
      attributes: all ? ALL_TYPES_ATTRIBUTES : USER_ATTRIBUTES,
      explicitBufferAttributes: BUFFER_ATTRIBUTES,
      paged: { pageSize },
      timeLimit: this.timeLimitSeconds,
    });
    const totals: ScanTotals = all
      ? { users: 0, disabled: 0, inetOrgPersons: 0, groups: 0, contacts: 0 }
      : { users: 0, disabled: 0 };
    let scanned = 0;
    const iterator = pages[Symbol.asyncIterator]();
    try {
      for (;;) {
        let step: IteratorResult<{ searchEntries: Entry[] }>;
        try {
          step = await iterator.next();
        } catch (err) {
          throw this.fail(err, 'scan', baseDn);
        }
        if (step.done) break;
        // Only this page is held; at 100k users the caller decides what to keep.
        const users = step.value.searchEntries.map((entry) => toDirectoryUser(entry, all));
        scanned += users.length;
        countInto(totals, users);
        // The caller's own errors pass through unchanged: they are not directory failures.
        if (options.onPage) await options.onPage(users, scanned);
      }
    } finally {
      // Stopping early leaves the server's paging cookie to expire with the connection; AD keeps
      // only a handful per connection, which is harmless for one scan at a time.
      await iterator.return?.(undefined);
    }
    return totals;
  }

  /**
   * One paged search for groups, contacts, OUs and inetOrgPersons, reading only objectClass and
   * member. AD hands out at most 1,500 values of a multi-valued attribute per entry (MaxValRange) as
   * `member;range=0-1499`; such a group is read on with range retrieval until the range ends in `*`.
   */
  async countObjects(baseDn: string, options: { top?: number; sample?: number } = {}): Promise<ObjectCounts> {
    requireDn(baseDn, 'countObjects');
    await this.ready();
    const top = options.top ?? 5;
    const sample = options.sample ?? 5;
    const counts: ObjectCounts = {
      groups: 0,
      contacts: 0,
      organizationalUnits: 0,
      inetOrgPersons: 0,
      inetOrgPersonSample: [],
      largestGroups: [],
    };
    const groups: { dn: string; count: number }[] = [];
    try {
      for await (const page of this.client.searchPaginated(baseDn, {
        scope: 'sub',
        filter:
          '(|(objectClass=group)(objectClass=contact)(objectClass=organizationalUnit)(objectClass=inetOrgPerson))',
        attributes: ['objectClass', 'member'],
        paged: { pageSize: this.defaultPageSize },
        timeLimit: this.timeLimitSeconds,
      })) {
        for (const entry of page.searchEntries) {
          const raw = attribute(entry, 'objectClass');
          const classes = (raw === undefined ? [] : Array.isArray(raw) ? raw : [raw]).map((v) =>
            (Buffer.isBuffer(v) ? v.toString('utf8') : v).toLowerCase(),
          );
          if (classes.includes('group')) {
            counts.groups++;
            groups.push({ dn: entry.dn, count: await this.memberCount(entry) });
          } else if (classes.includes('contact')) counts.contacts++;
          else if (classes.includes('organizationalunit')) counts.organizationalUnits++;
          else if (classes.includes('inetorgperson')) {
            counts.inetOrgPersons++;
            if (counts.inetOrgPersonSample.length < sample) counts.inetOrgPersonSample.push(entry.dn);
          }
        }
      }
    } catch (err) {
      throw this.fail(err, 'count', baseDn);
    }
    counts.largestGroups = groups.sort((a, b) => b.count - a.count || a.dn.localeCompare(b.dn)).slice(0, top);
    return counts;
  }

  private async memberCount(entry: Entry): Promise<number> {
    const ranged = Object.keys(entry).find((k) => /^member;range=/i.test(k));
    if (!ranged) {
      const value = attribute(entry, 'member');
      return value === undefined ? 0 : Array.isArray(value) ? value.length : 1;
    }
    let key = ranged;
    let values = entry[key];
    let total = 0;
    for (;;) {
      total += Array.isArray(values) ? values.length : values === undefined ? 0 : 1;
      const end = /;range=\d+-(\d+|\*)$/i.exec(key)?.[1];
      if (end === undefined || end === '*') return total;
      const next = Number(end) + 1;
      const { searchEntries } = await this.client.search(entry.dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: [`member;range=${next}-*`],
        timeLimit: this.timeLimitSeconds,
      });
      const found = searchEntries[0];
      const nextKey = found ? Object.keys(found).find((k) => /^member;range=/i.test(k)) : undefined;
      if (!found || !nextKey) return total;
      key = nextKey;
      values = found[nextKey];
    }
  }

  async createDisabledUser(user: NewDisabledUser): Promise<{ dn: string; objectGuid: Buffer }> {
    requireDn(user.parentDn, 'createDisabledUser');
    if (!/^[A-Za-z0-9-]{1,64}$/.test(user.name) || !/^[A-Za-z0-9-]{1,20}$/.test(user.samAccountName))
      throw new AppError(
        'INPUT.BAD_COMMAND',
        `"${user.name}" or "${user.samAccountName}" is not a plain name (an account name has at most 20 characters)`,
        {
          hint: 'Only letters, digits and hyphens are used for names SyncShift creates.',
        },
      );
    const dn = `CN=${user.name},${user.parentDn}`;
    await this.ready();
    try {
      // unicodePwd is the password in double quotes, UTF-16LE; AD takes it only over an encrypted
      // connection, which is all this class speaks.
      await this.client.add(dn, [
        new Attribute({ type: 'objectClass', values: ['top', 'person', 'organizationalPerson', 'user'] }),
        new Attribute({ type: 'cn', values: [user.name] }),
        new Attribute({ type: 'sAMAccountName', values: [user.samAccountName] }),
        new Attribute({ type: 'userPrincipalName', values: [user.userPrincipalName] }),
        new Attribute({ type: 'displayName', values: [user.name] }),
        new Attribute({ type: 'description', values: [user.description] }),
        new Attribute({ type: 'userAccountControl', values: [String(UAC_DISABLED_USER)] }),
        new Attribute({ type: 'unicodePwd', values: [Buffer.from(`"${user.password}"`, 'utf16le')] }),
      ]);
    } catch (err) {
      throw this.fail(err, 'add', dn);
    }
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await this.client.search(dn, {
        scope: 'base',
        filter: '(objectClass=*)',
        attributes: [ATTR_GUID],
        explicitBufferAttributes: BUFFER_ATTRIBUTES,
        timeLimit: this.timeLimitSeconds,
      }));
    } catch (err) {
      throw this.fail(err, 'findGuid', dn);
    }
    const objectGuid = entries[0] ? firstBuffer(entries[0], ATTR_GUID) : null;
    if (!objectGuid || objectGuid.length !== 16)
      throw new AppError('DIRECTORY.ERROR', `"${dn}" was created but its objectGUID cannot be read`, {
        hint: 'Delete it by hand in Active Directory Users and Computers, and check that the service account may read objectGUID.',
        details: { dn },
      });
    return { dn: entries[0]!.dn, objectGuid };
  }

  async findByObjectGuid(objectGuid: Buffer): Promise<FoundObject | null> {
    if (objectGuid.length !== 16) throw new AppError('INPUT.BAD_COMMAND', 'an objectGUID is 16 bytes');
    const base = await this.defaultNamingContext();
    await this.ready();
    // The bytes go into the filter as bytes: ldapts reads \hh escapes in a filter string as
    // characters and would send bytes above 0x7f as UTF-8.
    const filter = new EqualityFilter({ attribute: 'objectGUID', value: Buffer.from(objectGuid) });
    let entries: Entry[];
    try {
      ({ searchEntries: entries } = await this.client.search(base, {
        scope: 'sub',
        filter,
        attributes: ['objectClass', 'sAMAccountName', 'userAccountControl', 'memberOf'],
        timeLimit: this.timeLimitSeconds,
      }));
    } catch (err) {
      throw this.fail(err, 'findGuid', base);
    }
    const entry = entries[0];
    if (!entry) return null;
    const list = (name: string): string[] => {
      const v = attribute(entry, name);
      const values = v === undefined ? [] : Array.isArray(v) ? v : [v];
      return values.map((x) => (Buffer.isBuffer(x) ? x.toString('utf8') : x));
    };
    const uac = Number.parseInt(firstString(entry, 'userAccountControl') ?? '0', 10);
    return {
      dn: entry.dn,
      objectClasses: list('objectClass'),
      samAccountName: firstString(entry, 'sAMAccountName'),
      disabled: Number.isFinite(uac) && (uac & UF_ACCOUNTDISABLE) !== 0,
      memberOf: list('memberOf'),
    };
  }

  async deleteLeaf(dn: string): Promise<void> {
    requireDn(dn, 'deleteLeaf');
    await this.ready();
    try {
      await this.client.del(dn);
    } catch (err) {
      throw this.fail(err, 'delete', dn);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    try {
      await this.client.unbind();
    } catch {
      // Closing a connection the server already dropped is not worth reporting.
    }
  }

  /** Turns whatever ldapts or Node threw into an AppError; never lets the password through. */
  private fail(err: unknown, op: Operation, dn?: string): AppError {
    if (err instanceof AppError) return err;
    const mapped = classify(err, op, { url: this.url, bindDn: this.bindDn, dn });
    const scrub = (text: string) => (this.password ? text.split(this.password).join('***') : text);
    return new AppError(mapped.code, scrub(mapped.message), {
      hint: mapped.hint,
      details: {
        url: this.url,
        operation: op,
        ...(dn === undefined ? {} : { dn }),
        ...(mapped.detail ? { server: scrub(mapped.detail) } : {}),
      },
      cause: err,
    });
  }
}

interface Classified {
  code: AppError['code'];
  message: string;
  hint: string;
  detail?: string;
}

function classify(
  err: unknown,
  op: Operation,
  ctx: { url: string; bindDn: string; dn: string | undefined },
): Classified {
  const text = err instanceof Error ? err.message : String(err);
  const where = ctx.dn === undefined ? ctx.url : `"${ctx.dn}" on ${ctx.url}`;

  if (err instanceof ResultCodeError || isLdapResult(err)) {
    const rc = (err as { code: number }).code;
    switch (rc) {
      case RC.invalidCredentials:
        return {
          code: 'DIRECTORY.BIND_FAILED',
          message: `the domain controller at ${ctx.url} rejected the bind as "${ctx.bindDn}": invalid credentials`,
          hint: 'Check the bind DN and password of the service account, and that the account is not disabled, locked out or has an expired password (the AD "data" code in details says which).',
          detail: text,
        };
      case RC.strongerAuthRequired:
      case RC.confidentialityRequired:
      case RC.inappropriateAuthentication:
        return {
          code: 'DIRECTORY.BIND_FAILED',
          message: `the domain controller at ${ctx.url} refused a simple bind as "${ctx.bindDn}" (LDAP result ${rc})`,
          hint: 'The server requires stronger protection for this bind; use an ldaps:// URL on port 636 and a bind DN (or user@domain) of an account allowed to bind.',
          detail: text,
        };
      case RC.noSuchObject:
        return op === 'connect' || op === 'rootDSE'
          ? {
              code: 'DIRECTORY.ERROR',
              message: `the domain controller at ${ctx.url} reported "no such object" while connecting`,
              hint: 'Check the bind DN.',
              detail: text,
            }
          : {
              code: 'DIRECTORY.OU_NOT_FOUND',
              message: `${ctx.dn === undefined ? 'the search base' : `"${ctx.dn}"`} does not exist in the directory at ${ctx.url}`,
              hint: "Check the OU distinguished name (copy it from the OU's distinguishedName attribute in ADUC or Get-ADOrganizationalUnit) and that it lies under this domain.",
              detail: text,
            };
      case RC.invalidDnSyntax:
        return {
          code: 'INPUT.BAD_DN',
          message: `the domain controller rejected ${where} as not a valid distinguished name`,
          hint: 'Copy the DN from the object\'s distinguishedName attribute; special characters such as "," must be escaped with "\\".',
          detail: text,
        };
      case RC.insufficientAccessRights:
        return {
          code: 'DIRECTORY.ERROR',
          message: `"${ctx.bindDn}" is not allowed to read ${where}`,
          hint: "Give the service account read access to the OU (Authenticated Users has it by default unless the OU's permissions were tightened).",
          detail: text,
        };
      case RC.busy:
      case RC.unavailable:
        return {
          code: 'DIRECTORY.UNAVAILABLE',
          message: `the domain controller at ${ctx.url} is busy or unavailable (LDAP result ${rc})`,
          hint: 'Retry in a minute, or point the agent at another domain controller.',
          detail: text,
        };
      case RC.unavailableCriticalExtension:
        return {
          code: 'DIRECTORY.ERROR',
          message: `the server at ${ctx.url} does not support paged searches`,
          hint: 'Point the agent at an Active Directory domain controller; paging (control 1.2.840.113556.1.4.319) is required for large OUs.',
          detail: text,
        };
      default:
        return {
          code: 'DIRECTORY.ERROR',
          message: `the domain controller at ${ctx.url} returned LDAP result ${rc} for ${op} of ${where}`,
          hint: "See details.server for the server's explanation; check the domain controller's event log if it is not clear.",
          detail: text,
        };
    }
  }

  const code = errorCode(err);
  if (code && TLS_CODE.test(code)) {
    return {
      code: 'DIRECTORY.TLS',
      message: `the TLS connection to ${ctx.url} failed: ${code} (${text})`,
      hint:
        code.includes('SSL') || code === 'EPROTO'
          ? 'The port did not speak TLS: use the LDAPS port (636, or 3269 for a global catalog), not 389.'
          : "Give the agent the PEM certificate of the CA that issued the domain controller's certificate (caPath), and connect with a host name that the certificate names.",
    };
  }
  if (
    (code && NETWORK_CODES.has(code)) ||
    /Connection timeout|timed out|Connection closed|Socket error|socket disconnected/i.test(text)
  ) {
    // A reset while connecting is what a plain-LDAP port (389, 3268) does with a TLS handshake.
    const notTls = /before secure TLS connection/i.test(text) || (op === 'connect' && code === 'ECONNRESET');
    return {
      code: 'DIRECTORY.UNAVAILABLE',
      message: `cannot reach the domain controller at ${ctx.url}: ${code ?? text}`,
      hint: notTls
        ? 'The server dropped the connection during the TLS handshake: check that the URL uses the LDAPS port (636, not 389) and that the domain controller has a certificate enrolled for LDAPS.'
        : code === 'ENOTFOUND' || code === 'EAI_AGAIN'
          ? "Check the host name in the URL and the agent machine's DNS."
          : 'Check the host and port (LDAPS is 636), that the domain controller is running, and that a firewall allows this machine to reach it.',
    };
  }
  return {
    code: 'DIRECTORY.ERROR',
    message: `${op} against ${ctx.url} failed: ${text}`,
    hint: 'This was not a network, certificate or credential problem; see details and the agent log.',
  };
}

function isLdapResult(err: unknown): boolean {
  // Matched by shape too: two copies of ldapts in node_modules would break instanceof. Node's own
  // errors carry string codes, so a numeric code is an LDAP result code.
  return err instanceof Error && typeof (err as { code?: unknown }).code === 'number';
}

function isResultCode(err: unknown, rc: number): boolean {
  return (err instanceof ResultCodeError || isLdapResult(err)) && (err as { code: number }).code === rc;
}

function errorCode(err: unknown): string | undefined {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' ? code : undefined;
}

function parseLdapsUrl(url: string): string {
  let parsed: URL;
  try {
    parsed = new URL(url);
  } catch {
    throw new AppError('CONFIG.INVALID', `"${url}" is not a URL`, { hint: 'Use ldaps://dc01.contoso.com:636.' });
  }
  if (parsed.protocol !== 'ldaps:') {
    throw new AppError('CONFIG.INVALID', `the directory URL must use ldaps://, got ${parsed.protocol}//`, {
      hint: 'Use ldaps://<domain controller>:636; a password bind over plain ldap:// would cross the network unencrypted.',
    });
  }
  if (parsed.pathname !== '' && parsed.pathname !== '/') {
    throw new AppError('CONFIG.INVALID', `the directory URL must not carry a path or base DN ("${parsed.pathname}")`, {
      hint: 'Use only ldaps://host:port.',
    });
  }
  return `ldaps://${parsed.host}`;
}

function readCa(caPath: string | undefined): Buffer | undefined {
  if (caPath === undefined) return undefined;
  try {
    return readFileSync(caPath);
  } catch (err) {
    throw new AppError(
      'DIRECTORY.TLS',
      `cannot read the CA certificate file ${caPath}: ${errorCode(err) ?? String(err)}`,
      {
        hint: "Point caPath at a readable PEM file holding the CA certificate that issued the domain controller's LDAPS certificate.",
        cause: err,
      },
    );
  }
}

function checkPageSize(size: number): number {
  if (!Number.isInteger(size) || size < 1) {
    throw new AppError(
      'CONFIG.INVALID',
      `page size must be a whole number from 1 to ${MAX_PAGE_SIZE}, got ${String(size)}`,
      {
        hint: `Use ${DEFAULT_PAGE_SIZE}, or up to ${MAX_PAGE_SIZE} (AD's MaxPageSize).`,
      },
    );
  }
  return Math.min(size, MAX_PAGE_SIZE);
}

function requireDn(dn: string, what: string): void {
  const parsed = parseDn(dn);
  if (!parsed.ok) {
    throw new AppError('INPUT.BAD_DN', `${what}: "${dn}" is not a valid distinguished name: ${parsed.reason}`, {
      hint: 'Use the full DN as AD shows it, e.g. OU=Sales,DC=contoso,DC=com.',
    });
  }
}

/** ldapts keys attributes by the name the server sent; look them up case-insensitively. */
function attribute(entry: Entry | undefined, name: string): Entry[string] | undefined {
  if (!entry) return undefined;
  if (name in entry) return entry[name];
  const lower = name.toLowerCase();
  for (const key of Object.keys(entry)) if (key.toLowerCase() === lower) return entry[key];
  return undefined;
}

function firstValue(entry: Entry | undefined, name: string): string | Buffer | undefined {
  const value = attribute(entry, name);
  return Array.isArray(value) ? value[0] : value;
}

function firstString(entry: Entry | undefined, name: string): string | null {
  const value = firstValue(entry, name);
  if (value === undefined) return null;
  const text = Buffer.isBuffer(value) ? value.toString('utf8') : value;
  return text === '' ? null : text;
}

function firstBuffer(entry: Entry, name: string): Buffer | null {
  const value = firstValue(entry, name);
  if (!Buffer.isBuffer(value) || value.length === 0) return null;
  // ldapts hands out slices of the response message; copying lets each page's messages be freed
  // even when the caller keeps the GUIDs of 100k users.
  return Buffer.from(value);
}

function allStrings(entry: Entry, name: string): string[] | null {
  const value = attribute(entry, name);
  if (value === undefined) return null;
  const values = (Array.isArray(value) ? value : [value]).map((v) => (Buffer.isBuffer(v) ? v.toString('utf8') : v));
  return values.length === 0 ? null : values;
}

function firstNumber(entry: Entry, name: string): number | null {
  const text = firstString(entry, name);
  if (text === null) return null;
  const n = Number(text);
  return Number.isFinite(n) ? n : null;
}

function objectTypeOf(entry: Entry): ScannedType {
  const classes = (allStrings(entry, 'objectClass') ?? []).map((c) => c.toLowerCase());
  if (classes.includes('group')) return 'group';
  if (classes.includes('contact')) return 'contact';
  if (classes.includes('inetorgperson')) return 'inetOrgPerson';
  return 'user';
}

function toDirectoryUser(entry: Entry, all: boolean): DirectoryUser {
  const objectGuid = firstBuffer(entry, ATTR_GUID);
  if (!objectGuid || objectGuid.length !== 16) {
    throw new AppError('DIRECTORY.ERROR', `"${entry.dn}" came back without a 16-byte objectGUID`, {
      hint: "The service account may lack read access to objectGUID on this object; check the OU's permissions.",
      details: { dn: entry.dn },
    });
  }
  const objectType = all ? objectTypeOf(entry) : 'user';
  const uac = Number.parseInt(firstString(entry, 'userAccountControl') ?? '0', 10);
  return {
    dn: entry.dn,
    objectGuid,
    consistencyGuid: firstBuffer(entry, ATTR_CONSISTENCY),
    samAccountName: firstString(entry, 'sAMAccountName'),
    userPrincipalName: firstString(entry, 'userPrincipalName'),
    disabled: Number.isFinite(uac) && (uac & UF_ACCOUNTDISABLE) !== 0,
    // A Boolean attribute is "TRUE" or "FALSE" on the wire (RFC 4517 section 3.3.3).
    criticalSystemObject: firstString(entry, 'isCriticalSystemObject')?.toUpperCase() === 'TRUE',
    ...(all ? { objectType } : {}),
    mailNickname: firstString(entry, 'mailNickname'),
    mail: firstString(entry, 'mail'),
    proxyAddresses: allStrings(entry, 'proxyAddresses'),
    recipientTypeDetails: firstNumber(entry, 'msExchRecipientTypeDetails'),
    hideFromAddressLists:
      firstString(entry, 'msExchHideFromAddressLists') === null
        ? null
        : firstString(entry, 'msExchHideFromAddressLists')!.toUpperCase() === 'TRUE',
    displayName: firstString(entry, 'displayName'),
    groupType: objectType === 'group' ? firstNumber(entry, 'groupType') : null,
    sid: objectType === 'group' ? sidText(firstBuffer(entry, 'objectSid')) : null,
  };
}

/** A binary objectSid as S-R-I-S-S… (MS-DTYP 2.4.2.2: revision, count, 48-bit big-endian authority, little-endian subauthorities). */
export function sidText(bytes: Buffer | null): string | null {
  if (!bytes || bytes.length < 8) return null;
  const count = bytes[1]!;
  if (bytes.length < 8 + 4 * count) return null;
  const authority = bytes.readUIntBE(2, 6);
  const parts = [`S-${bytes[0]!}-${authority}`];
  for (let i = 0; i < count; i++) parts.push(String(bytes.readUInt32LE(8 + 4 * i)));
  return parts.join('-');
}
