import { readForestFile, SimulatedDirectory, writeForestFile } from '../../src/directory/simulated-directory';
import { addUserToForest, buildSeededForest } from '../../src/sandbox/seeded-forest';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadAgentConfig } from '../../src/agent/agent-config';
import { connectConfiguredDirectory } from '../../src/agent/connect-directory';
import { resolveOu } from '../../src/agent/resolve-ou';
import type { DirectoryUser } from '../../src/directory/types';
import { sourceAnchor } from '../../src/runbook/ou-comparison';
import {
  BASE_DN,
  consistencyGuidFor,
  EXPECTED,
  OU,
  SEED_COMPUTERS,
  SEED_CONTACTS,
  SEED_USERS,
  TRICKY_CNS,
  trickyUserDn,
} from '../../src/sandbox/forest-spec';
import { AppError } from '../../src/shared/errors';

/** The simulated directory must answer the agent's questions as the seeded Samba DC does. */
describe('simulated directory', () => {
  const directory = new SimulatedDirectory(buildSeededForest());

  async function scan(
    base: string,
    pageSize?: number,
  ): Promise<{ users: DirectoryUser[]; pages: number[]; totals: { users: number; disabled: number } }> {
    const users: DirectoryUser[] = [];
    const pages: number[] = [];
    const totals = await directory.scanUsers(base, {
      ...(pageSize ? { pageSize } : {}),
      onPage: (page, soFar) => {
        users.push(...page);
        pages.push(soFar);
      },
    });
    return { users, pages, totals };
  }

  it.each(Object.entries(EXPECTED))('counts the users of %s as the Samba seed does', async (key, expected) => {
    const { totals, users } = await scan(OU[key as keyof typeof OU]);
    expect(totals).toEqual(expected);
    expect(users).toHaveLength(expected.users);
    expect(users.filter((u) => u.disabled)).toHaveLength(expected.disabled);
  });

  it('scans only users: no computers or contacts, no look-alike OU=SalesOps under OU=Sales', async () => {
    const { users } = await scan(OU.sales);
    expect(users.some((u) => u.dn.includes('SALES-PC'))).toBe(false);
    expect(users.some((u) => u.dn.includes('Sales Contact'))).toBe(false);
    expect(users.some((u) => u.dn.includes('OU=SalesOps'))).toBe(false);
    for (const cn of TRICKY_CNS) expect(users.map((u) => u.dn)).toContain(trickyUserDn(cn));
  });

  it('includes the built-in accounts in a scan of the whole domain', async () => {
    const { totals, users } = await scan(BASE_DN);
    expect(totals.users).toBe(SEED_USERS.length + 3);
    expect(users.map((u) => u.samAccountName)).toEqual(expect.arrayContaining(['Administrator', 'Guest', 'krbtgt']));
  });

  it('marks the built-in accounts, and only them, as critical system objects (isCriticalSystemObject TRUE in AD)', async () => {
    const { users } = await scan(BASE_DN);
    expect(
      users
        .filter((u) => u.criticalSystemObject)
        .map((u) => u.samAccountName)
        .sort(),
    ).toEqual(['Administrator', 'Guest', 'krbtgt']);
    expect(users.filter((u) => !u.criticalSystemObject)).toHaveLength(SEED_USERS.length);
  });

  it('refuses a user, computer or contact as the OU to verify, names what it is and what holds it', async () => {
    const refusal = async (input: string): Promise<{ code: string; message: string; hint: string | undefined }> => {
      const err = await resolveOu(directory, input).then(
        () => null,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(AppError);
      const { code, message, hint } = err as AppError;
      return { code, message, hint };
    };
    const admin = `CN=Administrator,CN=Users,${BASE_DN}`;
    expect(await directory.objectClasses(admin)).toEqual(['top', 'person', 'organizationalPerson', 'user']);
    expect(await refusal(admin)).toEqual({
      code: 'DIRECTORY.NOT_A_CONTAINER',
      message: `${admin} is a user, not an OU or container.`,
      hint: `A verify reads the users under an OU or container. For the one that holds it, type /verify pilot CN=Users,${BASE_DN}`,
    });
    // Typed relative to the domain, the same.
    expect(await refusal('CN=Administrator,CN=Users')).toMatchObject({
      code: 'DIRECTORY.NOT_A_CONTAINER',
      message: `${admin} is a user, not an OU or container.`,
    });
    const pc = `CN=${SEED_COMPUTERS[0]!.cn},${OU.sales}`;
    expect(await refusal(pc)).toEqual({
      code: 'DIRECTORY.NOT_A_CONTAINER',
      message: `${pc} is a computer, not an OU or container.`,
      hint: `A verify reads the users under an OU or container. For the one that holds it, type /verify pilot ${OU.sales}`,
    });
    expect((await refusal(`CN=${SEED_CONTACTS[0]!.cn},${OU.sales}`)).message).toContain(
      'is a contact, not an OU or container.',
    );
    // Containers and OUs still are.
    await expect(resolveOu(directory, `CN=Users,${BASE_DN}`)).resolves.toMatchObject({ baseDn: `CN=Users,${BASE_DN}` });
    await expect(resolveOu(directory, 'CN=Users')).resolves.toMatchObject({ baseDn: `CN=Users,${BASE_DN}` });
    expect(await directory.objectClasses(`OU=Gone,${BASE_DN}`)).toBeNull();
  });

  it('looks a quoted name with a comma up by name, and says how to type it as a DN when no OU has it', async () => {
    await expect(resolveOu(directory, '"R,D"')).resolves.toEqual({ baseDn: OU.rAndD, defaultNamingContext: BASE_DN });
    await expect(resolveOu(directory, '"Sales, Inc"')).rejects.toMatchObject({
      code: 'DIRECTORY.OU_NOT_FOUND',
      hint: expect.stringContaining(`OU=Sales\\, Inc,${BASE_DN}`) as unknown,
    });
  });

  it('pages like the LDAP scan: one callback per page with the running count', async () => {
    const { pages, totals } = await scan(OU.sales, 100);
    expect(pages).toHaveLength(Math.ceil(EXPECTED.sales.users / 100));
    expect(pages[0]).toBe(100);
    expect(pages.at(-1)).toBe(totals.users);
  });

  it('carries 16-byte objectGUIDs, stable across builds, and the seeded ms-DS-ConsistencyGuid', async () => {
    const { users } = await scan(OU.sales);
    const again = new SimulatedDirectory(buildSeededForest());
    const againUsers: DirectoryUser[] = [];
    await again.scanUsers(OU.sales, { onPage: (p) => void againUsers.push(...p) });
    expect(new Set(users.map((u) => u.objectGuid.toString('hex'))).size).toBe(users.length);
    expect(users.every((u) => u.objectGuid.length === 16)).toBe(true);
    expect(againUsers.map((u) => u.objectGuid.toString('hex'))).toEqual(users.map((u) => u.objectGuid.toString('hex')));
    const withGuid = users.find((u) => u.samAccountName === 'sales0001')!;
    expect(withGuid.consistencyGuid).toEqual(consistencyGuidFor('sales0001'));
    expect(sourceAnchor(withGuid.objectGuid, withGuid.consistencyGuid)).toBe(
      consistencyGuidFor('sales0001').toString('base64'),
    );
    expect(users.find((u) => u.samAccountName === 'sales0051')!.consistencyGuid).toBeNull();
  });

  it('resolves OUs the way the agent does against AD: relative, nested, escaped, ambiguous, missing, outside', async () => {
    await expect(resolveOu(directory, 'OU=Sales')).resolves.toEqual({
      baseDn: OU.sales,
      defaultNamingContext: BASE_DN,
    });
    await expect(resolveOu(directory, 'OU=R\\,D')).resolves.toMatchObject({ baseDn: OU.rAndD });
    await expect(resolveOu(directory, 'OU=Marketing,OU=EMEA')).resolves.toMatchObject({ baseDn: OU.marketingEmea });
    await expect(resolveOu(directory, 'Legacy (2019)')).resolves.toMatchObject({ baseDn: OU.legacy });
    await expect(resolveOu(directory, 'Marketing')).rejects.toMatchObject({
      code: 'DIRECTORY.OU_AMBIGUOUS',
      details: { candidates: [OU.marketingApac, OU.marketingEmea] },
    });
    await expect(resolveOu(directory, 'OU=Nowhere')).rejects.toMatchObject({ code: 'DIRECTORY.OU_NOT_FOUND' });
    await expect(resolveOu(directory, 'OU=Sales,DC=fabrikam,DC=com')).rejects.toMatchObject({
      code: 'DIRECTORY.OUTSIDE_BASE',
    });
  });

  it('refuses a scan of a base that does not exist, as AD does', async () => {
    await expect(directory.scanUsers(`OU=Gone,${BASE_DN}`)).rejects.toMatchObject({ code: 'DIRECTORY.OU_NOT_FOUND' });
    expect(await directory.exists(`OU=Gone,${BASE_DN}`)).toBe(false);
    expect(await directory.exists(`ou=sales,dc=CONTOSO,dc=com`)).toBe(true);
  });

  describe('forest file (the sandbox writes it, an agent process reads it)', () => {
    let dir: string;
    beforeAll(() => (dir = mkdtempSync(join(tmpdir(), 'syncshift-forest-'))));
    afterAll(() => rmSync(dir, { recursive: true, force: true }));

    it('round-trips and is what an agent configured with SYNCSHIFT_DIRECTORY=simulated reads', async () => {
      const file = join(dir, 'forest.json');
      writeForestFile(file, buildSeededForest());
      expect(readForestFile(file)).toEqual(buildSeededForest());
      const config = loadAgentConfig({
        SYNCSHIFT_RELAY_URL: 'http://127.0.0.1:3978',
        SYNCSHIFT_AGENT_ID: 'a1',
        SYNCSHIFT_AGENT_SECRET: 'x'.repeat(24),
        SYNCSHIFT_DIRECTORY: 'simulated',
        SYNCSHIFT_SIMULATED_FOREST: file,
      });
      expect(config.directory).toEqual({ kind: 'simulated', forestFile: file, pageSize: 500 });
      const opened = await connectConfiguredDirectory({ ...config.directory, pageSize: 7 });
      const pages: number[] = [];
      expect(await opened.scanUsers(OU.salesOps, { onPage: (_, soFar) => void pages.push(soFar) })).toEqual(
        EXPECTED.salesOps,
      );
      // LDAP_PAGE_SIZE applies to the simulated directory too.
      expect(pages).toEqual([7, 14, 21, 28, 35, 40]);
      await opened.close();
      await expect(opened.exists(OU.sales)).rejects.toMatchObject({ code: 'DIRECTORY.ERROR' });
    });

    it('refuses a malformed forest and says where', () => {
      const forest = buildSeededForest();
      forest.users[5]!.objectGuid = Buffer.alloc(15).toString('base64');
      const file = join(dir, 'bad.json');
      writeFileSync(file, JSON.stringify(forest));
      expect(() => readForestFile(file)).toThrow(/users\.5\.objectGuid: must be 16 bytes/);
      writeFileSync(file, '{ not json');
      expect(() => readForestFile(file)).toThrow(AppError);
    });
  });

  describe('adding a user (rehearsing runbook step 12)', () => {
    it('puts an enabled user into an existing OU, anchored on its objectGUID, and refuses what cannot exist', async () => {
      const { forest, user } = addUserToForest(buildSeededForest(), OU.salesOps, 'Pat Newhire');
      expect(user).toMatchObject({
        dn: `CN=Pat Newhire,${OU.salesOps}`,
        consistencyGuid: null,
        samAccountName: 'pat.newhire',
        userPrincipalName: 'pat.newhire@contoso.com',
        disabled: false,
      });
      const grown = new SimulatedDirectory(forest);
      const totals = await grown.scanUsers(OU.salesOps);
      expect(totals.users).toBe(EXPECTED.salesOps.users + 1);
      // Same name again, an OU that does not exist, and an empty name.
      expect(() => addUserToForest(forest, OU.salesOps, 'Pat Newhire')).toThrow(/already exists/);
      expect(() => addUserToForest(forest, `OU=Nowhere,${BASE_DN}`, 'Pat Newhire')).toThrow(/not an OU/);
      expect(() => addUserToForest(forest, OU.salesOps, '  ')).toThrow(/1 to 64 characters/);
      // A name that needs escaping in a DN stays one RDN.
      const odd = addUserToForest(forest, OU.rAndD, 'Smith, Jo').user;
      expect(odd.dn).toBe(`CN=Smith\\, Jo,${OU.rAndD}`);
      expect(
        (await new SimulatedDirectory(addUserToForest(forest, OU.rAndD, 'Smith, Jo').forest).scanUsers(OU.rAndD)).users,
      ).toBe(EXPECTED.rAndD.users + 1);
    });

    it("npm run sandbox:add-user writes the user into the sandbox's forest file, resolving the OU as /verify does", () => {
      const dir = mkdtempSync(join(tmpdir(), 'syncshift-add-user-'));
      try {
        writeForestFile(join(dir, 'forest.json'), buildSeededForest());
        const run = (...args: string[]) =>
          spawnSync(
            process.execPath,
            ['--require', 'ts-node/register/transpile-only', join(__dirname, '../../src/sandbox/add-user.ts'), ...args],
            { env: { ...process.env, SANDBOX_DATA_DIR: dir }, encoding: 'utf8', timeout: 30_000 },
          );
        const ok = run('OU=SalesOps', 'Pat Newhire');
        expect(ok.stderr).toBe('');
        expect(ok.status).toBe(0);
        expect(ok.stdout).toContain(`Added CN=Pat Newhire,${OU.salesOps}`);
        const users = readForestFile(join(dir, 'forest.json')).users;
        expect(users.filter((u) => u.dn === `CN=Pat Newhire,${OU.salesOps}`)).toHaveLength(1);
        const missing = run('OU=Nowhere', 'Sam Else');
        expect(missing.status).toBe(1);
        expect(missing.stderr).toContain('OU=Nowhere');
      } finally {
        rmSync(dir, { recursive: true, force: true });
      }
    });
  });

  describe('agent directory selection', () => {
    const base = {
      SYNCSHIFT_RELAY_URL: 'http://127.0.0.1:3978',
      SYNCSHIFT_AGENT_ID: 'a1',
      SYNCSHIFT_AGENT_SECRET: 'x'.repeat(24),
    };

    it('defaults to LDAP and still demands its settings', () => {
      expect(() => loadAgentConfig(base)).toThrow(/LDAP_URL is missing/);
      expect(
        loadAgentConfig({ ...base, LDAP_URL: 'ldaps://dc:636', LDAP_BIND_DN: 'CN=r,DC=c', LDAP_PASSWORD: 'p' })
          .directory,
      ).toMatchObject({ kind: 'ldap', url: 'ldaps://dc:636' });
    });

    it('refuses a simulated directory without a forest file, and unknown kinds', () => {
      expect(() => loadAgentConfig({ ...base, SYNCSHIFT_DIRECTORY: 'simulated' })).toThrow(
        /SYNCSHIFT_SIMULATED_FOREST/,
      );
      expect(() => loadAgentConfig({ ...base, SYNCSHIFT_DIRECTORY: 'memory' })).toThrow(/SYNCSHIFT_DIRECTORY/);
    });
  });
});
