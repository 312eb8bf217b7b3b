import type { Actor } from '../runbook/actor';
import { isUuid, jsonParam, timeParam, toDate, toDateOrNull, toJson, toStringOrNull, type Db, type Row } from './sql';

/** The agent on a migration's active Connect Sync server, and who named it. */
export interface ConnectSyncServerRecord {
  migrationId: string;
  agent: string;
  setBy: Actor;
  setAt: Date;
}

/**
 * Another enrolled agent with ADSync actions, as its last read-only reads found it: a staging
 * server (or, wrongly, a second active one), the SyncShift rules it holds, and whether a person
 * confirmed it decommissioned.
 */
export interface StagingServerRecord {
  migrationId: string;
  agent: string;
  readJobId: string | null;
  readAt: Date | null;
  readError: string | null;
  /** null until a scheduler read came back. */
  stagingMode: boolean | null;
  /** The names of enabled SyncShift rules it holds; null until a rules read came back. */
  rulesFound: string[] | null;
  decommissioned: { by: Actor; at: Date } | null;
}

export type StagingReadKind = 'scheduler' | 'rules';

export interface ServerRepo {
  get(migrationId: string): Promise<ConnectSyncServerRecord | null>;
  set(input: { migrationId: string; agent: string; by: Actor; now: Date }): Promise<ConnectSyncServerRecord>;
  listStaging(migrationId: string): Promise<StagingServerRecord[]>;
  /** Ties a read job to the staging server it reads, before any agent can take the job. */
  linkStagingRead(input: { jobId: string; migrationId: string; agent: string; kind: StagingReadKind }): Promise<void>;
  findStagingRead(
    jobId: string,
  ): Promise<{ jobId: string; migrationId: string; agent: string; kind: StagingReadKind } | null>;
  /** Stores what one read found; a field left undefined keeps its stored value. */
  saveStagingReading(input: {
    migrationId: string;
    agent: string;
    jobId: string;
    at: Date;
    stagingMode?: boolean;
    rulesFound?: string[];
    error?: string | null;
  }): Promise<void>;
  /** Staging reads of this migration that no agent has finished yet. */
  pendingStagingReads(migrationId: string): Promise<number>;
  /** A person confirmed the server decommissioned; returns false when SyncShift never read it. */
  markDecommissioned(input: { migrationId: string; agent: string; by: Actor; now: Date }): Promise<boolean>;
}

function mapStaging(row: Row): StagingServerRecord {
  const rules = toJson(row.rules_found);
  return {
    migrationId: String(row.migration_id),
    agent: String(row.agent),
    readJobId: toStringOrNull(row.read_job_id),
    readAt: toDateOrNull(row.read_at),
    readError: toStringOrNull(row.read_error),
    stagingMode: row.staging_mode === null || row.staging_mode === undefined ? null : Boolean(row.staging_mode),
    rulesFound: Array.isArray(rules) ? rules.map(String) : null,
    decommissioned: row.decommissioned_at
      ? {
          by: { id: String(row.decommissioned_by_id), name: String(row.decommissioned_by_name) },
          at: toDate(row.decommissioned_at),
        }
      : null,
  };
}

export function createServerRepo(db: Db): ServerRepo {
  return {
    async get(migrationId) {
      if (!isUuid(migrationId)) return null;
      const rows = await db.query(
        `SELECT migration_id, agent, set_by_id, set_by_name, set_at FROM connect_sync_servers WHERE migration_id = $1::uuid`,
        [migrationId],
      );
      const r = rows[0];
      return r
        ? {
            migrationId: String(r.migration_id),
            agent: String(r.agent),
            setBy: { id: String(r.set_by_id), name: String(r.set_by_name) },
            setAt: toDate(r.set_at),
          }
        : null;
    },
    async set({ migrationId, agent, by, now }) {
      await db.query(
        `INSERT INTO connect_sync_servers (migration_id, agent, set_by_id, set_by_name, set_at)
              VALUES ($1::uuid, $2, $3, $4, $5::timestamptz)
         ON CONFLICT (migration_id) DO UPDATE SET agent = EXCLUDED.agent, set_by_id = EXCLUDED.set_by_id,
              set_by_name = EXCLUDED.set_by_name, set_at = EXCLUDED.set_at`,
        [migrationId, agent, by.id, by.name, timeParam(now)],
      );
      // The server is no staging server of its own migration.
      await db.query(`DELETE FROM staging_servers WHERE migration_id = $1::uuid AND agent = $2`, [migrationId, agent]);
      return { migrationId, agent, setBy: by, setAt: now };
    },
    async listStaging(migrationId) {
      if (!isUuid(migrationId)) return [];
      const rows = await db.query(`SELECT * FROM staging_servers WHERE migration_id = $1::uuid ORDER BY agent`, [
        migrationId,
      ]);
      return rows.map(mapStaging);
    },
    async linkStagingRead({ jobId, migrationId, agent, kind }) {
      await db.query(
        `INSERT INTO staging_reads (job_id, migration_id, agent, kind) VALUES ($1::uuid, $2::uuid, $3, $4)`,
        [jobId, migrationId, agent, kind],
      );
    },
    async findStagingRead(jobId) {
      if (!isUuid(jobId)) return null;
      const rows = await db.query(
        `SELECT job_id, migration_id, agent, kind FROM staging_reads WHERE job_id = $1::uuid`,
        [jobId],
      );
      const r = rows[0];
      return r
        ? {
            jobId: String(r.job_id),
            migrationId: String(r.migration_id),
            agent: String(r.agent),
            kind: r.kind as StagingReadKind,
          }
        : null;
    },
    async saveStagingReading({ migrationId, agent, jobId, at, stagingMode, rulesFound, error }) {
      await db.query(
        `INSERT INTO staging_servers (migration_id, agent, read_job_id, read_at, read_error, staging_mode, rules_found)
              VALUES ($1::uuid, $2, $3::uuid, $4::timestamptz, $5, $6, $7::jsonb)
         ON CONFLICT (migration_id, agent) DO UPDATE SET
              read_job_id = EXCLUDED.read_job_id, read_at = EXCLUDED.read_at, read_error = EXCLUDED.read_error,
              staging_mode = COALESCE(EXCLUDED.staging_mode, staging_servers.staging_mode),
              rules_found = COALESCE(EXCLUDED.rules_found, staging_servers.rules_found)`,
        [
          migrationId,
          agent,
          jobId,
          timeParam(at),
          error ?? null,
          stagingMode ?? null,
          rulesFound === undefined ? null : jsonParam(rulesFound),
        ],
      );
    },
    async pendingStagingReads(migrationId) {
      const rows = await db.query<{ n: number }>(
        `SELECT count(*)::int AS n FROM staging_reads r JOIN jobs j ON j.id = r.job_id
          WHERE r.migration_id = $1::uuid AND j.state IN ('queued', 'leased')`,
        [migrationId],
      );
      return Number(rows[0]?.n ?? 0);
    },
    async markDecommissioned({ migrationId, agent, by, now }) {
      const rows = await db.query(
        `UPDATE staging_servers SET decommissioned_by_id = $3, decommissioned_by_name = $4, decommissioned_at = $5::timestamptz
          WHERE migration_id = $1::uuid AND agent = $2 RETURNING agent`,
        [migrationId, agent, by.id, by.name, timeParam(now)],
      );
      return rows.length > 0;
    },
  };
}
