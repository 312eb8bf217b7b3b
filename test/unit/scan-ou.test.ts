import { scanOu } from '../../src/agent/actions/scan-ou';
import { SimulatedDirectory } from '../../src/directory/simulated-directory';
import { BASE_DN, EXPECTED, OU } from '../../src/sandbox/forest-spec';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';

describe('the agent scan', () => {
  const forest = buildSeededForest();

  it('lists every user of the OU subtree with its anchor', async () => {
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales, pageSize: 100 },
      () => undefined,
    );
    expect(scan.totals).toEqual({ users: EXPECTED.sales.users, disabled: EXPECTED.sales.disabled });
    expect(scan.users).toHaveLength(EXPECTED.sales.users);
    expect(scan.users.every((u) => u.anchor.length === 24)).toBe(true);
  });

  it('counts without keeping users when only counts are asked, page by page', async () => {
    const progress: number[] = [];
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales, pageSize: 100, countOnly: true },
      (n) => void progress.push(n),
    );
    expect(scan.totals).toEqual({ users: EXPECTED.sales.users, disabled: EXPECTED.sales.disabled });
    expect(scan.users).toEqual([]);
    expect(progress).toHaveLength(Math.ceil(EXPECTED.sales.users / 100));
    expect(progress.at(-1)).toBe(EXPECTED.sales.users);
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
  });
});
