import { timeParam, type Db } from './sql';

/** Users Cloud Sync provisioned (a success in its provisioning logs), kept as proof of ownership. */
export interface CloudSyncConfirmedRepo {
  addConfirmed(migrationId: string, userIds: string[], now: Date): Promise<void>;
  confirmedIds(migrationId: string): Promise<Set<string>>;
}

/** Table cloud_sync_confirmed: first seen per user and migration; never forgotten. */
export function createCloudSyncConfirmedRepo(db: Db): CloudSyncConfirmedRepo {
  return {
    async addConfirmed(migrationId, userIds, now) {
      if (userIds.length === 0) return;
      await db.query(
        `INSERT INTO cloud_sync_confirmed (migration_id, user_id, first_seen) SELECT $1, u, $3 FROM unnest($2::text[]) AS u ON CONFLICT DO NOTHING`,
        [migrationId, userIds, timeParam(now)],
      );
    },
    async confirmedIds(migrationId) {
      const rows = await db.query(`SELECT user_id FROM cloud_sync_confirmed WHERE migration_id = $1`, [migrationId]);
      return new Set(rows.map((r) => String(r.user_id)));
    },
  };
}
