import type { JobError } from '../runbook/job-shapes';
import type { ComparisonReport } from '../runbook/ou-comparison';
import type { StoredVerifyConfirmation } from '../runbook/ou-confirmations';
import { AppError } from '../shared/errors';
import {
  assertLimit,
  isUuid,
  jsonParam,
  sqlState,
  timeParam,
  toDate,
  toDateOrNull,
  toJson,
  toStringOrNull,
  type Db,
  type Row,
} from './sql';

/** What a reported verify's card shows: the counts of its report. */
export interface VerifyCounts {
  onPrem: { users: number; disabled: number };
  cloud: { users: number };
  matched: number;
  missing: number;
  extra: number;
  mismatched: number;
  notSynced?: number;
}
/** A failed verify keeps the error it failed with. */
export interface VerifyFailure {
  error: JobError;
}

export interface VerificationRecord {
  id: string;
  jobId: string;
  conversationId: string;
  migrationId: string | null;
  /** The OU as the person typed it. */
  ouInput: string;
  /** Set once the agent has resolved the OU. */
  baseDn: string | null;
  cardActivityId: string | null;
  status: 'running' | 'reported' | 'failed';
  /** Counts shown on the card (or the error of a failed verify); null while running. */
  summary: VerifyCounts | VerifyFailure | null;
  /** Full missing/extra/mismatched lists for `/verify list`; null unless reported. */
  report: ComparisonReport | null;
  createdAt: Date;
  reportedAt: Date | null;
}

export interface VerificationRepo {
  create(input: {
    jobId: string;
    conversationId: string;
    migrationId: string | null;
    ouInput: string;
  }): Promise<VerificationRecord>;
  setCardActivityId(id: string, activityId: string): Promise<void>;
  findByJob(jobId: string): Promise<VerificationRecord | null>;
  get(id: string): Promise<VerificationRecord | null>;
  /** Latest first. */
  listByConversation(conversationId: string, limit: number): Promise<VerificationRecord[]>;
  complete(input: {
    id: string;
    status: 'reported' | 'failed';
    baseDn: string | null;
    summary: unknown;
    report: unknown;
    now: Date;
  }): Promise<void>;
  /** Verifications whose job finished but whose card was never updated (the bot stopped in between). */
  listUnreported(): Promise<VerificationRecord[]>;
  /**
   * The Cloud Sync confirmation of each reported verify of a migration that read one (newest first),
   * without the rest of the report: the ownership ledger reads these counts, not the name lists.
   */
  listConfirmations(migrationId: string): Promise<StoredVerifyConfirmation[]>;
}

const VERIFICATION_COLUMNS = `id, job_id, conversation_id, migration_id, ou_input, base_dn, card_activity_id, status,
  summary, report, created_at, reported_at`;

// Typed at the boundary: the bot wrote these columns from a VerifyCounts (or VerifyFailure) and a
// ComparisonReport (verify-service). They are not parsed again on every read: a report holds up to
// 100,000 names, and every listing of a conversation's verifies reads it.
const toVerifySummary = (value: unknown) => toJson(value) as VerifyCounts | VerifyFailure | null;
const toReport = (value: unknown) => toJson(value) as ComparisonReport | null;

function mapVerification(row: Row): VerificationRecord {
  return {
    id: String(row.id),
    jobId: String(row.job_id),
    conversationId: String(row.conversation_id),
    migrationId: toStringOrNull(row.migration_id),
    ouInput: String(row.ou_input),
    baseDn: toStringOrNull(row.base_dn),
    cardActivityId: toStringOrNull(row.card_activity_id),
    status: row.status as VerificationRecord['status'],
    summary: toVerifySummary(row.summary),
    report: toReport(row.report),
    createdAt: toDate(row.created_at),
    reportedAt: toDateOrNull(row.reported_at),
  };
}

