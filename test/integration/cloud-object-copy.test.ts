import fc from 'fast-check';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import type { CloudObjectChange } from '../../src/runbook/cloud-users';
import type { OnPremUser } from '../../src/runbook/ou-comparison';
import {
  startGraphSimulator,
  type GraphSimulator,
  type SimContact,
  type SimGroup,
} from '../../src/sandbox/graph-simulator';
import { objectCopyReaders, refreshObjectCopy, type ObjectCopyRead } from '../../src/services/cloud-object-copy';
import { compareOuWithCloud, compareOuWithCopy } from '../../src/services/compare-ou';
import type { StoredScan } from '../../src/services/stored-scan';
import { createLogger } from '../../src/shared/logger';
import { pgliteBackend, postgresBackend, useStore } from '../helpers/store-backends';

/**
 * Issue 17: the groups and contacts a verify compares come from per-migration copies kept by their own
 * delta queries (/groups/delta, /contacts/delta), through the Graph client and the Graph simulator.
 */
const sid = (i: number): string => `S-1-5-21-1000-2000-3000-${1100 + i}`;
const group = (i: number, synced = true): SimGroup => ({
  id: `g-${String(i).padStart(4, '0')}`,
  displayName: `Group ${i}`,
  onPremisesSyncEnabled: synced ? true : null,
  onPremisesSecurityIdentifier: synced ? sid(i) : null,
  securityEnabled: true,
  mailEnabled: false,
});
const contact = (i: number, synced = true): SimContact => ({
  id: `c-${String(i).padStart(4, '0')}`,
  displayName: `Contact ${i}`,
  mail: `contact${i}@partner.example`,
  onPremisesSyncEnabled: synced ? true : null,
});

describe('group and contact delta queries through the Graph client and simulator', () => {
  let graph: GraphSimulator;
  const cloud = () =>
    createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, sleep: async () => undefined });

  beforeAll(async () => {
    graph = await startGraphSimulator({
      groups: Array.from({ length: 130 }, (_, i) => group(i, i % 10 !== 0)),
      contacts: Array.from({ length: 20 }, (_, i) => contact(i)),
    });
  });
  afterAll(async () => graph?.close());

  async function groupsRound(link: string | null): Promise<{ changes: CloudObjectChange[]; deltaLink: string }> {
    const changes: CloudObjectChange[] = [];
    const r = await cloud().groupsDelta!(link, (page) => void changes.push(...page));
    return { changes, deltaLink: r.deltaLink };
  }

  test('a first round pages every group; later a changed group comes with every selected property', async () => {
    graph.reset();
    const first = await groupsRound(null);
    expect(first.changes).toHaveLength(130);
    expect(first.changes[1]).toEqual({
      id: group(1).id,
      removed: false,
      displayName: 'Group 1',
      key: sid(1),
      onPremisesSyncEnabled: true,
    });
    const requests = graph.requests.filter((r) => r.path === '/v1.0/groups/delta');
    // Graph's default page is 100 here too, so two pages; onPremisesSyncEnabled is selected, not filtered.
    expect(requests).toHaveLength(2);
    expect(requests[0]!.query.$select).toBe('id,displayName,onPremisesSecurityIdentifier,onPremisesSyncEnabled');
    expect(requests[0]!.query.$filter).toBeUndefined();

    graph.setGroups([
      ...graph.groups().filter((g) => g.id !== group(3).id && g.id !== group(2).id),
      { ...group(2), displayName: 'Group 2 renamed' },
      group(900),
    ]);
    const second = await groupsRound(first.deltaLink);
    expect(second.changes).toEqual([
      // Not only the property that changed: Graph sends every $select'ed one unless Prefer: return=minimal.
      { id: group(2).id, removed: false, displayName: 'Group 2 renamed', key: sid(2), onPremisesSyncEnabled: true },
      { id: group(900).id, removed: false, displayName: 'Group 900', key: sid(900), onPremisesSyncEnabled: true },
      { id: group(3).id, removed: true },
    ]);
    expect((await groupsRound(second.deltaLink)).changes).toEqual([]);
  });

  test('with Prefer: return=minimal the simulator sends only what changed, as Graph documents', async () => {
    const get = (path: string, headers: Record<string, string> = {}) =>
      fetch(path.startsWith('http') ? path : `${graph.url}${path}`, {
        headers: { authorization: `Bearer ${graph.token}`, ...headers },
      }).then((r) => r.json() as Promise<{ value: Record<string, unknown>[]; '@odata.deltaLink'?: string }>);
    let page = await get('/v1.0/contacts/delta?$select=id,displayName,mail,onPremisesSyncEnabled');
    expect(page.value).toHaveLength(20);
    const link = page['@odata.deltaLink']!;
    graph.setContacts(
      graph.contacts().map((c) => (c.id === contact(4).id ? { ...c, mail: 'moved@partner.example' } : c)),
    );
    page = await get(link, { prefer: 'return=minimal' });
    expect(page.value).toEqual([{ id: contact(4).id, mail: 'moved@partner.example' }]);
    page = await get(link);
    expect(page.value).toEqual([
      { id: contact(4).id, displayName: 'Contact 4', mail: 'moved@partner.example', onPremisesSyncEnabled: true },
    ]);
    graph.setContacts(Array.from({ length: 20 }, (_, i) => contact(i)));
  });

  test('the simulator refuses what Graph refuses on these delta functions', async () => {
    const status = (path: string) =>
      fetch(`${graph.url}${path}`, { headers: { authorization: `Bearer ${graph.token}` } }).then((r) => r.status);
    expect(await status(`/v1.0/groups/delta?$filter=${encodeURIComponent('onPremisesSyncEnabled eq true')}`)).toBe(400);
    expect(await status('/v1.0/contacts/delta?$select=onPremisesImmutableId')).toBe(400);
    expect(await status('/v1.0/groups/delta?$deltatoken=forged')).toBe(400);
  });
});

