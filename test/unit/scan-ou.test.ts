import { scanOu } from '../../src/agent/actions/scan-ou';
import { EXPECTED, OU } from '../../src/sandbox/forest-spec';
import { buildSeededForest, SimulatedDirectory } from '../../src/sandbox/simulated-directory';

describe('the agent scan', () => {
  const forest = buildSeededForest();

  it('lists every user of the OU subtree with its anchor', async () => {
    const scan = await scanOu(new SimulatedDirectory(forest), { action: 'directory.scanOu', ou: OU.sales, pageSize: 100 }, () => undefined);
    expect(scan.totals).toEqual({ users: EXPECTED.sales.users, disabled: EXPECTED.sales.disabled });
    expect(scan.users).toHaveLength(EXPECTED.sales.users);
    expect(scan.users.every((u) => u.anchor.length === 24)).toBe(true);
  });

  it('counts without keeping users when only counts are asked, page by page', async () => {
    const progress: number[] = [];
    const scan = await scanOu(new SimulatedDirectory(forest), { action: 'directory.scanOu', ou: OU.sales, pageSize: 100, countOnly: true }, (n) => void progress.push(n));
    expect(scan.totals).toEqual({ users: EXPECTED.sales.users, disabled: EXPECTED.sales.disabled });
    expect(scan.users).toEqual([]);
    expect(progress).toHaveLength(Math.ceil(EXPECTED.sales.users / 100));
    expect(progress.at(-1)).toBe(EXPECTED.sales.users);
  });
});
