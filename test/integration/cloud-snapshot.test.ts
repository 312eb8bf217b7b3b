import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import { startGraphSimulator, type GraphSimulator, type SimUser } from '../../src/sandbox/graph-simulator';
import { refreshCloudSnapshot } from '../../src/services/cloud-snapshot';
import { createLogger } from '../../src/shared/logger';
import { pgliteBackend, useStore } from '../helpers/store-backends';

const user = (i: number): SimUser => ({
  id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
  userPrincipalName: `user${i}@contoso.com`,
  onPremisesSyncEnabled: true,
  onPremisesDistinguishedName: `CN=User ${i},OU=Sales,DC=contoso,DC=com`,
  onPremisesImmutableId: Buffer.from(`anchor-${i}`).toString('base64'),
});

/**
 * Graph in front of the simulator, answering every request that carries a $deltatoken with 410
 * Gone (what Graph sends for some resources when a delta token can no longer be served). Links in
 * the simulator's answers are rewritten to point here, as they would on the real service.
 */
async function startGoneProxy(
  graph: GraphSimulator,
): Promise<{ url: string; gone: number; close: () => Promise<void> }> {
  const state = { url: '', gone: 0, close: async () => undefined as void };
  const server: Server = createServer((req, res) => {
    void (async () => {
      if ((req.url ?? '').includes('$deltatoken=')) {
        state.gone += 1;
        res.writeHead(410, { 'content-type': 'application/json' });
        res.end(
          JSON.stringify({
            error: {
              code: 'syncStateNotFound',
              message:
                'The sync state generation is not found. The delta token is expired and data must be synchronized again.',
            },
          }),
        );
        return;
      }
      const upstream = await fetch(`${graph.url}${req.url ?? '/'}`, {
        headers: { authorization: req.headers.authorization ?? '' },
      });
      res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
      res.end((await upstream.text()).split(graph.url).join(state.url));
    })();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  state.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  state.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return state;
}

describe('the cloud copy falls back to a full read when Graph no longer accepts the delta token', () => {
  const store = useStore(pgliteBackend());
  const logger = createLogger('test', 'silent');
  let graph: GraphSimulator;
  let counter = 0;

  beforeAll(async () => {
    graph = await startGraphSimulator({ users: Array.from({ length: 150 }, (_, i) => user(i)) });
  });
  afterAll(async () => graph?.close());

  async function migration(): Promise<string> {
    const m = await store().migrations.create({
      name: 'snapshot',
      conversationId: `conv-snapshot-${process.pid}-${(counter += 1)}`,
      createdBy: 'adele',
    });
    return m!.id;
  }

  test('400 for an expired token (what Graph answers for users): one full read replaces the copy', async () => {
    const cloud = createGraphCloudDirectory({
      baseUrl: graph.url,
      staticToken: graph.token,
      sleep: async () => undefined,
    });
    const migrationId = await migration();
    const first = await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
    expect(first).toMatchObject({ mode: 'full', changesApplied: 150 });
    // The stored link now carries a token the simulator refuses with 400, as Graph does for one past its 7 days.
    const { deltaLink } = (await store().cloudSnapshots.getSnapshot(migrationId))!;
    await store().cloudSnapshots.applyCloudChanges({
      migrationId,
      changes: [
        {
          id: 'ghost',
          removed: false,
          onPremisesSyncEnabled: true,
          onPremisesDistinguishedName: 'CN=Ghost,OU=Sales,DC=contoso,DC=com',
        },
      ],
      deltaLink: deltaLink.replace(/\$deltatoken=.*/, '$deltatoken=expired'),
      full: false,
      now: new Date(),
    });
    graph.removeUser(user(0).id);
    graph.reset();

    const again = await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
    expect(again.mode).toBe('full');
    expect(
      graph.requests
        .filter((r) => r.path === '/v1.0/users/delta')
        .map((r) => [r.status, r.query.$deltatoken ?? 'none'])[0],
    ).toEqual([400, 'expired']);
    const ids = new Set(again.users.map((u) => u.id));
    // The full read replaced the copy: the user only the stale copy had is gone, and so is the deleted one.
    expect(ids.has('ghost')).toBe(false);
    expect(ids.has(user(0).id)).toBe(false);
    expect(ids.size).toBe(149);
    expect(await store().cloudSnapshots.getSnapshot(migrationId)).toMatchObject({ fullReads: 2, deltaReads: 1 });
    graph.addUsers([user(0)]);
  });

  test('410 Gone on the delta link: the same fallback', async () => {
    const proxy = await startGoneProxy(graph);
    try {
      const cloud = createGraphCloudDirectory({
        baseUrl: proxy.url,
        staticToken: graph.token,
        sleep: async () => undefined,
      });
      const migrationId = await migration();
      expect((await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger })).mode).toBe(
        'full',
      );
      const again = await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
      expect(proxy.gone).toBe(1);
      expect(again).toMatchObject({ mode: 'full', changesApplied: 150 });
      expect(again.users).toHaveLength(150);
      expect(await store().cloudSnapshots.getSnapshot(migrationId)).toMatchObject({ fullReads: 2, deltaReads: 0 });
    } finally {
      await proxy.close();
    }
  });

  test('any other failure is not mistaken for an expired token', async () => {
    // A 500 that outlasts the retries is Graph being unavailable, not the token being too old.
    const cloud = createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, maxRetries: 0 });
    const migrationId = await migration();
    await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
    graph.failNext(1, 500);
    await expect(
      refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger }),
    ).rejects.toMatchObject({ code: 'CLOUD.UNAVAILABLE', details: expect.objectContaining({ status: 500 }) });
    expect(await store().cloudSnapshots.getSnapshot(migrationId)).toMatchObject({ fullReads: 1, deltaReads: 0 });
  });
});
