import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import { startGraphSimulator, type GraphSimulator, type SimUser } from '../../src/sandbox/graph-simulator';
import fc from 'fast-check';
import type { OnPremUser } from '../../src/runbook/ou-comparison';
import { refreshCloudSnapshot } from '../../src/services/cloud-snapshot';
import { compareOuWithCloud, compareOuWithCopy } from '../../src/services/compare-ou';
import type { StoredScan } from '../../src/services/stored-scan';
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
 * Graph in front of the simulator, answering every request that carries a stored $deltatoken with 410
 * Gone (what Graph sends for some resources when a delta token can no longer be served). Links in
 * the simulator's answers are rewritten to point here, as they would on the real service.
 */
async function startGoneProxy(
  graph: GraphSimulator,
): Promise<{ url: string; gone: number; close: () => Promise<void> }> {
  const state = { url: '', gone: 0, close: async () => undefined as void };
  const server: Server = createServer((req, res) => {
    void (async () => {
      const url = req.url ?? '';
      if (url.includes('$deltatoken=') && !url.includes('$deltatoken=latest')) {
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

  test('400 syncStateNotFound for an expired token (what Graph answers for users): one full read replaces the copy', async () => {
    const cloud = createGraphCloudDirectory({
      baseUrl: graph.url,
      staticToken: graph.token,
      sleep: async () => undefined,
    });
    const migrationId = await migration();
    graph.reset();
    const first = await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
    expect(first).toMatchObject({ mode: 'full', reason: 'first', changesApplied: 150 });
    // The first read asks for the latest token, then pages /users (filtered, $top=999), not the delta query.
    expect(graph.requests.map((r) => [r.path, r.query.$deltatoken ?? r.query.$filter])).toEqual([
      ['/v1.0/users/delta', 'latest'],
      ['/v1.0/users', 'onPremisesSyncEnabled eq true'],
    ]);
    // A user only a stale copy would have: the full read must drop it.
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
      deltaLink,
      full: false,
      now: new Date(),
    });
    graph.expireDeltaTokens();
    graph.removeUser(user(0).id);
    graph.reset();

    const again = await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
    expect(again).toMatchObject({ mode: 'full', reason: 'expired', changesApplied: 149 });
    const delta = graph.requests.filter((r) => r.path === '/v1.0/users/delta');
    expect(delta.map((r) => r.status)).toEqual([400, 200]);
    const ids = new Set((await store().cloudSnapshots.cloudUsers(migrationId)).map((u) => u.id));
    // The full read replaced the copy: the user only the stale copy had is gone, and so is the deleted one.
    expect(ids.has('ghost')).toBe(false);
    expect(ids.has(user(0).id)).toBe(false);
    expect(ids.size).toBe(149);
    expect(await store().cloudSnapshots.getSnapshot(migrationId)).toMatchObject({ fullReads: 2, deltaReads: 1 });
    graph.addUsers([user(0)]);
  });

  test('any other 400 on the delta link is a failure, not a reason to read everything again', async () => {
    const cloud = createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, maxRetries: 0 });
    const migrationId = await migration();
    await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
    const { deltaLink } = (await store().cloudSnapshots.getSnapshot(migrationId))!;
    await store().cloudSnapshots.applyCloudChanges({
      migrationId,
      changes: [],
      deltaLink: deltaLink.replace(/\$deltatoken=.*/, '$deltatoken=forged'),
      full: false,
      now: new Date(),
    });
    await expect(
      refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger }),
    ).rejects.toMatchObject({ code: 'CLOUD.ERROR', details: expect.objectContaining({ status: 400 }) });
  });

  test('a full read that fails half-way leaves the previous copy as it was', async () => {
    const cloud = createGraphCloudDirectory({
      baseUrl: graph.url,
      staticToken: graph.token,
      maxRetries: 0,
      pageSize: 50,
    });
    const migrationId = await migration();
    await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
    const before = await store().cloudSnapshots.cloudUsers(migrationId);
    graph.expireDeltaTokens();
    graph.reset();
    // The token is refused (400), the latest link and the first page are served, the second page fails.
    let served = 0;
    const failing = {
      ...cloud,
      listSyncedUsers: (onPage: Parameters<typeof cloud.listSyncedUsers>[0]) =>
        cloud.listSyncedUsers(async (page) => {
          await onPage(page);
          if (++served === 1) graph.failNext(5, 500);
        }),
    };
    await expect(
      refreshCloudSnapshot({ store: store(), cloud: failing, migrationId, now: new Date(), logger }),
    ).rejects.toMatchObject({ code: 'CLOUD.UNAVAILABLE' });
    expect(await store().cloudSnapshots.cloudUsers(migrationId)).toEqual(before);
    graph.reset();
    // The next full read finishes and drops the half-written rows of the failed one.
    expect(await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger })).toMatchObject({
      mode: 'full',
      reason: 'expired',
    });
    expect(await store().cloudSnapshots.cloudUsers(migrationId)).toHaveLength(150);
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
      expect(again).toMatchObject({ mode: 'full', reason: 'expired', changesApplied: 150 });
      expect(await store().cloudSnapshots.cloudUsers(migrationId)).toHaveLength(150);
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

