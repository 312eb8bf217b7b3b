import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { DEFAULT_MIGRATIONS_DIR, migrate, readMigrationFiles } from '../../src/store/migrate';
import { openPgliteDb, type PgliteDb } from '../../src/store/pglite-db';

/**
 * Jobs queued before jobs.purpose existed (migration 010) get the purpose of the row that linked
 * them to their consumer, so a result stored then still reaches the same consumer afterwards.
 */
describe('migrating jobs to a stored purpose', () => {
  let db: PgliteDb;
  let before: string;
  beforeAll(async () => {
    before = fs.mkdtempSync(path.join(os.tmpdir(), 'syncshift-migrations-'));
    for (const file of readMigrationFiles().filter((f) => f.name < '010'))
      fs.writeFileSync(path.join(before, file.name), file.sql);
    db = await openPgliteDb({});
  });
  afterAll(async () => {
    await db?.close();
    fs.rmSync(before, { recursive: true, force: true });
  });

  it('backfills each job from its step, wave, verification or summary link', async () => {
    await migrate(db, { dir: before });
    const [migration] = await db.query<{ id: string }>(
      `INSERT INTO migrations (name, conversation_id, created_by) VALUES ('m', 'conv', 'alice') RETURNING id`,
    );
    const job = async (kind: string, requestedBy = 'alice'): Promise<string> =>
      (
        await db.query<{ id: string }>(
          `INSERT INTO jobs (kind, payload, conversation_id, migration_id, requested_by) VALUES ($1, '{}', 'conv', $2, $3) RETURNING id`,
          [kind, migration!.id, requestedBy],
        )
      )[0]!.id;
    const ids = {
      check: await job('adsync.exportConfig'),
      precheck: await job('adsync.getScheduler'),
      action: await job('adsync.stopScheduler'),
      undo: await job('adsync.startScheduler'),
      wave: await job('directory.scanOu'),
      verify: await job('directory.scanOu'),
      summary: await job('directory.scanOu', 'syncshift:summary'),
      unlinkedScan: await job('directory.scanOu'),
      unlinkedStep: await job('adsync.getScheduler'),
    };
    for (const purpose of ['check', 'precheck', 'action', 'undo'] as const) {
      await db.query(`INSERT INTO step_jobs (job_id, migration_id, step, purpose) VALUES ($1, $2, 8, $3)`, [
        ids[purpose],
        migration!.id,
        purpose,
      ]);
    }
    const [wave] = await db.query<{ id: string }>(
      `INSERT INTO waves (migration_id, name, created_by) VALUES ($1, 'W1', 'alice') RETURNING id`,
      [migration!.id],
    );
    await db.query(`INSERT INTO wave_ous (wave_id, position, ou_input, count_job_id) VALUES ($1, 0, 'OU=Sales', $2)`, [
      wave!.id,
      ids.wave,
    ]);
    await db.query(
      `INSERT INTO verifications (job_id, conversation_id, migration_id, ou_input) VALUES ($1, 'conv', $2, 'OU=Sales')`,
      [ids.verify, migration!.id],
    );

    await migrate(db, { dir: DEFAULT_MIGRATIONS_DIR });
    const purposeOf = async (id: string): Promise<string> =>
      String((await db.query<{ purpose: string }>('SELECT purpose FROM jobs WHERE id = $1', [id]))[0]!.purpose);
    expect({
      check: await purposeOf(ids.check),
      precheck: await purposeOf(ids.precheck),
      action: await purposeOf(ids.action),
      undo: await purposeOf(ids.undo),
      wave: await purposeOf(ids.wave),
      verify: await purposeOf(ids.verify),
      summary: await purposeOf(ids.summary),
      unlinkedScan: await purposeOf(ids.unlinkedScan),
      unlinkedStep: await purposeOf(ids.unlinkedStep),
    }).toEqual({
      check: 'step.check',
      precheck: 'step.precheck',
      action: 'step.action',
      undo: 'step.undo',
      wave: 'wave.count',
      verify: 'verify',
      summary: 'summary.count',
      unlinkedScan: 'verify',
      unlinkedStep: 'step.check',
    });
    await expect(
      db.query(
        `INSERT INTO jobs (kind, payload, conversation_id, requested_by) VALUES ('directory.scanOu', '{}', 'conv', 'alice')`,
      ),
    ).rejects.toThrow();
    await expect(
      db.query(
        `INSERT INTO jobs (kind, purpose, payload, conversation_id, requested_by) VALUES ('directory.scanOu', 'guess', '{}', 'conv', 'alice')`,
      ),
    ).rejects.toThrow();
  });
});
