import { SimulatedDirectory, type SimulatedForest } from '../../src/directory/simulated-directory';
import { addUserToForest, buildSeededForest } from '../../src/sandbox/seeded-forest';
import { scanInMemory } from '../../src/services/stored-scan';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { scanOu } from '../../src/agent/actions/scan-ou';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import type { ComparisonReport } from '../../src/runbook/ou-comparison';
import { compareOuWithCloud } from '../../src/services/compare-ou';
import { EXPECTED, EXPECTED_SYNCED, OU } from '../../src/sandbox/forest-spec';
import { startGraphSimulator, type GraphSimulator } from '../../src/sandbox/graph-simulator';
import {
  SIMULATED_CLOUD_SYNC_JOB_ID,
  startSimulatedCloudSync,
  type SimulatedCloudSync,
} from '../../src/sandbox/simulated-cloud-sync';
import { buildTenantFromDirectory, type BuiltTenant } from '../../src/sandbox/tenant-from-directory';
import { createLogger } from '../../src/shared/logger';
import { openStore } from '../../src/store/open-store';
import type { Store } from '../../src/store/types';

/**
 * Simulated Cloud Sync reads what the runbook recorded (step 5: the pilot OU; step 11: Cloud Sync
 * configured) and, after its delay, provisions the OU into the Graph simulator, so a later verify
 * finds the missing users with matching anchors.
 */