type Op =
  | { kind: 'create'; ou: number }
  | { kind: 'update'; pick: number; field: 'upn' | 'anchor' }
  | { kind: 'rename'; pick: number; ou: number }
  | { kind: 'delete'; pick: number }
  | { kind: 'restore'; pick: number }
  | { kind: 'expire' }
  | { kind: 'verify' };

const OUS = ['OU=A,DC=contoso,DC=com', 'OU=B,DC=contoso,DC=com', 'OU=Sub,OU=A,DC=contoso,DC=com'];
const anchor = (i: number): string => Buffer.alloc(16, i % 256).toString('base64');

describe('a verify from the cloud copy equals a verify from a full read', () => {
  const store = useStore(pgliteBackend());
  const logger = createLogger('test', 'silent');
  let counter = 0;

  const op: fc.Arbitrary<Op> = fc.oneof(
    fc.record({ kind: fc.constant('create' as const), ou: fc.nat(OUS.length - 1) }),
    fc.record({
      kind: fc.constant('update' as const),
      pick: fc.nat(),
      field: fc.constantFrom('upn' as const, 'anchor' as const),
    }),
    fc.record({ kind: fc.constant('rename' as const), pick: fc.nat(), ou: fc.nat(OUS.length - 1) }),
    fc.record({ kind: fc.constant('delete' as const), pick: fc.nat() }),
    fc.record({ kind: fc.constant('restore' as const), pick: fc.nat() }),
    { arbitrary: fc.constant({ kind: 'expire' as const }), weight: 1 },
    { arbitrary: fc.constant({ kind: 'verify' as const }), weight: 3 },
  );

  test('random creates, updates, renames across OUs, deletions, restores and expired tokens', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(op, { maxLength: 14 }), fc.integer({ min: 5, max: 60 }), async (ops, pageSize) => {
        // Users 0..24 start in the cloud in one of the OUs; on-premises, OU=A holds 0..11 and 40..44.
        const simUser = (i: number, ou: number): SimUser => ({
          id: `u-${String(i).padStart(4, '0')}`,
          userPrincipalName: `user${i}@contoso.com`,
          onPremisesSyncEnabled: true,
          onPremisesDistinguishedName: `CN=User ${i},${OUS[ou]!}`,
          onPremisesImmutableId: anchor(i),
        });
        const graph = await startGraphSimulator({ users: Array.from({ length: 25 }, (_, i) => simUser(i, i % 3)) });
        try {
          const cloud = createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, pageSize });
          const m = await store().migrations.create({
            name: 'property',
            conversationId: `conv-property-${process.pid}-${(counter += 1)}`,
            createdBy: 'adele',
          });
          const migrationId = m!.id;
          const onPrem: OnPremUser[] = [...Array.from({ length: 12 }, (_, i) => i), 40, 41, 42, 43, 44].map((i) => ({
            dn: `CN=User ${i},${i % 3 === 2 ? OUS[2]! : OUS[0]!}`,
            anchor: anchor(i),
            disabled: false,
          }));
          const scan: StoredScan = {
            head: { baseDn: OUS[0]! } as StoredScan['head'],
            async *users() {
              yield onPrem;
            },
          };
          const deleted: SimUser[] = [];
          let next = 100;
          const pick = (n: number): SimUser | undefined => {
            const users = graph.users();
            return users.length === 0 ? undefined : users[n % users.length];
          };
          const verifyBoth = async (): Promise<void> => {
            await refreshCloudSnapshot({ store: store(), cloud, migrationId, now: new Date(), logger });
            const fromCopy = await compareOuWithCopy(
              scan,
              (onPage) => store().cloudSnapshots.readCloudUsers(migrationId, onPage, 7),
              cloud,
            );
            const fromGraph = await compareOuWithCloud(scan, cloud);
            expect(fromCopy).toEqual(fromGraph);
          };
          for (const o of [...ops, { kind: 'verify' } as Op]) {
            if (o.kind === 'verify') await verifyBoth();
            else if (o.kind === 'expire') graph.expireDeltaTokens();
            else if (o.kind === 'create') graph.addUsers([simUser((next += 1), o.ou)]);
            else if (o.kind === 'restore') {
              const back = deleted.splice(o.pick % Math.max(1, deleted.length), 1)[0];
              if (back) graph.addUsers([back]);
            } else {
              const user = pick(o.pick);
              if (!user) continue;
              if (o.kind === 'delete') {
                graph.removeUser(user.id);
                deleted.push(user);
              } else if (o.kind === 'rename')
                graph.updateUser(user.id, {
                  onPremisesDistinguishedName: user.onPremisesDistinguishedName!.replace(/,OU=.*$/, `,${OUS[o.ou]!}`),
                });
              else if (o.field === 'upn')
                graph.updateUser(user.id, { userPrincipalName: `renamed${(next += 1)}.${user.userPrincipalName}` });
              else graph.updateUser(user.id, { onPremisesImmutableId: anchor((next += 1)) });
            }
          }
        } finally {
          await graph.close();
        }
      }),
      { numRuns: Number(process.env.PROPERTY_RUNS ?? 40) },
    );
  });
});
