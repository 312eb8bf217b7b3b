/**
 * LdapDirectory against the seeded Samba AD DC (bash scripts/samba-up.sh). Expected numbers come
 * from src/sandbox/forest-spec.ts, which is also what the seed created.
 */
import { createServer } from 'node:net';
import { Client } from 'ldapts';
import { resolveOu } from '../../src/agent/resolve-ou';
import { connectLdapDirectory } from '../../src/directory/ldap-directory';
import { SimulatedDirectory } from '../../src/directory/simulated-directory';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';
import type { Directory, DirectoryUser } from '../../src/directory/types';
import { AppError } from '../../src/shared/errors';
import { canonicalDn, isDnWithin, parseDn } from '../../src/runbook/dn';
import { sambaEnv } from '../helpers/samba';
import {
  BASE_DN,
  consistencyGuidFor,
  EXPECTED,
  OU,
  SALES_DIRECT_USERS,
  SALES_GROUP_CN,
  SALES_GROUP_MEMBERS,
  SEED_COMPUTERS,
  SEED_GROUPS,
  SALES_WITH_CONSISTENCY_GUID,
  TRICKY_CNS,
} from '../fixtures/ad-seed-spec';

const env = sambaEnv();

function sameDn(a: string, b: string): boolean {
  return JSON.stringify(canonicalDn(a)) === JSON.stringify(canonicalDn(b)) && canonicalDn(a) !== null;
}

async function expectAppError(promise: Promise<unknown>, code: AppError['code']): Promise<AppError> {
  let caught: unknown;
  try {
    await promise;
  } catch (err) {
    caught = err;
  }
  expect(caught).toBeInstanceOf(AppError);
  const appError = caught as AppError;
  expect(appError.code).toBe(code);
  expect(appError.hint).toBeTruthy();
  // Neither the message, hint nor anything that goes over the wire may leak the bind password.
  expect(JSON.stringify(appError.toJSON())).not.toContain(env.password);
  expect(appError.message).not.toContain(env.password);
  return appError;
}

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

