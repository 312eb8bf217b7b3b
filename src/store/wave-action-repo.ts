import type { Approval } from '../runbook/approvals';
import type { WaveActionKind, WaveActionStatus } from '../runbook/wave-engine';
import { jsonParam, toDateOrNull, toStringOrNull, type Db, type Row } from './sql';

export interface StoredWaveAction {
  id: string;
  migrationId: string;
  waveId: string;
  kind: WaveActionKind;
  status: WaveActionStatus;
  reason: string | null;
  evidence: unknown;
  updatedBy: string | null;
  updatedAt: Date | null;
  cardActivityId: string | null;
  version: number;
}

export type WaveJobPurpose = 'read' | 'precheck' | 'action' | 'undo';

export interface WaveActionRepo {
  listForWaves(waveIds: string[]): Promise<StoredWaveAction[]>;
  get(id: string): Promise<StoredWaveAction | null>;
  /** The row of (wave, kind), created in `status` when there is none; null when one exists (the caller reloads). */
  create(input: {
    migrationId: string;
    waveId: string;
    kind: WaveActionKind;
    status: WaveActionStatus;
    by: string;
    now: Date;
  }): Promise<StoredWaveAction | null>;
  /** Writes only if nobody else wrote since `version` was read; false means reload. */
  save(
    action: Pick<StoredWaveAction, 'id' | 'status' | 'reason' | 'evidence' | 'updatedBy' | 'updatedAt'>,
    version: number,
  ): Promise<boolean>;
  setCard(id: string, activityId: string): Promise<void>;
  /** Null when the action already has a live request (the unique index decides). */
  createApproval(waveActionId: string, a: Omit<Approval, 'id' | 'votes' | 'status'>): Promise<string | null>;
  /** The action a (wave) approval belongs to, or null for a step's approval. */
  actionOfApproval(approvalId: string): Promise<string | null>;
  latestApprovalId(waveActionId: string): Promise<string | null>;
  linkJob(jobId: string, waveActionId: string, purpose: WaveJobPurpose, approvalId?: string): Promise<void>;
  findJobLink(
    jobId: string,
  ): Promise<{ waveActionId: string; purpose: WaveJobPurpose; approvalId: string | null } | null>;
}

const COLUMNS =
  'id, migration_id, wave_id, kind, status, reason, evidence, updated_by, updated_at, card_activity_id, version';

/** Wave actions (table wave_actions), their approvals (approvals.wave_action_id) and jobs (wave_action_jobs). */
export function createWaveActionRepo(db: Db): WaveActionRepo {
  return {
    async listForWaves(waveIds) {
      if (waveIds.length === 0) return [];
      const rows = await db.query(
        `SELECT ${COLUMNS} FROM wave_actions WHERE wave_id::text = ANY($1::text[]) ORDER BY wave_id, kind`,
        [waveIds],
      );
      return rows.map(mapAction);
    },
    async get(id) {
      if (!/^[0-9a-f-]{36}$/i.test(id)) return null;
      const rows = await db.query(`SELECT ${COLUMNS} FROM wave_actions WHERE id::text = $1`, [id]);
      return rows[0] ? mapAction(rows[0]) : null;
    },
    async create(input) {
      const rows = await db.query(
        `INSERT INTO wave_actions (migration_id, wave_id, kind, status, updated_by, updated_at)
         VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (wave_id, kind) DO NOTHING RETURNING ${COLUMNS}`,
        [input.migrationId, input.waveId, input.kind, input.status, input.by, input.now.toISOString()],
      );
      return rows[0] ? mapAction(rows[0]) : null;
    },
    async save(a, version) {
      const rows = await db.query(
        `UPDATE wave_actions SET status = $2, reason = $3, evidence = $4::jsonb, updated_by = $5, updated_at = $6, version = version + 1
         WHERE id::text = $1 AND version = $7 RETURNING id`,
        [a.id, a.status, a.reason, jsonParam(a.evidence), a.updatedBy, a.updatedAt?.toISOString() ?? null, version],
      );
      return rows.length === 1;
    },
    async setCard(id, activityId) {
      await db.query(`UPDATE wave_actions SET card_activity_id = $2 WHERE id::text = $1`, [id, activityId]);
    },
    async createApproval(waveActionId, a) {
      const rows = await db.query(
        `INSERT INTO approvals (migration_id, step, action, requested_by, requested_by_name, requested_at, expires_at, required, evidence_hash, evidence, wave_action_id)
         VALUES ($1, 0, $2, $3, $4, $5, $6, $7, $8, $9::jsonb, $10)
         ON CONFLICT (wave_action_id) WHERE wave_action_id IS NOT NULL AND status IN ('pending', 'approved', 'executing') DO NOTHING
         RETURNING id`,
        [
          a.migrationId,
          a.action,
          a.requestedBy,
          a.requestedByName,
          a.requestedAt.toISOString(),
          a.expiresAt.toISOString(),
          a.required,
          a.evidenceHash,
          jsonParam(a.evidence),
          waveActionId,
        ],
      );
      return rows[0] ? String(rows[0].id) : null;
    },
    async actionOfApproval(approvalId) {
      if (!/^[0-9a-f-]{36}$/i.test(approvalId)) return null;
      const rows = await db.query(`SELECT wave_action_id FROM approvals WHERE id::text = $1`, [approvalId]);
      return toStringOrNull(rows[0]?.wave_action_id);
    },
    async latestApprovalId(waveActionId) {
      const rows = await db.query(
        `SELECT id FROM approvals WHERE wave_action_id::text = $1 ORDER BY requested_at DESC LIMIT 1`,
        [waveActionId],
      );
      return rows[0] ? String(rows[0].id) : null;
    },
    async linkJob(jobId, waveActionId, purpose, approvalId) {
      await db.query(
        `INSERT INTO wave_action_jobs (job_id, wave_action_id, purpose, approval_id) VALUES ($1, $2, $3, $4)`,
        [jobId, waveActionId, purpose, approvalId ?? null],
      );
    },
    async findJobLink(jobId) {
      const rows = await db.query(
        `SELECT wave_action_id, purpose, approval_id FROM wave_action_jobs WHERE job_id::text = $1`,
        [jobId],
      );
      const r = rows[0];
      return r
        ? {
            waveActionId: String(r.wave_action_id),
            purpose: r.purpose as WaveJobPurpose,
            approvalId: toStringOrNull(r.approval_id),
          }
        : null;
    },
  };
}

function mapAction(r: Row): StoredWaveAction {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    waveId: String(r.wave_id),
    kind: r.kind as WaveActionKind,
    status: r.status as WaveActionStatus,
    reason: toStringOrNull(r.reason),
    evidence: r.evidence ?? null,
    updatedBy: toStringOrNull(r.updated_by),
    updatedAt: toDateOrNull(r.updated_at),
    cardActivityId: toStringOrNull(r.card_activity_id),
    version: Number(r.version),
  };
}