export function createVerificationRepo(db: Db): VerificationRepo {
  return {
    async create(input) {
      try {
        const rows = await db.query(
          `INSERT INTO verifications (job_id, conversation_id, migration_id, ou_input)
             VALUES ($1::uuid, $2, $3::uuid, $4) RETURNING ${VERIFICATION_COLUMNS}`,
          [input.jobId, input.conversationId, input.migrationId, input.ouInput],
        );
        return mapVerification(rows[0] as Row);
      } catch (err) {
        const state = sqlState(err);
        if (state === '23505') {
          throw new AppError('STORE.ERROR', `Job ${input.jobId} already has a verification.`, {
            hint: 'Queue a new job for a new verification, or look the existing one up with findByJob.',
            cause: err,
          });
        }
        if (state === '23503' || state === '22P02') {
          throw new AppError(
            'STORE.ERROR',
            `Cannot record a verification: job ${input.jobId} or migration ${String(input.migrationId)} does not exist.`,
            {
              hint: 'Queue the job first and pass its id (and an existing migration id or null).',
              cause: err,
            },
          );
        }
        throw err;
      }
    },

    async setCardActivityId(id, activityId) {
      const rows = isUuid(id)
        ? await db.query('UPDATE verifications SET card_activity_id = $2 WHERE id = $1::uuid RETURNING id', [
            id,
            activityId,
          ])
        : [];
      if (rows.length === 0) {
        throw new AppError('STORE.ERROR', `Verification ${id} does not exist, so its card id cannot be stored.`, {
          hint: 'Pass the id returned by verifications.create.',
        });
      }
    },

    async findByJob(jobId) {
      if (!isUuid(jobId)) return null;
      const rows = await db.query(`SELECT ${VERIFICATION_COLUMNS} FROM verifications WHERE job_id = $1::uuid`, [jobId]);
      return rows[0] ? mapVerification(rows[0]) : null;
    },

    async get(id) {
      if (!isUuid(id)) return null;
      const rows = await db.query(`SELECT ${VERIFICATION_COLUMNS} FROM verifications WHERE id = $1::uuid`, [id]);
      return rows[0] ? mapVerification(rows[0]) : null;
    },

    async listByConversation(conversationId, limit) {
      assertLimit(limit, 'verifications.listByConversation');
      const rows = await db.query(
        `SELECT ${VERIFICATION_COLUMNS} FROM verifications WHERE conversation_id = $1 ORDER BY seq DESC LIMIT $2`,
        [conversationId, limit],
      );
      return rows.map(mapVerification);
    },

    async complete({ id, status, baseDn, summary, report, now }) {
      // Only a running verification moves: completing twice (a retry after a crash) keeps the first result.
      const rows = isUuid(id)
        ? await db.query<{ completed: boolean }>(
            `WITH done AS (
                 UPDATE verifications SET status = $2, base_dn = $3, summary = $4::jsonb, report = $5::jsonb,
                        reported_at = $6::timestamptz
                  WHERE id = $1::uuid AND status = 'running'
                 RETURNING id)
               SELECT EXISTS (SELECT 1 FROM done) AS completed FROM verifications WHERE id = $1::uuid`,
            [id, status, baseDn, jsonParam(summary), jsonParam(report), timeParam(now)],
          )
        : [];
      if (rows.length === 0) {
        throw new AppError('STORE.ERROR', `Verification ${id} does not exist, so it cannot be completed.`, {
          hint: 'Pass the id returned by verifications.create.',
        });
      }
    },

    async listUnreported() {
      const rows = await db.query(
        `SELECT ${VERIFICATION_COLUMNS.split(',')
          .map((column) => `v.${column.trim()}`)
          .join(', ')}
             FROM verifications v JOIN jobs j ON j.id = v.job_id
            WHERE v.status = 'running' AND j.state IN ('succeeded', 'failed')
            ORDER BY v.seq`,
      );
      return rows.map(mapVerification);
    },

    async listConfirmations(migrationId) {
      if (!isUuid(migrationId)) return [];
      // report.cloudSync is a CloudSyncConfirmation, or { unavailable } when the logs could not be read (skipped).
      const rows = await db.query(
        `SELECT base_dn, reported_at, report->'cloudSync'->>'jobId' AS job_id,
                report->'cloudSync'->>'onPrem' AS in_scope, report->'cloudSync'->>'confirmed' AS confirmed
           FROM verifications
          WHERE migration_id = $1::uuid AND status = 'reported' AND base_dn IS NOT NULL AND reported_at IS NOT NULL
            AND report->'cloudSync'->>'confirmed' IS NOT NULL
          ORDER BY seq DESC`,
        [migrationId],
      );
      return rows.flatMap((r) => {
        const inScope = Number(r.in_scope);
        const confirmed = Number(r.confirmed);
        if (!Number.isInteger(inScope) || !Number.isInteger(confirmed)) return [];
        return [
          {
            baseDn: String(r.base_dn),
            at: toDate(r.reported_at),
            jobId: String(r.job_id ?? 'unknown'),
            inScope,
            confirmed,
          },
        ];
      });
    },
  };
}
