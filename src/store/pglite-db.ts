import { AsyncLocalStorage } from 'node:async_hooks';
import fs from 'node:fs';
import path from 'node:path';
import type { PGlite as PGliteInstance } from '@electric-sql/pglite';
import { AppError } from '../shared/errors';
import { quoteChannel, quoteSchema, type ScriptClient, type ScriptDb, type Subscription } from './sql';

export interface PgliteDbOptions {
  /** Directory for the database files; undefined or 'memory://' keeps everything in memory. */
  dataDir?: string | undefined;
  /** Optional schema to create and put first on the search_path (mirrors the PostgreSQL option). */
  schema?: string | undefined;
}

/** Runs callbacks one at a time in call order; a failed callback does not block the next one. */
class Queue {
  private tail: Promise<unknown> = Promise.resolve();

  run<T>(fn: () => Promise<T>): Promise<T> {
    const result = this.tail.then(fn);
    this.tail = result.catch(() => undefined);
    return result;
  }
}

/**
 * PGlite loads its wasm and some Node built-ins with import(), which Jest's module sandbox rejects
 * unless node runs with --experimental-vm-modules (electric-sql/pglite#224), and Jest also replaces
 * `module.createRequire`. `process.getBuiltinModule` still hands out Node's own loader, so PGlite is
 * loaded outside the sandbox; outside Jest this is the same as a plain import.
 * Consequence under Jest: values PGlite returns (Date, Error) come from another realm, so callers
 * must not rely on `instanceof` for them (the repositories normalize Dates).
 */
function loadPglite(): typeof import('@electric-sql/pglite') {
  const load = process.getBuiltinModule('node:module').createRequire(__filename);
  return load('@electric-sql/pglite') as typeof import('@electric-sql/pglite');
}
type PGlite = PGliteInstance;

interface TxScope {
  owner: PgliteDb;
  open: boolean;
}

/**
 * Remembers which async call chain is inside a transaction. PGlite has one connection, so a
 * `db.query` issued from inside `db.transaction` would queue behind the transaction and wait forever;
 * detecting it lets us fail loudly instead of hanging.
 */
const txScope = new AsyncLocalStorage<TxScope>();

/**
 * PGlite keeps no lock on its data directory, and two PGlite instances writing the same files corrupt
 * them. A pid file next to the directory keeps a second process (or a second open in this one) out.
 */
class DirLock {
  private constructor(private readonly file: string) {}

  static acquire(dataDir: string): DirLock {
    const file = `${path.resolve(dataDir)}.lock`;
    fs.mkdirSync(path.dirname(file), { recursive: true });
    for (let attempt = 0; attempt < 2; attempt += 1) {
      try {
        fs.writeFileSync(file, String(process.pid), { flag: 'wx' });
        return new DirLock(file);
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST') throw err;
        const holder = Number.parseInt(fs.readFileSync(file, 'utf8'), 10);
        if (Number.isInteger(holder) && holder > 0 && isAlive(holder)) {
          const who = holder === process.pid ? 'this process already has it open' : `process ${holder} has it open`;
          throw new AppError('STORE.ERROR', `The PGlite data directory ${dataDir} is in use: ${who}.`, {
            hint: 'Stop the other SyncShift process (or close the first store) before opening it again; PGlite allows one user per directory.',
          });
        }
        // The holder died without cleaning up; the lock is stale.
        fs.rmSync(file, { force: true });
      }
    }
    throw new AppError('STORE.ERROR', `Could not take the lock file ${file} for the PGlite data directory.`, {
      hint: 'Another process keeps recreating it; make sure only one SyncShift process uses this directory.',
    });
  }

