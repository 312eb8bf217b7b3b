import { SimulatedDirectory } from '../../src/directory/simulated-directory';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';
import { scanInMemory, type StoredScan } from '../../src/services/stored-scan';
import { scanOu } from '../../src/agent/actions/scan-ou';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import { compareOuWithCloud } from '../../src/services/compare-ou';
import { OuComparison } from '../../src/runbook/ou-comparison';
import { OU, EXPECTED_SYNCED } from '../../src/sandbox/forest-spec';
import { startGraphSimulator, type GraphSimulator } from '../../src/sandbox/graph-simulator';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import { createLogger } from '../../src/shared/logger';

/**
 * The cloud half of a verify reports how far Graph paging got, for the card. When Teams has no room
 * for another card update (60 per 30 s per conversation), that report has nobody to answer it; the
 * paging must go on regardless.
 */
describe('the cloud scan and its progress reports', () => {
  let graph: GraphSimulator;
  const forest = buildSeededForest();

  beforeAll(async () => {
    const tenant = await buildTenantFromDirectory(new SimulatedDirectory(forest), {
      baseDn: OU.sales,
      missing: 3,
      extra: 2,
      mismatched: 2,
    });
    graph = await startGraphSimulator({ users: tenant.users });
  });
  afterAll(async () => graph?.close());

  it('pages Graph to the end even when a progress report never settles', async () => {
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales },
      () => undefined,
    );
    const cloud = createGraphCloudDirectory({
      baseUrl: graph.url,
      staticToken: graph.token,
      logger: createLogger('test', 'silent'),
      pageSize: 100,
    });
    const reports: number[] = [];
    // What a caller awaiting Teams would hand back while the conversation is out of budget.
    const stuck = (read: number): Promise<never> => {
      reports.push(read);
      return new Promise<never>(() => undefined);
    };
    const report = await compareOuWithCloud(scanInMemory(scan), cloud, stuck);
    expect(report.onPrem.users).toBe(EXPECTED_SYNCED.sales.users);
    expect(report.missing).toHaveLength(3);
    const synced = graph.users().filter((u) => u.onPremisesSyncEnabled).length;
    expect(reports).toHaveLength(Math.ceil(synced / 100));
    expect(reports.at(-1)).toBe(synced);
  }, 20_000);

  /** The scan as the store hands it out, but slow (or failing) between pieces. */
  function slowScan(scan: Awaited<ReturnType<typeof scanOu>>, delayMs: number, failAfter?: number): StoredScan {
    const inMemory = scanInMemory(scan);
    return {
      head: inMemory.head,
      async *users() {
        for (let i = 0; i < scan.users.length; i += 100) {
          if (failAfter !== undefined && i >= failAfter) throw new Error('the store went away');
          await new Promise((r) => setTimeout(r, delayMs));
          yield scan.users.slice(i, i + 100);
        }
      },
    };
  }

  it('pages Graph while the stored scan is still being read, and reports the same as when it was read first', async () => {
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales },
      () => undefined,
    );
    const cloud = createGraphCloudDirectory({
      baseUrl: graph.url,
      staticToken: graph.token,
      logger: createLogger('test', 'silent'),
      pageSize: 50,
    });
    const fast = await compareOuWithCloud(scanInMemory(scan), cloud);
    graph.reset();
    let pagesWhileReading = 0;
    let reading = true;
    const slow = compareOuWithCloud(slowScan(scan, 15), cloud, () => {
      if (reading) pagesWhileReading++;
    });
    const report = await slow;
    reading = false;
    expect(report).toEqual(fast);
    expect(report.missing).toHaveLength(3);
    // Graph did not wait for the scan: pages arrived while it was read (at most 16 are kept before paging waits).
    expect(pagesWhileReading).toBeGreaterThan(1);
  }, 20_000);

  it('takes an index built while the scan arrived instead of reading the store, with the same report', async () => {
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales },
      () => undefined,
    );
    const cloud = createGraphCloudDirectory({
      baseUrl: graph.url,
      staticToken: graph.token,
      logger: createLogger('test', 'silent'),
      pageSize: 200,
    });
    const expected = await compareOuWithCloud(scanInMemory(scan), cloud);
    const index = new OuComparison(scan.baseDn);
    for (const user of scan.users) index.addOnPrem(user);
    const unreadable: StoredScan = {
      head: scanInMemory(scan).head,
      users: () => {
        throw new Error('the store must not be read');
      },
    };
    expect(await compareOuWithCloud(unreadable, cloud, undefined, index)).toEqual(expected);
    // An index of another OU is not taken for this one.
    const other = new OuComparison(OU.salesOps);
    await expect(compareOuWithCloud(unreadable, cloud, undefined, other)).rejects.toThrow('the store must not be read');
  }, 20_000);

  it('stops paging Graph when the stored scan cannot be read, with that error', async () => {
    const scan = await scanOu(
      new SimulatedDirectory(forest),
      { action: 'directory.scanOu', ou: OU.sales },
      () => undefined,
    );
    const cloud = createGraphCloudDirectory({
      baseUrl: graph.url,
      staticToken: graph.token,
      logger: createLogger('test', 'silent'),
      pageSize: 10,
    });
    graph.reset();
    await expect(compareOuWithCloud(slowScan(scan, 30, 200), cloud)).rejects.toThrow('the store went away');
    const synced = graph.users().filter((u) => u.onPremisesSyncEnabled).length;
    const fetched = graph.requests.filter((r) => r.path === '/v1.0/users').length;
    expect(fetched).toBeLessThan(Math.ceil(synced / 10) / 2);
  }, 20_000);
});
