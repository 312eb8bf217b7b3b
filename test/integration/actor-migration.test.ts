import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { SUMMARY_ACTOR } from '../../src/runbook/actor';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrationFiles } from '../../src/store/migrate';
import { openPgDb } from '../../src/store/pg-db';
import { openPgliteDb } from '../../src/store/pglite-db';
import { createRepositories } from '../../src/store/repositories';
import type { ScriptDb } from '../../src/store/sql';
import { PG_URL, pgliteBackend, postgresBackend } from '../helpers/store-backends';

/**
 * Rows written before every actor had an id and a name (migration 011) read back as one: a job's
 * "id|name" requester or plain value becomes two columns, and an audit row that holds only an id
 * or only a display name gets its name from details.by or from the actor itself. The audit log
 * stays append-only throughout.
 */
describe.each([pgliteBackend(), postgresBackend()])('migrating actors on $name', (backend) => {
  let db: ScriptDb;
  let before: string;
  beforeAll(async () => {
    await backend.setUp();
    before = fs.mkdtempSync(path.join(os.tmpdir(), 'syncshift-migrations-'));
    for (const file of readMigrationFiles().filter((f) => f.name < '011'))
      fs.writeFileSync(path.join(before, file.name), file.sql);
    db = backend.schemaFor
      ? await openPgDb({ connectionString: PG_URL, schema: backend.schemaFor('actor_migration') })
      : await openPgliteDb({});
  });
  afterAll(async () => {
    await db?.close();
    fs.rmSync(before, { recursive: true, force: true });
    await backend.tearDown();
  });

  it('splits job requesters and names the actor of every audit row', async () => {
    await migrate(db, { dir: before });
    const job = async (requestedBy: string): Promise<string> =>
      (
        await db.query<{ id: string }>(
          `INSERT INTO jobs (kind, purpose, payload, conversation_id, requested_by) VALUES ('directory.scanOu', 'verify', '{}', 'conv', $1) RETURNING id`,
          [requestedBy],
        )
      )[0]!.id;
    const jobs = {
      step: await job('adele-oid|Adele Vance'),
      barInName: await job('lynne-oid|Lynne | Ops'),
      verify: await job('Megan Bowen'),
      summary: await job('syncshift:summary'),
    };
    const audit = (seconds: number, actor: string, details: unknown): Promise<unknown> =>
      db.query(
        `INSERT INTO audit_log (at, actor, action, target, outcome, details, conversation_id) VALUES ($1, $2, 'a', null, 'ok', $3::jsonb, 'conv')`,
        [new Date(Date.UTC(2026, 0, 1, 0, 0, seconds)).toISOString(), actor, JSON.stringify(details)],
      );
    await audit(1, 'adele-oid', { by: 'Adele Vance', verb: 'step.confirm' });
    await audit(2, 'Megan Bowen', { jobId: 'j1' });
    await audit(3, 'syncshift', { jobId: 'j1' });
    await audit(4, 'agent:dc01', { attempt: 1 });
    await audit(5, 'adele-oid', ['not', 'an', 'object']);
    await audit(6, 'adele-oid', null);

    await migrate(db, { dir: DEFAULT_MIGRATIONS_DIR });
    const repos = createRepositories(db);
    expect({
      step: (await repos.jobs.get(jobs.step))!.requestedBy,
      barInName: (await repos.jobs.get(jobs.barInName))!.requestedBy,
      verify: (await repos.jobs.get(jobs.verify))!.requestedBy,
      summary: (await repos.jobs.get(jobs.summary))!.requestedBy,
    }).toEqual({
      step: { id: 'adele-oid', name: 'Adele Vance' },
      barInName: { id: 'lynne-oid', name: 'Lynne | Ops' },
      verify: { id: 'Megan Bowen', name: 'Megan Bowen' },
      summary: SUMMARY_ACTOR,
    });
    expect((await repos.audit.forConversation('conv', 10)).map((e) => [e.actor, e.actorName])).toEqual([
      ['adele-oid', 'Adele Vance'],
      ['Megan Bowen', 'Megan Bowen'],
      ['syncshift', 'SyncShift'],
      ['agent:dc01', 'dc01'],
      ['adele-oid', 'adele-oid'],
      ['adele-oid', 'adele-oid'],
    ]);
    // Old rows are named by the view, not rewritten: the log still refuses every change.
    expect(
      (await db.query<{ n: number }>(`SELECT count(*)::int AS n FROM audit_log WHERE actor_name IS NOT NULL`))[0]!.n,
    ).toBe(0);
    await expect(db.query(`UPDATE audit_log SET actor_name = 'x'`)).rejects.toThrow(/append-only/);

    // New rows name their actor themselves, and a job cannot be stored without a requester.
    await repos.audit.record(
      { id: 'adele-oid', name: 'Adele V.' },
      { action: 'b', target: null, outcome: 'ok', details: { by: 'someone else' }, conversationId: 'conv' },
    );
    expect((await repos.audit.forConversation('conv', 1))[0]).toMatchObject({
      actor: 'adele-oid',
      actorName: 'Adele V.',
    });
    expect((await repos.audit.forConversation('conv', 10, 'Adele Vance')).map((e) => e.at.getUTCSeconds())).toEqual([
      1,
    ]);
    await expect(
      db.query(
        `INSERT INTO jobs (kind, purpose, payload, conversation_id, requested_by) VALUES ('directory.scanOu', 'verify', '{}', 'conv', 'alice')`,
      ),
    ).rejects.toThrow();
  });
});
