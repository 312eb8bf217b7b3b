import { AppError } from '../shared/errors';

/**
 * The two backends (PGlite, PostgreSQL) as the repositories see them, and the one home of the
 * helpers that turn parameters into SQL values and rows back into records.
 */
export interface SqlClient {
  query<R = Record<string, unknown>>(text: string, params?: unknown[]): Promise<R[]>;
}

export interface Db extends SqlClient {
  readonly kind: 'pglite' | 'postgres';
  transaction<T>(fn: (tx: SqlClient) => Promise<T>): Promise<T>;
  /**
   * Hears NOTIFY on `channel` from every connection to this database: on a connection of its own
   * (PostgreSQL), or within the process (PGlite has one connection). If that connection dies, `lost`
   * is called and the subscription is over; what was notified until a new one is not delivered.
   */
  listen(channel: string, handlers: { message(payload: string): void; lost(): void }): Promise<Subscription>;
  /** NOTIFY `channel` with `payload` (delivered once the statement commits). */
  notify(channel: string, payload: string): Promise<void>;
  close(): Promise<void>;
}

/** A LISTEN that lasts until close() (or until the database closes). */
export interface Subscription {
  close(): Promise<void>;
}

/**
 * Both backends can run a parameterless multi-statement script, but `SqlClient.query` cannot:
 * PGlite always uses the extended protocol, which allows one statement per call. Migrations need
 * scripts (trigger bodies contain `;`, so splitting the text is not safe), hence this wider client.
 */
export interface ScriptClient extends SqlClient {
  exec(script: string): Promise<void>;
}

/** A Db whose transactions hand out a ScriptClient; both Db implementations here are one. */
export interface ScriptDb extends Db {
  transaction<T>(fn: (tx: ScriptClient) => Promise<T>): Promise<T>;
}

const IDENTIFIER = /^[a-z_][a-z0-9_]{0,62}$/;

/**
 * Schema and channel names end up inside SQL text (identifiers cannot be bound as parameters),
 * so only plain lower-case identifiers are accepted; quoting them keeps reserved words harmless.
 */
export function quoteChannel(channel: string): string {
  if (!IDENTIFIER.test(channel)) {
    throw new AppError('INTERNAL', `Notification channel name "${channel}" is not allowed.`, {
      hint: 'Use lower-case letters, digits and underscores only, starting with a letter or underscore.',
    });
  }
  return `"${channel}"`;
}

export function quoteSchema(schema: string): string {
  if (!IDENTIFIER.test(schema)) {
    throw new AppError('CONFIG.INVALID', `Database schema name "${schema}" is not allowed.`, {
      hint: 'Use lower-case letters, digits and underscores only, starting with a letter or underscore (at most 63 characters).',
    });
  }
  return `"${schema}"`;
}

/**
 * Serializes JS values for `$n::jsonb` parameters ourselves instead of leaving it to the driver:
 * `pg` turns JS arrays into PostgreSQL array literals, which is wrong for jsonb. Both drivers pass a
 * string through unchanged. `undefined` becomes SQL NULL.
 */
export function jsonParam(value: unknown): string | null {
  if (value === undefined) return null;
  return JSON.stringify(value);
}

/** Timestamps go over the wire as ISO strings so neither driver's local-time formatting is involved. */
export function timeParam(value: Date | null | undefined): string | null {
  if (value === null || value === undefined) return null;
  if (Number.isNaN(value.getTime())) {
    throw new AppError('STORE.ERROR', 'An invalid Date was passed to the store.', {
      hint: 'Pass a valid Date (check how the time was computed).',
    });
  }
  return value.toISOString();
}

/** Timestamps read back, whichever driver and realm produced them. */
export function toDate(value: unknown): Date {
  // Not `instanceof`: under Jest, PGlite's Dates come from another realm (see pglite-db.ts).
  if (Object.prototype.toString.call(value) === '[object Date]') return new Date((value as Date).getTime());
  if (typeof value === 'string' || typeof value === 'number') return new Date(value);
  throw new AppError('STORE.ERROR', `Expected a timestamp from the database, got ${typeof value}.`, {
    hint: 'Check that the schema migrations have run.',
  });
}
export const toDateOrNull = (value: unknown): Date | null =>
  value === null || value === undefined ? null : toDate(value);

/** A nullable text (or uuid) column read back as a string or null. */
export const textOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);

/** PostgreSQL error code (SQLSTATE) of a driver error, if it has one. */
export function sqlState(err: unknown): string | undefined {
  if (typeof err === 'object' && err !== null && 'code' in err) {
    const code = (err as { code: unknown }).code;
    return typeof code === 'string' ? code : undefined;
  }
  return undefined;
}

export type Row = Record<string, unknown>;

/**
 * Ids are uuid columns; a malformed id (they arrive from the agent over the relay) must read as
 * "not found", not as a database error.
 */
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/i;
export const isUuid = (id: string): boolean => UUID.test(id);

export const toStringOrNull = (value: unknown): string | null =>
  value === null || value === undefined ? null : String(value);
export const toNumberOrNull = (value: unknown): number | null =>
  value === null || value === undefined ? null : Number(value);
/** Date columns are selected as ::text so neither driver turns them into a local-midnight Date. */
export const toDateText = (value: unknown): string => String(value).slice(0, 10);
/** Both drivers parse jsonb; SQL NULL becomes null. */
export const toJson = (value: unknown): unknown => (value === undefined ? null : value);

export function assertLimit(limit: number, what: string): void {
  if (!Number.isInteger(limit) || limit < 0) {
    throw new AppError('STORE.ERROR', `${what} was called with limit ${limit}.`, {
      hint: 'Pass a whole number of rows, 0 or more.',
    });
  }
}