describe.each([pgliteBackend(), postgresBackend()])(
  'the group and contact copies of a migration on $name',
  (backend) => {
    const store = useStore(backend);
    const logger = createLogger('test', 'silent');
    let counter = 0;

    async function migration(): Promise<string> {
      const m = await store().migrations.create({
        name: 'object copies',
        conversationId: `conv-object-copy-${process.pid}-${(counter += 1)}`,
        createdBy: 'adele',
      });
      return m!.id;
    }

    test('first a full round, then deltas; an expired token gets one full round, and the card is told', async () => {
      const graph = await startGraphSimulator({
        groups: Array.from({ length: 12 }, (_, i) => group(i, i !== 0)),
        contacts: Array.from({ length: 5 }, (_, i) => contact(i)),
      });
      try {
        const cloud = createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token });
        const migrationId = await migration();
        const refresh = () =>
          refreshObjectCopy({ store: store(), cloud, migrationId, type: 'group', now: new Date(), logger });
        expect(await refresh()).toMatchObject({ mode: 'full', reason: 'first', changesApplied: 11 });
        graph.setGroups([...graph.groups().slice(1, 8), group(50)]);
        // Five groups gone (one of them never synced), one new.
        expect(await refresh()).toMatchObject({ mode: 'delta', changesApplied: 6 });
        const read = async (): Promise<string[]> => {
          const ids: string[] = [];
          await store().cloudObjectCopies.readObjects(
            migrationId,
            'group',
            (page) => void ids.push(...page.map((g) => g.id)),
          );
          return ids;
        };
        expect(await read()).toEqual([...[1, 2, 3, 4, 5, 6, 7].map((i) => group(i).id), group(50).id]);

        graph.expireDeltaTokens();
        graph.setGroups([...graph.groups(), group(51)]);
        const notes: Partial<Record<'group' | 'contact', ObjectCopyRead>> = {};
        const readers = objectCopyReaders({ store: store(), cloud, migrationId, now: new Date(), logger, notes });
        const seen: string[] = [];
        await readers.group!((page) => void seen.push(...page.map((g) => g.onPremisesSecurityIdentifier!)));
        expect(notes).toEqual({ group: { mode: 'full', reason: 'expired', count: 9 } });
        expect(seen).toContain(sid(51));
        expect(await store().cloudObjectCopies.getCopy(migrationId, 'group')).toMatchObject({
          fullReads: 2,
          deltaReads: 1,
        });
        // Contacts keep a copy and a deltaLink of their own.
        expect(await store().cloudObjectCopies.getCopy(migrationId, 'contact')).toBeNull();
        await readers.contact!(() => undefined);
        expect(notes.contact).toEqual({ mode: 'full', reason: 'first', count: 5 });
      } finally {
        await graph.close();
      }
    });

    type Op =
      | { kind: 'create'; type: 'group' | 'contact' }
      | { kind: 'update'; type: 'group' | 'contact'; pick: number }
      | { kind: 'delete'; type: 'group' | 'contact'; pick: number }
      | { kind: 'restore'; type: 'group' | 'contact'; pick: number }
      | { kind: 'expire' }
      | { kind: 'verify' };
    const type = fc.constantFrom('group' as const, 'contact' as const);
    const op: fc.Arbitrary<Op> = fc.oneof(
      fc.record({ kind: fc.constant('create' as const), type }),
      fc.record({ kind: fc.constant('update' as const), type, pick: fc.nat() }),
      fc.record({ kind: fc.constant('delete' as const), type, pick: fc.nat() }),
      fc.record({ kind: fc.constant('restore' as const), type, pick: fc.nat() }),
      { arbitrary: fc.constant({ kind: 'expire' as const }), weight: 1 },
      { arbitrary: fc.constant({ kind: 'verify' as const }), weight: 3 },
    );

    test('a verify from the copies equals a verify from a full read: creates, updates, deletes, restores', async () => {
      await fc.assert(
        fc.asyncProperty(fc.array(op, { maxLength: 14 }), fc.integer({ min: 3, max: 40 }), async (ops, pageSize) => {
          // The OU holds groups 0..7 and contacts 0..7 on-premises; the cloud starts with 0..9 of each.
          const graph = await startGraphSimulator({
            groups: Array.from({ length: 10 }, (_, i) => group(i)),
            contacts: Array.from({ length: 10 }, (_, i) => contact(i)),
          });
          try {
            const cloud = createGraphCloudDirectory({ baseUrl: graph.url, staticToken: graph.token, pageSize });
            const migrationId = await migration();
            const onPrem: OnPremUser[] = Array.from({ length: 8 }, (_, i) => [
              {
                dn: `CN=Group ${i},OU=A,DC=contoso,DC=com`,
                anchor: `g${i}`,
                disabled: false,
                type: 'group' as const,
                sid: sid(i),
              },
              {
                dn: `CN=Contact ${i},OU=A,DC=contoso,DC=com`,
                anchor: `c${i}`,
                disabled: false,
                type: 'contact' as const,
                mail: `contact${i}@partner.example`,
              },
            ]).flat();
            const scan: StoredScan = {
              head: { baseDn: 'OU=A,DC=contoso,DC=com' } as StoredScan['head'],
              async *users() {
                yield onPrem;
              },
            };
            const deleted = { group: [] as SimGroup[], contact: [] as SimContact[] };
            let next = 100;
            const verifyBoth = async (): Promise<void> => {
              const notes: Partial<Record<'group' | 'contact', ObjectCopyRead>> = {};
              const fromCopy = await compareOuWithCopy(
                scan,
                async () => 0,
                cloud,
                undefined,
                undefined,
                undefined,
                objectCopyReaders({ store: store(), cloud, migrationId, now: new Date(), logger, notes }),
              );
              const fromGraph = await compareOuWithCloud(scan, cloud);
              expect(fromCopy).toEqual(fromGraph);
              expect(Object.keys(notes).sort()).toEqual(['contact', 'group']);
            };
            for (const o of [...ops, { kind: 'verify' } as Op]) {
              if (o.kind === 'verify') await verifyBoth();
              else if (o.kind === 'expire') graph.expireDeltaTokens();
              else if (o.type === 'group') {
                const all = graph.groups();
                if (o.kind === 'create') graph.setGroups([...all, group((next += 1) % 12)].filter(unique));
                else if (o.kind === 'restore') {
                  const back = deleted.group.splice(o.pick % Math.max(1, deleted.group.length), 1)[0];
                  if (back) graph.setGroups([...all, back].filter(unique));
                } else if (all.length > 0) {
                  const g = all[o.pick % all.length]!;
                  if (o.kind === 'delete') {
                    graph.setGroups(all.filter((x) => x.id !== g.id));
                    deleted.group.push(g);
                  } else
                    // A new SID, unique, so neither read depends on the order groups arrive in.
                    graph.setGroups(
                      all.map((x) => (x.id === g.id ? { ...x, onPremisesSecurityIdentifier: sid((next += 1)) } : x)),
                    );
                }
              } else {
                const all = graph.contacts();
                if (o.kind === 'create') graph.setContacts([...all, contact((next += 1) % 12)].filter(unique));
                else if (o.kind === 'restore') {
                  const back = deleted.contact.splice(o.pick % Math.max(1, deleted.contact.length), 1)[0];
                  if (back) graph.setContacts([...all, back].filter(unique));
                } else if (all.length > 0) {
                  const c = all[o.pick % all.length]!;
                  if (o.kind === 'delete') {
                    graph.setContacts(all.filter((x) => x.id !== c.id));
                    deleted.contact.push(c);
                  } else
                    graph.setContacts(
                      all.map((x) => (x.id === c.id ? { ...x, mail: `contact${(next += 1)}@partner.example` } : x)),
                    );
                }
              }
            }
          } finally {
            await graph.close();
          }
        }),
        { numRuns: Number(process.env.PROPERTY_RUNS ?? 25) },
      );
    });
  },
);

/** Keeps the first object of each id (a restore or create of one that is already there changes nothing). */
function unique<T extends { id: string }>(item: T, index: number, all: T[]): boolean {
  return all.findIndex((x) => x.id === item.id) === index;
}
