import { startGraphSimulator, type GraphSimulator, type SimUser } from '../../src/sandbox/graph-simulator';

const TOKEN = 'test-token';

function makeUsers(count: number, synced: boolean | null, prefix = 'u'): SimUser[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${String(i).padStart(5, '0')}`,
    userPrincipalName: `${prefix}${i}@contoso.example`,
    displayName: `${prefix} ${i}`,
    onPremisesSyncEnabled: synced,
    onPremisesDistinguishedName: synced ? `CN=${prefix}${i},OU=Pilot,DC=contoso,DC=example` : null,
    onPremisesImmutableId: synced ? Buffer.from(`${prefix}-${i}`).toString('base64') : null,
  }));
}

interface GraphBody {
  '@odata.context'?: string;
  '@odata.nextLink'?: string;
  '@odata.count'?: number;
  value: Array<Record<string, unknown>>;
  error?: { code: string; message: string };
}

describe('Graph simulator', () => {
  let sim: GraphSimulator;

  beforeAll(async () => {
    sim = await startGraphSimulator({
      token: TOKEN,
      users: [...makeUsers(250, true, 's'), ...makeUsers(30, false, 'c'), ...makeUsers(5, null, 'n')],
    });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(() => sim.reset());

  async function get(
    path: string,
    headers: Record<string, string> = {},
  ): Promise<{ status: number; body: GraphBody; headers: Headers }> {
    const url = path.startsWith('http') ? path : `${sim.url}${path}`;
    const res = await fetch(url, { headers: { Authorization: `Bearer ${TOKEN}`, ...headers } });
    return { status: res.status, body: (await res.json()) as GraphBody, headers: res.headers };
  }

  it('requires a bearer token and answers with the Graph error shape', async () => {
    const missing = await fetch(`${sim.url}/v1.0/users`);
    expect(missing.status).toBe(401);
    expect(((await missing.json()) as GraphBody).error?.code).toBe('InvalidAuthenticationToken');

    const wrong = await get('/v1.0/users', { Authorization: 'Bearer not-the-token' });
    expect(wrong.status).toBe(401);
    expect(wrong.body.error?.code).toBe('InvalidAuthenticationToken');
    expect(typeof wrong.body.error?.message).toBe('string');
  });

  it('pages at 100 by default and returns the default property set without on-premises DN or ImmutableId', async () => {
    const { status, body } = await get('/v1.0/users');
    expect(status).toBe(200);
    expect(body.value).toHaveLength(100);
    expect(body['@odata.context']).toBe(`${sim.url}/v1.0/$metadata#users`);
    expect(body['@odata.nextLink']).toMatch(/^http:\/\/127\.0\.0\.1:\d+\/v1\.0\/users\?.*\$skiptoken=/);
    const first = body.value[0] ?? {};
    expect(first).toHaveProperty('id');
    expect(first).toHaveProperty('userPrincipalName');
    expect(first).toHaveProperty('displayName');
    expect(first).not.toHaveProperty('onPremisesDistinguishedName');
    expect(first).not.toHaveProperty('onPremisesImmutableId');
    expect(first).not.toHaveProperty('onPremisesSyncEnabled');
  });

  it('accepts $top from 1 to 999 and rejects anything else', async () => {
    expect((await get('/v1.0/users?$top=1')).body.value).toHaveLength(1);
    expect((await get('/v1.0/users?$top=999')).body.value).toHaveLength(285);
    for (const bad of ['0', '1000', 'abc', '-5']) {
      const { status, body } = await get(`/v1.0/users?$top=${bad}`);
      expect(status).toBe(400);
      expect(body.error?.message).toBe(`Invalid page size specified: '${bad}'. Must be between 1 and 999 inclusive.`);
    }
  });

  it('returns only the $select properties, without adding id', async () => {
    const { body } = await get('/v1.0/users?$select=userPrincipalName,onPremisesDistinguishedName&$top=3');
    expect(body['@odata.context']).toBe(
      `${sim.url}/v1.0/$metadata#users(userPrincipalName,onPremisesDistinguishedName)`,
    );
    for (const user of body.value)
      expect(Object.keys(user).sort()).toEqual(['onPremisesDistinguishedName', 'userPrincipalName']);

    const withId = await get('/v1.0/users?$select=id,onPremisesImmutableId&$top=1');
    expect(Object.keys(withId.body.value[0] ?? {}).sort()).toEqual(['id', 'onPremisesImmutableId']);

    const typo = await get('/v1.0/users?$select=onPremisesDN');
    expect(typo.status).toBe(400);
    expect(typo.body.error?.message).toContain("'onPremisesDN'");
  });

  it('filters on onPremisesSyncEnabled and id eq without advanced query parameters', async () => {
    const synced = await get(`/v1.0/users?$filter=${encodeURIComponent('onPremisesSyncEnabled eq true')}&$top=999`);
    expect(synced.body.value).toHaveLength(250);
    // null is not false: never-synced cloud users (null) are not matched by eq false.
    const unsynced = await get(`/v1.0/users?$filter=${encodeURIComponent('onPremisesSyncEnabled eq false')}&$top=999`);
    expect(unsynced.body.value).toHaveLength(30);
    const one = await get(`/v1.0/users?$filter=${encodeURIComponent("id eq 's-00007'")}`);
    expect(one.body.value.map((u) => u.id)).toEqual(['s-00007']);
  });

  it('rejects filtering on onPremisesDistinguishedName', async () => {
    const { status, body } = await get(
      `/v1.0/users?$filter=${encodeURIComponent("onPremisesDistinguishedName eq 'CN=s1,OU=Pilot,DC=contoso,DC=example'")}`,
    );
    expect(status).toBe(400);
    expect(body.error?.code).toBe('Request_UnsupportedQuery');
    expect(body.error?.message).toContain('onPremisesDistinguishedName');
  });

  it('requires ConsistencyLevel: eventual and $count=true for ne and not()', async () => {
    const ne = encodeURIComponent('onPremisesSyncEnabled ne true');
    const rejected = await get(`/v1.0/users?$filter=${ne}`);
    expect(rejected.status).toBe(400);
    expect(rejected.body.error?.code).toBe('Request_UnsupportedQuery');

    const not = await get(`/v1.0/users?$filter=${encodeURIComponent('not(onPremisesSyncEnabled eq true)')}`);
    expect(not.status).toBe(400);

    const countWithoutHeader = await get('/v1.0/users?$count=true');
    expect(countWithoutHeader.status).toBe(400);

    const accepted = await get(`/v1.0/users?$filter=${ne}&$count=true&$top=999`, { ConsistencyLevel: 'eventual' });
    expect(accepted.status).toBe(200);
    expect(accepted.body['@odata.count']).toBe(35);
    expect(accepted.body.value).toHaveLength(35);
  });

  it('answers malformed filters with BadRequest', async () => {
    for (const bad of ['onPremisesSyncEnabled', 'onPremisesSyncEnabled eq', "id eq 'unterminated", '((']) {
      const { status, body } = await get(`/v1.0/users?$filter=${encodeURIComponent(bad)}`);
      expect(status).toBe(400);
      expect(body.error?.code).toBe('BadRequest');
    }
  });

  it('pages through every user exactly once via @odata.nextLink, keeping $select and $filter', async () => {
    const filter = encodeURIComponent('onPremisesSyncEnabled eq true');
    let link: string | undefined = `/v1.0/users?$filter=${filter}&$select=id,onPremisesImmutableId&$top=40`;
    const seen: string[] = [];
    let pages = 0;
    while (link) {
      const { status, body }: { status: number; body: GraphBody } = await get(link);
      expect(status).toBe(200);
      pages += 1;
      for (const user of body.value) {
        expect(Object.keys(user).sort()).toEqual(['id', 'onPremisesImmutableId']);
        seen.push(String(user.id));
      }
      link = body['@odata.nextLink'];
    }
    expect(pages).toBe(7);
    expect(seen).toHaveLength(250);
    expect(new Set(seen).size).toBe(250);
    expect(seen.every((id) => id.startsWith('s-'))).toBe(true);
    expect(sim.requests.filter((r) => r.query.$skiptoken !== undefined)).toHaveLength(6);
  });

  it('rejects a skiptoken that was edited or moved to another query', async () => {
    const first = await get(`/v1.0/users?$filter=${encodeURIComponent('onPremisesSyncEnabled eq true')}&$top=10`);
    const token = new URL(first.body['@odata.nextLink'] ?? '').searchParams.get('$skiptoken') ?? '';
    expect((await get(`/v1.0/users?$top=10&$skiptoken=${token}`)).status).toBe(400);
    expect((await get('/v1.0/users?$skiptoken=garbage')).status).toBe(400);
  });

  it('fails the next requests on demand; 429 and 503 carry Retry-After', async () => {
    sim.failNext(1, 429, { retryAfterSeconds: 7 });
    sim.failNext(1, 503);
    sim.failNext(1, 500);
    const throttled = await get('/v1.0/users');
    expect(throttled.status).toBe(429);
    expect(throttled.headers.get('retry-after')).toBe('7');
    expect(throttled.body.error?.code).toBe('TooManyRequests');
    const unavailable = await get('/v1.0/users');
    expect(unavailable.status).toBe(503);
    expect(unavailable.headers.get('retry-after')).not.toBeNull();
    const broken = await get('/v1.0/users');
    expect(broken.status).toBe(500);
    expect(broken.headers.get('retry-after')).toBeNull();
    expect((await get('/v1.0/users')).status).toBe(200);
    expect(sim.requests.map((r) => r.status)).toEqual([429, 503, 500, 200]);
  });

  it('answers after the set latency (fixed plus jitter), and throttles every N-th request with Retry-After', async () => {
    sim.setLatency({ fixedMs: 120, jitterMs: 40 });
    sim.setThrottle({ every: 3, retryAfterSeconds: 2 });
    try {
      const took: number[] = [];
      const statuses: number[] = [];
      for (let i = 0; i < 6; i++) {
        const start = performance.now();
        const answer = await get('/v1.0/users?$top=5');
        took.push(performance.now() - start);
        statuses.push(answer.status);
        if (answer.status === 429) {
          expect(answer.headers.get('retry-after')).toBe('2');
          expect(answer.body.error?.code).toBe('TooManyRequests');
        }
      }
      expect(statuses).toEqual([200, 200, 429, 200, 200, 429]);
      // Timer resolution allows a millisecond early; the ceiling is generous for a loaded machine.
      for (const ms of took) expect(ms).toBeGreaterThanOrEqual(119);
      expect(Math.min(...took)).toBeLessThan(1000);
    } finally {
      sim.setLatency(null);
      sim.setThrottle(null);
    }
    const start = performance.now();
    expect((await get('/v1.0/users?$top=5')).status).toBe(200);
    expect(performance.now() - start).toBeLessThan(100);
  });

  it('refuses a latency or throttling pattern it cannot follow', async () => {
    expect(() => sim.setLatency({ fixedMs: -1 })).toThrow(/0 or more/);
    expect(() => sim.setThrottle({ every: 0, retryAfterSeconds: 1 })).toThrow(/whole number of 1 or more/);
  });

  it('provisioning logs filter activityDateTime with gt/lt/eq and refuse ge/le as Graph does', async () => {
    sim.addProvisioningEvents([
      {
        id: 'p-early',
        activityDateTime: '2026-03-28T06:00:00Z',
        jobId: 'AD2AADProvisioning.a.b',
        status: 'success',
        targetId: 's-00001',
        sourceDisplayName: 's1',
      },
      {
        id: 'p-late',
        activityDateTime: '2026-03-28T07:00:00Z',
        jobId: 'AD2AADProvisioning.a.b',
        status: 'failure',
        targetId: null,
        sourceDisplayName: 's2',
        reason: 'dup',
      },
    ]);
    const logs = (filter: string) =>
      get(
        `/v1.0/auditLogs/provisioning?$filter=${encodeURIComponent(`jobId eq 'AD2AADProvisioning.a.b' and ${filter}`)}`,
      );
    const ids = (r: { body: GraphBody }) => r.body.value.map((e) => e.id);
    expect(ids(await logs('activityDateTime gt 2026-03-28T06:00:00Z'))).toEqual(['p-late']);
    expect(ids(await logs('activityDateTime lt 2026-03-28T07:00:00Z'))).toEqual(['p-early']);
    expect(ids(await logs('activityDateTime eq 2026-03-28T06:00:00Z'))).toEqual(['p-early']);
    for (const op of ['ge', 'le']) {
      const refused = await logs(`activityDateTime ${op} 2026-03-28T06:00:00Z`);
      expect(refused.status).toBe(400);
      expect(refused.body.error?.code).toBe('BadRequest');
      expect(refused.body.error?.message).toContain(`'${op}' is not supported for property 'activityDateTime'`);
      expect(refused.body.error).toHaveProperty('innerError.request-id');
    }
  });

  it('provisioning log pages read the entries logged when the first page was read, as a cursor does', async () => {
    const entry = (n: number) => ({
      id: `p-${n}`,
      activityDateTime: `2026-03-29T06:00:${String(n).padStart(2, '0')}Z`,
      jobId: 'AD2AADProvisioning.c.d',
      status: 'success' as const,
      targetId: `s-${n}`,
      sourceDisplayName: `s${n}`,
    });
    sim.addProvisioningEvents([1, 2, 3, 4].map(entry));
    const query = `/v1.0/auditLogs/provisioning?$filter=${encodeURIComponent("jobId eq 'AD2AADProvisioning.c.d'")}&$top=2`;
    const first = await get(query);
    // Newer entries logged between two pages would otherwise push p-2 onto the second page as well.
    sim.addProvisioningEvents([5, 6].map(entry));
    const second = await get(first.body['@odata.nextLink'] ?? '');
    const ids = [...first.body.value, ...second.body.value].map((e) => e.id);
    expect(ids).toEqual(['p-4', 'p-3', 'p-2', 'p-1']);
    expect(second.body['@odata.nextLink']).toBeUndefined();
    expect((await get(query)).body.value.map((e) => e.id)).toEqual(['p-6', 'p-5']);
    expect((await get(`${query}&$skiptoken=2`)).status).toBe(400);
    expect((await get(`${query}&$skiptoken=999.0`)).status).toBe(400);
  });

  it('provisioning logs answer 403 without the permission or the licence', async () => {
    try {
      sim.denyProvisioningLogs('permission');
      const denied = await get('/v1.0/auditLogs/provisioning');
      expect(denied.status).toBe(403);
      expect(denied.body.error?.code).toBe('Authorization_RequestDenied');
      sim.denyProvisioningLogs('licence');
      expect((await get('/v1.0/auditLogs/provisioning')).body.error?.code).toBe(
        'Authentication_RequestFromNonPremiumTenantOrB2CTenant',
      );
      sim.denyProvisioningLogs(null);
      expect((await get('/v1.0/auditLogs/provisioning')).status).toBe(200);
    } finally {
      sim.denyProvisioningLogs(null);
    }
  });

  it('answers unknown paths with 404 in the Graph error shape', async () => {
    const { status, body } = await get('/v1.0/applications');
    expect(status).toBe(404);
    expect(body.error?.code).toBe('Request_ResourceNotFound');
    expect((await get('/beta/users')).status).toBe(404);
  });

  it('serves synced groups and organisational contacts in the documented shapes, with their filter rules', async () => {
    sim.setGroups([
      {
        id: 'g1',
        displayName: 'Team',
        onPremisesSyncEnabled: true,
        onPremisesSecurityIdentifier: 'S-1-5-21-1-2-3-1100',
        securityEnabled: true,
        mailEnabled: false,
      },
      {
        id: 'g2',
        displayName: 'Cloud',
        onPremisesSyncEnabled: null,
        onPremisesSecurityIdentifier: null,
        securityEnabled: true,
        mailEnabled: false,
      },
    ]);
    sim.setContacts([{ id: 'c1', displayName: 'Partner', mail: 'p@partner.example', onPremisesSyncEnabled: true }]);
    try {
      const groups = await get(
        '/v1.0/groups?$filter=onPremisesSyncEnabled eq true&$select=id,onPremisesSecurityIdentifier',
      );
      expect(groups.status).toBe(200);
      expect(groups.body.value).toEqual([{ id: 'g1', onPremisesSecurityIdentifier: 'S-1-5-21-1-2-3-1100' }]);
      expect(groups.body['@odata.context']).toContain('#groups(id,onPremisesSecurityIdentifier)');
      // A group has no onPremisesDistinguishedName or onPremisesImmutableId in v1.0.
      expect((await get('/v1.0/groups?$select=id,onPremisesImmutableId')).status).toBe(400);
      // The strict reading of the orgContact page: its $filter needs ConsistencyLevel and $count.
      const plain = await get('/v1.0/contacts?$filter=onPremisesSyncEnabled eq true');
      expect(plain.status).toBe(400);
      expect(plain.body.error?.code).toBe('Request_UnsupportedQuery');
      const advanced = await get('/v1.0/contacts?$filter=onPremisesSyncEnabled eq true&$count=true', {
        ConsistencyLevel: 'eventual',
      });
      expect(advanced.body).toMatchObject({
        '@odata.count': 1,
        value: [{ id: 'c1', displayName: 'Partner', mail: 'p@partner.example', onPremisesSyncEnabled: true }],
      });
    } finally {
      sim.setGroups([]);
      sim.setContacts([]);
    }
  });

  it('serves a single user and lets the user list be changed', async () => {
    const one = await get('/v1.0/users/s-00001?$select=id,onPremisesDistinguishedName');
    expect(one.body).toMatchObject({
      id: 's-00001',
      onPremisesDistinguishedName: 'CN=s1,OU=Pilot,DC=contoso,DC=example',
    });
    expect(sim.removeUser('s-00001')).toBe(true);
    expect((await get('/v1.0/users/s-00001')).status).toBe(404);
    sim.addUsers(makeUsers(1, true, 'x'));
    expect(sim.users()).toHaveLength(285);
  });
});
