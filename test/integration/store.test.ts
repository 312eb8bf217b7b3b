import { randomUUID } from 'node:crypto';
import { migrate, readMigrationFiles } from '../../src/store/migrate';
import type { ScriptDb } from '../../src/store/sql';
import type { JobRecord, Store } from '../../src/store/types';
import { pgliteBackend, postgresBackend } from '../helpers/store-backends';

// In the past, so entries stamped by the database's now() sort after them.
const T0 = new Date('2020-01-01T00:00:00.000Z');
const at = (ms: number): Date => new Date(T0.getTime() + ms);
let counter = 0;
const unique = (what: string): string => `${what}-${process.pid}-${(counter += 1)}`;

describe.each([pgliteBackend(), postgresBackend()])('store on $name', (backend) => {
  let store: Store;
  let openMs = 0;

  beforeAll(async () => {
    await backend.setUp();
    const started = Date.now();
    store = await backend.open();
    openMs = Date.now() - started;
  });

  afterAll(async () => {
    // Visible with --verbose; the lead asked for PGlite open+migrate timings.
    if (openMs) process.stdout.write(`${backend.name}: first open+migrate took ${openMs} ms\n`);
    await store?.close();
    await backend.tearDown();
  });

  /** Jobs are one shared queue per database; leftovers from an earlier (maybe failed) test must not leak in. */
  beforeEach(async () => {
    if (!store) return;
    const farFuture = new Date('2999-01-01T00:00:00.000Z');
    for (;;) {
      const job = await store.jobs.lease({ agentId: 'janitor', leaseMs: 1, now: farFuture, maxAttempts: 1_000_000 });
      if (!job) break;
      await store.jobs.finish({
        jobId: job.id,
        agentId: 'janitor',
        outcome: 'failed',
        result: null,
        error: { cleanedUp: true },
        now: farFuture,
      });
    }
    // Connect Sync jobs are pinned to their own agent (or, stored unpinned, offered to nobody): the janitor cannot lease them.
    await store.db.query(
      `UPDATE jobs SET state = 'failed', finished_at = now(), lease_expires_at = NULL, error = '{"cleanedUp":true}'::jsonb
        WHERE state IN ('queued', 'leased')`,
    );
    // Results of earlier tests count as applied, so the claim tests see only their own.
    await store.db.query('UPDATE jobs SET applied_at = now() WHERE applied_at IS NULL AND finished_at IS NOT NULL');
  });

  const enqueue = (conversationId = unique('conv'), payload: unknown = { n: 1 }): Promise<JobRecord> =>
    store.jobs.enqueue({
      kind: 'verify',
      purpose: 'verify',
      payload,
      conversationId,
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
    });

  test('migrations are recorded once and running them again applies nothing', async () => {
    const files = readMigrationFiles();
    const recorded = await store.db.query<{ name: string }>('SELECT name FROM schema_migrations ORDER BY name');
    expect(recorded.map((row) => row.name)).toEqual(files.map((file) => file.name));
    await expect(migrate(store.db as ScriptDb)).resolves.toEqual({ applied: [] });
  });

  // PGlite allows one user per directory, so a race is impossible there; its reopen is checked in the last test.
  if (backend.name === 'PostgreSQL') {
    test('two stores opening a new database at the same time both end up migrated', async () => {
      const [a, b] = await Promise.all([backend.openFresh('race'), backend.openFresh('race')]);
      try {
        const rows = await a.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
        expect(rows[0]?.n).toBe(readMigrationFiles().length);
        expect(await b.migrations.create({ name: 'x', conversationId: 'c', createdBy: 'u' })).not.toBeNull();
      } finally {
        await Promise.all([a.close(), b.close()]);
      }
    });
  }

  test('a conversation gets one migration; a second create returns null', async () => {
    const conversationId = unique('conv');
    const created = await store.migrations.create({ name: 'Contoso cut-over', conversationId, createdBy: 'alice' });
    expect(created).toMatchObject({ name: 'Contoso cut-over', conversationId, createdBy: 'alice' });
    expect(created?.createdAt).toBeInstanceOf(Date);
    expect(await store.migrations.create({ name: 'again', conversationId, createdBy: 'bob' })).toBeNull();
    expect(await store.migrations.findByConversation(conversationId)).toEqual(created);
    expect(await store.migrations.findByConversation(unique('nobody'))).toBeNull();
  });

  test('conversation references are upserted', async () => {
    const conversationId = unique('conv');
    expect(await store.conversations.getReference(conversationId)).toBeNull();
    await store.conversations.saveReference(conversationId, {
      serviceUrl: 'https://one',
      user: { id: 'u1' },
      list: [1, 2],
    });
    await store.conversations.saveReference(conversationId, {
      serviceUrl: 'https://two',
      user: { id: 'u1' },
      list: ['a'],
    });
    expect(await store.conversations.getReference(conversationId)).toEqual({
      serviceUrl: 'https://two',
      user: { id: 'u1' },
      list: ['a'],
    });
  });

  test('job lifecycle: enqueue, lease, progress, finish', async () => {
    const migration = await store.migrations.create({ name: 'm', conversationId: unique('conv'), createdBy: 'alice' });
    const queued = await store.jobs.enqueue({
      kind: 'verify',
      purpose: 'wave.count',
      payload: { ou: 'OU=Sales,DC=contoso,DC=com', tags: ['a', 'b'] },
      conversationId: migration!.conversationId,
      migrationId: migration!.id,
      requestedBy: { id: 'alice', name: 'Alice' },
    });
    expect(queued).toMatchObject({
      state: 'queued',
      purpose: 'wave.count',
      agentId: null,
      leaseExpiresAt: null,
      attempts: 0,
      progress: null,
      finishedAt: null,
      migrationId: migration!.id,
    });
    expect(queued.payload).toEqual({ ou: 'OU=Sales,DC=contoso,DC=com', tags: ['a', 'b'] });
    expect(queued.requestedBy).toEqual({ id: 'alice', name: 'Alice' });

    const leased = await store.jobs.lease({ agentId: 'agent-1', leaseMs: 30_000, now: at(0) });
    expect(leased).toMatchObject({ id: queued.id, state: 'leased', agentId: 'agent-1', attempts: 1 });
    expect(leased?.leaseExpiresAt).toEqual(at(30_000));

    expect(
      await store.jobs.reportProgress({
        jobId: queued.id,
        agentId: 'agent-1',
        progress: { done: 3, of: 10 },
        leaseMs: 60_000,
        now: at(1_000),
      }),
    ).toBe(true);
    expect(
      await store.jobs.reportProgress({
        jobId: queued.id,
        agentId: 'agent-2',
        progress: { hijack: true },
        leaseMs: 60_000,
        now: at(1_000),
      }),
    ).toBe(false);
    const during = await store.jobs.get(queued.id);
    expect(during).toMatchObject({ progress: { done: 3, of: 10 }, leaseExpiresAt: at(61_000), updatedAt: at(1_000) });

    const finished = await store.jobs.finish({
      jobId: queued.id,
      agentId: 'agent-1',
      outcome: 'succeeded',
      result: { missing: [] },
      error: null,
      now: at(2_000),
    });
    expect(finished).toMatchObject({
      state: 'succeeded',
      result: { missing: [] },
      error: null,
      finishedAt: at(2_000),
      leaseExpiresAt: null,
    });
    expect(await store.jobs.get(queued.id)).toEqual(finished);
    expect(
      await store.jobs.reportProgress({
        jobId: queued.id,
        agentId: 'agent-1',
        progress: {},
        leaseMs: 1_000,
        now: at(3_000),
      }),
    ).toBe(false);
  });

  test("a scan's users are stored in pieces per upload, only by the agent holding the job; the finished upload is read back in order and the others are dropped", async () => {
    const job = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 30_000, now: at(0) });
    const piece = (from: number, n: number): string =>
      JSON.stringify(
        Array.from({ length: n }, (_, i) => ({
          dn: `CN=u${from + i},OU=x,DC=x`,
          anchor: `a${from + i}`,
          disabled: false,
        })),
      );
    const read = async (): Promise<string[]> => {
      const dns: string[] = [];
      for await (const users of store.jobs.resultUsers(job.id)) dns.push(...users.map((u) => u.dn));
      return dns;
    };
    const stored = async (upload: string): Promise<number> =>
      (await store.db.query('SELECT seq FROM job_result_pieces WHERE job_id = $1 AND upload = $2', [job.id, upload]))
        .length;
    const [cut, retry, late] = [randomUUID(), randomUUID(), randomUUID()];
    // A first upload of three pieces that the bot has not yet noticed is cut off, and the agent's
    // retry beside it, split differently: neither overwrites the other.
    for (const [seq, from, n] of [
      [0, 0, 2],
      [1, 2, 2],
      [2, 4, 2],
    ] as const)
      expect(
        await store.jobs.putResultPiece({
          jobId: job.id,
          agentId: 'agent-1',
          upload: cut,
          seq,
          usersJson: piece(from, n),
        }),
      ).toBe(true);
    expect(
      await store.jobs.putResultPiece({
        jobId: job.id,
        agentId: 'agent-1',
        upload: retry,
        seq: 0,
        usersJson: piece(0, 3),
      }),
    ).toBe(true);
    expect(
      await store.jobs.putResultPiece({
        jobId: job.id,
        agentId: 'agent-2',
        upload: retry,
        seq: 1,
        usersJson: piece(9, 1),
      }),
    ).toBe(false);
    expect(
      await store.jobs.putResultPiece({
        jobId: 'not-a-uuid',
        agentId: 'agent-1',
        upload: retry,
        seq: 0,
        usersJson: piece(0, 1),
      }),
    ).toBe(false);
    expect(
      await store.jobs.putResultPiece({
        jobId: job.id,
        agentId: 'agent-1',
        upload: 'not-a-uuid',
        seq: 0,
        usersJson: piece(0, 1),
      }),
    ).toBe(false);
    // The cut upload is noticed late, while the retry is under way: dropping it leaves the retry whole.
    await store.jobs.dropResultUpload({ jobId: job.id, upload: cut });
    expect(await stored(cut)).toBe(0);
    expect(
      await store.jobs.putResultPiece({
        jobId: job.id,
        agentId: 'agent-1',
        upload: retry,
        seq: 1,
        usersJson: piece(3, 3),
      }),
    ).toBe(true);
    expect(
      await store.jobs.putResultPiece({
        jobId: job.id,
        agentId: 'agent-1',
        upload: late,
        seq: 0,
        usersJson: piece(7, 1),
      }),
    ).toBe(true);
    // Nothing is a result before the job finishes with an upload.
    expect(await read()).toEqual([]);
    await store.jobs.finish({
      jobId: job.id,
      agentId: 'agent-1',
      outcome: 'succeeded',
      result: { storedUsers: 6 },
      error: null,
      now: at(1_000),
      resultUpload: retry,
    });
    expect(await read()).toEqual([
      'CN=u0,OU=x,DC=x',
      'CN=u1,OU=x,DC=x',
      'CN=u2,OU=x,DC=x',
      'CN=u3,OU=x,DC=x',
      'CN=u4,OU=x,DC=x',
      'CN=u5,OU=x,DC=x',
    ]);
    // Finishing dropped every other upload; nobody can add to the pieces or drop the record any more.
    expect(await stored(late)).toBe(0);
    expect(
      await store.jobs.putResultPiece({
        jobId: job.id,
        agentId: 'agent-1',
        upload: late,
        seq: 0,
        usersJson: piece(7, 1),
      }),
    ).toBe(false);
    await store.jobs.dropResultUpload({ jobId: job.id, upload: retry });
    expect(await read()).toHaveLength(6);
    expect([]).toEqual(
      await (async () => {
        const out: unknown[] = [];
        for await (const p of store.jobs.resultUsers('not-a-uuid')) out.push(p);
        return out;
      })(),
    );
  });

  test('a job that fails because its agent was lost keeps none of the pieces its cut-off uploads left', async () => {
    const job = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) });
    expect(
      await store.jobs.putResultPiece({
        jobId: job.id,
        agentId: 'agent-1',
        upload: randomUUID(),
        seq: 0,
        usersJson: '[]',
      }),
    ).toBe(true);
    const { exhausted } = await store.jobs.expireLeases({ now: at(5_000), maxAttempts: 1 });
    expect(exhausted.map((j) => j.id)).toEqual([job.id]);
    expect(await store.db.query('SELECT seq FROM job_result_pieces WHERE job_id = $1', [job.id])).toEqual([]);
  });

  test('lease returns null when nothing is queued, and hands out the oldest job first', async () => {
    expect(await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) })).toBeNull();
    const first = await enqueue();
    const second = await enqueue();
    expect((await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) }))?.id).toBe(first.id);
    expect((await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) }))?.id).toBe(second.id);
    expect(await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) })).toBeNull();
  });

  test('an expired lease goes to the next agent, and the old holder can no longer finish', async () => {
    const job = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) });
    expect(await store.jobs.lease({ agentId: 'agent-2', leaseMs: 1_000, now: at(999) })).toBeNull();
    const taken = await store.jobs.lease({ agentId: 'agent-2', leaseMs: 1_000, now: at(1_000) });
    expect(taken).toMatchObject({ id: job.id, agentId: 'agent-2', attempts: 2 });
    expect(
      await store.jobs.finish({
        jobId: job.id,
        agentId: 'agent-1',
        outcome: 'succeeded',
        result: 1,
        error: null,
        now: at(1_500),
      }),
    ).toBeNull();
    expect(
      await store.jobs.finish({
        jobId: job.id,
        agentId: 'agent-2',
        outcome: 'succeeded',
        result: 2,
        error: null,
        now: at(1_500),
      }),
    ).toMatchObject({ result: 2 });
  });

  test('a mutating job whose lease ran out is never handed out again; it fails as outcome unknown', async () => {
    const job = await store.jobs.enqueue({
      kind: 'adsync.stopScheduler',
      purpose: 'step.action',
      payload: {},
      conversationId: unique('conv'),
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
      mutating: true,
      pinnedAgent: 'agent-1',
    });
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) });
    // The agent says it is about to act; from here on the job can only end as reported or unknown.
    expect(
      await store.jobs.reportProgress({
        jobId: job.id,
        agentId: 'agent-1',
        progress: { phase: 'starting' },
        leaseMs: 1_000,
        now: at(0),
        starting: true,
      }),
    ).toBe(true);
    expect(await store.jobs.expireMutating({ now: at(999) })).toEqual([]);
    expect(await store.jobs.lease({ agentId: 'agent-2', leaseMs: 1_000, now: at(5_000) })).toBeNull();
    const expired = await store.jobs.expireMutating({ now: at(5_000) });
    expect(expired).toHaveLength(1);
    expect(expired[0]).toMatchObject({ id: job.id, state: 'failed', error: { code: 'RELAY.OUTCOME_UNKNOWN' } });
    expect((expired[0]!.error as { message: string }).message).toContain('adsync.stopScheduler');
    // The agent that was running it reports late: refused, nothing changes.
    expect(
      await store.jobs.finish({
        jobId: job.id,
        agentId: 'agent-1',
        outcome: 'succeeded',
        result: 1,
        error: null,
        now: at(6_000),
      }),
    ).toBeNull();
    expect(await store.jobs.expireMutating({ now: at(9_000) })).toEqual([]);
  });

  test('a mutating job whose agent never confirmed starting changed nothing, so it goes back to its pinned agent alone', async () => {
    const job = await store.jobs.enqueue({
      kind: 'adsync.startScheduler',
      purpose: 'step.action',
      payload: {},
      conversationId: unique('conv'),
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
      mutating: true,
      pinnedAgent: 'agent-1',
    });
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) });
    // Heartbeats alone do not count as starting.
    await store.jobs.reportProgress({
      jobId: job.id,
      agentId: 'agent-1',
      progress: { phase: 'heartbeat' },
      leaseMs: 1_000,
      now: at(500),
    });
    expect(await store.jobs.expireMutating({ now: at(5_000) })).toEqual([]);
    // Retryable, but a Connect Sync job is pinned to its server: another agent never gets it.
    expect(await store.jobs.lease({ agentId: 'agent-2', leaseMs: 1_000, now: at(5_000) })).toBeNull();
    expect(await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(5_000) })).toMatchObject({
      id: job.id,
      agentId: 'agent-1',
      pinnedAgent: 'agent-1',
      attempts: 2,
    });
  });

  test('a Connect Sync job is refused without a pinned agent, and one stored unpinned is offered to nobody', async () => {
    await expect(
      store.jobs.enqueue({
        kind: 'adsync.stopScheduler',
        purpose: 'step.action',
        payload: { action: 'adsync.stopScheduler' },
        conversationId: unique('conv'),
        migrationId: null,
        requestedBy: { id: 'alice', name: 'alice' },
        mutating: true,
      }),
    ).rejects.toThrow('must name the agent on the Connect Sync server');
    // A row written before pinning existed (the 016 migration fails queued ones; this is the guard behind it).
    const conversationId = unique('conv');
    await store.db.query(
      `INSERT INTO jobs (kind, purpose, payload, conversation_id, requested_by_id, requested_by_name, mutating)
         VALUES ('adsync.getScheduler', 'step.check', '{"action":"adsync.getScheduler"}'::jsonb, $1, 'alice', 'alice', false)`,
      [conversationId],
    );
    const all = ['directory.scanOu', 'adsync.getScheduler'];
    for (const agentId of ['agent-1', 'agent-2'])
      expect(await store.jobs.lease({ agentId, leaseMs: 1_000, now: at(0), actions: all })).toBeNull();
  });

  test('a revoked agent can never lease, whatever is queued: the check is part of the lease UPDATE', async () => {
    const name = unique('agent').replace(/[^A-Za-z0-9._-]/g, '');
    await store.agents.touch({ name, version: '1', now: at(0) });
    const job = await enqueue();
    await store.agents.revoke({ name, by: 'approver-1', now: at(0) });
    // No relay-side check runs here: the store alone must refuse.
    expect(await store.jobs.lease({ agentId: name, leaseMs: 1_000, now: at(1) })).toBeNull();
    expect(await store.jobs.get(job.id)).toMatchObject({ state: 'queued', agentId: null, attempts: 0 });
    expect(await store.jobs.lease({ agentId: 'agent-ok', leaseMs: 1_000, now: at(1) })).toMatchObject({
      id: job.id,
      agentId: 'agent-ok',
    });
    // Nor can it report on a job it held before the revocation.
    const held = await enqueue();
    const other = unique('agent').replace(/[^A-Za-z0-9._-]/g, '');
    await store.agents.touch({ name: other, version: '1', now: at(0) });
    expect(await store.jobs.lease({ agentId: other, leaseMs: 60_000, now: at(2) })).toMatchObject({ id: held.id });
    await store.agents.revoke({ name: other, by: 'approver-1', now: at(3) });
    expect(
      await store.jobs.finish({
        jobId: held.id,
        agentId: other,
        outcome: 'succeeded',
        result: 1,
        error: null,
        now: at(4),
      }),
    ).toBeNull();
  });

  if (backend.name === 'PostgreSQL') {
    test('a lease racing a revocation that has not committed yet waits for it, and then takes nothing', async () => {
      const name = unique('agent').replace(/[^A-Za-z0-9._-]/g, '');
      await store.agents.touch({ name, version: '1', now: at(0) });
      const job = await enqueue();
      const other = await backend.open();
      try {
        let lease: Promise<JobRecord | null> | undefined;
        await other.db.transaction(async (tx) => {
          await tx.query(`UPDATE agents SET status = 'revoked' WHERE name = $1`, [name]);
          // The revocation is not committed yet; a lease that only read the committed status would win here.
          lease = store.jobs.lease({ agentId: name, leaseMs: 1_000, now: at(1) });
          await new Promise((resolve) => setTimeout(resolve, 300));
        });
        expect(await lease).toBeNull();
        expect(await store.jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 0 });
      } finally {
        await other.close();
      }
    });
  }

  test('lease hands out only jobs the agent declared it can run, and skips past the ones it cannot', async () => {
    const adsync = await store.jobs.enqueue({
      kind: 'adsync.stopScheduler',
      purpose: 'step.action',
      payload: { action: 'adsync.stopScheduler' },
      conversationId: unique('conv'),
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
      mutating: true,
      pinnedAgent: 'adsync-agent',
    });
    const scan = await enqueue(unique('conv'), { action: 'directory.scanOu', ou: 'OU=Sales' });
    const ldapOnly = ['directory.scanOu'];
    expect(
      await store.jobs.lease({ agentId: 'ldap-agent', leaseMs: 1_000, now: at(0), actions: ldapOnly }),
    ).toMatchObject({ id: scan.id, agentId: 'ldap-agent' });
    expect(await store.jobs.lease({ agentId: 'ldap-agent', leaseMs: 1_000, now: at(0), actions: ldapOnly })).toBeNull();
    expect(await store.jobs.lease({ agentId: 'nothing-agent', leaseMs: 1_000, now: at(0), actions: [] })).toBeNull();
    expect(await store.jobs.get(adsync.id)).toMatchObject({ state: 'queued', attempts: 0 });
    expect(
      await store.jobs.lease({
        agentId: 'adsync-agent',
        leaseMs: 1_000,
        now: at(0),
        actions: ['directory.scanOu', 'adsync.stopScheduler'],
      }),
    ).toMatchObject({ id: adsync.id, agentId: 'adsync-agent' });
  });

  test('the sweep puts an expired read-only lease back in the queue; its slow holder may still report until someone else takes it', async () => {
    const job = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) });
    expect(await store.jobs.expireLeases({ now: at(999) })).toEqual({
      outcomeUnknown: [],
      exhausted: [],
      requeued: [],
    });
    const swept = await store.jobs.expireLeases({ now: at(1_000) });
    expect(swept.requeued.map((j) => [j.id, j.state, j.attempts])).toEqual([[job.id, 'queued', 1]]);
    expect(await store.jobs.expireLeases({ now: at(2_000) })).toEqual({
      outcomeUnknown: [],
      exhausted: [],
      requeued: [],
    });
    // Progress is refused (it holds no lease), but a result is still welcome.
    expect(
      await store.jobs.reportProgress({
        jobId: job.id,
        agentId: 'agent-1',
        progress: {},
        leaseMs: 1_000,
        now: at(1_500),
      }),
    ).toBe(false);
    expect(
      await store.jobs.finish({
        jobId: job.id,
        agentId: 'agent-1',
        outcome: 'succeeded',
        result: { late: true },
        error: null,
        now: at(1_500),
      }),
    ).toMatchObject({ state: 'succeeded', attempts: 1, result: { late: true } });

    const second = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) });
    await store.jobs.expireLeases({ now: at(1_000) });
    expect(await store.jobs.lease({ agentId: 'agent-2', leaseMs: 1_000, now: at(1_000) })).toMatchObject({
      id: second.id,
      agentId: 'agent-2',
      attempts: 2,
    });
    expect(
      await store.jobs.finish({
        jobId: second.id,
        agentId: 'agent-1',
        outcome: 'succeeded',
        result: 1,
        error: null,
        now: at(1_100),
      }),
    ).toBeNull();
    // A job nobody ever leased cannot be finished by anyone.
    const fresh = await enqueue();
    expect(
      await store.jobs.finish({
        jobId: fresh.id,
        agentId: 'agent-1',
        outcome: 'succeeded',
        result: 1,
        error: null,
        now: at(1),
      }),
    ).toBeNull();
  });

  test('a read-only job is retried at most maxAttempts times, then fails with RELAY.AGENT_LOST', async () => {
    const job = await enqueue();
    for (let i = 0; i < 3; i += 1) {
      expect(
        await store.jobs.lease({ agentId: `agent-${i}`, leaseMs: 1_000, now: at(i * 1_000), maxAttempts: 3 }),
      ).toMatchObject({ id: job.id, attempts: i + 1 });
    }
    // The third lease ran out: lease() no longer offers it, even before the sweep has run.
    expect(await store.jobs.lease({ agentId: 'agent-9', leaseMs: 1_000, now: at(5_000), maxAttempts: 3 })).toBeNull();
    const swept = await store.jobs.expireLeases({ now: at(5_000), maxAttempts: 3 });
    expect(swept.requeued).toEqual([]);
    expect(swept.exhausted).toHaveLength(1);
    expect(swept.exhausted[0]).toMatchObject({
      id: job.id,
      state: 'failed',
      attempts: 3,
      agentId: 'agent-2',
      error: { code: 'RELAY.AGENT_LOST' },
    });
    expect((swept.exhausted[0]!.error as { message: string }).message).toBe(
      'The agent stopped answering 3 times while running this (verify), so it was not tried again.',
    );
    expect((swept.exhausted[0]!.error as { hint: string }).hint).toContain('Check the agent host');

    // An unconfirmed mutating job is bounded the same way, and says that nothing changed.
    const mutating = await store.jobs.enqueue({
      kind: 'adsync.startService',
      purpose: 'step.action',
      payload: {},
      conversationId: unique('conv'),
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
      mutating: true,
      pinnedAgent: 'agent-1',
    });
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0), maxAttempts: 1 });
    const unstarted = await store.jobs.expireLeases({ now: at(1_000), maxAttempts: 1 });
    expect(unstarted.exhausted.map((j) => j.id)).toEqual([mutating.id]);
    expect((unstarted.exhausted[0]!.error as { message: string }).message).toBe(
      'The agent stopped answering 1 times before it started adsync.startService, so it was not tried again. Nothing was changed.',
    );
  });

  test('the sweep turns a started mutating job into outcome unknown, and never requeues it', async () => {
    const job = await store.jobs.enqueue({
      kind: 'adsync.stopService',
      purpose: 'step.action',
      payload: {},
      conversationId: unique('conv'),
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
      mutating: true,
      pinnedAgent: 'agent-1',
    });
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 1_000, now: at(0) });
    await store.jobs.reportProgress({
      jobId: job.id,
      agentId: 'agent-1',
      progress: { phase: 'starting' },
      leaseMs: 1_000,
      now: at(0),
      starting: true,
    });
    const swept = await store.jobs.expireLeases({ now: at(1_000) });
    expect(swept.requeued).toEqual([]);
    expect(swept.exhausted).toEqual([]);
    expect(swept.outcomeUnknown.map((j) => [j.id, j.state, (j.error as { code: string }).code])).toEqual([
      [job.id, 'failed', 'RELAY.OUTCOME_UNKNOWN'],
    ]);
  });

  test('a finished result is claimed by one applier at a time, renewed while it works, and never handed out again once applied', async () => {
    const job = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 10_000, now: at(0) });
    // The finisher holds the claim: nobody else may start on it.
    const finished = await store.jobs.finish({
      jobId: job.id,
      agentId: 'agent-1',
      outcome: 'succeeded',
      result: { n: 1 },
      error: null,
      now: at(0),
      claimMs: 1_000,
    });
    expect(finished).toMatchObject({ state: 'succeeded', appliedAt: null });
    expect(await store.jobs.claimUnapplied({ now: at(500), claimMs: 1_000, limit: 10 })).toEqual([]);
    expect(await store.jobs.renewApplyClaim({ jobId: job.id, now: at(900), claimMs: 1_000 })).toBe(true);
    expect(await store.jobs.claimUnapplied({ now: at(1_500), claimMs: 1_000, limit: 10 })).toEqual([]);
    // The finisher died: its claim runs out and the job is handed to exactly one claimant.
    const [first, second] = await Promise.all([
      store.jobs.claimUnapplied({ now: at(2_000), claimMs: 1_000, limit: 10 }),
      store.jobs.claimUnapplied({ now: at(2_000), claimMs: 1_000, limit: 10 }),
    ]);
    expect([...first!, ...second!]).toEqual([job.id]);
    await store.jobs.markApplied({ jobId: job.id, now: at(2_100) });
    expect(await store.jobs.get(job.id)).toMatchObject({ appliedAt: at(2_100) });
    expect(await store.jobs.claimUnapplied({ now: at(99_000), claimMs: 1_000, limit: 10 })).toEqual([]);
    expect(await store.jobs.renewApplyClaim({ jobId: job.id, now: at(99_000) })).toBe(false);
  });

  test('a consumer that keeps failing on a result is retried after a pause, then given up on', async () => {
    const job = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 10_000, now: at(0) });
    await store.jobs.finish({
      jobId: job.id,
      agentId: 'agent-1',
      outcome: 'failed',
      result: null,
      error: { code: 'X' },
      now: at(0),
      claimMs: 1_000,
    });
    expect(
      await store.jobs.releaseApplyClaim({ jobId: job.id, now: at(100), retryAfterMs: 5_000, maxFailures: 2 }),
    ).toBe('retry');
    expect(await store.jobs.claimUnapplied({ now: at(4_000), limit: 10 })).toEqual([]);
    expect(await store.jobs.claimUnapplied({ now: at(5_100), limit: 10 })).toEqual([job.id]);
    expect(
      await store.jobs.releaseApplyClaim({ jobId: job.id, now: at(5_200), retryAfterMs: 5_000, maxFailures: 2 }),
    ).toBe('gave-up');
    expect(await store.jobs.get(job.id)).toMatchObject({ appliedAt: at(5_200) });
    expect(await store.jobs.claimUnapplied({ now: at(99_000), limit: 10 })).toEqual([]);
  });

  test('queued work that no online agent can run is reported by action', async () => {
    const name = unique('agent').replace(/[^A-Za-z0-9._-]/g, '');
    const stopping = await store.jobs.enqueue({
      kind: 'adsync.stopScheduler',
      purpose: 'step.action',
      payload: { action: 'adsync.stopScheduler' },
      conversationId: unique('conv'),
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
      mutating: true,
      pinnedAgent: name,
    });
    await enqueue(unique('conv'), { action: 'directory.scanOu', ou: 'OU=Sales' });
    const waitingFor = async (since: Date): Promise<string[]> =>
      (await store.jobs.waitingForCapableAgent({ onlineSince: since }))
        .filter((w) => w.action !== '(none)')
        .map((w) => `${w.action}:${w.jobs}`);
    await store.agents.touch({ name, version: '1', now: at(10_000) });
    // Heard from, but it never said what it runs: the relay offers it nothing, so it counts for nothing.
    expect(await waitingFor(at(5_000))).toEqual(['adsync.stopScheduler:1', 'directory.scanOu:1']);
    await store.agents.declareCapabilities({ name, actions: ['directory.scanOu'], readOnly: true });
    expect(await store.agents.get(name)).toMatchObject({ actions: ['directory.scanOu'], readOnly: true });
    expect(await waitingFor(at(5_000))).toEqual(['adsync.stopScheduler:1']);
    // The same agent, but not heard from since: nothing can run anything.
    expect(await waitingFor(at(20_000))).toEqual(['adsync.stopScheduler:1', 'directory.scanOu:1']);
    await store.agents.declareCapabilities({
      name,
      actions: ['directory.scanOu', 'adsync.stopScheduler'],
      readOnly: false,
    });
    expect(await waitingFor(at(5_000))).toEqual([]);
    expect(
      (await store.jobs.waitingForCapableAgent({ onlineSince: at(20_000) })).find(
        (w) => w.action === 'adsync.stopScheduler',
      ),
    ).toMatchObject({ jobs: 1, since: stopping.createdAt });
  });

  test('finish by an agent that does not hold the lease is refused and changes nothing', async () => {
    const job = await enqueue();
    const leased = await store.jobs.lease({ agentId: 'agent-1', leaseMs: 10_000, now: at(0) });
    expect(
      await store.jobs.finish({
        jobId: job.id,
        agentId: 'agent-2',
        outcome: 'failed',
        result: null,
        error: { boom: 1 },
        now: at(1),
      }),
    ).toBeNull();
    expect(await store.jobs.get(job.id)).toEqual(leased);
    expect(
      await store.jobs.finish({
        jobId: 'not-a-uuid',
        agentId: 'agent-1',
        outcome: 'failed',
        result: null,
        error: null,
        now: at(1),
      }),
    ).toBeNull();
    expect(await store.jobs.get('not-a-uuid')).toBeNull();
  });

  test('a second finish is refused and keeps the first outcome', async () => {
    const job = await enqueue();
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 10_000, now: at(0) });
    const first = await store.jobs.finish({
      jobId: job.id,
      agentId: 'agent-1',
      outcome: 'failed',
      result: null,
      error: { code: 'DIRECTORY.UNAVAILABLE' },
      now: at(5),
    });
    expect(first).toMatchObject({ state: 'failed', error: { code: 'DIRECTORY.UNAVAILABLE' } });
    expect(
      await store.jobs.finish({
        jobId: job.id,
        agentId: 'agent-1',
        outcome: 'succeeded',
        result: { ok: true },
        error: null,
        now: at(6),
      }),
    ).toBeNull();
    expect(await store.jobs.get(job.id)).toEqual(first);
  });

  test('20 concurrent lease calls on 5 jobs hand out each job exactly once', async () => {
    const jobs = [];
    for (let i = 0; i < 5; i += 1) jobs.push(await enqueue(unique('conv'), { i }));
    // PostgreSQL: a second store means a second pool, i.e. truly separate connections racing.
    const other = backend.name === 'PostgreSQL' ? await backend.open() : store;
    try {
      const stores = [store, other];
      const results = await Promise.all(
        Array.from({ length: 20 }, (_, i) =>
          stores[i % 2]!.jobs.lease({ agentId: `agent-${i}`, leaseMs: 60_000, now: at(0) }),
        ),
      );
      const won = results.filter((job): job is JobRecord => job !== null);
      expect(won).toHaveLength(5);
      expect(new Set(won.map((job) => job.id))).toEqual(new Set(jobs.map((job) => job.id)));
      for (const job of won) expect((await store.jobs.get(job.id))?.agentId).toBe(job.agentId);
    } finally {
      if (other !== store) await other.close();
    }
  });

  test('two instances sweeping at once: every expired lease is handled by exactly one of them', async () => {
    const jobs = [];
    for (let i = 0; i < 6; i += 1) jobs.push(await enqueue(unique('conv'), { i }));
    for (let i = 0; i < 6; i += 1)
      await store.jobs.lease({ agentId: `agent-${i}`, leaseMs: 1_000, now: at(0), maxAttempts: 3 });
    // Two of them have used up their attempts.
    await store.db.query('UPDATE jobs SET attempts = 3 WHERE id = ANY($1::uuid[])', [[jobs[0]!.id, jobs[1]!.id]]);
    const other = backend.name === 'PostgreSQL' ? await backend.open() : store;
    try {
      const results = await Promise.all(
        [store, other, store, other].map((s) => s.jobs.expireLeases({ now: at(1_000), maxAttempts: 3 })),
      );
      const exhausted = results.flatMap((r) => r.exhausted.map((j) => j.id));
      const requeued = results.flatMap((r) => r.requeued.map((j) => j.id));
      expect(exhausted.sort()).toEqual([jobs[0]!.id, jobs[1]!.id].sort());
      expect(requeued.sort()).toEqual(
        jobs
          .slice(2)
          .map((j) => j.id)
          .sort(),
      );
    } finally {
      if (other !== store) await other.close();
    }
  });

  test('verification lifecycle and listUnreported', async () => {
    const conversationId = unique('conv');
    const jobA = await enqueue(conversationId);
    const jobB = await enqueue(conversationId);
    const a = await store.verifications.create({ jobId: jobA.id, conversationId, migrationId: null, ouInput: 'Sales' });
    const b = await store.verifications.create({
      jobId: jobB.id,
      conversationId,
      migrationId: null,
      ouInput: 'OU=HR,DC=contoso,DC=com',
    });
    expect(a).toMatchObject({
      jobId: jobA.id,
      status: 'running',
      baseDn: null,
      cardActivityId: null,
      summary: null,
      report: null,
      reportedAt: null,
    });
    await expect(
      store.verifications.create({ jobId: jobA.id, conversationId, migrationId: null, ouInput: 'x' }),
    ).rejects.toThrow(/already has a verification/);

    await store.verifications.setCardActivityId(a.id, 'activity-1');
    expect(await store.verifications.get(a.id)).toMatchObject({ cardActivityId: 'activity-1' });
    expect(await store.verifications.findByJob(jobB.id)).toEqual(b);
    expect((await store.verifications.listByConversation(conversationId, 10)).map((v) => v.id)).toEqual([b.id, a.id]);
    expect((await store.verifications.listByConversation(conversationId, 1)).map((v) => v.id)).toEqual([b.id]);

    const mine = async (): Promise<string[]> =>
      (await store.verifications.listUnreported()).filter((v) => v.conversationId === conversationId).map((v) => v.id);
    expect(await mine()).toEqual([]);
    // Job A finishes while the bot is down: its verification is now unreported. B is still running.
    await store.jobs.lease({ agentId: 'agent-1', leaseMs: 10_000, now: at(0) });
    await store.jobs.finish({
      jobId: jobA.id,
      agentId: 'agent-1',
      outcome: 'succeeded',
      result: {},
      error: null,
      now: at(1),
    });
    expect(await mine()).toEqual([a.id]);

    await store.verifications.complete({
      id: a.id,
      status: 'reported',
      baseDn: 'OU=Sales,DC=contoso,DC=com',
      summary: { missing: 2 },
      report: { missing: ['x', 'y'] },
      now: at(2),
    });
    expect(await store.verifications.get(a.id)).toMatchObject({
      status: 'reported',
      baseDn: 'OU=Sales,DC=contoso,DC=com',
      summary: { missing: 2 },
      report: { missing: ['x', 'y'] },
      reportedAt: at(2),
    });
    expect(await mine()).toEqual([]);
    // A retried complete keeps the first result.
    await store.verifications.complete({
      id: a.id,
      status: 'failed',
      baseDn: null,
      summary: null,
      report: null,
      now: at(3),
    });
    expect(await store.verifications.get(a.id)).toMatchObject({ status: 'reported', reportedAt: at(2) });
    await expect(
      store.verifications.complete({
        id: '00000000-0000-4000-8000-000000000000',
        status: 'failed',
        baseDn: null,
        summary: null,
        report: null,
        now: at(3),
      }),
    ).rejects.toThrow(/does not exist/);
  });

  test("verifications.listConfirmations reads each reported verify's Cloud Sync counts, newest first", async () => {
    const conversationId = unique('conv');
    const migration = (await store.migrations.create({ name: 'm', conversationId, createdBy: 'alice' }))!;
    const report = async (baseDn: string, cloudSync: unknown, now: Date): Promise<void> => {
      const v = await store.verifications.create({
        jobId: (await enqueue(conversationId)).id,
        conversationId,
        migrationId: migration.id,
        ouInput: baseDn,
      });
      await store.verifications.complete({
        id: v.id,
        status: 'reported',
        baseDn,
        summary: {},
        report: { cloudSync },
        now,
      });
    };
    const job = 'AD2AADProvisioning.x';
    await report('OU=Sales,DC=contoso,DC=com', { jobId: job, onPrem: 7, confirmed: 5, unconfirmed: [] }, at(1));
    // Logs not read: no counts, so not listed (never "0 of 0").
    await report('OU=HR,DC=contoso,DC=com', { unavailable: 'no Cloud Sync job is set' }, at(2));
    await report('OU=Sales,DC=contoso,DC=com', { jobId: job, onPrem: 7, confirmed: 7, unconfirmed: [] }, at(3));
    // Still running: not listed.
    await store.verifications.create({
      jobId: (await enqueue(conversationId)).id,
      conversationId,
      migrationId: migration.id,
      ouInput: 'OU=IT',
    });
    expect(await store.verifications.listConfirmations(migration.id)).toEqual([
      { baseDn: 'OU=Sales,DC=contoso,DC=com', at: at(3), jobId: job, inScope: 7, confirmed: 7 },
      { baseDn: 'OU=Sales,DC=contoso,DC=com', at: at(1), jobId: job, inScope: 7, confirmed: 5 },
    ]);
    expect(await store.verifications.listConfirmations('not-a-uuid')).toEqual([]);
  });

  test('audit log appends, lists latest first, and refuses UPDATE, DELETE and TRUNCATE', async () => {
    const actor = unique('actor');
    const who = { id: actor, name: 'Adele Vance' };
    await store.audit.record(who, {
      at: at(10),
      action: 'migration.create',
      target: 'm1',
      outcome: 'ok',
      details: { a: 1 },
      conversationId: 'c1',
    });
    await store.audit.record(who, {
      at: at(30),
      action: 'verify.start',
      target: null,
      outcome: 'ok',
      details: null,
      conversationId: null,
    });
    await store.audit.record(who, {
      at: at(20),
      action: 'job.finish',
      target: 'j1',
      outcome: 'failed',
      details: ['x'],
      conversationId: 'c1',
    });
    const latest = (await store.audit.latest(100)).filter((entry) => entry.actor === actor);
    expect(latest.map((entry) => entry.action)).toEqual(['verify.start', 'job.finish', 'migration.create']);
    expect(latest[2]).toEqual({
      at: at(10),
      actor,
      actorName: 'Adele Vance',
      action: 'migration.create',
      target: 'm1',
      outcome: 'ok',
      details: { a: 1 },
      conversationId: 'c1',
    });

    await store.audit.record(who, {
      action: 'defaulted',
      target: null,
      outcome: 'ok',
      details: undefined,
      conversationId: null,
    });
    const [newest] = await store.audit.latest(1);
    expect(newest).toMatchObject({ actor, action: 'defaulted', details: null });
    expect(Math.abs(newest!.at.getTime() - Date.now())).toBeLessThan(60_000);

    await expect(
      store.db.query('UPDATE audit_log SET outcome = $1 WHERE actor = $2', ['tampered', actor]),
    ).rejects.toThrow(/append-only/);
    await expect(store.db.query('DELETE FROM audit_log WHERE actor = $1', [actor])).rejects.toThrow(/append-only/);
    await expect(store.db.query('TRUNCATE audit_log')).rejects.toThrow(/append-only/);
    expect((await store.audit.latest(100)).filter((entry) => entry.actor === actor)).toHaveLength(4);
  });

  test("audit rows carry the actor's id and name, and one person's rows are found by either", async () => {
    const conversationId = unique('conv');
    const adele = { id: unique('adele-oid'), name: 'Adele Vance' };
    const megan = { id: unique('megan-oid'), name: 'Megan Bowen' };
    await store.audit.record(adele, {
      at: at(1),
      action: 'step.confirm',
      target: 'step 1',
      outcome: 'done',
      conversationId,
    });
    await store.audit.record(megan, {
      at: at(2),
      action: 'approval.approve',
      target: 'step 8',
      outcome: 'approved',
      conversationId,
    });
    await store.audit.record(
      { id: 'syncshift', name: 'SyncShift' },
      { at: at(3), action: 'verify.report', target: 'OU=Sales', outcome: 'reported', conversationId },
    );
    await store.audit.record(adele, {
      at: at(4),
      action: 'step.run',
      target: 'step 2',
      outcome: 'started',
      conversationId: unique('other-conv'),
    });

    expect(
      (await store.audit.forConversation(conversationId, 10)).map((e) => [e.actor, e.actorName, e.action]),
    ).toEqual([
      [adele.id, 'Adele Vance', 'step.confirm'],
      [megan.id, 'Megan Bowen', 'approval.approve'],
      ['syncshift', 'SyncShift', 'verify.report'],
    ]);
    const actions = async (person: string): Promise<string[]> =>
      (await store.audit.forConversation(conversationId, 10, person)).map((e) => e.action);
    expect(await actions(adele.id)).toEqual(['step.confirm']);
    expect(await actions(adele.id.toUpperCase())).toEqual(['step.confirm']);
    expect(await actions('adele vance')).toEqual(['step.confirm']);
    expect(await actions('Megan Bowen')).toEqual(['approval.approve']);
    expect(await actions('Adele')).toEqual([]);
  });

  test('transactions roll back on error and db.query inside a transaction fails instead of hanging', async () => {
    const conversationId = unique('conv');
    await expect(
      store.db.transaction(async (tx) => {
        await tx.query('INSERT INTO conversation_refs (conversation_id, reference) VALUES ($1, $2::jsonb)', [
          conversationId,
          '{}',
        ]);
        throw new Error('abort');
      }),
    ).rejects.toThrow('abort');
    expect(await store.conversations.getReference(conversationId)).toBeNull();
    await expect(store.db.transaction(async () => store.db.query('SELECT 1'))).rejects.toThrow(/inside db.transaction/);
  });

  test('concurrent transactions do not interleave', async () => {
    const conversationId = unique('conv');
    await store.conversations.saveReference(conversationId, { n: 0 });
    // Read-modify-write with a pause in between: interleaving would lose increments.
    // PostgreSQL needs the row lock for that; PGlite gets it from running one transaction at a time.
    await Promise.all(
      Array.from({ length: 10 }, () =>
        store.db.transaction(async (tx) => {
          const [row] = await tx.query<{ reference: { n: number } }>(
            'SELECT reference FROM conversation_refs WHERE conversation_id = $1 FOR UPDATE',
            [conversationId],
          );
          await new Promise((resolve) => setTimeout(resolve, 5));
          await tx.query('UPDATE conversation_refs SET reference = $2::jsonb WHERE conversation_id = $1', [
            conversationId,
            JSON.stringify({ n: row!.reference.n + 1 }),
          ]);
        }),
      ),
    );
    expect(await store.conversations.getReference(conversationId)).toEqual({ n: 10 });
  });

  test('an enrollment code is spent once, expires, and gives its agent the new credential', async () => {
    const name = unique('agent').replace(/[^A-Za-z0-9._-]/g, '');
    const code = unique('code-digest');
    await store.agents.addEnrollmentCode({
      codeSha256: code,
      agentName: name,
      purpose: 'enroll',
      createdBy: 'approver-1',
      expiresAt: at(600_000),
    });
    // Two agents racing with the same code: exactly one wins.
    const [a, b] = await Promise.all([
      store.agents.redeemEnrollmentCode({ codeSha256: code, secretSha256: 'digest-a', now: at(1_000) }),
      store.agents.redeemEnrollmentCode({ codeSha256: code, secretSha256: 'digest-b', now: at(1_000) }),
    ]);
    expect([a, b].filter((r) => r !== null)).toEqual([{ agentName: name, purpose: 'enroll', createdBy: 'approver-1' }]);
    const enrolled = await store.agents.get(name);
    expect(enrolled).toMatchObject({ name, status: 'active', enrolledBy: 'approver-1', actionsRun: 0, lease: null });
    expect([a ? 'digest-a' : 'digest-b']).toContain(enrolled!.secretSha256);
    expect(
      await store.agents.redeemEnrollmentCode({ codeSha256: code, secretSha256: 'digest-c', now: at(2_000) }),
    ).toBeNull();
    expect(
      await store.agents.redeemEnrollmentCode({ codeSha256: 'never-issued', secretSha256: 'digest-c', now: at(2_000) }),
    ).toBeNull();
    const late = unique('code-digest');
    await store.agents.addEnrollmentCode({
      codeSha256: late,
      agentName: name,
      purpose: 'rotate',
      createdBy: 'approver-1',
      expiresAt: at(10_000),
    });
    expect(
      await store.agents.redeemEnrollmentCode({ codeSha256: late, secretSha256: 'digest-d', now: at(10_000) }),
    ).toBeNull();
    expect((await store.agents.get(name))!.secretSha256).toBe(enrolled!.secretSha256);
  });

  test('revoking an agent ends its leases: the read-only job goes to another agent, the mutating one becomes outcome unknown', async () => {
    const name = unique('agent').replace(/[^A-Za-z0-9._-]/g, '');
    await store.agents.touch({ name, version: '1.2.3', now: at(0) });
    const readOnly = await enqueue();
    const mutating = await store.jobs.enqueue({
      kind: 'adsync.stopScheduler',
      purpose: 'step.action',
      payload: {},
      conversationId: unique('conv'),
      migrationId: null,
      requestedBy: { id: 'alice', name: 'alice' },
      mutating: true,
      pinnedAgent: name,
    });
    await store.jobs.lease({ agentId: name, leaseMs: 600_000, now: at(0) });
    await store.jobs.lease({ agentId: name, leaseMs: 600_000, now: at(0) });
    await store.jobs.reportProgress({
      jobId: mutating.id,
      agentId: name,
      progress: {},
      leaseMs: 600_000,
      now: at(0),
      starting: true,
    });
    expect((await store.agents.get(name))!.lease).toMatchObject({ jobId: mutating.id, kind: 'adsync.stopScheduler' });
    expect(await store.agents.revoke({ name, by: 'approver-1', now: at(1_000) })).toEqual({ releasedJobs: 2 });
    expect(await store.agents.get(name)).toMatchObject({ status: 'revoked', version: '1.2.3', lastSeenAt: at(0) });
    expect(await store.jobs.expireMutating({ now: at(1_000) })).toMatchObject([
      { id: mutating.id, state: 'failed', error: { code: 'RELAY.OUTCOME_UNKNOWN' } },
    ]);
    expect(await store.jobs.lease({ agentId: 'agent-2', leaseMs: 1_000, now: at(1_000) })).toMatchObject({
      id: readOnly.id,
      agentId: 'agent-2',
      attempts: 2,
    });
    // A revoked agent can come back only through a new enrollment.
    const code = unique('code-digest');
    await store.agents.addEnrollmentCode({
      codeSha256: code,
      agentName: name,
      purpose: 'enroll',
      createdBy: 'approver-2',
      expiresAt: at(600_000),
    });
    expect(
      await store.agents.redeemEnrollmentCode({ codeSha256: code, secretSha256: 'fresh', now: at(2_000) }),
    ).not.toBeNull();
    expect(await store.agents.get(name)).toMatchObject({ status: 'active', secretSha256: 'fresh', revokedAt: null });
    await store.agents.countResult(name);
    expect((await store.agents.list()).find((agent) => agent.name === name)).toMatchObject({ actionsRun: 1 });
  });

  test('an activity key is seen once, whoever asks', async () => {
    const key = unique('msteams|conv|activity');
    const results = await Promise.all([
      store.activities.markSeen(key, at(0)),
      store.activities.markSeen(key, at(0)),
      store.activities.markSeen(key, at(1)),
    ]);
    expect(results.filter(Boolean)).toHaveLength(1);
    expect(await store.activities.prune(at(-1))).toBe(0);
    expect(await store.activities.prune(at(2))).toBeGreaterThanOrEqual(1);
    expect(await store.activities.markSeen(key, at(3))).toBe(true);
  });

  // PGlite allows one process per directory, so two bot instances can only share PostgreSQL.
  if (backend.name === 'PostgreSQL') {
    test('two bot instances on one database agree on which delivery of an activity is the first', async () => {
      const other = await backend.open();
      try {
        const keys = Array.from({ length: 20 }, (_, i) => unique(`msteams|conv|dup-${i}`));
        const firsts = await Promise.all(
          keys.flatMap((key) => [store.activities.markSeen(key, at(0)), other.activities.markSeen(key, at(0))]),
        );
        for (let i = 0; i < keys.length; i++)
          expect([firsts[2 * i], firsts[2 * i + 1]].filter(Boolean)).toHaveLength(1);
      } finally {
        await other.close();
      }
    });
  }

  test('data survives close and reopen', async () => {
    const conversationId = unique('conv');
    const job = await enqueue(conversationId, { keep: true });
    await store.conversations.saveReference(conversationId, { kept: true });
    await store.close();
    if (backend.name === 'PGlite') {
      // PGlite allows one user per directory; a second open while the first is live must be refused.
      const blocker = await backend.open();
      await expect(backend.open()).rejects.toThrow(/in use/);
      await blocker.close();
    }
    store = await backend.open();
    const recorded = await store.db.query<{ n: number }>('SELECT count(*)::int AS n FROM schema_migrations');
    expect(recorded[0]?.n).toBe(readMigrationFiles().length);
    expect(await store.jobs.get(job.id)).toMatchObject({ payload: { keep: true }, state: 'queued' });
    expect(await store.conversations.getReference(conversationId)).toEqual({ kept: true });
  });
});
