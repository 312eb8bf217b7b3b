import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import { CLOUD_SYNC_WRITE_PERMISSION, type CloudSyncJobRef } from '../../src/cloud/types';
import { scopeCovers, scopeWithOu, scopeWithoutOu } from '../../src/runbook/cloud-sync-scope';
import { startGraphSimulator, type GraphSimulator } from '../../src/sandbox/graph-simulator';
import {
  SIMULATED_CLOUD_SYNC_JOB_ID,
  SIMULATED_CLOUD_SYNC_RULE_ID,
  SIMULATED_CLOUD_SYNC_SP_ID,
  SIMULATED_PASSWORD_HASH_JOB_ID,
} from '../../src/sandbox/sim-synchronization';
import { CloudSyncScopeService } from '../../src/services/cloud-sync-scope-service';
import { AppError } from '../../src/shared/errors';

const PILOT = 'OU=R\\,D,DC=contoso,DC=com';
const WAVE = 'OU=Legacy (2019),DC=contoso,DC=com';

/** The Cloud Sync scope client against the Graph simulator's synchronization endpoints (beta). */
describe('Cloud Sync scope through the synchronization API', () => {
  let graph: GraphSimulator;
  const cloud = () => createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, maxRetries: 0 });
  let job: CloudSyncJobRef;

  beforeAll(async () => {
    graph = await startGraphSimulator();
  });

  beforeEach(async () => {
    graph.setCloudSync({ includedContainers: [], statusCode: 'Paused', passwordHashJob: null });
    graph.setCloudSyncPermission('readWrite');
    graph.reset();
    job = await cloud().findProvisioningJob(SIMULATED_CLOUD_SYNC_SP_ID);
  });

  afterAll(async () => {
    await graph?.close();
  });

  it('finds the AD2AADProvisioning job of the service principal and reads its status', async () => {
    expect(job).toEqual({
      servicePrincipalId: SIMULATED_CLOUD_SYNC_SP_ID,
      jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
      templateId: 'AD2AADProvisioning',
      statusCode: 'Paused',
    });
    expect(graph.requests[0]).toMatchObject({
      method: 'GET',
      path: `/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs`,
      status: 200,
    });
    await expect(cloud().findProvisioningJob('00000000-0000-4000-8000-000000000000')).rejects.toMatchObject({
      code: 'CLOUD.ERROR',
    });
  });

  it('reads an empty scope as no filter, adds an OU exactly as given, and the next read shows it', async () => {
    const before = await cloud().readScope(job);
    expect(before).toEqual({ rules: [{ id: SIMULATED_CLOUD_SYNC_RULE_ID, includedContainers: [] }] });
    // No filter: every OU is covered, which is why the runbook never leaves the list empty on purpose.
    expect(scopeCovers(before, PILOT)).toBe(true);

    const { change } = await cloud().updateScope(job, (scope) => scopeWithOu(scope, PILOT));
    expect(change).toMatchObject({ ok: true, changed: true });
    expect(graph.cloudSync().includedContainers).toEqual([[PILOT]]);
    const put = graph.requests.find((r) => r.method === 'PUT');
    expect(put).toMatchObject({
      path: `/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs/${SIMULATED_CLOUD_SYNC_JOB_ID}/schema`,
      status: 204,
    });
    const after = await cloud().readScope(job);
    expect(after.rules[0]!.includedContainers).toEqual([PILOT]);
    expect(scopeCovers(after, PILOT)).toBe(true);
    expect(scopeCovers(after, WAVE)).toBe(false);

    // Added again: nothing is written.
    graph.reset();
    const again = await cloud().updateScope(job, (scope) => scopeWithOu(scope, PILOT.toLowerCase()));
    expect(again.change).toMatchObject({ ok: true, changed: false });
    expect(graph.requests.filter((r) => r.method === 'PUT')).toEqual([]);
  });

  it('keeps the rest of the schema when it writes the scope (the update replaces the whole schema)', async () => {
    const schemaUrl = `${graph.url}/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs/${SIMULATED_CLOUD_SYNC_JOB_ID}/schema`;
    const read = async () =>
      (await (await fetch(schemaUrl, { headers: { authorization: `Bearer ${graph.token}` } })).json()) as {
        synchronizationRules: { objectMappings: unknown[]; containerFilter: { includedContainers: string[] } }[];
        directories: unknown[];
      };
    const original = await read();
    await cloud().updateScope(job, (scope) => scopeWithOu(scope, WAVE));
    const written = await read();
    expect(written.directories).toEqual(original.directories);
    expect(written.synchronizationRules[0]!.objectMappings).toEqual(original.synchronizationRules[0]!.objectMappings);
    expect(written.synchronizationRules[0]!.containerFilter.includedContainers).toEqual([WAVE]);
  });

  it('takes an OU out again, but refuses to take out the last one (an empty list would cover the whole domain)', async () => {
    await cloud().updateScope(job, (scope) => scopeWithOu(scope, PILOT));
    await cloud().updateScope(job, (scope) => scopeWithOu(scope, WAVE));
    const out = await cloud().updateScope(job, (scope) => scopeWithoutOu(scope, WAVE));
    expect(out.change).toMatchObject({ ok: true, changed: true });
    expect(graph.cloudSync().includedContainers).toEqual([[PILOT]]);

    graph.reset();
    const last = await cloud().updateScope(job, (scope) => scopeWithoutOu(scope, PILOT));
    expect(last.change).toMatchObject({ ok: false, reason: expect.stringContaining('Pause the Cloud Sync job') });
    expect(graph.requests.filter((r) => r.method === 'PUT')).toEqual([]);
    expect(graph.cloudSync().includedContainers).toEqual([[PILOT]]);
  });

  it('pauses and starts the job', async () => {
    await cloud().startJob(job);
    expect(graph.cloudSync().statusCode).toBe('Active');
    expect((await cloud().readJob(job)).statusCode).toBe('Active');
    await cloud().pauseJob(job);
    expect((await cloud().readJob(job)).statusCode).toBe('Paused');
    expect(graph.requests.filter((r) => r.method === 'POST').map((r) => r.path.split('/').pop())).toEqual([
      'start',
      'pause',
    ]);
  });

  it('names Synchronization.ReadWrite.All when the app may only read, and the read still works', async () => {
    graph.setCloudSyncPermission('read');
    const err = await cloud()
      .updateScope(job, (scope) => scopeWithOu(scope, PILOT))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(AppError);
    expect(err).toMatchObject({
      code: 'CLOUD.FORBIDDEN',
      details: expect.objectContaining({ status: 403, permission: CLOUD_SYNC_WRITE_PERMISSION }),
    });
    expect((err as AppError).message).toContain(CLOUD_SYNC_WRITE_PERMISSION);
    await expect(cloud().pauseJob(job)).rejects.toMatchObject({
      code: 'CLOUD.FORBIDDEN',
      details: expect.objectContaining({ permission: CLOUD_SYNC_WRITE_PERMISSION }),
    });
    expect(graph.cloudSync()).toEqual({ statusCode: 'Paused', includedContainers: [[]] });
    // A person adds the OU by hand in the portal; the read checks it.
    graph.setCloudSync({ includedContainers: [PILOT] });
    expect((await cloud().readScope(job)).rules[0]!.includedContainers).toEqual([PILOT]);

    graph.setCloudSyncPermission('none');
    await expect(cloud().readScope(job)).rejects.toMatchObject({
      code: 'CLOUD.FORBIDDEN',
      details: expect.objectContaining({ permission: 'Synchronization.Read.All' }),
    });
  });

  it('lists the password hash sync job beside the provisioning job once the configuration has one', async () => {
    const service = new CloudSyncScopeService(cloud(), SIMULATED_CLOUD_SYNC_SP_ID);
    const at = new Date('2026-12-05T09:00:00Z');
    expect(await service.readPasswordHashJobs(at)).toEqual({
      kind: 'read',
      at,
      servicePrincipalId: SIMULATED_CLOUD_SYNC_SP_ID,
      jobs: [],
    });
    // Turned on as Microsoft's Graph page does it: create the job from its template, then start it.
    const jobsUrl = `${graph.url}/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs`;
    const auth = { authorization: `Bearer ${graph.token}`, 'content-type': 'application/json' };
    const created = await fetch(jobsUrl, {
      method: 'POST',
      headers: auth,
      body: JSON.stringify({ templateId: 'AD2AADPasswordHash' }),
    });
    expect(created.status).toBe(201);
    expect(await created.json()).toMatchObject({
      id: SIMULATED_PASSWORD_HASH_JOB_ID,
      templateId: 'AD2AADPasswordHash',
      status: { code: 'Paused' },
    });
    expect((await cloud().listJobs(SIMULATED_CLOUD_SYNC_SP_ID)).map((j) => [j.templateId, j.statusCode])).toEqual([
      ['AD2AADProvisioning', 'Paused'],
      ['AD2AADPasswordHash', 'Paused'],
    ]);
    expect(
      (await fetch(`${jobsUrl}/${SIMULATED_PASSWORD_HASH_JOB_ID}/start`, { method: 'POST', headers: auth })).status,
    ).toBe(204);
    expect(await service.readPasswordHashJobs(at)).toMatchObject({
      kind: 'read',
      jobs: [{ jobId: SIMULATED_PASSWORD_HASH_JOB_ID, statusCode: 'Active' }],
    });
    expect(graph.cloudSync().passwordHashJob).toBe('Active');
    // The provisioning job is still the only one findProvisioningJob takes.
    expect((await cloud().findProvisioningJob(SIMULATED_CLOUD_SYNC_SP_ID)).jobId).toBe(SIMULATED_CLOUD_SYNC_JOB_ID);

    graph.setCloudSyncPermission('none');
    expect(await service.readPasswordHashJobs(at)).toMatchObject({ kind: 'forbidden' });
    expect(await new CloudSyncScopeService(cloud(), null).readPasswordHashJobs(at)).toMatchObject({
      kind: 'failed',
      hint: expect.stringContaining('CLOUD_SYNC_SERVICE_PRINCIPAL_ID') as unknown,
    });
  });

  it('refuses a schema whose rule filters by both OUs and groups, as one rule cannot', async () => {
    const schemaUrl = `${graph.url}/beta/servicePrincipals/${SIMULATED_CLOUD_SYNC_SP_ID}/synchronization/jobs/${SIMULATED_CLOUD_SYNC_JOB_ID}/schema`;
    const res = await fetch(schemaUrl, {
      method: 'PUT',
      headers: { authorization: `Bearer ${graph.token}`, 'content-type': 'application/json' },
      body: JSON.stringify({
        synchronizationRules: [
          {
            id: SIMULATED_CLOUD_SYNC_RULE_ID,
            containerFilter: { includedContainers: [PILOT] },
            groupFilter: { includedGroups: ['CN=Pilot,DC=contoso,DC=com'] },
          },
        ],
      }),
    });
    expect(res.status).toBe(400);
    expect(graph.cloudSync().includedContainers).toEqual([[]]);
  });
});
