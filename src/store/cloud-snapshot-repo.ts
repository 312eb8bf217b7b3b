import type { CloudUser, CloudUserChange } from '../runbook/cloud-users';
import { timeParam, toDate, toStringOrNull, type Db } from './sql';

export interface CloudSnapshot {
  deltaLink: string;
  fullReads: number;
  deltaReads: number;
  refreshedAt: Date;
  /** The generation of cloud_users rows that is the copy (migration 018). */
  generation: number;
}

export interface CloudSnapshotRepo {
  getSnapshot(migrationId: string): Promise<CloudSnapshot | null>;
  /**
   * Applies one delta round (or a full read when `full`) and the new deltaLink atomically. With
   * `expectDeltaLink` (null: no copy yet) nothing is applied and false comes back when the copy has
   * moved on meanwhile (another refresh, on this instance or another, finished first).
   */
  applyCloudChanges(input: {
    migrationId: string;
    changes: CloudUserChange[];
    deltaLink: string;
    full: boolean;
    now: Date;
    expectDeltaLink?: string | null;
  }): Promise<boolean>;
  /** A generation for a full read written page by page beside the current copy (unique across instances). */
  beginFullCopy(migrationId: string): Promise<number>;
  /** One page of a full read of synced users (/users) into its generation; not part of the copy yet. */
  addToFullCopy(migrationId: string, generation: number, users: readonly CloudUser[]): Promise<void>;
  /**
   * Makes a full read's generation the copy, with the deltaLink taken before it began, in one
   * transaction, and drops older generations. False (and the generation dropped) when the copy moved
   * on meanwhile, as for applyCloudChanges.
   */
  finishFullCopy(input: {
    migrationId: string;
    generation: number;
    deltaLink: string;
    now: Date;
    expectDeltaLink: string | null;
  }): Promise<boolean>;
  /**
   * The copy's synced users, page by page in id order, from one consistent view of it; never the
   * whole copy in memory. Returns how many were read (0 without a copy).
   */
  readCloudUsers(
    migrationId: string,
    onPage: (users: CloudUser[]) => void | Promise<void>,
    pageSize?: number,
  ): Promise<number>;
  /** Synced users of the snapshot, all at once: for small copies and tests; verify and summary stream. */
  cloudUsers(migrationId: string): Promise<CloudUser[]>;
}

/** Rows per statement when applying cloud changes: one round trip per batch, not per user. */
const CHANGE_BATCH = 1000;