  release(): void {
    fs.rmSync(this.file, { force: true });
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    // EPERM means it exists but belongs to someone else.
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

export class PgliteDb implements ScriptDb {
  readonly kind = 'pglite' as const;
  private readonly queue = new Queue();
  private closed = false;

  private constructor(
    private readonly pg: PGlite,
    private readonly lock: DirLock | null,
  ) {}

  static async open(options: PgliteDbOptions = {}): Promise<PgliteDb> {
    const inMemory = options.dataDir === undefined || options.dataDir === '' || options.dataDir === 'memory://';
    const schema = options.schema === undefined ? undefined : quoteSchema(options.schema);
    const lock = inMemory ? null : DirLock.acquire(options.dataDir as string);
    let pg: PGlite;
    try {
      // Loaded here, not at import: a bot on PostgreSQL never needs PGlite in memory.
      const { PGlite } = loadPglite();
      pg = inMemory ? await PGlite.create() : await PGlite.create(path.resolve(options.dataDir as string));
    } catch (err) {
      lock?.release();
      const where = inMemory ? 'in memory' : `in ${options.dataDir}`;
      const reason = String((err as { message?: unknown } | null)?.message ?? err);
      const hint =
        'Check that the data directory is writable and holds a PGlite database (or is empty); set DATABASE_URL to use PostgreSQL instead.';
      throw new AppError('STORE.ERROR', `Could not open the PGlite database ${where}: ${reason}`, {
        hint,
        cause: err,
      });
    }
    if (schema) {
      try {
        // One connection, so a session-level search_path applies to everything that follows.
        await pg.exec(`CREATE SCHEMA IF NOT EXISTS ${schema}; SET search_path TO ${schema}`);
      } catch (err) {
        await pg.close().catch(() => undefined);
        lock?.release();
        throw err;
      }
    }
    return new PgliteDb(pg, lock);
  }

  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]> {
    this.assertUsable('query');
    return this.queue.run(async () => (await this.pg.query<R>(text, params)).rows);
  }

  async transaction<T>(fn: (tx: ScriptClient) => Promise<T>): Promise<T> {
    this.assertUsable('transaction');
    return this.queue.run(() =>
      this.pg.transaction(async (raw) => {
        const scope: TxScope = { owner: this, open: true };
        const tx: ScriptClient = {
          query: async <R>(text: string, params?: unknown[]) => {
            assertOpen(scope);
            return (await raw.query<R>(text, params)).rows;
          },
          exec: async (script: string) => {
            assertOpen(scope);
            await raw.exec(script);
          },
        };
        try {
          return await txScope.run(scope, () => fn(tx));
        } finally {
          scope.open = false;
        }
      }),
    );
  }

  async listen(channel: string, handlers: { message(payload: string): void; lost(): void }): Promise<Subscription> {
    this.assertUsable('listen');
    quoteChannel(channel);
    // In-process: PGlite hands each NOTIFY to the listeners of its one connection after the statement.
    const unlisten = await this.queue.run(() => this.pg.listen(channel, (payload) => handlers.message(payload)));
    return {
      close: async () => {
        if (!this.closed) await this.queue.run(() => unlisten());
      },
    };
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    // Let queued work finish first so closing never cuts a transaction in half.
    await this.queue.run(async () => undefined);
    try {
      await this.pg.close();
    } finally {
      this.lock?.release();
    }
  }

  private assertUsable(what: string): void {
    if (this.closed) {
      throw new AppError('STORE.ERROR', `db.${what} was called after the PGlite database was closed.`, {
        hint: 'Open a new store; do not keep using one after close().',
      });
    }
    const scope = txScope.getStore();
    if (scope && scope.owner === this && scope.open) {
      throw new AppError(
        'STORE.ERROR',
        `db.${what} was called inside db.transaction; PGlite has one connection, so this would wait forever.`,
        {
          hint: 'Use the tx client passed to the transaction callback for every statement inside the transaction.',
        },
      );
    }
  }
}

function assertOpen(scope: TxScope): void {
  if (!scope.open) {
    throw new AppError('STORE.ERROR', 'A transaction client was used after its transaction had ended.', {
      hint: 'Finish all tx.query calls before the transaction callback returns (await them).',
    });
  }
}

export function openPgliteDb(options: PgliteDbOptions = {}): Promise<PgliteDb> {
  return PgliteDb.open(options);
}
