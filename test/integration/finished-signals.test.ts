import { randomUUID } from 'node:crypto';
import { JobQueue } from '../../src/jobs/job-queue';
import type { Store } from '../../src/store/types';
import { eventually } from '../helpers/eventually';
import { pgliteBackend, postgresBackend } from '../helpers/store-backends';

/**
 * The signal a summary waits on instead of polling the jobs table: a job whose consumer ran on one
 * bot instance is announced to the others through the database (NOTIFY), on both backends.
 */
describe.each([pgliteBackend(), postgresBackend()])('finished-job announcements on $name', (backend) => {
  const stores: Store[] = [];
  beforeAll(async () => {
    await backend.setUp();
  });
  afterAll(async () => {
    for (const s of stores) await s.close();
    await backend.tearDown();
  });
  const open = async (): Promise<Store> => {
    const store = await backend.open();
    stores.push(store);
    return store;
  };

  test('an id announced by one instance reaches the listeners of every instance on the database', async () => {
    const storeA = await open();
    // PGlite has one process and one connection: a second instance there is a second queue on it.
    const storeB = backend.name === 'PostgreSQL' ? await open() : storeA;
    const a = new JobQueue({ store: storeA });
    const b = new JobQueue({ store: storeB });
    const heardByA: (string | null)[] = [];
    const heardByB: (string | null)[] = [];
    const stopA = await a.onFinished((id) => heardByA.push(id));
    const stopB = await b.onFinished((id) => heardByB.push(id));
    const jobId = randomUUID();
    await a.announceFinished(jobId);
    await eventually(() => heardByB.includes(jobId) && heardByA.includes(jobId), {
      what: 'both instances to hear the announcement',
      timeoutMs: 5_000,
      intervalMs: 20,
    });
    // After unsubscribing, nothing more arrives.
    stopB();
    const later = randomUUID();
    await a.announceFinished(later);
    await eventually(() => heardByA.includes(later), { what: 'A to hear the second one', timeoutMs: 5_000 });
    expect(heardByB).toEqual([jobId]);
    stopA();
    await a.close();
    await b.close();
  });

  test('listening on a closed database fails loudly rather than hearing nothing', async () => {
    const store = await backend.openFresh(`closed_${Date.now().toString(36)}`);
    await store.close();
    await expect(
      store.db.listen('syncshift_job_finished', { message: () => undefined, lost: () => undefined }),
    ).rejects.toThrow(/closed/);
  });
});

describe('finished-job announcements when the PostgreSQL listening connection dies', () => {
  const backend = postgresBackend();
  let store: Store;
  beforeAll(async () => {
    await backend.setUp();
    store = await backend.open();
  });
  afterAll(async () => {
    await store?.close();
    await backend.tearDown();
  });

  test('waiters are told to read for themselves (null) until listening works again, then hear ids again', async () => {
    const queue = new JobQueue({ store });
    const heard: (string | null)[] = [];
    const stop = await queue.onFinished((id) => heard.push(id));
    // Cut the listening connection from the server side, as a failover or an idle timeout would.
    await store.db.query(
      `SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query ILIKE 'LISTEN %syncshift_job_finished%' AND pid <> pg_backend_pid()`,
    );
    await eventually(() => heard.includes(null), {
      what: 'a read-for-yourself signal after the connection died',
      timeoutMs: 15_000,
    });
    const jobId = randomUUID();
    await eventually(
      async () => {
        await queue.announceFinished(jobId);
        return heard.includes(jobId);
      },
      { what: 'announcements to arrive again once listening is back', timeoutMs: 20_000, intervalMs: 500 },
    );
    stop();
    await queue.close();
  });
});
