import type { Approval, ApprovalStatus, ApprovalVote, VoteResult } from '../runbook/approvals';
import { initialSteps, type StepState, type StepStatus } from '../runbook/runbook';
import { mapMigration, type MigrationRecord } from './migration-record';
import { jsonParam, toDate, toDateOrNull, toStringOrNull, type Db, type Row, type SqlClient } from './sql';

export interface StoredStep extends StepState {
  cardActivityId: string | null;
  version: number;
}

export type StepJobPurpose = 'check' | 'precheck' | 'action' | 'undo';

export interface RunbookRepo {
  getMigration(id: string): Promise<MigrationRecord | null>;
  /** Creates the 18 step rows for a migration if they are not there yet. */
  ensureSteps(migrationId: string): Promise<void>;
  listSteps(migrationId: string): Promise<StoredStep[]>;
  /** Writes a step only if nobody else wrote it since `version` was read; false means reload and retry. */
  saveStep(migrationId: string, step: StepState, version: number): Promise<boolean>;
  setStepCard(migrationId: string, n: number, activityId: string): Promise<void>;
  /** Null when the step already has a live request (the unique index decides, not a read-then-write). */
  createApproval(a: Omit<Approval, 'id' | 'votes' | 'status'>): Promise<Approval | null>;
  getApproval(id: string): Promise<Approval | null>;
  liveApproval(migrationId: string, step: number): Promise<Approval | null>;
  latestApproval(migrationId: string, step: number): Promise<Approval | null>;
  /** Runs a pure vote decision under a row lock and stores its outcome (vote and status) atomically. */
  vote(id: string, decide: (a: Approval) => VoteResult): Promise<VoteResult | null>;
  setApprovalStatus(id: string, from: ApprovalStatus[], to: ApprovalStatus): Promise<boolean>;
  /** approved → executing for exactly one caller: two approvers clicking at once cannot run the action twice. */
  claimExecution(id: string): Promise<boolean>;
  setApprovalJob(id: string, jobId: string): Promise<void>;
  linkJob(
    jobId: string,
    migrationId: string,
    step: number,
    purpose: StepJobPurpose,
    approvalId?: string,
  ): Promise<void>;
  findJobLink(
    jobId: string,
  ): Promise<{ migrationId: string; step: number; purpose: StepJobPurpose; approvalId: string | null } | null>;
}

const APPROVAL_COLUMNS = `id, migration_id, step, action, requested_by, requested_by_name, requested_at, expires_at, required, evidence_hash, evidence, status`;

