import { createServer } from 'node:http';
import { connect, createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net';
import {
  createGraphCloudDirectory,
  isRetryableGraphAnswer,
  isRetryableGraphFailure,
} from '../../src/cloud/graph-cloud-directory';
import type { CloudUser } from '../../src/runbook/cloud-users';
import { AppError } from '../../src/shared/errors';
import { startGraphSimulator, type GraphSimulator, type SimUser } from '../../src/sandbox/graph-simulator';
import { eventually } from '../helpers/eventually';

const TOKEN = 'cloud-directory-test-token';
const EXPECTED_SELECT = 'id,userPrincipalName,onPremisesDistinguishedName,onPremisesImmutableId';

function makeUsers(count: number, synced: boolean, prefix: string): SimUser[] {
  return Array.from({ length: count }, (_, i) => ({
    id: `${prefix}-${i}`,
    userPrincipalName: `${prefix}${i}@contoso.example`,
    onPremisesSyncEnabled: synced ? true : null,
    onPremisesDistinguishedName: synced ? `CN=${prefix}${i},OU=Pilot,DC=contoso,DC=example` : null,
    onPremisesImmutableId: synced ? Buffer.from(`${prefix}-${i}-guid-bytes`).toString('base64') : null,
    onPremisesLastSyncDateTime: synced ? '2025-01-01T00:00:00Z' : null,
  }));
}

async function collect(
  dir: ReturnType<typeof createGraphCloudDirectory>,
): Promise<{ total: number; pages: CloudUser[][] }> {
  const pages: CloudUser[][] = [];
  const total = await dir.listSyncedUsers((users) => {
    pages.push(users);
  });
  return { total, pages };
}

async function expectAppError(promise: Promise<unknown>): Promise<AppError> {
  try {
    await promise;
  } catch (err) {
    expect(err).toBeInstanceOf(AppError);
    return err as AppError;
  }
  throw new Error('expected the call to fail with an AppError, but it succeeded');
}

describe('Graph cloud directory against the simulator', () => {
  let sim: GraphSimulator;
  const waits: number[] = [];
  const fakeSleep = async (ms: number): Promise<void> => {
    waits.push(ms);
  };

  beforeAll(async () => {
    sim = await startGraphSimulator({
      token: TOKEN,
      users: [...makeUsers(2500, true, 'synced'), ...makeUsers(100, false, 'cloud')],
    });
  });
  afterAll(async () => {
    await sim.close();
  });
  beforeEach(() => {
    sim.reset();
    waits.length = 0;
  });

  it('returns exactly the 2,500 synced users over 3 pages of at most 999, with $select and $top on every request', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
    const { total, pages } = await collect(dir);

    expect(total).toBe(2500);
    expect(pages.map((p) => p.length)).toEqual([999, 999, 502]);
    const ids = pages.flat().map((u) => u.id);
    expect(new Set(ids).size).toBe(2500);
    expect(ids.every((id) => id.startsWith('synced-'))).toBe(true);
    expect(pages[0]?.[0]).toEqual({
      id: 'synced-0',
      userPrincipalName: 'synced0@contoso.example',
      onPremisesDistinguishedName: 'CN=synced0,OU=Pilot,DC=contoso,DC=example',
      onPremisesImmutableId: Buffer.from('synced-0-guid-bytes').toString('base64'),
    });

    expect(sim.requests).toHaveLength(3);
    for (const request of sim.requests) {
      expect(request).toMatchObject({ method: 'GET', path: '/v1.0/users', status: 200 });
      expect(request.query.$select).toBe(EXPECTED_SELECT);
      expect(request.query.$top).toBe('999');
      expect(request.query.$filter).toBe('onPremisesSyncEnabled eq true');
    }
    expect(sim.requests.slice(1).every((r) => r.query.$skiptoken !== undefined)).toBe(true);
    expect(waits).toEqual([]);
  });

  it('lists synced groups with their SID and synced contacts with their mail, paged, in the documented shapes', async () => {
    sim.setGroups([
      ...Array.from({ length: 1200 }, (_, i) => ({
        id: `g-${i}`,
        displayName: `Group ${i}`,
        onPremisesSyncEnabled: true,
        onPremisesSecurityIdentifier: `S-1-5-21-1-2-3-${1100 + i}`,
        securityEnabled: true,
        mailEnabled: false,
      })),
      {
        id: 'cloud-g',
        displayName: 'Cloud only',
        onPremisesSyncEnabled: null,
        onPremisesSecurityIdentifier: null,
        securityEnabled: true,
        mailEnabled: false,
      },
    ]);
    sim.setContacts([
      { id: 'c-1', displayName: 'Partner', mail: 'p@partner.example', onPremisesSyncEnabled: true },
      { id: 'c-2', displayName: 'Cloud contact', mail: 'c@partner.example', onPremisesSyncEnabled: null },
    ]);
    try {
      const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
      const groups: string[] = [];
      expect(
        await dir.listSyncedGroups!((page) => void groups.push(...page.map((g) => g.onPremisesSecurityIdentifier!))),
      ).toBe(1200);
      expect(groups[0]).toBe('S-1-5-21-1-2-3-1100');
      expect(new Set(groups).size).toBe(1200);
      const contacts: unknown[] = [];
      expect(await dir.listSyncedContacts!((page) => void contacts.push(...page))).toBe(1);
      expect(contacts).toEqual([{ id: 'c-1', displayName: 'Partner', mail: 'p@partner.example' }]);

      const groupRequests = sim.requests.filter((r) => r.path === '/v1.0/groups');
      expect(groupRequests).toHaveLength(2);
      expect(groupRequests[0]!.query).toMatchObject({
        $filter: 'onPremisesSyncEnabled eq true',
        $select: 'id,displayName,onPremisesSecurityIdentifier',
        $top: '999',
      });
      // orgContact filters need the advanced query parameters; the simulator refuses them otherwise.
      expect(sim.requests.find((r) => r.path === '/v1.0/contacts')!.query).toMatchObject({
        $filter: 'onPremisesSyncEnabled eq true',
        $count: 'true',
        $select: 'id,displayName,mail',
      });
    } finally {
      sim.setGroups([]);
      sim.setContacts([]);
    }
  });

  it('asks for the next page while the caller still handles the current one, one page ahead at most', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
    const requestsSeenInPage: number[] = [];
    await dir.listSyncedUsers(async () => {
      // Without the prefetch the next request is never made while this handler waits.
      const expected = Math.min(requestsSeenInPage.length + 2, 3);
      await eventually(() => sim.requests.length >= expected, {
        what: `request ${expected} to the simulator`,
        timeoutMs: 5_000,
        intervalMs: 5,
      });
      requestsSeenInPage.push(sim.requests.length);
    });
    expect(requestsSeenInPage).toEqual([2, 3, 3]);
  });

  it('a caller that fails on a page stops the paging with its own error, and the page fetched ahead does no harm', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
    await expect(
      dir.listSyncedUsers(() => {
        throw new Error('caller gave up');
      }),
    ).rejects.toThrow('caller gave up');
    expect(sim.requests.length).toBeLessThanOrEqual(2);
  });

  it('accepts a base URL with a trailing slash', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: `${sim.url}/`, staticToken: TOKEN });
    expect((await collect(dir)).total).toBe(2500);
  });

  it('waits a real Retry-After: 1 on 429 mid-paging, then continues without losing or duplicating users', async () => {
    // The waits are recorded rather than timed: what matters is that Retry-After decided the wait.
    const waits: number[] = [];
    const dir = createGraphCloudDirectory({
      baseUrl: sim.url,
      staticToken: TOKEN,
      sleep: (ms) => {
        waits.push(ms);
        return new Promise((resolve) => setTimeout(resolve, ms));
      },
    });
    const ids: string[] = [];
    await dir.listSyncedUsers((users) => {
      // Throttle the request for page 2, so the retry has to repeat the nextLink exactly.
      if (ids.length === 0) sim.failNext(1, 429, { retryAfterSeconds: 1 });
      ids.push(...users.map((u) => u.id));
    });

    expect(waits).toEqual([1000]);
    expect(ids).toHaveLength(2500);
    expect(new Set(ids).size).toBe(2500);
    expect(sim.requests.map((r) => r.status)).toEqual([200, 429, 200, 200]);
    expect(sim.requests[1]?.query.$skiptoken).toBeDefined();
    expect(sim.requests[1]?.query.$skiptoken).toBe(sim.requests[2]?.query.$skiptoken);
  });

  it('pages through a throttling pattern (429 every 2nd request), waiting each Retry-After, no user lost', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
    sim.setThrottle({ every: 2, retryAfterSeconds: 4 });
    try {
      const ids: string[] = [];
      await dir.listSyncedUsers((users) => {
        ids.push(...users.map((u) => u.id));
      });
      expect(new Set(ids).size).toBe(2500);
      expect(ids).toHaveLength(2500);
      // 3 pages, each second request throttled: 200, 429, 200, 429, 200.
      expect(sim.requests.map((r) => r.status)).toEqual([200, 429, 200, 429, 200]);
      expect(waits).toEqual([4000, 4000]);
    } finally {
      sim.setThrottle(null);
    }
  });

  it('honours Retry-After through the injected sleep, capping a single wait at maxWaitMs', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
    sim.failNext(1, 429, { retryAfterSeconds: 3 });
    sim.failNext(2, 503, { retryAfterSeconds: 120 });
    const { total } = await collect(dir);
    expect(total).toBe(2500);
    expect(waits).toEqual([3000, 60_000, 60_000]);
    expect(sim.requests.map((r) => r.status)).toEqual([429, 503, 503, 200, 200, 200]);
  });

  it('backs off exponentially when a 503/504 has no Retry-After', async () => {
    // The simulator always sends Retry-After, as Graph documents; a bare server stands in for a gateway that does not.
    let calls = 0;
    const server = createServer((_req, res) => {
      calls += 1;
      if (calls <= 3) {
        res.writeHead(calls === 2 ? 504 : 503, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ error: { code: 'serviceNotAvailable', message: 'try later' } }));
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          value: [
            { id: 'only', userPrincipalName: null, onPremisesDistinguishedName: null, onPremisesImmutableId: null },
          ],
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const dir = createGraphCloudDirectory({ baseUrl, staticToken: TOKEN, sleep: fakeSleep, baseBackoffMs: 500 });
      expect((await collect(dir)).total).toBe(1);
      expect(waits).toEqual([500, 1000, 2000]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('retries 503 and then succeeds', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
    sim.failNext(1, 503, { retryAfterSeconds: 2 });
    const { total, pages } = await collect(dir);
    expect(total).toBe(2500);
    expect(pages).toHaveLength(3);
    expect(waits).toEqual([2000]);
  });

  it('gives up with CLOUD.THROTTLED when 429 persists beyond maxRetries', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep, maxRetries: 3 });
    sim.failNext(10, 429, { retryAfterSeconds: 5 });
    const err = await expectAppError(collect(dir));
    expect(err.code).toBe('CLOUD.THROTTLED');
    expect(err.message).toContain('429');
    expect(err.hint).toBeTruthy();
    expect(waits).toEqual([5000, 5000, 5000]);
    expect(sim.requests).toHaveLength(4);
  });

  it('gives up with CLOUD.UNAVAILABLE when 503 persists; a GET is idempotent, so a lasting 500 is retried the same bounded number of times', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep, maxRetries: 2 });
    sim.failNext(3, 503);
    expect((await expectAppError(collect(dir))).code).toBe('CLOUD.UNAVAILABLE');

    sim.reset();
    sim.failNext(3, 500);
    const err = await expectAppError(collect(dir));
    expect(err.code).toBe('CLOUD.UNAVAILABLE');
    expect(err.message).toContain('500');
    expect(err.message).toContain('still failing after 2 retries');
    expect(sim.requests.map((r) => r.status)).toEqual([500, 500, 500]);
  });

  it('a GET answered 500 and then 502 is retried with backoff and succeeds (5xx on a read is transient)', async () => {
    let calls = 0;
    const server = createServer((_req, res) => {
      calls += 1;
      if (calls <= 2) {
        res.writeHead(calls === 1 ? 500 : 502, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({ error: { code: calls === 1 ? 'generalException' : 'badGateway', message: 'try later' } }),
        );
        return;
      }
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(
        JSON.stringify({
          value: [
            { id: 'only', userPrincipalName: null, onPremisesDistinguishedName: null, onPremisesImmutableId: null },
          ],
        }),
      );
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', () => resolve()));
    try {
      const baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
      const dir = createGraphCloudDirectory({ baseUrl, staticToken: TOKEN, sleep: fakeSleep, baseBackoffMs: 250 });
      expect((await collect(dir)).total).toBe(1);
      expect(calls).toBe(3);
      expect(waits).toEqual([250, 500]);
    } finally {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    }
  });

  it('only GETs are retried on 500, 502 and 504; other methods only when Graph says it did not process them (429, 503)', () => {
    for (const status of [429, 500, 502, 503, 504]) expect(isRetryableGraphAnswer('GET', status)).toBe(true);
    for (const status of [400, 401, 403, 404, 409, 501]) expect(isRetryableGraphAnswer('GET', status)).toBe(false);
    for (const method of ['POST', 'PATCH', 'DELETE', 'PUT']) {
      expect([429, 500, 502, 503, 504].filter((status) => isRetryableGraphAnswer(method, status))).toEqual([429, 503]);
    }
  });

  it('maps a wrong token to CLOUD.ERROR with a permission hint and no token in the message', async () => {
    const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: 'wrong-token-value', sleep: fakeSleep });
    const err = await expectAppError(collect(dir));
    expect(err.code).toBe('CLOUD.ERROR');
    expect(err.message).toContain('401');
    expect(err.hint).toContain('User.Read.All');
    expect(JSON.stringify(err.toJSON())).not.toContain('wrong-token-value');
    expect(err.message).not.toMatch(/\n\s+at /);
  });

  it('maps an unreachable endpoint to CLOUD.UNAVAILABLE', async () => {
    const closed = await startGraphSimulator();
    const url = closed.url;
    await closed.close();
    const dir = createGraphCloudDirectory({ baseUrl: url, staticToken: TOKEN, sleep: fakeSleep });
    expect((await expectAppError(collect(dir))).code).toBe('CLOUD.UNAVAILABLE');
  });

  /** A port nothing listens on: connecting to it is refused. */
  async function closedPort(): Promise<number> {
    const probe = createTcpServer();
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve));
    const port = (probe.address() as AddressInfo).port;
    await new Promise((resolve) => probe.close(resolve));
    return port;
  }

  /**
   * A TCP front for the simulator on `port`: the first `resets` connections are reset as soon as
   * the request arrives (a load balancer dropping them), later ones are passed on.
   */
  async function graphFront(port: number, resets: number): Promise<{ port: number; close: () => Promise<void> }> {
    const sockets = new Set<Socket>();
    const front = createTcpServer((client) => {
      sockets.add(client);
      client.on('error', () => undefined).on('close', () => sockets.delete(client));
      if (resets-- > 0) {
        client.once('data', () => client.resetAndDestroy());
        return;
      }
      const target = new URL(sim.url);
      const upstream = connect(Number(target.port), target.hostname);
      upstream.on('error', () => client.destroy());
      client.pipe(upstream).pipe(client);
    });
    await new Promise<void>((resolve) => front.listen(port, '127.0.0.1', resolve));
    return {
      port: (front.address() as AddressInfo).port,
      close: async () => {
        sockets.forEach((socket) => socket.destroy());
        await new Promise((resolve) => front.close(resolve));
      },
    };
  }

  it('a Graph outage (connections refused, then reset) is retried with the same backoff, and paging completes', async () => {
    const port = await closedPort();
    let front: Awaited<ReturnType<typeof graphFront>> | undefined;
    const sleep = async (ms: number): Promise<void> => {
      waits.push(ms);
      // Graph comes back during the second wait, and drops the first connection it takes.
      if (waits.length === 2) front = await graphFront(port, 1);
    };
    // One page: the simulator's nextLinks name its own address, not the front's.
    sim.setUsers(makeUsers(40, true, 'outage'));
    try {
      const dir = createGraphCloudDirectory({ baseUrl: `http://127.0.0.1:${port}`, staticToken: TOKEN, sleep });
      const { total, pages } = await collect(dir);
      expect(total).toBe(40);
      expect(new Set(pages.flat().map((u) => u.id)).size).toBe(40);
      expect(waits).toEqual([1000, 2000, 4000]);
      // The reset request never reached Graph; the one that did was answered once.
      expect(sim.requests.map((r) => r.status)).toEqual([200]);
    } finally {
      await front?.close();
      sim.setUsers([...makeUsers(2500, true, 'synced'), ...makeUsers(100, false, 'cloud')]);
    }
  });

  it('an outage that outlasts the retries ends in CLOUD.UNAVAILABLE naming the cause and GRAPH_BASE_URL', async () => {
    const port = await closedPort();
    const dir = createGraphCloudDirectory({
      baseUrl: `http://127.0.0.1:${port}`,
      staticToken: TOKEN,
      sleep: fakeSleep,
      maxRetries: 3,
    });
    const refused = await expectAppError(collect(dir));
    expect(refused.code).toBe('CLOUD.UNAVAILABLE');
    expect(refused.message).toBe(
      `Could not reach Microsoft Graph at http://127.0.0.1:${port} while listing synced users: the connection was refused (ECONNREFUSED), still failing after 3 retries.`,
    );
    expect(refused.hint).toContain(`GRAPH_BASE_URL (http://127.0.0.1:${port})`);
    expect(JSON.stringify(refused.toJSON())).not.toMatch(/fetch failed|baseUrl/);
    expect(waits).toEqual([1000, 2000, 4000]);

    waits.length = 0;
    const front = await graphFront(await closedPort(), 100);
    try {
      const resetDir = createGraphCloudDirectory({
        baseUrl: `http://127.0.0.1:${front.port}`,
        staticToken: TOKEN,
        sleep: fakeSleep,
        maxRetries: 2,
      });
      const reset = await expectAppError(collect(resetDir));
      expect(reset.code).toBe('CLOUD.UNAVAILABLE');
      expect(reset.message).toMatch(/: the connection was reset \(ECONNRESET\), still failing after 2 retries\.$/);
      expect(waits).toEqual([1000, 2000]);
    } finally {
      await front.close();
    }
  });

  it('a host name that does not exist is not retried, and the message says DNS', async () => {
    const dir = createGraphCloudDirectory({
      baseUrl: 'http://graph.syncshift-test.invalid',
      staticToken: TOKEN,
      sleep: fakeSleep,
    });
    const err = await expectAppError(collect(dir));
    expect(err.code).toBe('CLOUD.UNAVAILABLE');
    expect(err.message).toContain('the host name could not be resolved (DNS');
    expect(err.message).not.toContain('retries');
    expect(err.hint).toContain('Check the host name in GRAPH_BASE_URL');
    expect(waits).toEqual([]);
  });

  it('a lost connection is retried for any GET, but for other methods only when the request was never sent', () => {
    const failed = (code: string): Error =>
      Object.assign(new TypeError('fetch failed'), { cause: Object.assign(new Error(code), { code }) });
    expect(isRetryableGraphFailure('GET', failed('ECONNRESET'))).toBe(true);
    expect(isRetryableGraphFailure('GET', failed('UND_ERR_SOCKET'))).toBe(true);
    expect(isRetryableGraphFailure('POST', failed('ECONNRESET'))).toBe(false);
    expect(isRetryableGraphFailure('POST', failed('ECONNREFUSED'))).toBe(true);
    expect(isRetryableGraphFailure('GET', failed('DEPTH_ZERO_SELF_SIGNED_CERT'))).toBe(false);
    expect(isRetryableGraphFailure('GET', new Error('something else'))).toBe(false);
  });

  it('rejects a page whose shape is not what Graph documents', async () => {
    sim.setUsers([{ ...makeUsers(1, true, 'bad')[0]!, id: '' }]);
    try {
      const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
      const err = await expectAppError(collect(dir));
      expect(err.code).toBe('CLOUD.ERROR');
      expect(err.message).toContain('unexpected shape');
    } finally {
      sim.setUsers([...makeUsers(2500, true, 'synced'), ...makeUsers(100, false, 'cloud')]);
    }
  });

  it('names the field when a user in a page has the wrong type, and fills absent fields with null', async () => {
    const [user] = makeUsers(1, true, 'typed');
    sim.setUsers([{ ...user!, onPremisesImmutableId: 42 as unknown as string }]);
    try {
      const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep });
      const err = await expectAppError(collect(dir));
      expect(err.message).toContain('value.0.onPremisesImmutableId: expected a string or null');
      const { userPrincipalName: _dropped, ...withoutUpn } = user!;
      sim.setUsers([withoutUpn as typeof user & object]);
      const { pages } = await collect(
        createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, sleep: fakeSleep }),
      );
      expect(pages[0]![0]!.userPrincipalName).toBeNull();
    } finally {
      sim.setUsers([...makeUsers(2500, true, 'synced'), ...makeUsers(100, false, 'cloud')]);
    }
  });

  it('rejects configuration Graph would refuse', () => {
    expect(() => createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN, pageSize: 1000 })).toThrow(
      /page size/,
    );
    expect(() => createGraphCloudDirectory({ baseUrl: `${sim.url}/v1.0`, staticToken: TOKEN })).toThrow(/API version/);
    expect(() => createGraphCloudDirectory({ baseUrl: sim.url })).toThrow(/authenticate/);
  });
});

describe('looking users up by anchor', () => {
  it("finds anchors with '+' and '/' in them (base64 of an objectGUID); '+' does not reach Graph as a space", async () => {
    const anchors = ['3m0hi5unu0aBjax3Z+mRWQ==', '+OUJDeIiAEOJaoeQ+/tQyw=='];
    const sim = await startGraphSimulator({
      token: TOKEN,
      users: anchors.map((anchor, i) => ({
        id: `plus-${i}`,
        userPrincipalName: `plus${i}@contoso.com`,
        onPremisesDistinguishedName: `CN=plus${i},OU=Canary,DC=contoso,DC=com`,
        onPremisesImmutableId: anchor,
        onPremisesSyncEnabled: true,
      })),
    });
    try {
      const dir = createGraphCloudDirectory({ baseUrl: sim.url, staticToken: TOKEN });
      for (const [i, anchor] of anchors.entries())
        expect((await dir.usersByImmutableId(anchor)).map((u) => u.id)).toEqual([`plus-${i}`]);
      expect(await dir.usersByImmutableId('3m0hi5unu0aBjax3Z mRWQ==')).toEqual([]);
    } finally {
      await sim.close();
    }
  });
});
