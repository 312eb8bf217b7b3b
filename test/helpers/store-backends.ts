import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Client } from 'pg';
import { openStore } from '../../src/store/open-store';
import type { Store } from '../../src/store/types';
import { serviceMissing } from './require-service';

export const PG_URL = process.env.TEST_DATABASE_URL ?? 'postgres://postgres@127.0.0.1:5432/test';

/** How a test reaches one backend; each backend keeps its data somewhere only this run uses. */
export interface Backend {
  name: 'PGlite' | 'PostgreSQL';
  setUp(): Promise<void>;
  tearDown(): Promise<void>;
  /** Opens a store on this run's data (same data on every call). */
  open(): Promise<Store>;
  /** Opens a store on fresh, empty data (a new schema or directory). */
  openFresh(label: string): Promise<Store>;
  /** PostgreSQL only: the schema a label maps to, for other processes to open (dropped at tearDown). */
  schemaFor?(label: string): string;
}

export function pgliteBackend(): Backend {
  let root = '';
  return {
    name: 'PGlite',
    async setUp() {
      root = fs.mkdtempSync(path.join(os.tmpdir(), 'syncshift-store-test-'));
    },
    async tearDown() {
      if (root) fs.rmSync(root, { recursive: true, force: true });
    },
    open: () => openStore({ dataDir: path.join(root, 'main') }),
    openFresh: (label) => openStore({ dataDir: path.join(root, label) }),
  };
}

export function postgresBackend(): Backend {
  const prefix = `syncshift_test_${process.pid}_${Date.now().toString(36)}`;
  const schemas: string[] = [];
  const schemaFor = (label: string): string => {
    const schema = `${prefix}_${label}`;
    if (!schemas.includes(schema)) schemas.push(schema);
    return schema;
  };
  return {
    name: 'PostgreSQL',
    async setUp() {
      const client = new Client({ connectionString: PG_URL, connectionTimeoutMillis: 5000 });
      try {
        await client.connect();
        await client.query('SELECT 1');
      } catch (err) {
        // Node's own errors (ECONNREFUSED) are not `instanceof Error` inside Jest's sandbox; re-wrap so the reason is shown.
        const { message, code } = (err ?? {}) as { message?: unknown; code?: unknown };
        const reason = new Error(String(message || code || err));
        serviceMissing(
          `PostgreSQL at ${PG_URL}`,
          'Start PostgreSQL (e.g. `sudo service postgresql start`) or set TEST_DATABASE_URL to a database this user may create schemas in.',
          reason,
        );
      } finally {
        await client.end().catch(() => undefined);
      }
    },
    async tearDown() {
      if (schemas.length === 0) return;
      const client = new Client({ connectionString: PG_URL });
      await client.connect();
      try {
        for (const schema of schemas) await client.query(`DROP SCHEMA IF EXISTS "${schema}" CASCADE`);
      } finally {
        await client.end();
      }
    },
    schemaFor,
    open: () => openStore({ databaseUrl: PG_URL, schema: schemaFor('main') }),
    openFresh: (label) => openStore({ databaseUrl: PG_URL, schema: schemaFor(label) }),
  };
}

/** Opens the backend's store before the suite, closes it and removes its data after; read it through the getter. */
export function useStore(backend: Backend): () => Store {
  let store: Store | undefined;
  beforeAll(async () => {
    await backend.setUp();
    store = await backend.open();
  });
  afterAll(async () => {
    await store?.close();
    await backend.tearDown();
  });
  return () => {
    if (!store) throw new Error(`The ${backend.name} store is not open; use it inside a test.`);
    return store;
  };
}