export function createRunbookRepo(db: Db): RunbookRepo {
  const loadApproval = async (
    client: SqlClient,
    where: string,
    params: unknown[],
    lock = false,
  ): Promise<Approval | null> => {
    const rows = await client.query(
      `SELECT ${APPROVAL_COLUMNS} FROM approvals WHERE ${where} ORDER BY requested_at DESC LIMIT 1${lock ? ' FOR UPDATE' : ''}`,
      params,
    );
    if (!rows[0]) return null;
    const votes = await client.query(
      `SELECT voter, voter_name, decision, at FROM approval_votes WHERE approval_id = $1 ORDER BY at, voter`,
      [rows[0].id],
    );
    return mapApproval(rows[0], votes);
  };

  return {
    async getMigration(id) {
      const rows = await db.query(
        `SELECT id, name, conversation_id, created_by, created_at FROM migrations WHERE id::text = $1`,
        [id],
      );
      return rows[0] ? mapMigration(rows[0]) : null;
    },
    async ensureSteps(migrationId) {
      for (const s of initialSteps()) {
        await db.query(
          `INSERT INTO runbook_steps (migration_id, n, status) VALUES ($1, $2, $3) ON CONFLICT DO NOTHING`,
          [migrationId, s.n, s.status],
        );
      }
    },
    async listSteps(migrationId) {
      const rows = await db.query(
        `SELECT n, status, reason, evidence, updated_by, updated_at, card_activity_id, version FROM runbook_steps WHERE migration_id = $1 ORDER BY n`,
        [migrationId],
      );
      return rows.map((r) => ({
        n: Number(r.n),
        status: r.status as StepStatus,
        reason: toStringOrNull(r.reason),
        evidence: r.evidence ?? null,
        updatedBy: toStringOrNull(r.updated_by),
        updatedAt: toDateOrNull(r.updated_at),
        cardActivityId: toStringOrNull(r.card_activity_id),
        version: Number(r.version),
      }));
    },
    async saveStep(migrationId, step, version) {
      const rows = await db.query(
        `UPDATE runbook_steps SET status = $3, reason = $4, evidence = $5::jsonb, updated_by = $6, updated_at = $7, version = version + 1
         WHERE migration_id = $1 AND n = $2 AND version = $8 RETURNING n`,
        [
          migrationId,
          step.n,
          step.status,
          step.reason,
          jsonParam(step.evidence),
          step.updatedBy,
          step.updatedAt?.toISOString() ?? null,
          version,
        ],
      );
      return rows.length === 1;
    },
    async setStepCard(migrationId, n, activityId) {
      await db.query(`UPDATE runbook_steps SET card_activity_id = $3 WHERE migration_id = $1 AND n = $2`, [
        migrationId,
        n,
        activityId,
      ]);
    },
    async createApproval(a) {
      const rows = await db.query(
        `INSERT INTO approvals (migration_id, step, action, requested_by, requested_by_name, requested_at, expires_at, required, evidence_hash, evidence)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10::jsonb)
         ON CONFLICT (migration_id, step) WHERE wave_action_id IS NULL AND status IN ('pending', 'approved', 'executing') DO NOTHING
         RETURNING ${APPROVAL_COLUMNS}`,
        [
          a.migrationId,
          a.step,
          a.action,
          a.requestedBy,
          a.requestedByName,
          a.requestedAt.toISOString(),
          a.expiresAt.toISOString(),
          a.required,
          a.evidenceHash,
          jsonParam(a.evidence),
        ],
      );
      return rows[0] ? mapApproval(rows[0], []) : null;
    },
    getApproval: (id) => loadApproval(db, 'id::text = $1', [id]),
    liveApproval: (migrationId, step) =>
      loadApproval(db, `migration_id = $1 AND step = $2 AND status IN ('pending', 'approved', 'executing')`, [
        migrationId,
        step,
      ]),
    latestApproval: (migrationId, step) => loadApproval(db, 'migration_id = $1 AND step = $2', [migrationId, step]),
    async vote(id, decide) {
      return db.transaction(async (tx) => {
        const current = await loadApproval(tx, 'id::text = $1', [id], true);
        if (!current) return null;
        const result = decide(current);
        const next = result.approval;
        const added = next.votes.filter((v) => !current.votes.some((c) => c.by === v.by));
        for (const v of added) {
          await tx.query(
            `INSERT INTO approval_votes (approval_id, voter, voter_name, decision, at) VALUES ($1, $2, $3, $4, $5) ON CONFLICT DO NOTHING`,
            [id, v.by, v.byName, v.decision, v.at.toISOString()],
          );
        }
        if (next.status !== current.status)
          await tx.query(`UPDATE approvals SET status = $2 WHERE id = $1`, [id, next.status]);
        return result;
      });
    },
    async setApprovalStatus(id, from, to) {
      const rows = await db.query(
        `UPDATE approvals SET status = $2 WHERE id::text = $1 AND status = ANY($3::text[]) RETURNING id`,
        [id, to, `{${from.join(',')}}`],
      );
      return rows.length === 1;
    },
    async claimExecution(id) {
      const rows = await db.query(
        `UPDATE approvals SET status = 'executing' WHERE id::text = $1 AND status = 'approved' RETURNING id`,
        [id],
      );
      return rows.length === 1;
    },
    async setApprovalJob(id, jobId) {
      await db.query(`UPDATE approvals SET job_id = $2 WHERE id::text = $1`, [id, jobId]);
    },
    async linkJob(jobId, migrationId, step, purpose, approvalId) {
      await db.query(
        `INSERT INTO step_jobs (job_id, migration_id, step, purpose, approval_id) VALUES ($1, $2, $3, $4, $5)`,
        [jobId, migrationId, step, purpose, approvalId ?? null],
      );
    },
    async findJobLink(jobId) {
      const rows = await db.query(
        `SELECT migration_id, step, purpose, approval_id FROM step_jobs WHERE job_id::text = $1`,
        [jobId],
      );
      const r = rows[0];
      return r
        ? {
            migrationId: String(r.migration_id),
            step: Number(r.step),
            purpose: r.purpose as StepJobPurpose,
            approvalId: r.approval_id ? String(r.approval_id) : null,
          }
        : null;
    },
  };
}

function mapApproval(r: Row, votes: Row[]): Approval {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    step: Number(r.step),
    action: String(r.action),
    requestedBy: String(r.requested_by),
    requestedByName: String(r.requested_by_name),
    requestedAt: toDate(r.requested_at),
    expiresAt: toDate(r.expires_at),
    required: Number(r.required),
    evidenceHash: String(r.evidence_hash),
    evidence: r.evidence ?? null,
    status: r.status as ApprovalStatus,
    votes: votes.map((v): ApprovalVote => ({
      by: String(v.voter),
      byName: String(v.voter_name),
      decision: v.decision as 'approve' | 'reject',
      at: toDate(v.at),
    })),
  };
}
