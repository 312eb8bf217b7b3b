import { scanOu } from '../../src/agent/actions/scan-ou';
import { SimulatedDirectory } from '../../src/directory/simulated-directory';
import {
  BASE_DN,
  EXPECTED,
  EXPECTED_OTHER_TYPES,
  OU,
  SALES_FILTERED_USERS,
  userDn,
} from '../../src/sandbox/forest-spec';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';

describe('the agent scan', () => {
  const forest = buildSeededForest();

  it('lists every user of the OU subtree with its anchor', async () => {
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales, pageSize: 100 },
      () => undefined,
    );
    expect(scan.totals).toEqual({ ...EXPECTED.sales, ...EXPECTED_OTHER_TYPES.sales });
    // Users, then the inetOrgPersons, groups and contacts, each of those with its type.
    const byType = (type: string | undefined) => scan.users.filter((u) => u.type === type).length;
    expect(byType(undefined)).toBe(EXPECTED.sales.users);
    expect(byType('inetOrgPerson')).toBe(EXPECTED_OTHER_TYPES.sales.inetOrgPersons);
    expect(byType('group')).toBe(EXPECTED_OTHER_TYPES.sales.groups);
    expect(byType('contact')).toBe(EXPECTED_OTHER_TYPES.sales.contacts);
    expect(scan.users.every((u) => u.anchor.length === 24)).toBe(true);
  });

  it("marks what Connect Sync's default rules filter out with the condition, and carries a group's SID and a contact's mail", async () => {
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales },
      () => undefined,
    );
    const filtered = scan.users.filter((u) => u.filteredBy).map((u) => [u.dn, u.filteredBy]);
    expect(filtered).toEqual([
      ...SALES_FILTERED_USERS.map((f) => [userDn(f.user), [f.condition]]),
      [`CN=Sales Old List,${OU.sales}`, ['distributionGroupNotMailEnabled']],
      [`CN=Sales Contact 10,${OU.sales}`, ['contactWithoutMail']],
    ]);
    const managers = scan.users.find((u) => u.dn === `CN=Sales Managers,${OU.sales}`)!;
    expect(managers).toMatchObject({ type: 'group', consistencyGuid: true });
    expect(managers.sid).toMatch(/^S-1-5-21-\d+-\d+-\d+-\d+$/);
    // Anchored on its ms-DS-ConsistencyGuid, so its objectGUID goes too; Sales Team's anchor is its objectGUID.
    const managersGuid = forest.groups!.find((g) => g.dn === managers.dn)!.objectGuid;
    expect(managers.objectGuid).toBe(managersGuid);
    expect(managers.anchor).not.toBe(managersGuid);
    expect(scan.users.find((u) => u.dn === `CN=Sales Team,${OU.sales}`)).not.toHaveProperty('objectGuid');
    expect(scan.users.find((u) => u.dn === `CN=Sales Contact 01,${OU.sales}`)).toMatchObject({
      type: 'contact',
      mail: 'contact01@partner.example',
    });
  });

  it('counts without keeping users when only counts are asked, page by page', async () => {
    const progress: number[] = [];
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales, pageSize: 100, countOnly: true },
      (n) => void progress.push(n),
    );
    expect(scan.totals).toEqual({ ...EXPECTED.sales, ...EXPECTED_OTHER_TYPES.sales });
    expect(scan.users).toEqual([]);
    const objects =
      EXPECTED.sales.users +
      EXPECTED_OTHER_TYPES.sales.inetOrgPersons +
      EXPECTED_OTHER_TYPES.sales.groups +
      EXPECTED_OTHER_TYPES.sales.contacts;
    expect(progress).toHaveLength(Math.ceil(objects / 100));
    expect(progress.at(-1)).toBe(objects);
  });

  it('sends isCriticalSystemObject for the built-in accounts, and nothing extra for anyone else', async () => {
    const users = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: 'CN=Users' },
      () => undefined,
    );
    expect(users.baseDn).toBe(`CN=Users,${BASE_DN}`);
    expect(users.users.map((u) => [u.dn, u.criticalSystemObject])).toEqual([
      [`CN=Administrator,CN=Users,${BASE_DN}`, true],
      [`CN=Guest,CN=Users,${BASE_DN}`, true],
      [`CN=krbtgt,CN=Users,${BASE_DN}`, true],
    ]);
    const sales = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales },
      () => undefined,
    );
    // Absent rather than false: a 100,000-user scan's lines stay as small as before.
    expect(sales.users.some((u) => 'criticalSystemObject' in u)).toBe(false);
    expect(users.users.map((u) => u.filteredBy)).toEqual([
      ['criticalSystemObject'],
      ['criticalSystemObject'],
      ['criticalSystemObject'],
    ]);
  });
});
