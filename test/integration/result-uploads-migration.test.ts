import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrationFiles } from '../../src/store/migrate';
import { openPgliteDb, type PgliteDb } from '../../src/store/pglite-db';
import { createRepositories } from '../../src/store/repositories';

/**
 * A database with scans stored before pieces were tagged by upload (migration 009) must read them
 * back unchanged afterwards: a verify finished yesterday is still the record of what was compared.
 */
describe('migrating stored scan pieces to per-upload pieces', () => {
  let db: PgliteDb;
  let before: string;
  beforeAll(async () => {
    before = fs.mkdtempSync(path.join(os.tmpdir(), 'syncshift-migrations-'));
    for (const file of readMigrationFiles().filter((f) => f.name < '009'))
      fs.writeFileSync(path.join(before, file.name), file.sql);
    db = await openPgliteDb({});
  });
  afterAll(async () => {
    await db?.close();
    fs.rmSync(before, { recursive: true, force: true });
  });

  it("keeps a finished scan's users readable, in their order", async () => {
    await migrate(db, { dir: before });
    const [job] = await db.query<{ id: string }>(
      `INSERT INTO jobs (kind, payload, state, conversation_id, requested_by, agent_id, finished_at, applied_at)
       VALUES ('directory.scanOu', '{}', 'succeeded', 'conv', 'alice', 'agent-1', now(), now()) RETURNING id`,
    );
    const users = (from: number): string =>
      JSON.stringify([0, 1].map((i) => ({ dn: `CN=u${from + i},OU=x`, anchor: `a${from + i}`, disabled: false })));
    await db.query(`INSERT INTO job_result_pieces (job_id, seq, users) VALUES ($1, 0, $2::jsonb), ($1, 1, $3::jsonb)`, [
      job!.id,
      users(0),
      users(2),
    ]);

    expect(await migrate(db, { dir: DEFAULT_MIGRATIONS_DIR })).toEqual({
      applied: readMigrationFiles()
        .filter((f) => f.name >= '009')
        .map((f) => f.name),
    });
    const jobs = createRepositories(db).jobs;
    const read: string[] = [];
    for await (const piece of jobs.resultUsers(job!.id)) read.push(...piece.map((u) => u.dn));
    expect(read).toEqual(['CN=u0,OU=x', 'CN=u1,OU=x', 'CN=u2,OU=x', 'CN=u3,OU=x']);
  });
});