describe('LdapDirectory against Samba AD', () => {
  let dir: Directory;

  beforeAll(async () => {
    dir = await connectLdapDirectory({ url: env.url, bindDn: env.bindDn, password: env.password, caPath: env.caPath });
  });

  afterAll(async () => {
    await dir?.close();
  });

  it('reads defaultNamingContext from the rootDSE', async () => {
    expect(sameDn(await dir.defaultNamingContext(), BASE_DN)).toBe(true);
  });

  describe('exists', () => {
    it.each([
      ['OU=Sales', OU.sales],
      ['the nested OU', OU.salesEmeaDeep],
      ['the OU with an escaped comma', OU.rAndD],
      ['a user whose CN has an escaped comma', `CN=Smith\\, John,${OU.sales}`],
      ['the same OU typed in lower case', 'ou=sales,dc=contoso,dc=com'],
    ])('is true for %s', async (_label, dn) => {
      expect(await dir.exists(dn)).toBe(true);
    });

    it.each([
      ['an OU that is not there', `OU=Nope,${BASE_DN}`],
      ['a look-alike domain suffix', 'OU=Sales,DC=contoso,DC=company'],
      ['the comma OU without its escape (a different DN)', `OU=D,OU=R,${BASE_DN}`],
    ])('is false for %s', async (_label, dn) => {
      expect(await dir.exists(dn)).toBe(false);
    });

    it('refuses text that is not a DN', async () => {
      await expectAppError(dir.exists('Sales'), 'INPUT.BAD_DN');
    });
  });

  describe('objectClasses', () => {
    it.each([
      ['an OU', OU.sales, 'organizationalUnit'],
      ['the CN=Users container', `CN=Users,${BASE_DN}`, 'container'],
      ['CN=Builtin', `CN=Builtin,${BASE_DN}`, 'builtinDomain'],
      ['the domain', BASE_DN, 'domainDNS'],
      ['a user', `CN=Administrator,CN=Users,${BASE_DN}`, 'user'],
      ['a computer', `CN=${SEED_COMPUTERS[0]!.cn},${OU.sales}`, 'computer'],
    ])('reads those of %s', async (_label, dn, expected) => {
      expect(await dir.objectClasses(dn)).toContain(expected);
    });

    it('is null for an object that is not there, and for a DN outside the domain', async () => {
      expect(await dir.objectClasses(`OU=Nope,${BASE_DN}`)).toBeNull();
      expect(await dir.objectClasses('OU=Sales,DC=contoso,DC=company')).toBeNull();
    });
  });

  describe('storedDn', () => {
    it('gives the DN as AD wrote it for one typed in another case and spacing', async () => {
      expect(await dir.storedDn('ou=r\\,d, dc=contoso, dc=com')).toBe(OU.rAndD);
      expect(await dir.storedDn(OU.legacy.toUpperCase())).toBe(OU.legacy);
      expect(await dir.storedDn(`OU=Nope,${BASE_DN}`)).toBeNull();
    });

    it('is what resolveOu returns for a DN typed in lower case', async () => {
      expect((await resolveOu(dir, 'ou=r\\,d')).baseDn).toBe(OU.rAndD);
    });
  });

  describe('resolveOu against AD (what the agent does with the typed OU)', () => {
    it('refuses a user as the OU, names it a user and says which container holds it', async () => {
      const admin = `CN=Administrator,CN=Users,${BASE_DN}`;
      const err = await expectAppError(resolveOu(dir, admin), 'DIRECTORY.NOT_A_CONTAINER');
      expect(err.message).toBe(`${admin} is a user, not an OU or container.`);
      expect(err.hint).toContain(`/verify pilot CN=Users,${BASE_DN}`);
    });

    it('refuses a computer as the OU', async () => {
      const err = await expectAppError(
        resolveOu(dir, `CN=${SEED_COMPUTERS[0]!.cn},OU=Sales`),
        'DIRECTORY.NOT_A_CONTAINER',
      );
      expect(err.message).toContain('is a computer, not an OU or container.');
      expect(err.hint).toContain(`/verify pilot ${OU.sales}`);
    });

    it('accepts containers: CN=Users, CN=Builtin', async () => {
      expect(await resolveOu(dir, 'CN=Users')).toMatchObject({ baseDn: `CN=Users,${BASE_DN}` });
      expect(await resolveOu(dir, `CN=Builtin,${BASE_DN}`)).toMatchObject({ baseDn: `CN=Builtin,${BASE_DN}` });
    });

    it('looks a quoted name with a comma up by name; one no OU has gets the DN to type', async () => {
      const found = await resolveOu(dir, '"R,D"');
      expect(sameDn(found.baseDn, OU.rAndD)).toBe(true);
      const err = await expectAppError(resolveOu(dir, '"Sales, Nowhere"'), 'DIRECTORY.OU_NOT_FOUND');
      expect(err.hint).toContain(`OU=Sales\\, Nowhere,${BASE_DN}`);
    });
  });

  describe('findOusByName', () => {
    it('finds both OUs called Marketing (ambiguous name)', async () => {
      const found = await dir.findOusByName(BASE_DN, 'Marketing');
      expect(found).toHaveLength(2);
      expect(found.some((dn) => sameDn(dn, OU.marketingEmea))).toBe(true);
      expect(found.some((dn) => sameDn(dn, OU.marketingApac))).toBe(true);
    });

    it('matches case-insensitively, like AD', async () => {
      expect(await dir.findOusByName(BASE_DN, 'mArKeTiNg')).toHaveLength(2);
    });

    it('only searches under the given base', async () => {
      expect(await dir.findOusByName(OU.regions, 'Marketing')).toHaveLength(2);
      expect(await dir.findOusByName(OU.sales, 'Marketing')).toHaveLength(0);
      const emea = await dir.findOusByName(OU.sales, 'EMEA');
      expect(emea).toHaveLength(1);
      expect(sameDn(emea[0]!, OU.salesEmea)).toBe(true);
    });

    it('finds names with a comma or parentheses literally', async () => {
      const rd = await dir.findOusByName(BASE_DN, 'R,D');
      expect(rd).toHaveLength(1);
      expect(sameDn(rd[0]!, OU.rAndD)).toBe(true);
      const legacy = await dir.findOusByName(BASE_DN, 'Legacy (2019)');
      expect(legacy).toHaveLength(1);
      expect(sameDn(legacy[0]!, OU.legacy)).toBe(true);
    });

    it.each(['*', ')(', 'Sales)(ou=*', '*)(objectClass=*', 'Legacy*', 'Sal*', '\\2a', 'Sales\\'])(
      'treats %p as a literal name, not filter syntax',
      async (name) => {
        await expect(dir.findOusByName(BASE_DN, name)).resolves.toEqual([]);
      },
    );

    it('returns nothing for an empty name', async () => {
      expect(await dir.findOusByName(BASE_DN, '  ')).toEqual([]);
    });

    it('reports a base that does not exist', async () => {
      await expectAppError(dir.findOusByName(`OU=Nope,${BASE_DN}`, 'Marketing'), 'DIRECTORY.OU_NOT_FOUND');
    });
  });

  describe('countObjects (the directory half of /readiness)', () => {
    it("counts the domain's groups with their members, its OUs, contacts and inetOrgPersons", async () => {
      const counts = await dir.countObjects(BASE_DN, { top: 3, sample: 2 });
      // Samba provisions the built-in groups (Domain Admins holds Administrator as a member).
      expect(counts.groups).toBeGreaterThan(10);
      expect(counts.largestGroups).toHaveLength(3);
      expect(counts.largestGroups[0]!.count).toBeGreaterThanOrEqual(1);
      const sizes = counts.largestGroups.map((g) => g.count);
      expect(sizes).toEqual([...sizes].sort((a, b) => b - a));
      const seededOus = new Set(Object.values(OU).map((dn) => dn.toLowerCase()));
      expect(counts.organizationalUnits).toBeGreaterThanOrEqual(seededOus.size);
      expect(counts.inetOrgPersonSample.length).toBeLessThanOrEqual(2);
    });

    it('counts only under the base, and refuses a base that does not exist', async () => {
      const sales = await dir.countObjects(OU.sales);
      expect(sales.organizationalUnits).toBe([OU.sales, OU.salesEmea, OU.salesEmeaDeep].length);
      // The seed's groups, with their members read from `member` (scripts/seed-ad.ts), largest first.
      expect(sales.groups).toBe(SEED_GROUPS.length);
      expect(sales.largestGroups[0]).toEqual({ dn: `CN=${SALES_GROUP_CN},${OU.sales}`, count: SALES_GROUP_MEMBERS });
      expect(sales.largestGroups.map((g) => g.count)).toEqual(
        SEED_GROUPS.map((g) => g.members)
          .sort((x, y) => y - x)
          .slice(0, 5),
      );
      // The simulated directory the sandbox uses reports the same.
      // (The sample is in the server's order, which a DC does not promise: compared as a set.)
      const simulated = await new SimulatedDirectory(buildSeededForest()).countObjects(OU.sales);
      const sorted = (c: typeof sales) => ({ ...c, inetOrgPersonSample: [...c.inetOrgPersonSample].sort() });
      expect(sorted(simulated)).toEqual(sorted(sales));
      await expectAppError(dir.countObjects(`OU=Nope,${BASE_DN}`), 'DIRECTORY.OU_NOT_FOUND');
    });
  });

  it("asks the server for the same time budget as its own timeout, not ldapts' 10 s (a DC needs ~10 s before the first page of 100,000 users)", async () => {
    const sent: (number | undefined)[] = [];
    const search = jest.spyOn(Client.prototype, 'search');
    const paginated = jest.spyOn(Client.prototype, 'searchPaginated');
    const slowDc = await connectLdapDirectory({
      url: env.url,
      bindDn: env.bindDn,
      password: env.password,
      caPath: env.caPath,
      timeoutMs: 95_500,
    });
    try {
      await slowDc.defaultNamingContext();
      await slowDc.exists(OU.sales);
      await slowDc.findOusByName(BASE_DN, 'Sales');
      expect((await slowDc.scanUsers(OU.salesEmea)).users).toBe(EXPECTED.salesEmea.users);
      for (const call of [...search.mock.calls, ...paginated.mock.calls]) sent.push(call[1]?.timeLimit);
    } finally {
      search.mockRestore();
      paginated.mockRestore();
      await slowDc.close();
    }
    // searchPaginated runs search per page, so each call shows up at least once.
    expect(sent.length).toBeGreaterThanOrEqual(4);
    expect(new Set(sent)).toEqual(new Set([96]));
  });

  describe('scanUsers', () => {
    let pages: DirectoryUser[][];
    let soFar: number[];
    let totals: { users: number; disabled: number };
    let byName: Map<string, DirectoryUser>;

    beforeAll(async () => {
      pages = [];
      soFar = [];
      totals = await dir.scanUsers(OU.sales, {
        pageSize: 500,
        onPage: (users, scannedSoFar) => {
          pages.push(users);
          soFar.push(scannedSoFar);
        },
      });
      byName = new Map(pages.flat().map((u) => [u.samAccountName ?? '', u]));
    });

    it('returns the exact totals of the Sales subtree', () => {
      expect(totals).toEqual(EXPECTED.sales);
      expect(pages.flat()).toHaveLength(EXPECTED.sales.users);
    });

    it('pages through more than one page of at most pageSize', () => {
      expect(pages.length).toBeGreaterThanOrEqual(Math.ceil(EXPECTED.sales.users / 500));
      for (const page of pages) expect(page.length).toBeLessThanOrEqual(500);
      expect(soFar[soFar.length - 1]).toBe(EXPECTED.sales.users);
      for (let i = 1; i < soFar.length; i++) expect(soFar[i]! - soFar[i - 1]!).toBe(pages[i]!.length);
    });

    it('returns each user once, each inside OU=Sales, none from OU=SalesOps', () => {
      const dns = pages.flat().map((u) => u.dn);
      expect(new Set(dns.map((dn) => JSON.stringify(canonicalDn(dn)))).size).toBe(dns.length);
      for (const dn of dns) {
        expect(isDnWithin(dn, OU.sales)).toBe(true);
        expect(isDnWithin(dn, OU.salesOps)).toBe(false);
      }
      expect([...byName.keys()].some((sam) => sam.startsWith('salesops'))).toBe(false);
    });

    it('excludes computers and contacts', () => {
      for (const u of pages.flat()) {
        expect(u.samAccountName?.endsWith('$')).toBe(false);
        expect(u.dn).not.toMatch(/^CN=Sales Contact/);
      }
    });

    it('includes nested OUs', () => {
      expect(byName.has('emea01')).toBe(true);
      expect(byName.has('deep5')).toBe(true);
    });

    it('reads isCriticalSystemObject: set on none of the seeded users', () => {
      expect(pages.flat().filter((u) => u.criticalSystemObject)).toEqual([]);
    });

    it('reads isCriticalSystemObject TRUE on the built-in accounts of CN=Users', async () => {
      const users: DirectoryUser[] = [];
      await dir.scanUsers(`CN=Users,${BASE_DN}`, { onPage: (page) => void users.push(...page) });
      const critical = new Map(users.map((u) => [u.samAccountName, u.criticalSystemObject]));
      expect(critical.get('Administrator')).toBe(true);
      expect(critical.get('Guest')).toBe(true);
      expect(critical.get('krbtgt')).toBe(true);
    });

    it('maps userAccountControl to disabled', () => {
      expect(byName.get('sales0100')?.disabled).toBe(true);
      expect(byName.get('sales0099')?.disabled).toBe(false);
      expect(byName.get('emea15')?.disabled).toBe(true);
      expect(pages.flat().filter((u) => u.disabled)).toHaveLength(EXPECTED.sales.disabled);
    });

    it('returns tricky CNs as DNs that parseDn reads back to the exact name', () => {
      for (const cn of TRICKY_CNS) {
        const match = pages.flat().find((u) => {
          const parsed = parseDn(u.dn);
          return parsed.ok && parsed.rdns[0]![0]!.value === cn;
        });
        expect({ cn, found: match !== undefined }).toEqual({ cn, found: true });
        expect(isDnWithin(match!.dn, OU.sales)).toBe(true);
      }
    });

    it('returns objectGUID as 16 raw bytes, unique per user', () => {
      const guids = new Set<string>();
      for (const u of pages.flat()) {
        expect(Buffer.isBuffer(u.objectGuid)).toBe(true);
        expect(u.objectGuid).toHaveLength(16);
        guids.add(u.objectGuid.toString('hex'));
      }
      expect(guids.size).toBe(EXPECTED.sales.users);
    });

    it('returns ms-DS-ConsistencyGuid bytes where set and null elsewhere', () => {
      for (let i = 1; i <= SALES_DIRECT_USERS; i++) {
        const sam = `sales${String(i).padStart(4, '0')}`;
        const u = byName.get(sam);
        expect(u).toBeDefined();
        if (i <= SALES_WITH_CONSISTENCY_GUID) {
          expect(u!.consistencyGuid).toHaveLength(16);
          expect(u!.consistencyGuid!.equals(consistencyGuidFor(sam))).toBe(true);
          expect(u!.consistencyGuid!.equals(u!.objectGuid)).toBe(false);
        } else {
          expect(u!.consistencyGuid).toBeNull();
        }
      }
    });

    it('returns sAMAccountName and userPrincipalName', () => {
      expect(byName.get('sales0001')?.userPrincipalName).toBe('sales0001@contoso.com');
    });

    it("honours the page size (1,000 gives two pages) and caps it at AD's 1,000", async () => {
      const sizes: number[] = [];
      const result = await dir.scanUsers(OU.sales, {
        pageSize: 1000,
        onPage: (users) => void sizes.push(users.length),
      });
      expect(result).toEqual(EXPECTED.sales);
      expect(sizes.length).toBe(2);
      const capped: number[] = [];
      await dir.scanUsers(OU.sales, { pageSize: 5000, onPage: (users) => void capped.push(users.length) });
      expect(Math.max(...capped)).toBeLessThanOrEqual(1000);
    });

    it('works without onPage', async () => {
      expect(await dir.scanUsers(OU.sales)).toEqual(EXPECTED.sales);
    });

    it('awaits an async onPage before asking for the next page', async () => {
      const events: string[] = [];
      await dir.scanUsers(OU.sales, {
        pageSize: 500,
        onPage: async (_users, n) => {
          events.push(`start ${n}`);
          await new Promise((r) => setTimeout(r, 20));
          events.push(`end ${n}`);
        },
      });
      for (let i = 0; i < events.length; i += 2) {
        expect(events[i]!.startsWith('start')).toBe(true);
        expect(events[i + 1]).toBe(events[i]!.replace('start', 'end'));
      }
    });

    it('passes an error thrown by onPage through unchanged and stays usable', async () => {
      const mine = new Error('consumer gave up');
      await expect(
        dir.scanUsers(OU.sales, {
          onPage: () => {
            throw mine;
          },
        }),
      ).rejects.toBe(mine);
      expect(await dir.scanUsers(OU.salesEmea)).toEqual(EXPECTED.salesEmea);
    });

    it.each([
      ['OU=EMEA,OU=Sales', OU.salesEmea, EXPECTED.salesEmea],
      ['OU=Deep,OU=EMEA,OU=Sales', OU.salesEmeaDeep, EXPECTED.salesEmeaDeep],
      ['OU=SalesOps', OU.salesOps, EXPECTED.salesOps],
      ['OU=R\\,D', OU.rAndD, EXPECTED.rAndD],
      ['OU=Regions', OU.regions, EXPECTED.regions],
      ['OU=Marketing,OU=EMEA,OU=Regions', OU.marketingEmea, EXPECTED.marketingEmea],
      ['OU=Marketing,OU=APAC,OU=Regions', OU.marketingApac, EXPECTED.marketingApac],
      ['OU=Legacy (2019)', OU.legacy, EXPECTED.legacy],
      ['OU=Sales typed in lower case', 'ou=sales,dc=contoso,dc=com', EXPECTED.sales],
    ])('counts %s exactly', async (_label, base, expected) => {
      expect(await dir.scanUsers(base)).toEqual(expected);
    });

    it('scans OU=R\\,D and returns DNs under it', async () => {
      const seen: DirectoryUser[] = [];
      await dir.scanUsers(OU.rAndD, { onPage: (users) => void seen.push(...users) });
      expect(seen).toHaveLength(EXPECTED.rAndD.users);
      for (const u of seen) expect(isDnWithin(u.dn, OU.rAndD)).toBe(true);
    });

    it('reports an OU that does not exist as OU_NOT_FOUND', async () => {
      const err = await expectAppError(dir.scanUsers(`OU=Nope,${BASE_DN}`), 'DIRECTORY.OU_NOT_FOUND');
      expect(err.message).toContain('OU=Nope');
    });

    it('refuses an unparseable base before asking the server', async () => {
      await expectAppError(dir.scanUsers('OU=Sales,DC=contoso,DC=com,'), 'INPUT.BAD_DN');
    });

    it('refuses a page size that is not a positive whole number', async () => {
      await expectAppError(dir.scanUsers(OU.sales, { pageSize: 0 }), 'CONFIG.INVALID');
      await expectAppError(dir.scanUsers(OU.sales, { pageSize: 2.5 }), 'CONFIG.INVALID');
    });
  });

  describe('connection failures', () => {
    const base = () => ({
      url: env.url,
      bindDn: env.bindDn,
      password: env.password,
      caPath: env.caPath,
      timeoutMs: 5000,
    });

    it('maps a wrong password to BIND_FAILED without echoing it', async () => {
      const err = await expectAppError(
        connectLdapDirectory({ ...base(), password: 'Wrong-Pa55-word!' }),
        'DIRECTORY.BIND_FAILED',
      );
      expect(JSON.stringify(err.toJSON())).not.toContain('Wrong-Pa55-word!');
    });

    it('maps an unknown bind DN to BIND_FAILED', async () => {
      await expectAppError(
        connectLdapDirectory({ ...base(), bindDn: `CN=Nobody,CN=Users,${BASE_DN}` }),
        'DIRECTORY.BIND_FAILED',
      );
    });

    it('maps a port nobody listens on to UNAVAILABLE', async () => {
      const port = await freePort();
      await expectAppError(
        connectLdapDirectory({ ...base(), url: `ldaps://127.0.0.1:${port}` }),
        'DIRECTORY.UNAVAILABLE',
      );
    });

    it('maps the plain LDAP port (389) to a TLS or connection error that names port 636', async () => {
      let caught: unknown;
      await connectLdapDirectory({ ...base(), url: 'ldaps://127.0.0.1:389' }).catch((err: unknown) => (caught = err));
      expect(caught).toBeInstanceOf(AppError);
      expect(['DIRECTORY.TLS', 'DIRECTORY.UNAVAILABLE']).toContain((caught as AppError).code);
      expect((caught as AppError).hint).toContain('636');
    });

    it('maps a server certificate from an untrusted CA to TLS', async () => {
      const { caPath: _ignored, ...withoutCa } = base();
      await expectAppError(connectLdapDirectory(withoutCa), 'DIRECTORY.TLS');
    });

    it('maps an unreadable CA file to TLS', async () => {
      await expectAppError(connectLdapDirectory({ ...base(), caPath: '/nonexistent/ca.pem' }), 'DIRECTORY.TLS');
    });

    it('refuses plain ldap:// URLs', async () => {
      await expectAppError(connectLdapDirectory({ ...base(), url: 'ldap://127.0.0.1:389' }), 'CONFIG.INVALID');
    });
  });
});
