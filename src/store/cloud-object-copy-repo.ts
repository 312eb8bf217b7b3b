import type { CloudObjectChange, CopiedObjectType } from '../runbook/cloud-users';
import { timeParam, toDate, toStringOrNull, type Db, type SqlClient } from './sql';

/** A migration's copy of one object type: the deltaLink it continues from (migration 024). */
export interface CloudObjectCopy {
  deltaLink: string;
  fullReads: number;
  deltaReads: number;
  refreshedAt: Date;
}

/** A synced group or contact in the copy; `key` is what a verify matches on (SID, mail). */
export interface CopiedObject {
  id: string;
  displayName: string | null;
  key: string | null;
}

export interface CloudObjectCopyRepo {
  getCopy(migrationId: string, type: CopiedObjectType): Promise<CloudObjectCopy | null>;
  /**
   * Applies a delta round, or with `full` a whole round that replaces the type's objects, and the new
   * deltaLink in one transaction. `expectDeltaLink` is the link the round was read from (null: there
   * was no copy); when the copy has moved on meanwhile nothing is written and false comes back.
   */
  applyChanges(input: {
    migrationId: string;
    type: CopiedObjectType;
    changes: readonly CloudObjectChange[];
    deltaLink: string;
    full: boolean;
    now: Date;
    expectDeltaLink: string | null;
  }): Promise<boolean>;
  /** The copy's synced objects of this type, page by page in id order. Returns how many (0 without a copy). */
  readObjects(
    migrationId: string,
    type: CopiedObjectType,
    onPage: (objects: CopiedObject[]) => void | Promise<void>,
    pageSize?: number,
  ): Promise<number>;
}

/** Rows per statement: one round trip per batch, not per object. */
const BATCH = 1000;
const READ_PAGE = 1000;

export function createCloudObjectCopyRepo(db: Db): CloudObjectCopyRepo {
  return {
    async getCopy(migrationId, type) {
      const rows = await db.query(
        `SELECT delta_link, full_reads, delta_reads, refreshed_at FROM cloud_object_copies
         WHERE migration_id = $1 AND object_type = $2`,
        [migrationId, type],
      );
      const r = rows[0];
      return r
        ? {
            deltaLink: String(r.delta_link),
            fullReads: Number(r.full_reads),
            deltaReads: Number(r.delta_reads),
            refreshedAt: toDate(r.refreshed_at),
          }
        : null;
    },

    async applyChanges(input) {
      return db.transaction(async (tx) => {
        // The copy's row first: its lock orders concurrent writers, and the condition refuses a round
        // read from a deltaLink that is no longer the copy's.
        const moved =
          input.expectDeltaLink === null
            ? await tx.query(
                `INSERT INTO cloud_object_copies (migration_id, object_type, delta_link, full_reads, delta_reads, refreshed_at)
                 VALUES ($1, $2, $3, 1, 0, $4) ON CONFLICT (migration_id, object_type) DO NOTHING RETURNING 1 AS ok`,
                [input.migrationId, input.type, input.deltaLink, timeParam(input.now)],
              )
            : await tx.query(
                `UPDATE cloud_object_copies SET delta_link = $3, refreshed_at = $4,
                   full_reads = full_reads + CASE WHEN $5 THEN 1 ELSE 0 END,
                   delta_reads = delta_reads + CASE WHEN $5 THEN 0 ELSE 1 END
                 WHERE migration_id = $1 AND object_type = $2 AND delta_link = $6 RETURNING 1 AS ok`,
                [
                  input.migrationId,
                  input.type,
                  input.deltaLink,
                  timeParam(input.now),
                  input.full,
                  input.expectDeltaLink,
                ],
              );
        if (!moved[0]) return false;
        if (input.full)
          await tx.query(`DELETE FROM cloud_objects WHERE migration_id = $1 AND object_type = $2`, [
            input.migrationId,
            input.type,
          ]);
        await applyRows(tx, input.migrationId, input.type, input.changes);
        return true;
      });
    },

    async readObjects(migrationId, type, onPage, pageSize = READ_PAGE) {
      return db.transaction(async (tx) => {
        // One view of the copy for every page, whatever a refresh applies meanwhile.
        if (db.kind === 'postgres') await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        let after = '';
        let total = 0;
        for (;;) {
          const rows = await tx.query(
            `SELECT id, display_name, match_key FROM cloud_objects
             WHERE migration_id = $1 AND object_type = $2 AND id > $3 AND synced ORDER BY id LIMIT $4`,
            [migrationId, type, after, pageSize],
          );
          if (rows.length === 0) return total;
          total += rows.length;
          after = String(rows[rows.length - 1]!.id);
          await onPage(
            rows.map((r) => ({
              id: String(r.id),
              displayName: toStringOrNull(r.display_name),
              key: toStringOrNull(r.match_key),
            })),
          );
          if (rows.length < pageSize) return total;
        }
      });
    },
  };
}

/**
 * Removals delete; everything else is an upsert in which a property Graph did not send keeps its
 * stored value (a round read with Prefer: return=minimal sends only what changed).
 */
async function applyRows(
  tx: SqlClient,
  migrationId: string,
  type: CopiedObjectType,
  changes: readonly CloudObjectChange[],
): Promise<void> {
  const removed = changes.filter((c) => c.removed).map((c) => c.id);
  for (let i = 0; i < removed.length; i += BATCH)
    await tx.query(`DELETE FROM cloud_objects WHERE migration_id = $1 AND object_type = $2 AND id = ANY($3::text[])`, [
      migrationId,
      type,
      removed.slice(i, i + BATCH),
    ]);
  const upserts = changes.filter((c) => !c.removed);
  for (let i = 0; i < upserts.length; i += BATCH) {
    const batch = upserts.slice(i, i + BATCH);
    const column = <T>(pick: (c: CloudObjectChange) => T | undefined) => batch.map((c) => pick(c) ?? null);
    const has = (pick: (c: CloudObjectChange) => unknown) => batch.map((c) => pick(c) !== undefined);
    const params = [
      migrationId,
      type,
      column((c) => c.id),
      column((c) => c.displayName),
      column((c) => c.key),
      column((c) => c.onPremisesSyncEnabled),
      has((c) => c.displayName),
      has((c) => c.key),
      has((c) => c.onPremisesSyncEnabled),
    ];
    const rows = `unnest($3::text[], $4::text[], $5::text[], $6::boolean[], $7::boolean[], $8::boolean[], $9::boolean[])
       AS c(id, name, key, synced, has_name, has_key, has_synced)`;
    // New objects first, then every sent property over the stored one (ids are unique per round: the
    // service folds repeats before it writes).
    await tx.query(
      `INSERT INTO cloud_objects (migration_id, object_type, id, display_name, match_key, synced)
       SELECT $1, $2, c.id, c.name, c.key, COALESCE(c.synced, false) FROM ${rows} ON CONFLICT DO NOTHING`,
      params,
    );
    await tx.query(
      `UPDATE cloud_objects o SET
         display_name = CASE WHEN c.has_name THEN c.name ELSE o.display_name END,
         match_key = CASE WHEN c.has_key THEN c.key ELSE o.match_key END,
         synced = CASE WHEN c.has_synced THEN COALESCE(c.synced, false) ELSE o.synced END
       FROM ${rows} WHERE o.migration_id = $1 AND o.object_type = $2 AND o.id = c.id`,
      params,
    );
  }
}
