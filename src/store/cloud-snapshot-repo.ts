import type { CloudUser, CloudUserChange } from '../runbook/cloud-users';
import { timeParam, toDate, toStringOrNull, type Db } from './sql';

export interface CloudSnapshot {
  deltaLink: string;
  fullReads: number;
  deltaReads: number;
  refreshedAt: Date;
}

export interface CloudSnapshotRepo {
  getSnapshot(migrationId: string): Promise<CloudSnapshot | null>;
  /** Applies one delta round (or a full read when `full`) and the new deltaLink atomically. */
  applyCloudChanges(input: {
    migrationId: string;
    changes: CloudUserChange[];
    deltaLink: string;
    full: boolean;
    now: Date;
  }): Promise<void>;
  /** Synced users of the snapshot. */
  cloudUsers(migrationId: string): Promise<CloudUser[]>;
}

/** Rows per statement when applying cloud changes: one round trip per batch, not per user. */
const CHANGE_BATCH = 1000;

/** The per-migration copy of the tenant's synced users (tables cloud_snapshots, cloud_users). */
export function createCloudSnapshotRepo(db: Db): CloudSnapshotRepo {
  return {
    async getSnapshot(migrationId) {
      const rows = await db.query(
        `SELECT delta_link, full_reads, delta_reads, refreshed_at FROM cloud_snapshots WHERE migration_id = $1`,
        [migrationId],
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
    async applyCloudChanges(input) {
      await db.transaction(async (tx) => {
        if (input.full) await tx.query(`DELETE FROM cloud_users WHERE migration_id = $1`, [input.migrationId]);
        const removed = input.changes.filter((c) => c.removed).map((c) => c.id);
        for (let i = 0; i < removed.length; i += CHANGE_BATCH) {
          await tx.query(`DELETE FROM cloud_users WHERE migration_id = $1 AND id = ANY($2::text[])`, [
            input.migrationId,
            removed.slice(i, i + CHANGE_BATCH),
          ]);
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
            `INSERT INTO cloud_users (migration_id, id, upn, dn, immutable_id, synced) SELECT $1, c.id, c.upn, c.dn, c.immutable_id, COALESCE(c.synced, false) FROM ${changes} ON CONFLICT DO NOTHING`,
            params,
          );
          // Delta rounds carry only the properties that changed; absent ones keep their stored value.
          await tx.query(
            `UPDATE cloud_users u SET
               upn = CASE WHEN c.has_upn THEN c.upn ELSE u.upn END,
               dn = CASE WHEN c.has_dn THEN c.dn ELSE u.dn END,
               immutable_id = CASE WHEN c.has_immutable_id THEN c.immutable_id ELSE u.immutable_id END,
               synced = CASE WHEN c.has_synced THEN COALESCE(c.synced, false) ELSE u.synced END
             FROM ${changes} WHERE u.migration_id = $1 AND u.id = c.id`,
            params,
          );
        }
        await tx.query(
          `INSERT INTO cloud_snapshots (migration_id, delta_link, full_reads, delta_reads, refreshed_at) VALUES ($1, $2, 1, 0, $3)
           ON CONFLICT (migration_id) DO UPDATE SET delta_link = EXCLUDED.delta_link, refreshed_at = EXCLUDED.refreshed_at,
             full_reads = cloud_snapshots.full_reads + CASE WHEN $4 THEN 1 ELSE 0 END,
             delta_reads = cloud_snapshots.delta_reads + CASE WHEN $4 THEN 0 ELSE 1 END`,
          [input.migrationId, input.deltaLink, timeParam(input.now), input.full],
        );
      });
    },
    async cloudUsers(migrationId) {
      const rows = await db.query(
        `SELECT id, upn, dn, immutable_id FROM cloud_users WHERE migration_id = $1 AND synced`,
        [migrationId],
      );
      return rows.map((r) => ({
        id: String(r.id),
        userPrincipalName: toStringOrNull(r.upn),
        onPremisesDistinguishedName: toStringOrNull(r.dn),
        onPremisesImmutableId: toStringOrNull(r.immutable_id),
      }));
    },
  };
}
