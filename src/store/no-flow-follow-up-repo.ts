import type { FollowUpStatus } from '../runbook/no-flow-follow-up';
import { textOrNull, toDate, toDateOrNull, type Db } from './sql';

type Row = Record<string, unknown>;

export interface NoFlowFollowUp {
  id: string;
  migrationId: string;
  conversationId: string;
  ou: string;
  /** "pilot" or "wave <name>", for the cards. */
  label: string;
  triggerJobId: string;
  cycleAfter: Date;
  status: FollowUpStatus;
  final: 'result' | 'deadline' | null;
  checkJobId: string | null;
  checks: number;
  lastOutcome: string | null;
  nextAt: Date;
  deadlineAt: Date;
  claimedAt: Date | null;
  createdAt: Date;
  version: number;
}

/** Pending no-flow checks after a cycle (migration 027). Writes are compare-and-set on `version`. */
export interface NoFlowFollowUpRepo {
  /** Null when this cycle job already has a follow-up for this OU (a result offered twice). */
  create(input: {
    migrationId: string;
    conversationId: string;
    ou: string;
    label: string;
    triggerJobId: string;
    cycleAfter: Date;
    nextAt: Date;
    deadlineAt: Date;
  }): Promise<NoFlowFollowUp | null>;
  /** Waiting ones whose time has come, and claimed ones (checking, posting) to look at again. */
  open(now: Date, limit?: number): Promise<NoFlowFollowUp[]>;
  byCheckJob(jobId: string): Promise<NoFlowFollowUp | null>;
  list(migrationId: string): Promise<NoFlowFollowUp[]>;
  /** Applies `patch` only if the row is still at `version`; false means someone else changed it. */
  update(id: string, version: number, patch: Partial<NoFlowFollowUp>): Promise<boolean>;
}

const COLUMNS = `id, migration_id, conversation_id, ou, label, trigger_job_id, cycle_after, status, final, check_job_id,
  checks, last_outcome, next_at, deadline_at, claimed_at, created_at, version`;

const FIELDS: Record<string, string> = {
  status: 'status',
  final: 'final',
  checkJobId: 'check_job_id',
  checks: 'checks',
  lastOutcome: 'last_outcome',
  nextAt: 'next_at',
  claimedAt: 'claimed_at',
};

export function createNoFlowFollowUpRepo(db: Db): NoFlowFollowUpRepo {
  return {
    async create(input) {
      const rows = await db.query(
        `INSERT INTO no_flow_follow_ups (migration_id, conversation_id, ou, label, trigger_job_id, cycle_after, status, next_at, deadline_at)
         VALUES ($1, $2, $3, $4, $5, $6, 'waiting', $7, $8) ON CONFLICT (trigger_job_id, ou) DO NOTHING RETURNING ${COLUMNS}`,
        [
          input.migrationId,
          input.conversationId,
          input.ou,
          input.label,
          input.triggerJobId,
          input.cycleAfter.toISOString(),
          input.nextAt.toISOString(),
          input.deadlineAt.toISOString(),
        ],
      );
      return rows[0] ? map(rows[0]) : null;
    },
    async open(now, limit = 100) {
      const rows = await db.query(
        `SELECT ${COLUMNS} FROM no_flow_follow_ups
          WHERE (status = 'waiting' AND next_at <= $1) OR status IN ('checking', 'posting')
          ORDER BY next_at LIMIT $2`,
        [now.toISOString(), limit],
      );
      return rows.map(map);
    },
    async byCheckJob(jobId) {
      const rows = await db.query(`SELECT ${COLUMNS} FROM no_flow_follow_ups WHERE check_job_id = $1`, [jobId]);
      return rows[0] ? map(rows[0]) : null;
    },
    async list(migrationId) {
      const rows = await db.query(
        `SELECT ${COLUMNS} FROM no_flow_follow_ups WHERE migration_id = $1 ORDER BY created_at, ou`,
        [migrationId],
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
      const rows = await db.query(
        `UPDATE no_flow_follow_ups SET ${[...sets, 'version = version + 1'].join(', ')}
          WHERE id::text = $1 AND version = $2 RETURNING id`,
        params,
      );
      return rows.length === 1;
    },
  };
}

function map(r: Row): NoFlowFollowUp {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    conversationId: String(r.conversation_id),
    ou: String(r.ou),
    label: String(r.label),
    triggerJobId: String(r.trigger_job_id),
    cycleAfter: toDate(r.cycle_after),
    status: r.status as FollowUpStatus,
    final: (textOrNull(r.final) as NoFlowFollowUp['final']) ?? null,
    checkJobId: textOrNull(r.check_job_id),
    checks: Number(r.checks),
    lastOutcome: textOrNull(r.last_outcome),
    nextAt: toDate(r.next_at),
    deadlineAt: toDate(r.deadline_at),
    claimedAt: toDateOrNull(r.claimed_at),
    createdAt: toDate(r.created_at),
    version: Number(r.version),
  };
}
