import type { WaveSummary } from '../runbook/wave-summary';
import { jsonParam, timeParam, toDate, toDateOrNull, toDateText, toStringOrNull, type Db, type Row } from './sql';

export type SummaryKind = 'scheduled' | 'on_demand';

/**
 * claimed → sending → posted is the normal path. From 'sending' a post that provably was not taken
 * goes to 'failed' (retried later, then 'gave_up'); one whose outcome is unknown goes to
 * 'outcome_unknown' and is never posted again. 'sending' itself is never claimed again either.
 */
export type SummaryStatus = 'claimed' | 'sending' | 'posted' | 'failed' | 'outcome_unknown' | 'gave_up';

export interface SummaryRecord {
  id: string;
  migrationId: string;
  kind: SummaryKind;
  localDate: string;
  status: SummaryStatus;
  claimedBy: string;
  claimedAt: Date;
  /** How many times the row was claimed: 1 for the first attempt. */
  attempts: number;
  sendingAt: Date | null;
  postedAt: Date | null;
  activityId: string | null;
  /** The summary as built, stored when sending begins; null before. */
  content: WaveSummary | null;
  error: string | null;
  /** The error of the previous attempt, when this one is a retry. */
  lastError: string | null;
  noticeAt: Date | null;
}

export interface SummaryRepo {
  /**
   * Claims the scheduled summary of one local date. Returns the claim, or null when another
   * instance holds a live claim, or the summary is sending, posted, of unknown outcome or given up.
   * A claim whose lease ran out (its holder died) can be taken over; the lease runs from and is
   * judged by `leaseNow`, the lease clock every job lease and claim uses (see leaseExpiry). A failed
   * attempt can be taken over from its retry time on, judged by `now` (the schedule's clock).
   */
  claimScheduled(input: {
    migrationId: string;
    localDate: string;
    claimedBy: string;
    now: Date;
    leaseNow: Date;
    claimMs: number;
  }): Promise<SummaryRecord | null>;
  createOnDemand(input: {
    migrationId: string;
    localDate: string;
    claimedBy: string;
    now: Date;
    leaseNow: Date;
    claimMs: number;
  }): Promise<SummaryRecord>;
  /** Renews the lease (while claimed or sending) to `claimMs` from `leaseNow`; false when the claim was lost. */
  extendClaim(input: { id: string; claimedBy: string; leaseNow: Date; claimMs: number }): Promise<boolean>;
  /**
   * The step before the post: true only for the claim's holder (nobody took it over), and from then
   * on nobody claims the row again, whatever happens to the post.
   */
  markSending(input: { id: string; claimedBy: string; content: unknown; now: Date }): Promise<boolean>;
  /** Teams took the card; false when the row was not this instance's sending row. */
  markPosted(input: { id: string; claimedBy: string; activityId: string | null; now: Date }): Promise<boolean>;
  /**
   * The attempt failed before the card was sent, or Teams proved it did not take it. With a
   * `retryAt` the row can be claimed again from then on; with null it is given up for good.
   * `countsAsAttempt: false` (a shutdown) gives back the attempt its claim counted.
   */
  markFailed(input: {
    id: string;
    claimedBy: string;
    error: string;
    retryAt: Date | null;
    countsAsAttempt?: boolean;
  }): Promise<void>;
  /** Teams may or may not have the card: never posted again. */
  markOutcomeUnknown(input: { id: string; claimedBy: string; error: string }): Promise<void>;
  /**
   * Scheduled summaries of a migration whose post may be missing ('outcome_unknown' sent at or
   * before `sentBefore`, or 'sending' whose holder's lease ran out by `leaseNow`) and that have no notice yet;
   * each returned row is this instance's alone to post the one note for.
   */
  claimDeliveryNotices(input: {
    migrationId: string;
    sentBefore: Date;
    now: Date;
    leaseNow: Date;
  }): Promise<SummaryRecord[]>;
  /** Sets the row's notice time unless one was set; true for the one caller that set it. */
  claimNotice(input: { id: string; now: Date }): Promise<boolean>;
  /**
   * The latest scheduled summary before `beforeDate` that was built and sent (posted, or of unknown
   * outcome: its numbers are still that day's), for the change since then.
   */
  previousScheduled(migrationId: string, beforeDate: string): Promise<SummaryRecord | null>;
  /** Scheduled summaries with local dates in [fromDate, beforeDate), for what a catch-up note says. */
  scheduledBetween(migrationId: string, fromDate: string, beforeDate: string): Promise<SummaryRecord[]>;
  listSummaries(migrationId: string): Promise<SummaryRecord[]>;
}