describe('simulated Cloud Sync provisioning', () => {
  const forest = buildSeededForest();
  const connectDirectory = async (): Promise<SimulatedDirectory> => new SimulatedDirectory(forest);
  const logger = createLogger('test', process.env.LOG_LEVEL ?? 'silent');
  let dataDir: string;
  let store: Store;
  let graph: GraphSimulator;
  let tenant: BuiltTenant;
  let cloudSync: SimulatedCloudSync | undefined;

  beforeAll(async () => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncshift-cloudsync-'));
    store = await openStore({ dataDir });
    tenant = await buildTenantFromDirectory(await connectDirectory(), {
      baseDn: OU.sales,
      missing: 3,
      extra: 2,
      mismatched: 2,
    });
    graph = await startGraphSimulator({ users: tenant.users });
  });

  afterEach(async () => {
    await cloudSync?.stop();
    cloudSync = undefined;
  });

  afterAll(async () => {
    await graph?.close();
    await store?.close();
    rmSync(dataDir, { recursive: true, force: true });
  });

  async function migrationWithPilot(name: string, pilotOu: string): Promise<string> {
    const migration = await store.migrations.create({ name, conversationId: `19:${name}@thread`, createdBy: 'test' });
    await store.runbook.ensureSteps(migration!.id);
    await setStep(migration!.id, 5, { status: 'done', evidence: { pilotOu } });
    return migration!.id;
  }

  async function setStep(
    migrationId: string,
    n: number,
    change: { status: 'done' | 'pending'; evidence?: unknown },
  ): Promise<void> {
    const step = (await store.runbook.listSteps(migrationId)).find((s) => s.n === n)!;
    const saved = await store.runbook.saveStep(
      migrationId,
      {
        ...step,
        status: change.status,
        evidence: change.evidence ?? step.evidence,
        updatedBy: 'Adele Vance',
        updatedAt: new Date(),
      },
      step.version,
    );
    expect(saved).toBe(true);
  }

  async function verify(baseDn: string): Promise<ComparisonReport> {
    const scan = await scanOu(await connectDirectory(), { action: 'directory.scanOu', ou: baseDn }, () => undefined);
    return compareOuWithCloud(
      scanInMemory(scan),
      createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, logger }),
    );
  }

  it('provisions the pilot OU only after step 11 is done and the delay has passed, with matching anchors', async () => {
    const migrationId = await migrationWithPilot('pilot', OU.sales);
    const before = await verify(OU.sales);
    expect(before.missing).toEqual([...tenant.missingDns].sort((a, b) => a.localeCompare(b)));

    cloudSync = startSimulatedCloudSync({ store, graph, connectDirectory, delayMs: 1500, pollMs: 60_000, logger });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([]);

    await setStep(migrationId, 11, { status: 'done' });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([`${migrationId}|${OU.sales}`]);
    // Configured, but Cloud Sync has not run yet: the tenant is as it was.
    expect(cloudSync.cycles()).toEqual([]);
    expect(graph.users()).toHaveLength(tenant.users.length);

    const cycle = await cloudSync.cycleFor(migrationId);
    expect(cycle.baseDn).toBe(OU.sales);
    expect([...cycle.created].sort()).toEqual([...tenant.missingDns].sort());
    expect([...cycle.conflicts].sort()).toEqual([...tenant.mismatchedDns].sort());
    expect(cycle.matched).toBe(EXPECTED_SYNCED.sales.users - 3 - 2);

    const after = await verify(OU.sales);
    expect(after.onPrem.users).toBe(EXPECTED_SYNCED.sales.users);
    expect(after.missing).toEqual([]);
    expect(after.matched).toBe(EXPECTED_SYNCED.sales.users);
    // Cloud Sync cannot hard-match a cloud object whose anchor differs; a person has to fix those.
    expect(after.mismatched.map((m) => m.dn).sort()).toEqual([...tenant.mismatchedDns].sort());
    expect(after.extra.map((e) => e.dn).sort()).toEqual([...tenant.extraDns].sort());

    const created = graph.users().filter((u) => tenant.missingDns.includes(u.onPremisesDistinguishedName ?? ''));
    expect(created).toHaveLength(3);
    for (const u of created) {
      const onPrem = forest.users.find((f) => f.dn === u.onPremisesDistinguishedName)!;
      expect(u.onPremisesImmutableId).toBe(onPrem.consistencyGuid ?? onPrem.objectGuid);
      expect(u.onPremisesSyncEnabled).toBe(true);
    }

    // Configured once, provisioned once: later polls change nothing.
    await cloudSync.pollNow();
    expect(cloudSync.cycles()).toHaveLength(1);
  });

  it('leaves a migration alone until step 11 is done; an OU without drift only matches', async () => {
    const migrationId = await migrationWithPilot('not-yet', OU.salesOps);
    cloudSync = startSimulatedCloudSync({ store, graph, connectDirectory, delayMs: 0, pollMs: 60_000, logger });
    await cloudSync.pollNow();
    expect(cloudSync.configured().filter((k) => k.startsWith(migrationId))).toEqual([]);
    await setStep(migrationId, 11, { status: 'done' });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toContain(`${migrationId}|${OU.salesOps}`);
    const cycle = await cloudSync.cycleFor(migrationId);
    // SalesOps has no drift: everything hard-matches, nothing is created.
    expect(cycle).toMatchObject({ created: [], conflicts: [], matched: EXPECTED.salesOps.users });
  });

  it("adds a wave's OUs on the wave's date and writes provisioning logs for its job", async () => {
    const migration = await store.migrations.create({
      name: 'waves',
      conversationId: '19:waves@thread',
      createdBy: 'test',
    });
    const today = new Date().toISOString().slice(0, 10);
    const later = await store.waves.createWave({
      migrationId: migration!.id,
      name: 'Later',
      scheduledFor: '2999-01-01',
      createdBy: 'test',
      ous: ['OU=Legacy (2019)'],
      now: new Date(),
    });
    const due = await store.waves.createWave({
      migrationId: migration!.id,
      name: 'Due',
      scheduledFor: today,
      createdBy: 'test',
      ous: ['OU=R\\,D'],
      now: new Date(),
    });
    for (const [wave, baseDn, users] of [
      [later!, OU.legacy, EXPECTED.legacy.users],
      [due!, OU.rAndD, EXPECTED.rAndD.users],
    ] as const) {
      const job = await store.jobs.enqueue({
        kind: 'directory.scanOu',
        purpose: 'verify',
        payload: {},
        conversationId: '19:waves@thread',
        migrationId: migration!.id,
        requestedBy: { id: 'test', name: 'test' },
      });
      await store.waves.setOuCountJob(wave.id, 0, job.id);
      await store.waves.recordOuCount({ jobId: job.id, baseDn, users, disabled: 0, error: null, now: new Date() });
    }
    graph.reset();
    cloudSync = startSimulatedCloudSync({ store, graph, connectDirectory, delayMs: 0, pollMs: 60_000, logger });
    await cloudSync.pollNow();
    expect(cloudSync.configured().filter((k) => k.startsWith(migration!.id))).toEqual([`${migration!.id}|${OU.rAndD}`]);
    const cycle = await cloudSync.cycleFor(migration!.id);
    expect(cycle).toMatchObject({ baseDn: OU.rAndD, created: [], conflicts: [], matched: EXPECTED.rAndD.users });

    // Every page: the earlier tests' migrations are in the same store, so this instance runs their
    // cycles too and logs more entries for this job than one page holds.
    const body: {
      value: { id: string; provisioningStatusInfo: { status: string }; targetIdentity: { id: string } }[];
    } = {
      value: [],
    };
    let next: string | undefined =
      `${graph.url}/v1.0/auditLogs/provisioning?$filter=${encodeURIComponent(`jobId eq '${SIMULATED_CLOUD_SYNC_JOB_ID}'`)}&$top=1000`;
    while (next) {
      const page = (await (
        await fetch(next, { headers: { authorization: `Bearer ${graph.token}` } })
      ).json()) as typeof body & { '@odata.nextLink'?: string };
      body.value.push(...page.value);
      next = page['@odata.nextLink'];
    }
    const rAndDIds = new Set(
      graph
        .users()
        .filter((u) => u.onPremisesDistinguishedName?.endsWith(OU.rAndD))
        .map((u) => u.id),
    );
    const forWave = body.value.filter((e) => rAndDIds.has(e.targetIdentity.id));
    expect(forWave).toHaveLength(EXPECTED.rAndD.users);
    expect(forWave.every((e) => e.provisioningStatusInfo.status === 'success')).toBe(true);
  });

  it('keeps running cycles: a user added to a configured OU is provisioned on the next one, a disabled user updated, and a quiet cycle logs nothing', async () => {
    // Its own forest, store and tenant: the user added here must not change the other tests'
    // counts, and their migrations' cycles must not write into this tenant's logs meanwhile.
    let ownForest: SimulatedForest = buildSeededForest();
    const readOwnForest = async (): Promise<SimulatedDirectory> => new SimulatedDirectory(ownForest);
    const ownStore = await openStore({});
    const ownGraph = await startGraphSimulator({
      users: (
        await buildTenantFromDirectory(await readOwnForest(), { baseDn: OU.sales, missing: 3, extra: 2, mismatched: 2 })
      ).users,
    });
    try {
      const migration = await ownStore.migrations.create({
        name: 'cycles',
        conversationId: '19:cycles@thread',
        createdBy: 'test',
      });
      await ownStore.runbook.ensureSteps(migration!.id);
      for (const [n, evidence] of [
        [5, { pilotOu: OU.salesOps }],
        [11, undefined],
      ] as const) {
        const step = (await ownStore.runbook.listSteps(migration!.id)).find((st) => st.n === n)!;
        expect(
          await ownStore.runbook.saveStep(
            migration!.id,
            {
              ...step,
              status: 'done',
              evidence: evidence ?? step.evidence,
              updatedBy: 'Adele Vance',
              updatedAt: new Date(),
            },
            step.version,
          ),
        ).toBe(true);
      }
      const migrationId = migration!.id;
      cloudSync = startSimulatedCloudSync({
        store: ownStore,
        graph: ownGraph,
        connectDirectory: readOwnForest,
        delayMs: 0,
        cycleIntervalMs: 200,
        pollMs: 60_000,
        logger,
      });
      await cloudSync.pollNow();
      const initial = await cloudSync.cycleFor(migrationId);
      expect(initial).toMatchObject({
        kind: 'initial',
        baseDn: OU.salesOps,
        created: [],
        conflicts: [],
        matched: EXPECTED.salesOps.users,
      });

      type LogEntry = {
        provisioningAction: string;
        provisioningStatusInfo: { status: string };
        targetIdentity: { id: string };
      };
      const logs = async (): Promise<LogEntry[]> => {
        const res = await fetch(
          `${ownGraph.url}/v1.0/auditLogs/provisioning?$filter=${encodeURIComponent(`jobId eq '${SIMULATED_CLOUD_SYNC_JOB_ID}'`)}&$top=1000`,
          { headers: { authorization: `Bearer ${ownGraph.token}` } },
        );
        return ((await res.json()) as { value: LogEntry[] }).value;
      };
      expect(await logs()).toHaveLength(EXPECTED.salesOps.users);

      // Nothing changed on-premises: the next cycle touches nothing and writes no log entries.
      const quiet = await cloudSync.nextCycleFor(migrationId);
      expect(quiet).toMatchObject({
        kind: 'incremental',
        created: [],
        updated: [],
        conflicts: [],
        matched: EXPECTED.salesOps.users,
      });
      expect(await logs()).toHaveLength(EXPECTED.salesOps.users);

      const added = addUserToForest(ownForest, OU.salesOps, 'Pat Newhire');
      ownForest = added.forest;
      const next = await cloudSync.nextCycleFor(migrationId);
      expect(next).toMatchObject({ kind: 'incremental', created: [added.user.dn], updated: [], conflicts: [] });
      const cloudUser = ownGraph.users().find((u) => u.onPremisesDistinguishedName === added.user.dn);
      expect(cloudUser).toMatchObject({
        onPremisesImmutableId: added.user.objectGuid,
        onPremisesSyncEnabled: true,
        accountEnabled: true,
        userPrincipalName: added.user.userPrincipalName,
      });
      const forUser = async (): Promise<LogEntry[]> =>
        (await logs()).filter((e) => e.targetIdentity.id === cloudUser!.id);
      expect(await forUser()).toEqual([
        expect.objectContaining({
          provisioningAction: 'create',
          provisioningStatusInfo: expect.objectContaining({ status: 'success' }),
        }),
      ]);
      // A verify of the OU now finds the new user on both sides.
      const scan = await scanOu(
        await readOwnForest(),
        { action: 'directory.scanOu', ou: OU.salesOps },
        () => undefined,
      );
      const after = await compareOuWithCloud(
        scanInMemory(scan),
        createGraphCloudDirectory({ baseUrl: ownGraph.url, staticToken: ownGraph.token, logger }),
      );
      expect(after.onPrem.users).toBe(EXPECTED.salesOps.users + 1);
      expect(after.missing).toEqual([]);

      ownForest = {
        ...ownForest,
        users: ownForest.users.map((u) => (u.dn === added.user.dn ? { ...u, disabled: true } : u)),
      };
      const disabled = await cloudSync.nextCycleFor(migrationId);
      expect(disabled).toMatchObject({ created: [], updated: [added.user.dn] });
      expect(ownGraph.users().find((u) => u.id === cloudUser!.id)?.accountEnabled).toBe(false);
      expect((await forUser()).map((e) => e.provisioningAction).sort()).toEqual(['create', 'update']);
    } finally {
      await cloudSync?.stop();
      cloudSync = undefined;
      await ownGraph.close();
      await ownStore.close();
    }
  });
});
