import { AppError } from '../shared/errors';
import type { Actor } from '../runbook/actor';
import type { OnPremUser } from '../runbook/ou-comparison';
import type { JobPurpose } from './job-purpose';
import {
  isUuid,
  assertLimit,
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

export type JobState = 'queued' | 'leased' | 'succeeded' | 'failed';

export interface JobRecord {
  id: string;
  kind: string;
  /** Which consumer the finished job goes to. */
  purpose: JobPurpose;
  payload: unknown;
  state: JobState;
  conversationId: string;
  migrationId: string | null;
  requestedBy: Actor;
  agentId: string | null;
  /**
   * The only agent this job may be offered to (a Connect Sync job: the migration's Connect Sync
   * server); null: any agent that declares the action, which an ADSync job never is.
   */
  pinnedAgent: string | null;
  leaseExpiresAt: Date | null;
  attempts: number;
  progress: unknown;
  result: unknown;
  error: unknown;
  createdAt: Date;
  updatedAt: Date;
  finishedAt: Date | null;
  /** When the consumer (runbook, wave count, verify) finished with the result; null until then. */
  appliedAt: Date | null;
}

/** Leases that ran out, as the sweep found them; each job is in at most one list, on one instance. */
export interface ExpiredLeases {
  /** Started mutating jobs, failed with RELAY.OUTCOME_UNKNOWN. */
  outcomeUnknown: JobRecord[];
  /** Retryable jobs that used up their attempts, failed with RELAY.AGENT_LOST. */
  exhausted: JobRecord[];
  /** Retryable jobs back in the queue (result not included). */
  requeued: JobRecord[];
}

export interface JobRepo {
  /**
   * Stores a job only; services queue through src/jobs (JobQueue), which also audits and wakes agents.
   * `mutating`: the job changes something, so it is never handed out twice (see expireMutating).
   */
  enqueue(input: {
    kind: string;
    purpose: JobPurpose;
    payload: unknown;
    conversationId: string;
    migrationId: string | null;
    requestedBy: Actor;
    mutating?: boolean;
    /** Offered to this agent alone. Required for Connect Sync (adsync.*) actions. */
    pinnedAgent?: string | null;
  }): Promise<JobRecord>;
  /**
   * Atomically hands the oldest job `agentId` can run to it (FOR UPDATE SKIP LOCKED), or returns
   * null. `actions`: what the agent declared it runs (null: anything). A revoked agent gets nothing.
   * A job that has been leased `maxAttempts` times is not handed out again.
   */
  lease(input: {
    agentId: string;
    leaseMs: number;
    now: Date;
    maxAttempts?: number;
    actions?: readonly string[] | null;
  }): Promise<JobRecord | null>;
  /** Fails started mutating jobs whose lease ran out with RELAY.OUTCOME_UNKNOWN, and returns them. */
  expireMutating(input: { now: Date; claimMs?: number }): Promise<JobRecord[]>;
  /**
   * Everything that happens to leases that ran out: started mutating jobs become outcome unknown,
   * retryable ones go back to the queue, or fail once they have used up `maxAttempts`.
   */
  expireLeases(input: { now: Date; maxAttempts?: number; claimMs?: number }): Promise<ExpiredLeases>;
  /**
   * Ends the leases `agentId` holds now (so expireLeases takes them at `now`) when the bot knows
   * the agent is no longer working on them: `except` lists the jobs it says it still holds;
   * `jobIds` limits it to those jobs, and `quietSince` to jobs with no word from the agent (no
   * progress, heartbeat or result) since then. Returns the ids of the jobs it ended.
   */
  endLeasesEarly(input: {
    agentId: string;
    now: Date;
    except?: readonly string[];
    jobIds?: readonly string[];
    quietSince?: Date;
  }): Promise<string[]>;
  /**
   * Stores progress only while `agentId` holds the lease; returns false otherwise. `starting`
   * records that the agent is about to act: from then on a mutating job is never handed out again.
   */
  reportProgress(input: {
    jobId: string;
    agentId: string;
    progress: unknown;
    leaseMs: number;
    now: Date;
    starting?: boolean;
  }): Promise<boolean>;
  /**
   * Stores piece `seq` of upload `upload` (an id the bot gives each upload of a scan) of a scan's
   * users (a JSON array, already checked) while `agentId` may still finish the job; returns false
   * otherwise. Two uploads of one job never touch each other's pieces.
   */
  putResultPiece(input: {
    jobId: string;
    agentId: string;
    upload: string;
    seq: number;
    usersJson: string;
  }): Promise<boolean>;
  /** Drops the pieces of an upload that was refused or cut off; never those of the upload the job finished with. */
  dropResultUpload(input: { jobId: string; upload: string }): Promise<void>;
  /** A stored scan's users, piece by piece, in the order the agent sent them: the pieces of the upload the job finished with. */
  resultUsers(jobId: string): AsyncIterable<OnPremUser[]>;
  /**
   * Finishes a job leased by `agentId` (or last leased by it and not taken by another agent since);
   * returns null and changes nothing otherwise. The caller holds the claim to apply the result.
   * `resultUpload` names the upload whose pieces hold the scan's users; every other upload's pieces are dropped.
   */
  finish(input: {
    jobId: string;
    agentId: string;
    outcome: 'succeeded' | 'failed';
    result: unknown;
    error: unknown;
    now: Date;
    claimMs?: number;
    resultUpload?: string | null;
  }): Promise<JobRecord | null>;
  /** Claims up to `limit` finished jobs whose result was never applied and nobody is applying; returns their ids. */
  claimUnapplied(input: { now: Date; claimMs?: number; limit: number }): Promise<string[]>;
  /** Extends the claim while a consumer is still working on the result. */
  renewApplyClaim(input: { jobId: string; now: Date; claimMs?: number }): Promise<boolean>;
  /** The consumer is done with the result: it is never handed out again. */
  markApplied(input: { jobId: string; now: Date }): Promise<void>;
  /** The consumer failed: try again after `retryAfterMs`, or stop after `maxFailures` failures. */
  releaseApplyClaim(input: {
    jobId: string;
    now: Date;
    retryAfterMs: number;
    maxFailures: number;
  }): Promise<'retry' | 'gave-up'>;
  /** Queued jobs, by action, that no active agent seen since `onlineSince` has said it can run. */
  waitingForCapableAgent(input: { onlineSince: Date }): Promise<{ action: string; jobs: number; since: Date }[]>;
  get(jobId: string): Promise<JobRecord | null>;
  /** Fails jobs that no agent has taken yet (their requester gave up waiting); returns how many. */
  cancelQueued(input: { jobIds: string[]; reason: string; now: Date }): Promise<number>;
}

/** Connect Sync actions run on the migration's Connect Sync server only (see jobs.pinned_agent). */
export function isConnectSyncAction(kind: string): boolean {
  return kind.startsWith('adsync.');
}

function mapJob(row: Row): JobRecord {
  return {
    id: String(row.id),
    kind: String(row.kind),
    purpose: row.purpose as JobPurpose,
    payload: toJson(row.payload),
    state: row.state as JobState,
    conversationId: String(row.conversation_id),
    migrationId: toStringOrNull(row.migration_id),
    requestedBy: { id: String(row.requested_by_id), name: String(row.requested_by_name) },
    agentId: toStringOrNull(row.agent_id),
    pinnedAgent: toStringOrNull(row.pinned_agent),
    leaseExpiresAt: toDateOrNull(row.lease_expires_at),
    attempts: Number(row.attempts),
    progress: toJson(row.progress),
    result: toJson(row.result),
    error: toJson(row.error),
    createdAt: toDate(row.created_at),
    updatedAt: toDate(row.updated_at),
    finishedAt: toDateOrNull(row.finished_at),
    appliedAt: toDateOrNull(row.applied_at),
  };
}

/** Leases one read-only job may lose before it fails instead of going back to the queue. */
export const DEFAULT_MAX_ATTEMPTS = 3;
/** How long an instance may apply a result before another instance presumes it gone and takes over. */
export const DEFAULT_APPLY_CLAIM_MS = 2 * 60_000;

/**
 * A lease that ran out is up for grabs again only when nothing may have changed: a read-only job,
 * or a mutating one its agent never confirmed starting. Shared by lease() and the sweep, so both
 * agree on which jobs are retried.
 */
const RETRYABLE_LEASE = `state = 'leased' AND (NOT mutating OR started_at IS NULL)`;

function assertLeaseMs(leaseMs: number): void {
  if (!Number.isFinite(leaseMs) || leaseMs <= 0) {
    throw new AppError('STORE.ERROR', `A job lease of ${leaseMs} ms was requested.`, {
      hint: 'Pass a positive lease duration in milliseconds.',
    });
  }
}

const JOB_COLUMN_NAMES = [
  'id',
  'kind',
  'purpose',
  'payload',
  'state',
  'conversation_id',
  'migration_id',
  'requested_by_id',
  'requested_by_name',
  'agent_id',
  'pinned_agent',
  'lease_expires_at',
  'attempts',
  'progress',
  'result',
  'error',
  'created_at',
  'updated_at',
  'finished_at',
  'applied_at',
];
const JOB_COLUMNS = JOB_COLUMN_NAMES.join(', ');
// finish() already holds the result it stores; reading a 100,000-user scan back would give the bot a second copy of it.
const JOB_COLUMNS_BUT_RESULT = JOB_COLUMN_NAMES.filter((c) => c !== 'result').join(', ');

/** A started mutating job whose lease ran out is never retried: it fails as "outcome unknown" for a person to check. */
async function expireStartedMutating(db: Db, now: Date, claimMs: number): Promise<JobRecord[]> {
  const rows = await db.query(
    `UPDATE jobs SET state = 'failed', finished_at = $1::timestamptz, updated_at = $1::timestamptz, lease_expires_at = NULL,
            apply_claimed_until = $2::timestamptz,
            error = jsonb_build_object(
              'code', 'RELAY.OUTCOME_UNKNOWN',
              'message', 'The agent stopped reporting while it ran ' || kind || ', so whether it changed anything is unknown.',
              'hint', 'Check Connect Sync by hand (Get-ADSyncScheduler, Get-ADSyncRule, Get-Service ADSync), then run the step again or undo it.')
      WHERE state = 'leased' AND mutating AND started_at IS NOT NULL AND lease_expires_at <= $1::timestamptz
     RETURNING ${JOB_COLUMNS}`,
    [timeParam(now), timeParam(new Date(now.getTime() + claimMs))],
  );
  return rows.map(mapJob);
}

export function createJobRepo(db: Db): JobRepo {
  return {
    async enqueue(input) {
      const pinnedAgent = input.pinnedAgent ?? null;
      const action = (input.payload as { action?: unknown } | null)?.action;
      if (
        (isConnectSyncAction(input.kind) || (typeof action === 'string' && isConnectSyncAction(action))) &&
        pinnedAgent === null
      ) {
        throw new AppError(
          'STORE.ERROR',
          `A ${input.kind} job must name the agent on the Connect Sync server it runs on.`,
          {
            hint: "Queue Connect Sync jobs with pinnedAgent set to the migration's Connect Sync server (/server <agent>).",
          },
        );
      }
      try {
        const rows = await db.query(
          `INSERT INTO jobs (kind, purpose, payload, conversation_id, migration_id, requested_by_id, requested_by_name, mutating, pinned_agent)
             VALUES ($1, $2, $3::jsonb, $4, $5::uuid, $6, $7, $8, $9) RETURNING ${JOB_COLUMNS}`,
          [
            input.kind,
            input.purpose,
            jsonParam(input.payload),
            input.conversationId,
            input.migrationId,
            input.requestedBy.id,
            input.requestedBy.name,
            input.mutating ?? false,
            pinnedAgent,
          ],
        );
        return mapJob(rows[0] as Row);
      } catch (err) {
        if (sqlState(err) === '23503' || sqlState(err) === '22P02') {
          throw new AppError(
            'STORE.ERROR',
            `Cannot queue a ${input.kind} job: migration ${String(input.migrationId)} does not exist.`,
            {
              hint: 'Pass the id of an existing migration, or null for a job outside any migration.',
              cause: err,
            },
          );
        }
        throw err;
      }
    },

    async lease({ agentId, leaseMs, now, maxAttempts = DEFAULT_MAX_ATTEMPTS, actions = null }) {
      assertLeaseMs(leaseMs);
      // SKIP LOCKED: a concurrent caller skips the row we are taking instead of waiting for it and then
      // taking it too. A retryable job whose lease ran out (see RETRYABLE_LEASE) counts as queued
      // again until it has used up its attempts; a started mutating one never does (expireMutating).
      // A pinned job goes to its agent alone, and a Connect Sync job is never offered unpinned: only
      // the migration's Connect Sync server may run it, never a staging server that declares the
      // same actions (enqueue refuses an unpinned one; this holds for rows written before that too).
      // Only jobs the agent said it can run. Null (everything) is for tests of the store alone: the
      // relay always passes the agent's list and refuses an agent that declares nothing.
      // The agent's row is read FOR SHARE in the same statement: a revocation either commits first
      // (and this lease sees 'revoked' and takes nothing) or waits for this lease and then releases it.
      const rows = await db.query(
        `UPDATE jobs
              SET state = 'leased', agent_id = $1, lease_expires_at = $2::timestamptz,
                  attempts = attempts + 1, updated_at = $3::timestamptz
            WHERE id = (
              SELECT id FROM jobs
               WHERE (state = 'queued' OR (${RETRYABLE_LEASE} AND lease_expires_at <= $3::timestamptz))
                 AND attempts < $4
                 AND ($5::text[] IS NULL OR payload->>'action' = ANY($5::text[]))
                 AND (pinned_agent = $1 OR (pinned_agent IS NULL AND kind NOT LIKE 'adsync.%'
                                                  AND COALESCE(payload->>'action', '') NOT LIKE 'adsync.%'))
                 AND COALESCE((SELECT a.status FROM agents a WHERE a.name = $1 FOR SHARE), 'active') = 'active'
               ORDER BY seq
               LIMIT 1
               FOR UPDATE SKIP LOCKED)
           RETURNING ${JOB_COLUMNS}`,
        [
          agentId,
          timeParam(new Date(now.getTime() + leaseMs)),
          timeParam(now),
          maxAttempts,
          actions === null ? null : [...actions],
        ],
      );
      return rows[0] ? mapJob(rows[0]) : null;
    },

    expireMutating: ({ now, claimMs = DEFAULT_APPLY_CLAIM_MS }) => expireStartedMutating(db, now, claimMs),

    async expireLeases({ now, maxAttempts = DEFAULT_MAX_ATTEMPTS, claimMs = DEFAULT_APPLY_CLAIM_MS }) {
      const outcomeUnknown = await expireStartedMutating(db, now, claimMs);
      // Each UPDATE re-checks its WHERE on the rows it locks, so when two instances sweep at once,
      // every job is returned to exactly one of them.
      // Pieces left by uploads a crashed bot never finished reading go with the job's failure.
      const exhausted = await db.query(
        `WITH failed AS (
           UPDATE jobs SET state = 'failed', finished_at = $1::timestamptz, updated_at = $1::timestamptz, lease_expires_at = NULL,
                  apply_claimed_until = $3::timestamptz,
                  error = jsonb_build_object(
                    'code', 'RELAY.AGENT_LOST',
                    'message', CASE WHEN mutating
                      THEN 'The agent stopped answering ' || attempts || ' times before it started ' || kind || ', so it was not tried again. Nothing was changed.'
                      ELSE 'The agent stopped answering ' || attempts || ' times while running this (' || kind || '), so it was not tried again.' END,
                    'hint', 'Check the agent host: is syncshift-agent running, and can it reach the bot and the domain controller? /agent list shows when each agent was last seen. Then run it again.')
            WHERE ${RETRYABLE_LEASE} AND lease_expires_at <= $1::timestamptz AND attempts >= $2
           RETURNING ${JOB_COLUMNS}),
           dropped AS (DELETE FROM job_result_pieces p USING failed f WHERE p.job_id = f.id)
           SELECT * FROM failed`,
        [timeParam(now), maxAttempts, timeParam(new Date(now.getTime() + claimMs))],
      );
      // Back in the queue, for any agent. agent_id stays as the last holder: if that agent was only
      // slow, its result is still accepted until another agent takes the job (see finish).
      const requeued = await db.query(
        `UPDATE jobs SET state = 'queued', lease_expires_at = NULL, updated_at = $1::timestamptz
            WHERE ${RETRYABLE_LEASE} AND lease_expires_at <= $1::timestamptz AND attempts < $2
           RETURNING ${JOB_COLUMNS_BUT_RESULT}`,
        [timeParam(now), maxAttempts],
      );
      return {
        outcomeUnknown,
        exhausted: exhausted.map(mapJob),
        requeued: requeued.map((row) => mapJob({ ...row, result: null })),
      };
    },

    async endLeasesEarly({ agentId, now, except = [], jobIds, quietSince }) {
      // The same move as a revocation: the lease is made to run out now, and expireLeases decides
      // (requeued, failed after maxAttempts, or outcome unknown for a started change).
      const rows = await db.query<{ id: string }>(
        `UPDATE jobs SET lease_expires_at = $2::timestamptz, updated_at = $2::timestamptz
            WHERE agent_id = $1 AND state = 'leased' AND lease_expires_at > $2::timestamptz
              AND NOT (id::text = ANY($3::text[]))
              AND ($4::text[] IS NULL OR id::text = ANY($4::text[]))
              AND ($5::timestamptz IS NULL OR updated_at <= $5::timestamptz)
           RETURNING id`,
        [
          agentId,
          timeParam(now),
          [...except],
          jobIds === undefined ? null : [...jobIds],
          quietSince === undefined ? null : timeParam(quietSince),
        ],
      );
      return rows.map((row) => String(row.id));
    },

    async reportProgress({ jobId, agentId, progress, leaseMs, now, starting }) {
      assertLeaseMs(leaseMs);
      if (!isUuid(jobId)) return false;
      const rows = await db.query(
        `UPDATE jobs SET progress = $3::jsonb, lease_expires_at = $4::timestamptz, updated_at = $5::timestamptz,
                  started_at = CASE WHEN $6::boolean THEN COALESCE(started_at, $5::timestamptz) ELSE started_at END
            WHERE id = $1::uuid AND agent_id = $2 AND state = 'leased'
           RETURNING id`,
        [
          jobId,
          agentId,
          jsonParam(progress),
          timeParam(new Date(now.getTime() + leaseMs)),
          timeParam(now),
          starting === true,
        ],
      );
      return rows.length === 1;
    },

    async putResultPiece({ jobId, agentId, upload, seq, usersJson }) {
      if (!isUuid(jobId) || !isUuid(upload)) return false;
      // Only while this agent may still finish the job (the condition finish uses).
      const rows = await db.query(
        `INSERT INTO job_result_pieces (job_id, upload, seq, users)
           SELECT $1::uuid, $3::uuid, $4, $5::jsonb
            WHERE EXISTS (SELECT 1 FROM jobs WHERE id = $1::uuid AND agent_id = $2 AND (state = 'leased' OR (state = 'queued' AND attempts > 0)))
           ON CONFLICT (job_id, upload, seq) DO UPDATE SET users = EXCLUDED.users
           RETURNING seq`,
        [jobId, agentId, upload, seq, usersJson],
      );
      return rows.length === 1;
    },

    async dropResultUpload({ jobId, upload }) {
      if (!isUuid(jobId) || !isUuid(upload)) return;
      // Never the upload a job finished with: that one is the record.
      await db.query(
        `DELETE FROM job_result_pieces p WHERE p.job_id = $1::uuid AND p.upload = $2::uuid
              AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.id = $1::uuid AND j.result_upload = $2::uuid)`,
        [jobId, upload],
      );
    },

    async *resultUsers(jobId) {
      if (!isUuid(jobId)) return;
      // One piece per query: a reader holds about 1,000 users at a time, whatever the scan's size.
      for (let seq = 0; ; seq++) {
        const rows = await db.query<{ users: unknown }>(
          `SELECT p.users FROM jobs j JOIN job_result_pieces p ON p.job_id = j.id AND p.upload = j.result_upload AND p.seq = $2
              WHERE j.id = $1::uuid`,
          [jobId, seq],
        );
        if (rows.length === 0) return;
        const users = typeof rows[0]!.users === 'string' ? (JSON.parse(rows[0]!.users) as unknown) : rows[0]!.users;
        yield users as OnPremUser[];
      }
    },

    async finish({
      jobId,
      agentId,
      outcome,
      result,
      error,
      now,
      claimMs = DEFAULT_APPLY_CLAIM_MS,
      resultUpload = null,
    }) {
      if (!isUuid(jobId) || (resultUpload !== null && !isUuid(resultUpload))) return null;
      // Only the agent holding the lease, or the last holder of a job the sweep put back in the
      // queue (it was slow, not gone) while nobody else has taken it. A finished job matches
      // nothing, so a retried HTTP call or a replay changes nothing; so does a revoked agent. The
      // finisher claims applying the result, so no other instance starts on it at the same time.
      // Pieces of any other upload of this job (cut off, refused, or another agent's) go in the
      // same statement: from now on nothing can add to them.
      const rows = await db.query(
        `WITH finished AS (
             UPDATE jobs SET state = $3, result = $4::jsonb, error = $5::jsonb, lease_expires_at = NULL, result_upload = $8::uuid,
                    updated_at = $6::timestamptz, finished_at = $6::timestamptz, apply_claimed_until = $7::timestamptz
              WHERE id = $1::uuid AND agent_id = $2 AND (state = 'leased' OR (state = 'queued' AND attempts > 0))
                AND COALESCE((SELECT a.status FROM agents a WHERE a.name = $2 FOR SHARE), 'active') = 'active'
             RETURNING ${JOB_COLUMNS_BUT_RESULT}),
           dropped AS (
             DELETE FROM job_result_pieces p USING finished f
              WHERE p.job_id = f.id AND p.upload IS DISTINCT FROM $8::uuid)
           SELECT * FROM finished`,
        [
          jobId,
          agentId,
          outcome,
          jsonParam(result),
          jsonParam(error),
          timeParam(now),
          timeParam(new Date(now.getTime() + claimMs)),
          resultUpload,
        ],
      );
      return rows[0] ? { ...mapJob({ ...rows[0], result: null }), result: result ?? null } : null;
    },

    async claimUnapplied({ now, claimMs = DEFAULT_APPLY_CLAIM_MS, limit }) {
      assertLimit(limit, 'jobs.claimUnapplied');
      const rows = await db.query<{ id: string }>(
        `UPDATE jobs SET apply_claimed_until = $2::timestamptz
            WHERE id IN (
              SELECT id FROM jobs
               WHERE applied_at IS NULL AND state IN ('succeeded', 'failed')
                 AND (apply_claimed_until IS NULL OR apply_claimed_until <= $1::timestamptz)
               ORDER BY seq
               LIMIT $3
               FOR UPDATE SKIP LOCKED)
           RETURNING id`,
        [timeParam(now), timeParam(new Date(now.getTime() + claimMs)), limit],
      );
      return rows.map((row) => String(row.id));
    },

    async renewApplyClaim({ jobId, now, claimMs = DEFAULT_APPLY_CLAIM_MS }) {
      if (!isUuid(jobId)) return false;
      const rows = await db.query(
        `UPDATE jobs SET apply_claimed_until = $2::timestamptz WHERE id = $1::uuid AND applied_at IS NULL RETURNING id`,
        [jobId, timeParam(new Date(now.getTime() + claimMs))],
      );
      return rows.length === 1;
    },

    async markApplied({ jobId, now }) {
      if (!isUuid(jobId)) return;
      await db.query(
        `UPDATE jobs SET applied_at = $2::timestamptz, apply_claimed_until = NULL WHERE id = $1::uuid AND applied_at IS NULL`,
        [jobId, timeParam(now)],
      );
    },

    async releaseApplyClaim({ jobId, now, retryAfterMs, maxFailures }) {
      if (!isUuid(jobId)) return 'gave-up';
      // Retried after a pause, not at once: a consumer that fails on this result will likely fail
      // again right away. After maxFailures the result is left as it is (logged by the caller).
      const rows = await db.query<{ gave_up: boolean }>(
        `UPDATE jobs SET apply_failures = apply_failures + 1,
                  apply_claimed_until = $2::timestamptz,
                  applied_at = CASE WHEN apply_failures + 1 >= $3 THEN $4::timestamptz ELSE NULL END
            WHERE id = $1::uuid AND applied_at IS NULL
           RETURNING applied_at IS NOT NULL AS gave_up`,
        [jobId, timeParam(new Date(now.getTime() + retryAfterMs)), maxFailures, timeParam(now)],
      );
      return rows[0]?.gave_up === false ? 'retry' : 'gave-up';
    },

    async waitingForCapableAgent({ onlineSince }) {
      // Queued work that no active agent heard from since onlineSince has said it can run (for a
      // pinned job: its own agent). An
      // agent that never declared its actions (an older version) is offered nothing, so it counts for nothing.
      const rows = await db.query<{ action: string | null; jobs: number; since: unknown }>(
        `SELECT j.payload->>'action' AS action, count(*)::int AS jobs, min(j.created_at) AS since
             FROM jobs j
            WHERE j.state = 'queued'
              AND NOT EXISTS (
                SELECT 1 FROM agents a
                 WHERE a.status = 'active' AND a.last_seen_at >= $1::timestamptz
                   AND a.actions ? (j.payload->>'action')
                   AND (j.pinned_agent IS NULL OR a.name = j.pinned_agent))
            GROUP BY 1 ORDER BY 1`,
        [timeParam(onlineSince)],
      );
      return rows.map((row) => ({
        action: row.action ?? '(none)',
        jobs: Number(row.jobs),
        since: toDate(row.since),
      }));
    },

    async get(jobId) {
      if (!isUuid(jobId)) return null;
      const rows = await db.query(`SELECT ${JOB_COLUMNS} FROM jobs WHERE id = $1::uuid`, [jobId]);
      return rows[0] ? mapJob(rows[0]) : null;
    },
    async cancelQueued({ jobIds, reason, now }) {
      const ids = jobIds.filter(isUuid);
      if (ids.length === 0) return 0;
      // Only still-queued jobs: one an agent has leased is left to finish and report. The caller is
      // the consumer that gave up on them, so there is nothing left to apply.
      const rows = await db.query(
        `UPDATE jobs SET state = 'failed', error = $2::jsonb, updated_at = $3::timestamptz, finished_at = $3::timestamptz, applied_at = $3::timestamptz
            WHERE id::text = ANY($1::text[]) AND state = 'queued' RETURNING id`,
        [ids, jsonParam({ code: 'JOB.CANCELLED', message: reason }), timeParam(now)],
      );
      return rows.length;
    },
  };
}