const SUMMARY_COLUMNS =
  'id, migration_id, kind, local_date::text AS local_date, status, claimed_by, claimed_at, attempts, sending_at, posted_at, activity_id, content, error, last_error, notice_at';
/**
 * When a lease taken at `leaseNow` runs out. Summary claims run on the same lease clock as job
 * leases and result claims (the relay's, injected as relayNow), not the database's now(): one
 * clock for every lease. Bot instances whose clocks differ then disagree on a summary claim
 * exactly as they already do on a job lease; that is the accepted cost, and a single clock lets
 * a test move every lease together.
 */
const leaseExpiry = (leaseNow: Date, claimMs: number): string | null =>
  timeParam(new Date(leaseNow.getTime() + claimMs));

/** The wave summaries (table summaries): who claimed which day, and how its delivery went. */
export function createSummaryRepo(db: Db): SummaryRepo {
  return {
    async claimScheduled(input) {
      const rows = await db.query(
        `INSERT INTO summaries (migration_id, kind, local_date, status, claimed_by, claimed_at, claim_expires_at)
         VALUES ($1, 'scheduled', $2::date, 'claimed', $3, $4, $5)
         ON CONFLICT (migration_id, local_date) WHERE kind = 'scheduled'
         DO UPDATE SET status = 'claimed', claimed_by = EXCLUDED.claimed_by, claimed_at = EXCLUDED.claimed_at, claim_expires_at = EXCLUDED.claim_expires_at,
             attempts = summaries.attempts + 1, last_error = COALESCE(summaries.error, summaries.last_error), error = NULL, retry_at = NULL
           WHERE (summaries.status = 'claimed' AND summaries.claim_expires_at < $6)
              OR (summaries.status = 'failed' AND summaries.retry_at <= EXCLUDED.claimed_at)
         RETURNING ${SUMMARY_COLUMNS}`,
        [
          input.migrationId,
          input.localDate,
          input.claimedBy,
          timeParam(input.now),
          leaseExpiry(input.leaseNow, input.claimMs),
          timeParam(input.leaseNow),
        ],
      );
      return rows[0] ? mapSummary(rows[0]) : null;
    },
    async createOnDemand(input) {
      const rows = await db.query(
        `INSERT INTO summaries (migration_id, kind, local_date, status, claimed_by, claimed_at, claim_expires_at) VALUES ($1, 'on_demand', $2::date, 'claimed', $3, $4, $5) RETURNING ${SUMMARY_COLUMNS}`,
        [
          input.migrationId,
          input.localDate,
          input.claimedBy,
          timeParam(input.now),
          leaseExpiry(input.leaseNow, input.claimMs),
        ],
      );
      return mapSummary(rows[0]!);
    },
    async extendClaim(input) {
      // A sending row is renewed too: a live holder whose card waits for room under Teams' limits
      // must not look dead, or another instance would say the summary may be missing.
      const rows = await db.query(
        `UPDATE summaries SET claim_expires_at = $3 WHERE id = $1 AND claimed_by = $2 AND status IN ('claimed', 'sending') RETURNING id`,
        [input.id, input.claimedBy, leaseExpiry(input.leaseNow, input.claimMs)],
      );
      return rows.length === 1;
    },
    async markSending(input) {
      const rows = await db.query(
        `UPDATE summaries SET status = 'sending', content = $3::jsonb, sending_at = $4 WHERE id = $1 AND claimed_by = $2 AND status = 'claimed' RETURNING id`,
        [input.id, input.claimedBy, jsonParam(input.content), timeParam(input.now)],
      );
      return rows.length === 1;
    },
    async markPosted(input) {
      const rows = await db.query(
        `UPDATE summaries SET status = 'posted', activity_id = $3, posted_at = $4, error = NULL WHERE id = $1 AND claimed_by = $2 AND status = 'sending' RETURNING id`,
        [input.id, input.claimedBy, input.activityId, timeParam(input.now)],
      );
      return rows.length === 1;
    },
    async markFailed(input) {
      // The claim counted the attempt; one that was not the summary's fault (a shutdown) is taken back.
      await db.query(
        `UPDATE summaries SET status = CASE WHEN $4::timestamptz IS NULL THEN 'gave_up' ELSE 'failed' END, error = $3, retry_at = $4,
                attempts = CASE WHEN $5::boolean THEN attempts ELSE GREATEST(attempts - 1, 0) END
         WHERE id = $1 AND claimed_by = $2 AND status IN ('claimed', 'sending')`,
        [
          input.id,
          input.claimedBy,
          input.error.slice(0, 2000),
          timeParam(input.retryAt),
          input.countsAsAttempt !== false,
        ],
      );
    },
    async markOutcomeUnknown(input) {
      await db.query(
        `UPDATE summaries SET status = 'outcome_unknown', error = $3 WHERE id = $1 AND claimed_by = $2 AND status = 'sending'`,
        [input.id, input.claimedBy, input.error.slice(0, 2000)],
      );
    },
    async claimDeliveryNotices(input) {
      // The row lock makes a second instance re-check notice_at after the first set it, so it gets nothing.
      const rows = await db.query(
        `UPDATE summaries SET notice_at = $3
         WHERE migration_id = $1 AND kind = 'scheduled' AND notice_at IS NULL
           AND ((status = 'outcome_unknown' AND sending_at <= $2) OR (status = 'sending' AND claim_expires_at < $4))
         RETURNING ${SUMMARY_COLUMNS}`,
        [input.migrationId, timeParam(input.sentBefore), timeParam(input.now), timeParam(input.leaseNow)],
      );
      return rows.map(mapSummary);
    },
    async claimNotice(input) {
      const rows = await db.query(
        `UPDATE summaries SET notice_at = $2 WHERE id = $1 AND notice_at IS NULL RETURNING id`,
        [input.id, timeParam(input.now)],
      );
      return rows.length === 1;
    },
    async previousScheduled(migrationId, beforeDate) {
      const rows = await db.query(
        `SELECT ${SUMMARY_COLUMNS} FROM summaries WHERE migration_id = $1 AND kind = 'scheduled' AND local_date < $2::date
           AND status IN ('posted', 'outcome_unknown', 'sending') AND content IS NOT NULL
         ORDER BY local_date DESC LIMIT 1`,
        [migrationId, beforeDate],
      );
      return rows[0] ? mapSummary(rows[0]) : null;
    },
    async scheduledBetween(migrationId, fromDate, beforeDate) {
      const rows = await db.query(
        `SELECT ${SUMMARY_COLUMNS} FROM summaries WHERE migration_id = $1 AND kind = 'scheduled' AND local_date >= $2::date AND local_date < $3::date ORDER BY local_date`,
        [migrationId, fromDate, beforeDate],
      );
      return rows.map(mapSummary);
    },
    async listSummaries(migrationId) {
      const rows = await db.query(
        `SELECT ${SUMMARY_COLUMNS} FROM summaries WHERE migration_id = $1 ORDER BY claimed_at, local_date`,
        [migrationId],
      );
      return rows.map(mapSummary);
    },
  };
}

function mapSummary(r: Row): SummaryRecord {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    kind: r.kind as SummaryKind,
    localDate: toDateText(r.local_date),
    status: r.status as SummaryStatus,
    claimedBy: String(r.claimed_by),
    claimedAt: toDate(r.claimed_at),
    attempts: Number(r.attempts),
    sendingAt: toDateOrNull(r.sending_at),
    postedAt: toDateOrNull(r.posted_at),
    activityId: toStringOrNull(r.activity_id),
    content: toWaveSummary(typeof r.content === 'string' ? JSON.parse(r.content) : (r.content ?? null)),
    error: toStringOrNull(r.error),
    lastError: toStringOrNull(r.last_error),
    noticeAt: toDateOrNull(r.notice_at),
  };
}

/** Typed at the boundary: the bot wrote the column from a WaveSummary (summary-service). */
function toWaveSummary(value: unknown): WaveSummary | null {
  return (value ?? null) as WaveSummary | null;
}
