import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import type { ProvisioningEvent } from '../../src/cloud/types';
import type { CloudUserChange } from '../../src/runbook/cloud-users';
import { startGraphSimulator, type GraphSimulator, type SimUser } from '../../src/sandbox/graph-simulator';

const user = (i: number, synced = true): SimUser => ({
  id: `00000000-0000-0000-0000-${String(i).padStart(12, '0')}`,
  userPrincipalName: `user${i}@contoso.com`,
  onPremisesSyncEnabled: synced ? true : null,
  onPremisesDistinguishedName: synced ? `CN=User ${i},OU=Sales,DC=contoso,DC=com` : null,
  onPremisesImmutableId: synced ? Buffer.from(`anchor-${i}`).toString('base64') : null,
});

describe('users delta and provisioning logs through the Graph client and simulator', () => {
  let graph: GraphSimulator;
  const cloud = () =>
    createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, sleep: async () => undefined });

  beforeAll(async () => {
    graph = await startGraphSimulator({ users: Array.from({ length: 250 }, (_, i) => user(i, i % 10 !== 0)) });
  });
  afterAll(async () => graph?.close());

  async function round(deltaLink: string | null): Promise<{ changes: CloudUserChange[]; deltaLink: string }> {
    const changes: CloudUserChange[] = [];
    const result = await cloud().usersDelta(deltaLink, (page) => {
      changes.push(...page);
    });
    return { changes, deltaLink: result.deltaLink };
  }

  test('a first round pages through every user, then only changed users come back, each with every selected property', async () => {
    graph.reset();
    const first = await round(null);
    expect(first.changes).toHaveLength(250);
    expect(first.changes[1]).toEqual({
      id: user(1).id,
      removed: false,
      userPrincipalName: 'user1@contoso.com',
      onPremisesDistinguishedName: 'CN=User 1,OU=Sales,DC=contoso,DC=com',
      onPremisesImmutableId: user(1).onPremisesImmutableId,
      onPremisesSyncEnabled: true,
    });
    const deltaRequests = graph.requests.filter((r) => r.path === '/v1.0/users/delta');
    expect(deltaRequests).toHaveLength(3);
    expect(deltaRequests[0]!.query.$select).toContain('onPremisesSyncEnabled');
    expect(first.deltaLink).toContain('$deltatoken=');

    const empty = await round(first.deltaLink);
    expect(empty.changes).toEqual([]);

    graph.updateUser(user(1).id, { onPremisesDistinguishedName: 'CN=User 1,OU=Moved,DC=contoso,DC=com' });
    graph.updateUser(user(2).id, { displayName: 'not selected, so not reported' });
    graph.removeUser(user(3).id);
    graph.addUsers([user(900)]);
    const second = await round(empty.deltaLink);
    expect(second.changes).toEqual([
      // Graph's default: a changed user comes with every $select'ed property (only the changed ones
      // under Prefer: return=minimal, which the client does not send).
      {
        id: user(1).id,
        removed: false,
        userPrincipalName: 'user1@contoso.com',
        onPremisesDistinguishedName: 'CN=User 1,OU=Moved,DC=contoso,DC=com',
        onPremisesImmutableId: user(1).onPremisesImmutableId,
        onPremisesSyncEnabled: true,
      },
      {
        id: user(900).id,
        removed: false,
        userPrincipalName: 'user900@contoso.com',
        onPremisesDistinguishedName: 'CN=User 900,OU=Sales,DC=contoso,DC=com',
        onPremisesImmutableId: user(900).onPremisesImmutableId,
        onPremisesSyncEnabled: true,
      },
      { id: user(3).id, removed: true },
    ]);
    // The old link still works (a token is a point in time, not a cursor that moves).
    expect((await round(empty.deltaLink)).changes).toHaveLength(3);
  });

  test('a 429 during a delta round is waited out and the round completes', async () => {
    graph.failNext(1, 429, { retryAfterSeconds: 1 });
    const result = await round(null);
    expect(result.changes.length).toBeGreaterThan(200);
  });

  test('a forged delta token gets a 400 that names the fix', async () => {
    await expect(round(`${graph.url}/v1.0/users/delta?$deltatoken=forged`)).rejects.toMatchObject({
      code: 'CLOUD.ERROR',
      details: expect.objectContaining({ status: 400 }),
    });
  });

  test('provisioning logs of one job since an instant, newest first, paged', async () => {
    const base = Date.parse('2026-03-28T00:00:00Z');
    graph.addProvisioningEvents([
      ...Array.from({ length: 120 }, (_, i) => ({
        activityDateTime: new Date(base + i * 60_000).toISOString(),
        jobId: 'AD2AADProvisioning.a.b',
        status: 'success' as const,
        targetId: user(i).id,
        sourceDisplayName: `User ${i}`,
      })),
      {
        activityDateTime: new Date(base + 5 * 60_000).toISOString(),
        jobId: 'AD2AADProvisioning.a.b',
        status: 'failure',
        targetId: null,
        sourceDisplayName: 'Dup',
        errorCode: 'AzureActiveDirectoryDuplicateUserPrincipalName',
        reason: 'UPN conflict',
      },
      {
        activityDateTime: new Date(base + 5 * 60_000).toISOString(),
        jobId: 'OtherJob.x.y',
        status: 'failure',
        targetId: null,
        sourceDisplayName: 'Elsewhere',
      },
    ]);
    const events: ProvisioningEvent[] = [];
    graph.reset();
    const total = await cloud().provisioningEvents(
      { jobId: 'AD2AADProvisioning.a.b', since: new Date(base + 60 * 60_000) },
      (page) => {
        events.push(...page);
      },
    );
    // Strictly after `since` (activityDateTime gt): the entry at minute 60 itself is not included.
    expect(total).toBe(59);
    const query = graph.requests.find((r) => r.path === '/v1.0/auditLogs/provisioning')!.query.$filter;
    expect(query).toBe(
      `jobId eq 'AD2AADProvisioning.a.b' and activityDateTime gt ${new Date(base + 60 * 60_000).toISOString()}`,
    );
    expect(events.every((e) => e.status === 'success')).toBe(true);
    expect(events[0]!.activityDateTime > events[58]!.activityDateTime).toBe(true);
    expect(graph.requests.filter((r) => r.path === '/v1.0/auditLogs/provisioning').length).toBeGreaterThan(0);

    const all: ProvisioningEvent[] = [];
    await cloud().provisioningEvents({ jobId: 'AD2AADProvisioning.a.b', since: new Date(base - 1) }, (page) => {
      all.push(...page);
    });
    expect(all).toHaveLength(121);
    expect(all.find((e) => e.status === 'failure')).toMatchObject({
      errorCode: 'AzureActiveDirectoryDuplicateUserPrincipalName',
      reason: 'UPN conflict',
      sourceDisplayName: 'Dup',
    });
  });

  test('the simulator refuses filters Graph would not accept on these endpoints', async () => {
    const get = (path: string) => fetch(`${graph.url}${path}`, { headers: { authorization: `Bearer ${graph.token}` } });
    expect((await get(`/v1.0/users/delta?$filter=${encodeURIComponent("userPrincipalName eq 'a'")}`)).status).toBe(400);
    expect((await get(`/v1.0/auditLogs/provisioning?$filter=${encodeURIComponent("displayName eq 'a'")}`)).status).toBe(
      400,
    );
    expect((await get(`/v1.0/auditLogs/provisioning?$top=5000`)).status).toBe(400);
  });
});