/** The per-migration copy of the tenant's synced users (tables cloud_snapshots, cloud_users). */
export function createCloudSnapshotRepo(db: Db): CloudSnapshotRepo {
  return {
    async getSnapshot(migrationId) {
      const rows = await db.query(
        `SELECT delta_link, full_reads, delta_reads, refreshed_at, generation FROM cloud_snapshots WHERE migration_id = $1`,
        [migrationId],
      );
      const r = rows[0];
      return r
        ? {
            deltaLink: String(r.delta_link),
            fullReads: Number(r.full_reads),
            deltaReads: Number(r.delta_reads),
            refreshedAt: toDate(r.refreshed_at),
            generation: Number(r.generation),
          }
        : null;
    },
    async applyCloudChanges(input) {
      return db.transaction(async (tx) => {
        // The snapshot row first: its lock orders concurrent appliers, and the condition refuses a
        // round read from a deltaLink that is no longer the copy's.
        const counters = `full_reads = cloud_snapshots.full_reads + CASE WHEN $4 THEN 1 ELSE 0 END,
             delta_reads = cloud_snapshots.delta_reads + CASE WHEN $4 THEN 0 ELSE 1 END`;
        let snapshot: Record<string, unknown>[];
        if (input.expectDeltaLink === undefined) {
          snapshot = await tx.query(
            `INSERT INTO cloud_snapshots (migration_id, delta_link, full_reads, delta_reads, refreshed_at) VALUES ($1, $2, 1, 0, $3)
             ON CONFLICT (migration_id) DO UPDATE SET delta_link = EXCLUDED.delta_link, refreshed_at = EXCLUDED.refreshed_at, ${counters}
             RETURNING generation`,
            [input.migrationId, input.deltaLink, timeParam(input.now), input.full],
          );
        } else if (input.expectDeltaLink === null) {
          snapshot = await tx.query(
            `INSERT INTO cloud_snapshots (migration_id, delta_link, full_reads, delta_reads, refreshed_at) VALUES ($1, $2, 1, 0, $3)
             ON CONFLICT (migration_id) DO NOTHING RETURNING generation`,
            [input.migrationId, input.deltaLink, timeParam(input.now)],
          );
        } else {
          snapshot = await tx.query(
            `UPDATE cloud_snapshots SET delta_link = $2, refreshed_at = $3, ${counters.replace(/cloud_snapshots\./g, '')}
             WHERE migration_id = $1 AND delta_link = $5 RETURNING generation`,
            [input.migrationId, input.deltaLink, timeParam(input.now), input.full, input.expectDeltaLink],
          );
        }
        if (!snapshot[0]) return false;
        const generation = Number(snapshot[0].generation);
        if (input.full)
          await tx.query(`DELETE FROM cloud_users WHERE migration_id = $1 AND generation = $2`, [
            input.migrationId,
            generation,
          ]);
        const removed = input.changes.filter((c) => c.removed).map((c) => c.id);
        for (let i = 0; i < removed.length; i += CHANGE_BATCH) {
          await tx.query(
            `DELETE FROM cloud_users WHERE migration_id = $1 AND generation = $3 AND id = ANY($2::text[])`,
            [input.migrationId, removed.slice(i, i + CHANGE_BATCH), generation],
          );
        }
        const upserts = input.changes.filter((c) => !c.removed);
        for (let i = 0; i < upserts.length; i += CHANGE_BATCH) {
          const batch = upserts.slice(i, i + CHANGE_BATCH);
          const column = (pick: (c: CloudUserChange) => string | boolean | null | undefined) =>
            batch.map((c) => pick(c) ?? null);
          const has = (pick: (c: CloudUserChange) => unknown) => batch.map((c) => pick(c) !== undefined);
          // Delta rounds carry only the properties that changed; absent ones keep their stored value.
          const params = [
            input.migrationId,
            column((c) => c.id),
            column((c) => c.userPrincipalName),
            column((c) => c.onPremisesDistinguishedName),
            column((c) => c.onPremisesImmutableId),
            column((c) => c.onPremisesSyncEnabled),
            has((c) => c.userPrincipalName),
            has((c) => c.onPremisesDistinguishedName),
            has((c) => c.onPremisesImmutableId),
            has((c) => c.onPremisesSyncEnabled),
          ];
          const changes = `unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::boolean[], $7::boolean[], $8::boolean[], $9::boolean[], $10::boolean[])
                 AS c(id, upn, dn, immutable_id, synced, has_upn, has_dn, has_immutable_id, has_synced)`;
          await tx.query(
            `INSERT INTO cloud_users (migration_id, generation, id, upn, dn, immutable_id, synced) SELECT $1, $11, c.id, c.upn, c.dn, c.immutable_id, COALESCE(c.synced, false) FROM ${changes} ON CONFLICT DO NOTHING`,
            [...params, generation],
          );
          // Delta rounds carry only the properties that changed; absent ones keep their stored value.
          await tx.query(
            `UPDATE cloud_users u SET
               upn = CASE WHEN c.has_upn THEN c.upn ELSE u.upn END,
               dn = CASE WHEN c.has_dn THEN c.dn ELSE u.dn END,
               immutable_id = CASE WHEN c.has_immutable_id THEN c.immutable_id ELSE u.immutable_id END,
               synced = CASE WHEN c.has_synced THEN COALESCE(c.synced, false) ELSE u.synced END
             FROM ${changes} WHERE u.migration_id = $1 AND u.generation = $11 AND u.id = c.id`,
            [...params, generation],
          );
        }
        return true;
      });
    },
    async beginFullCopy() {
      const rows = await db.query<{ g: unknown }>(`SELECT nextval('cloud_copy_generations') AS g`);
      return Number(rows[0]!.g);
    },
    async addToFullCopy(migrationId, generation, users) {
      for (let i = 0; i < users.length; i += CHANGE_BATCH) {
        const batch = users.slice(i, i + CHANGE_BATCH);
        // ON CONFLICT: Graph may page one user twice; the later copy wins, as in a delta round.
        await db.query(
          `INSERT INTO cloud_users (migration_id, generation, id, upn, dn, immutable_id, synced)
           SELECT $1, $2, c.id, c.upn, c.dn, c.immutable_id, true FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS c(id, upn, dn, immutable_id)
           ON CONFLICT (migration_id, generation, id) DO UPDATE SET upn = EXCLUDED.upn, dn = EXCLUDED.dn, immutable_id = EXCLUDED.immutable_id`,
          [
            migrationId,
            generation,
            batch.map((u) => u.id),
            batch.map((u) => u.userPrincipalName),
            batch.map((u) => u.onPremisesDistinguishedName),
            batch.map((u) => u.onPremisesImmutableId),
          ],
        );
      }
    },
    async finishFullCopy(input) {
      return db.transaction(async (tx) => {
        const switched =
          input.expectDeltaLink === null
            ? await tx.query(
                `INSERT INTO cloud_snapshots (migration_id, delta_link, full_reads, delta_reads, refreshed_at, generation) VALUES ($1, $2, 1, 0, $3, $4)
                 ON CONFLICT (migration_id) DO NOTHING RETURNING generation`,
                [input.migrationId, input.deltaLink, timeParam(input.now), input.generation],
              )
            : await tx.query(
                `UPDATE cloud_snapshots SET delta_link = $2, refreshed_at = $3, generation = $4, full_reads = full_reads + 1
                 WHERE migration_id = $1 AND delta_link = $5 RETURNING generation`,
                [input.migrationId, input.deltaLink, timeParam(input.now), input.generation, input.expectDeltaLink],
              );
        // Older generations are the previous copy and full reads that died half-way; a newer one may be
        // another instance's read still being written, and is left to it.
        await tx.query(
          switched[0]
            ? `DELETE FROM cloud_users WHERE migration_id = $1 AND generation < $2`
            : `DELETE FROM cloud_users WHERE migration_id = $1 AND generation = $2`,
          [input.migrationId, input.generation],
        );
        return switched[0] !== undefined;
      });
    },
    async readCloudUsers(migrationId, onPage, pageSize = READ_PAGE) {
      return db.transaction(async (tx) => {
        // One view of the copy for every page, whatever another refresh applies meanwhile.
        if (db.kind === 'postgres') await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        const snapshot = await tx.query(`SELECT generation FROM cloud_snapshots WHERE migration_id = $1`, [
          migrationId,
        ]);
        if (!snapshot[0]) return 0;
        const generation = Number(snapshot[0].generation);
        let after = '';
        let total = 0;
        for (;;) {
          // Keyset paging on the primary key: each page is an index range, not an OFFSET rescan.
          const rows = await tx.query(
            `SELECT id, upn, dn, immutable_id FROM cloud_users
             WHERE migration_id = $1 AND generation = $2 AND id > $3 AND synced ORDER BY id LIMIT $4`,
            [migrationId, generation, after, pageSize],
          );
          if (rows.length === 0) return total;
          total += rows.length;
          after = String(rows[rows.length - 1]!.id);
          await onPage(rows.map(toCloudUser));
          if (rows.length < pageSize) return total;
        }
      });
    },
    async cloudUsers(migrationId) {
      const rows = await db.query(
        `SELECT u.id, u.upn, u.dn, u.immutable_id FROM cloud_users u JOIN cloud_snapshots s
           ON s.migration_id = u.migration_id AND s.generation = u.generation
         WHERE u.migration_id = $1 AND u.synced ORDER BY u.id`,
        [migrationId],
      );
      return rows.map(toCloudUser);
    },
  };
}

/** Rows per page when the copy is read back: about 150 KB of users at a time. */
const READ_PAGE = 1000;

function toCloudUser(r: Record<string, unknown>): CloudUser {
  return {
    id: String(r.id),
    userPrincipalName: toStringOrNull(r.upn),
    onPremisesDistinguishedName: toStringOrNull(r.dn),
    onPremisesImmutableId: toStringOrNull(r.immutable_id),
  };
}
