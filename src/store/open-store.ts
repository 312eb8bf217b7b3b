import { createActivityRepo, createAgentRepo } from './agent-repo';
import { migrate } from './migrate';
import { openPgDb } from './pg-db';
import { openPgliteDb } from './pglite-db';
import { createRepositories } from './repositories';
import { createRunbookRepo } from './runbook-repo';
import { createWaveRepo } from './wave-repo';
import type { ScriptDb } from './sql';
import type { Store } from './types';

export interface OpenStoreOptions {
  /** PostgreSQL connection string; when set, PostgreSQL is used and dataDir is ignored. */
  databaseUrl?: string;
  /** PGlite data directory; undefined or 'memory://' keeps the database in memory. */
  dataDir?: string;
  /** Schema to create and use (tests isolate themselves this way); defaults to the server's search_path. */
  schema?: string;
}

/** Opens the database, brings its schema up to date and returns the repositories. */
export async function openStore(options: OpenStoreOptions): Promise<Store> {
  const db: ScriptDb = options.databaseUrl
    ? await openPgDb({ connectionString: options.databaseUrl, schema: options.schema })
    : await openPgliteDb({ dataDir: options.dataDir, schema: options.schema });
  try {
    await migrate(db);
  } catch (err) {
    await db.close().catch(() => undefined);
    throw err;
  }
  return {
    db,
    ...createRepositories(db),
    runbook: createRunbookRepo(db),
    waves: createWaveRepo(db),
    agents: createAgentRepo(db),
    activities: createActivityRepo(db),
    close: () => db.close(),
  };
}
