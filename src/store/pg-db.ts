import { AsyncLocalStorage } from 'node:async_hooks';
import { Client, Pool, type PoolClient } from 'pg';
import { AppError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { quoteChannel, quoteSchema, sqlState, type ScriptClient, type ScriptDb, type Subscription } from './sql';

export interface PgDbOptions {
  connectionString: string;
  /** Schema to create if missing and to use as the only search_path entry on every pooled connection. */
  schema?: string | undefined;
  /** Pool size; defaults to pg's own default (10). */
  max?: number;
}

interface TxScope {
  owner: PgDb;
  open: boolean;
}

/** Same guard as the PGlite Db, so code that works on one backend behaves the same on the other. */
const txScope = new AsyncLocalStorage<TxScope>();

const log = createLogger('store.pg');

export class PgDb implements ScriptDb {
  readonly kind = 'postgres' as const;
  private closed = false;
  /** LISTEN connections, each with what ends it quietly (without calling its `lost`). */
  private readonly listeners = new Map<Client, () => Promise<void>>();

  private constructor(
    private readonly pool: Pool,
    private readonly connectionString: string,
  ) {}

  static async open(options: PgDbOptions): Promise<PgDb> {
    const schema = options.schema === undefined ? undefined : quoteSchema(options.schema);
    const pool = new Pool({
      connectionString: options.connectionString,
      max: options.max,
      // A startup parameter rather than a SET after connect: it is in force before the first query,
      // and survives anything a caller does with RESET.
      ...(schema ? { options: `-c search_path=${schema}` } : {}),
    });
    // An idle pooled connection can die (server restart); without a listener that would crash the process.
    pool.on('error', (err) => log.warn({ err }, 'idle PostgreSQL connection failed; the pool will replace it'));
    const db = new PgDb(pool, options.connectionString);
    try {
      if (schema) {
        try {
          await pool.query(`CREATE SCHEMA IF NOT EXISTS ${schema}`);
        } catch (err) {
          // Two processes creating the schema at once: IF NOT EXISTS is not race-free in PostgreSQL.
          if (sqlState(err) !== '23505' && sqlState(err) !== '42P06') throw err;
        }
      } else {
        await pool.query('SELECT 1');
      }
    } catch (err) {
      await pool.end().catch(() => undefined);
      throw new AppError(
        'STORE.ERROR',
        `Could not connect to PostgreSQL at ${redact(options.connectionString)}: ${err instanceof Error ? err.message : String(err)}`,
        {
          hint: 'Check DATABASE_URL (host, port, database, user, password) and that the server accepts connections from here.',
          cause: err,
        },
      );
    }
    return db;
  }

  async query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]> {
    this.assertUsable('query');
    const result = await this.pool.query(text, params);
    return result.rows as R[];
  }

  async transaction<T>(fn: (tx: ScriptClient) => Promise<T>): Promise<T> {
    this.assertUsable('transaction');
    const client = await this.pool.connect();
    const scope: TxScope = { owner: this, open: true };
    let broken: Error | undefined;
    try {
      await client.query('BEGIN');
      const tx = makeTxClient(client, scope);
      try {
        const value = await txScope.run(scope, () => fn(tx));
        scope.open = false;
        await client.query('COMMIT');
        return value;
      } catch (err) {
        scope.open = false;
        try {
          await client.query('ROLLBACK');
        } catch (rollbackErr) {
          // The connection is in an unknown state; make the pool discard it.
          broken = rollbackErr instanceof Error ? rollbackErr : new Error(String(rollbackErr));
        }
        throw err;
      }
    } finally {
      scope.open = false;
      client.release(broken);
    }
  }

  async listen(channel: string, handlers: { message(payload: string): void; lost(): void }): Promise<Subscription> {
    this.assertUsable('listen');
    const name = quoteChannel(channel);
    // Not from the pool: a LISTEN holds its connection for as long as it lasts.
    const client = new Client({ connectionString: this.connectionString });
    let ended = false;
    const end = async (): Promise<void> => {
      ended = true;
      this.listeners.delete(client);
      await client.end().catch(() => undefined);
    };
    const lost = (): void => {
      if (ended) return;
      void end();
      handlers.lost();
    };
    client.on('error', (err) => {
      log.warn({ err: err.message, channel }, 'the PostgreSQL connection listening for notifications failed');
      lost();
    });
    client.on('end', lost);
    client.on('notification', (msg) => {
      if (msg.channel === channel) handlers.message(msg.payload ?? '');
    });
    try {
      await client.connect();
      await client.query(`LISTEN ${name}`);
    } catch (err) {
      await end();
      throw err;
    }
    this.listeners.set(client, end);
    return { close: end };
  }

  async notify(channel: string, payload: string): Promise<void> {
    await this.query('SELECT pg_notify($1, $2)', [channel, payload]);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await Promise.all([...this.listeners.values()].map((end) => end()));
    await this.pool.end();
  }

  private assertUsable(what: string): void {
    if (this.closed) {
      throw new AppError('STORE.ERROR', `db.${what} was called after the PostgreSQL pool was closed.`, {
        hint: 'Open a new store; do not keep using one after close().',
      });
    }
    const scope = txScope.getStore();
    if (scope && scope.owner === this && scope.open) {
      throw new AppError(
        'STORE.ERROR',
        `db.${what} was called inside db.transaction; it would run outside the transaction on another connection.`,
        {
          hint: 'Use the tx client passed to the transaction callback for every statement inside the transaction.',
        },
      );
    }
  }
}

function makeTxClient(client: PoolClient, scope: TxScope): ScriptClient {
  const assertOpen = (): void => {
    if (!scope.open) {
      throw new AppError('STORE.ERROR', 'A transaction client was used after its transaction had ended.', {
        hint: 'Finish all tx.query calls before the transaction callback returns (await them).',
      });
    }
  };
  return {
    async query<R>(text: string, params?: unknown[]): Promise<R[]> {
      assertOpen();
      return (await client.query(text, params)).rows as R[];
    },
    async exec(script: string): Promise<void> {
      assertOpen();
      // Without parameters pg uses the simple protocol, which accepts several statements.
      await client.query(script);
    },
  };
}

/** Connection strings may carry a password; error messages must not. */
function redact(connectionString: string): string {
  try {
    const url = new URL(connectionString);
    if (url.password) url.password = '***';
    return url.toString();
  } catch {
    return '(unparseable connection string)';
  }
}

export function openPgDb(options: PgDbOptions): Promise<PgDb> {
  return PgDb.open(options);
}
