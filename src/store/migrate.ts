import { createHash } from 'node:crypto';
import fs from 'node:fs';
import path from 'node:path';
import { AppError } from '../shared/errors';
import type { ScriptDb } from './sql';

/** Arbitrary but fixed: every SyncShift process must take the same advisory lock to migrate. */
const MIGRATION_LOCK_KEY = 5_318_008_001;

const FILE_NAME = /^(\d{3,})_[a-z0-9_]+\.sql$/;

/** Next to this file in src (ts-jest) and in dist, provided the build copies the .sql files. */
export const DEFAULT_MIGRATIONS_DIR = path.join(__dirname, 'migrations');

export interface MigrationFile {
  name: string;
  sql: string;
  checksum: string;
}

export function readMigrationFiles(dir: string = DEFAULT_MIGRATIONS_DIR): MigrationFile[] {
  let entries: string[];
  try {
    entries = fs.readdirSync(dir);
  } catch (err) {
    throw new AppError(
      'STORE.ERROR',
      `The database migrations folder ${dir} cannot be read: ${err instanceof Error ? err.message : String(err)}`,
      {
        hint: 'The build must copy src/store/migrations/*.sql next to the compiled store code (dist/store/migrations).',
        cause: err,
      },
    );
  }
  const files = entries.filter((name) => FILE_NAME.test(name)).sort();
  if (files.length === 0) {
    throw new AppError('STORE.ERROR', `The database migrations folder ${dir} holds no NNN_name.sql files.`, {
      hint: 'The build must copy src/store/migrations/*.sql next to the compiled store code (dist/store/migrations).',
    });
  }
  const seen = new Map<string, string>();
  for (const name of files) {
    const number = (FILE_NAME.exec(name) as RegExpExecArray)[1] as string;
    const other = seen.get(number);
    if (other) {
      throw new AppError('STORE.ERROR', `Migrations ${other} and ${name} share the number ${number}.`, {
        hint: 'Renumber one of them; their order must be unambiguous.',
      });
    }
    seen.set(number, name);
  }
  return files.map((name) => {
    const sql = fs.readFileSync(path.join(dir, name), 'utf8');
    // Line endings differ between checkouts (Windows); they must not look like an edited migration.
    const checksum = createHash('sha256').update(sql.replace(/\r\n/g, '\n')).digest('hex');
    return { name, sql, checksum };
  });
}

/**
 * Applies pending migrations in file-name order, all in one transaction: either the schema moves to
 * the newest version or it stays where it was. On PostgreSQL a transaction-scoped advisory lock makes
 * a second process that starts at the same moment wait, then find nothing left to do.
 */
export async function migrate(db: ScriptDb, options: { dir?: string } = {}): Promise<{ applied: string[] }> {
  const files = readMigrationFiles(options.dir);
  return db.transaction(async (tx) => {
    if (db.kind === 'postgres') {
      await tx.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK_KEY]);
    }
    await tx.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      name       text PRIMARY KEY,
      checksum   text NOT NULL,
      applied_at timestamptz NOT NULL DEFAULT now()
    )`);
    const done = await tx.query<{ name: string; checksum: string }>('SELECT name, checksum FROM schema_migrations');
    const doneByName = new Map(done.map((row) => [row.name, row.checksum]));

    for (const file of files) {
      const recorded = doneByName.get(file.name);
      if (recorded !== undefined && recorded !== file.checksum) {
        throw new AppError(
          'STORE.ERROR',
          `Migration ${file.name} was changed after it had been applied to this database.`,
          {
            hint: 'Restore the original file and put the change in a new, higher-numbered migration.',
          },
        );
      }
    }
    // Names recorded here but missing from the folder are left alone: they come from a newer build,
    // and refusing to start would make rolling back a deployment impossible.
    const applied: string[] = [];
    for (const file of files) {
      if (doneByName.has(file.name)) continue;
      try {
        await tx.exec(file.sql);
      } catch (err) {
        throw new AppError(
          'STORE.ERROR',
          `Database migration ${file.name} failed: ${err instanceof Error ? err.message : String(err)}`,
          {
            hint: 'Nothing was changed (the migration runs in a transaction). Fix the migration or the database and start again.',
            cause: err,
          },
        );
      }
      await tx.query('INSERT INTO schema_migrations (name, checksum) VALUES ($1, $2)', [file.name, file.checksum]);
      applied.push(file.name);
    }
    return { applied };
  });
}
