import { SimulatedDirectory, type SimulatedForest } from '../../src/directory/simulated-directory';
import { addUserToForest, buildSeededForest } from '../../src/sandbox/seeded-forest';
import { scanInMemory } from '../../src/services/stored-scan';
import { scanOu } from '../../src/agent/actions/scan-ou';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import { OuComparison, type ComparisonReport } from '../../src/runbook/ou-comparison';
import { ConfirmationIndex, confirmObjects, guidString } from '../../src/runbook/cloud-sync-evidence';
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

/**
 * Simulated Cloud Sync reads the Graph simulator's Cloud Sync job (status and schema scope) and,
 * after its delay, provisions each OU in the running job's scope into the Graph simulator, so a later
 * verify finds the missing users with matching anchors. Nothing else puts an OU into its scope.
 */
describe('simulated Cloud Sync provisioning', () => {
  const forest = buildSeededForest();
  const connectDirectory = async (): Promise<SimulatedDirectory> => new SimulatedDirectory(forest);
  const logger = createLogger('test', process.env.LOG_LEVEL ?? 'silent');
  let graph: GraphSimulator;
  let tenant: BuiltTenant;
  let cloudSync: SimulatedCloudSync | undefined;

  beforeAll(async () => {
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
    graph.setCloudSync({ includedContainers: [], statusCode: 'Paused' });
  });

  afterAll(async () => {
    await graph?.close();
  });

  async function verify(baseDn: string): Promise<ComparisonReport> {
    const scan = await scanOu(await connectDirectory(), { action: 'directory.scanOu', ou: baseDn }, () => undefined);
    return compareOuWithCloud(
      scanInMemory(scan),
      createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, logger }),
    );
  }

  it("provisions an OU only once it is in the running job's scope and the delay has passed, with matching anchors", async () => {
    const before = await verify(OU.sales);
    expect(before.missing).toEqual([...tenant.missingDns].sort((a, b) => a.localeCompare(b)));

    cloudSync = startSimulatedCloudSync({ graph, connectDirectory, delayMs: 1500, pollMs: 60_000, logger });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([]);

    // In scope but the job is paused: nothing runs.
    graph.setCloudSync({ includedContainers: [OU.sales] });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([]);

    graph.setCloudSync({ statusCode: 'Active' });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([OU.sales]);
    // Configured, but Cloud Sync has not run yet: the tenant is as it was.
    expect(cloudSync.cycles()).toEqual([]);
    expect(graph.users()).toHaveLength(tenant.users.length);

    const cycle = await cloudSync.cycleFor(OU.sales);
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

  it('an OU without drift only matches; out of the scope or with the job paused, its cycles stop', async () => {
    cloudSync = startSimulatedCloudSync({
      graph,
      connectDirectory,
      delayMs: 0,
      cycleIntervalMs: 100,
      pollMs: 60_000,
      logger,
    });
    // The scope names the OU in another case than AD wrote it: Cloud Sync compares DNs as AD does.
    graph.setCloudSync({ includedContainers: [OU.salesOps.toLowerCase()], statusCode: 'Active' });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([OU.salesOps.toLowerCase()]);
    const cycle = await cloudSync.cycleFor(OU.salesOps);
    // SalesOps has no drift: everything hard-matches, nothing is created.
    expect(cycle).toMatchObject({ created: [], conflicts: [], matched: EXPECTED.salesOps.users });

    graph.setCloudSync({ statusCode: 'Paused' });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([]);
    const counted = cloudSync.cycles().length;
    await new Promise((resolve) => setTimeout(resolve, 400));
    // At most the cycle that was already running when the job was paused.
    expect(cloudSync.cycles().length).toBeLessThanOrEqual(counted + 1);
  });

  it('provisions every OU of a scope with several and writes provisioning logs for its job', async () => {
    graph.reset();
    graph.setCloudSync({ includedContainers: [OU.salesOps, OU.rAndD], statusCode: 'Active' });
    cloudSync = startSimulatedCloudSync({ graph, connectDirectory, delayMs: 0, pollMs: 60_000, logger });
    await cloudSync.pollNow();
    expect(cloudSync.configured()).toEqual([OU.salesOps, OU.rAndD]);
    const cycle = await cloudSync.cycleFor(OU.rAndD);
    expect(cycle).toMatchObject({ baseDn: OU.rAndD, created: [], conflicts: [], matched: EXPECTED.rAndD.users });

    // Every page: the earlier tests wrote entries for this job too, more than one page holds.
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
    const ownGraph = await startGraphSimulator({
      users: (
        await buildTenantFromDirectory(await readOwnForest(), { baseDn: OU.sales, missing: 3, extra: 2, mismatched: 2 })
      ).users,
    });
    try {
      ownGraph.setCloudSync({ includedContainers: [OU.salesOps], statusCode: 'Active' });
      cloudSync = startSimulatedCloudSync({
        graph: ownGraph,
        connectDirectory: readOwnForest,
        delayMs: 0,
        cycleIntervalMs: 200,
        pollMs: 60_000,
        logger,
      });
      await cloudSync.pollNow();
      const initial = await cloudSync.cycleFor(OU.salesOps);
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
      const quiet = await cloudSync.nextCycleFor(OU.salesOps);
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
      const next = await cloudSync.nextCycleFor(OU.salesOps);
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
      const disabled = await cloudSync.nextCycleFor(OU.salesOps);
      expect(disabled).toMatchObject({ created: [], updated: [added.user.dn] });
      expect(ownGraph.users().find((u) => u.id === cloudUser!.id)?.accountEnabled).toBe(false);
      expect((await forUser()).map((e) => e.provisioningAction).sort()).toEqual(['create', 'update']);
    } finally {
      await cloudSync?.stop();
      cloudSync = undefined;
      await ownGraph.close();
    }
  });

  it("provisions and logs the OU's groups and contacts, found by SID and mail, and a verify confirms them per type", async () => {
    // Connect Sync synced every group and contact but Sales Team, which Cloud Sync has to create.
    const teamDn = `CN=Sales Team,${OU.sales}`;
    const ownGraph = await startGraphSimulator({
      users: tenant.users,
      groups: tenant.groups.filter((g) => g.onPremisesSamAccountName !== 'SalesTeam'),
      contacts: tenant.contacts,
    });
    try {
      ownGraph.setCloudSync({ includedContainers: [OU.sales], statusCode: 'Active' });
      cloudSync = startSimulatedCloudSync({ graph: ownGraph, connectDirectory, delayMs: 0, pollMs: 60_000, logger });
      await cloudSync.pollNow();
      const cycle = await cloudSync.cycleFor(OU.sales);
      expect(cycle.others).toEqual({ group: { matched: 2, created: [teamDn] }, contact: { matched: 9, created: [] } });
      const team = forest.groups!.find((g) => g.dn === teamDn)!;
      expect(ownGraph.groups().find((g) => g.onPremisesSecurityIdentifier === team.sid)).toMatchObject({
        onPremisesSyncEnabled: true,
        securityEnabled: true,
      });

      // Graph's provisioningObjectSummary shape: identityType Group or Contact, objectGUID as the source id.
      type LogEntry = {
        provisioningAction: string;
        sourceIdentity: { id: string; identityType: string };
        targetIdentity: { id: string; identityType: string };
      };
      const entries: LogEntry[] = [];
      let next: string | undefined =
        `${ownGraph.url}/v1.0/auditLogs/provisioning?$filter=${encodeURIComponent(`jobId eq '${SIMULATED_CLOUD_SYNC_JOB_ID}'`)}&$top=999`;
      while (next) {
        const res = await fetch(next, { headers: { authorization: `Bearer ${ownGraph.token}` } });
        const body = (await res.json()) as { value: LogEntry[]; '@odata.nextLink'?: string };
        entries.push(...body.value);
        next = body['@odata.nextLink'];
      }
      expect(entries.filter((e) => e.targetIdentity.identityType === 'Group')).toHaveLength(3);
      expect(entries.filter((e) => e.sourceIdentity.identityType === 'Contact')).toHaveLength(9);
      const teamId = ownGraph.groups().find((g) => g.onPremisesSecurityIdentifier === team.sid)!.id;
      expect(entries.find((e) => e.targetIdentity.id === teamId)).toMatchObject({
        provisioningAction: 'create',
        sourceIdentity: { id: guidString(Buffer.from(team.objectGuid, 'base64')), identityType: 'Group' },
      });

      // The verify's rule over what the bot reads: every group and contact confirmed, Sales Managers too:
      // it is anchored on ms-DS-ConsistencyGuid and the entry names its objectGUID, which the scan
      // carries for it, and either identifier names the object (docs/verify.md).
      const cloud = createGraphCloudDirectory({ baseUrl: ownGraph.url, staticToken: ownGraph.token, logger });
      const scan = await scanOu(
        await connectDirectory(),
        { action: 'directory.scanOu', ou: OU.sales },
        () => undefined,
      );
      const comparison = new OuComparison(OU.sales);
      await compareOuWithCloud(scanInMemory(scan), cloud, undefined, undefined, comparison);
      const index = new ConfirmationIndex(SIMULATED_CLOUD_SYNC_JOB_ID);
      await cloud.provisioningEvents({ jobId: SIMULATED_CLOUD_SYNC_JOB_ID, since: new Date(0) }, (page) => {
        for (const e of page) index.add(e);
      });
      const confirmation = confirmObjects(comparison.inScope(), index);
      expect(confirmation.groups).toEqual({
        onPrem: 3,
        inEntra: 3,
        confirmed: 3,
        matchedOn: 'onPremisesSecurityIdentifier',
        unconfirmed: [],
      });
      const managers = [...comparison.inScope()].find((o) => o.dn === `CN=Sales Managers,${OU.sales}`)!;
      expect(managers.objectGuid).toBeDefined();
      expect(managers.objectGuid).not.toBe(managers.anchor);
      expect(confirmation.contacts).toMatchObject({ onPrem: 9, inEntra: 9, confirmed: 9, unconfirmed: [] });
    } finally {
      await cloudSync?.stop();
      cloudSync = undefined;
      await ownGraph.close();
    }
  });
});
