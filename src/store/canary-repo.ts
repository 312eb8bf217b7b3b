import type { Canary, CanaryStatus, CanaryWaiver } from '../runbook/canary';
import { textOrNull, toDate, toDateOrNull, type Db } from './sql';

type Row = Record<string, unknown>;

export interface StoredCanary extends Canary {
  createApprovalId: string | null;
  createJobId: string | null;
  deleteApprovalId: string | null;
  deleteJobId: string | null;
  requestedAt: Date;
  version: number;
}

/** Canaries of step 12 and waivers of them. Writes are compare-and-set on `version` (or on status). */
export interface CanaryRepo {
  /** The canary an approval runs; null when another call already made it (one canary per approval). */
  create(input: {
    migrationId: string;
    name: string;
    ouDn: string;
    requestedByName: string;
    createApprovalId: string;
  }): Promise<StoredCanary | null>;
  get(id: string): Promise<StoredCanary | null>;
  byJob(jobId: string): Promise<StoredCanary | null>;
  /** Newest first. */
  list(migrationId: string, limit?: number): Promise<StoredCanary[]>;
  /** Canaries waiting for Cloud Sync (to provision or to delete), across migrations. */
  waiting(): Promise<StoredCanary[]>;
  /** Applies `patch` only if the row is still at `version`; false means someone else changed it. */
  update(id: string, version: number, patch: Partial<StoredCanary>): Promise<boolean>;
  waiver(migrationId: string): Promise<CanaryWaiver | null>;
  /** False when the migration already has a waiver (the first one stands). */
  waive(input: { migrationId: string; by: string; byName: string; reason: string; at: Date }): Promise<boolean>;
}

const COLUMNS = `id, migration_id, name, ou_dn, dn, object_guid, anchor, status, requested_by_name, create_approval_id,
  create_job_id, delete_approval_id, delete_job_id, created_at, provisioned_at, cloud_id, create_log_at, deleted_at, gone_at, delete_log_at,
  scheduler_stopped, problem, requested_at, version`;

/** camelCase field → column, for the fields update() may set. */
const FIELDS: Record<string, string> = {
  dn: 'dn',
  objectGuid: 'object_guid',
  anchor: 'anchor',
  status: 'status',
  createJobId: 'create_job_id',
  deleteApprovalId: 'delete_approval_id',
  deleteJobId: 'delete_job_id',
  createdAt: 'created_at',
  provisionedAt: 'provisioned_at',
  cloudId: 'cloud_id',
  createLogAt: 'create_log_at',
  deletedAt: 'deleted_at',
  goneAt: 'gone_at',
  deleteLogAt: 'delete_log_at',
  schedulerStopped: 'scheduler_stopped',
  problem: 'problem',
};

export function createCanaryRepo(db: Db): CanaryRepo {
  return {
    async create(input) {
      const rows = await db.query(
        `INSERT INTO canaries (migration_id, name, ou_dn, status, requested_by_name, create_approval_id)
         VALUES ($1, $2, $3, 'creating', $4, $5) ON CONFLICT (create_approval_id) DO NOTHING RETURNING ${COLUMNS}`,
        [input.migrationId, input.name, input.ouDn, input.requestedByName, input.createApprovalId],
      );
      return rows[0] ? map(rows[0]) : null;
    },
    async get(id) {
      const rows = await db.query(`SELECT ${COLUMNS} FROM canaries WHERE id::text = $1`, [id]);
      return rows[0] ? map(rows[0]) : null;
    },
    async byJob(jobId) {
      const rows = await db.query(
        `SELECT ${COLUMNS} FROM canaries WHERE create_job_id::text = $1 OR delete_job_id::text = $1`,
        [jobId],
      );
      return rows[0] ? map(rows[0]) : null;
    },
    async list(migrationId, limit = 10) {
      const rows = await db.query(
        `SELECT ${COLUMNS} FROM canaries WHERE migration_id = $1 ORDER BY requested_at DESC LIMIT $2`,
        [migrationId, limit],
      );
      return rows.map(map);
    },
    async waiting() {
      const rows = await db.query(
        `SELECT ${COLUMNS} FROM canaries WHERE status IN ('waiting', 'deleteWaiting') ORDER BY requested_at LIMIT 100`,
      );
      return rows.map(map);
    },
    async update(id, version, patch) {
      const sets: string[] = [];
      const params: unknown[] = [id, version];
      for (const [key, value] of Object.entries(patch)) {
        const column = FIELDS[key];
        if (!column || value === undefined) continue;
        params.push(value instanceof Date ? value.toISOString() : value);
        sets.push(`${column} = $${params.length}`);
      }
      if (sets.length === 0) return true;
      const rows = await db.query(
        `UPDATE canaries SET ${sets.join(', ')}, version = version + 1 WHERE id::text = $1 AND version = $2 RETURNING id`,
        params,
      );
      return rows.length === 1;
    },
    async waiver(migrationId) {
      const rows = await db.query(`SELECT waived_by_name, reason, at FROM canary_waivers WHERE migration_id = $1`, [
        migrationId,
      ]);
      const r = rows[0];
      return r ? { byName: String(r.waived_by_name), reason: String(r.reason), at: toDate(r.at) } : null;
    },
    async waive(input) {
      const rows = await db.query(
        `INSERT INTO canary_waivers (migration_id, waived_by, waived_by_name, reason, at) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (migration_id) DO NOTHING RETURNING migration_id`,
        [input.migrationId, input.by, input.byName, input.reason, input.at.toISOString()],
      );
      return rows.length === 1;
    },
  };
}

function map(r: Row): StoredCanary {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    name: String(r.name),
    ouDn: String(r.ou_dn),
    dn: textOrNull(r.dn),
    objectGuid: textOrNull(r.object_guid),
    anchor: textOrNull(r.anchor),
    status: r.status as CanaryStatus,
    requestedByName: String(r.requested_by_name),
    createApprovalId: textOrNull(r.create_approval_id),
    createJobId: textOrNull(r.create_job_id),
    deleteApprovalId: textOrNull(r.delete_approval_id),
    deleteJobId: textOrNull(r.delete_job_id),
    createdAt: toDateOrNull(r.created_at),
    provisionedAt: toDateOrNull(r.provisioned_at),
    cloudId: textOrNull(r.cloud_id),
    createLogAt: toDateOrNull(r.create_log_at),
    deletedAt: toDateOrNull(r.deleted_at),
    goneAt: toDateOrNull(r.gone_at),
    deleteLogAt: toDateOrNull(r.delete_log_at),
    schedulerStopped:
      r.scheduler_stopped === null || r.scheduler_stopped === undefined ? null : Boolean(r.scheduler_stopped),
    problem: textOrNull(r.problem),
    requestedAt: toDate(r.requested_at),
    version: Number(r.version),
  };
}
