import type { CloudUser, CloudUserChange } from '../runbook/cloud-users';
import type { WaveOu } from '../runbook/waves';
import { jsonParam, sqlState, timeParam, toDate, toDateOrNull, type Db } from './sql';

type Row = Record<string, unknown>;

export interface StoredWaveOu extends WaveOu {
  position: number;
  disabled: number | null;
  countJobId: string | null;
  countedAt: Date | null;
}

export interface StoredWave {
  id: string;
  migrationId: string;
  name: string;
  scheduledFor: string | null;
  createdBy: string;
  createdAt: Date;
  ous: StoredWaveOu[];
}

export interface SummarySettings {
  migrationId: string;
  localTime: string | null;
  timeZone: string | null;
  provisioningJobId: string | null;
  logsReadUntil: Date | null;
  setBy: string;
  setAt: Date;
}

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
  content: unknown;
  error: string | null;
  /** The error of the previous attempt, when this one is a retry. */
  lastError: string | null;
  noticeAt: Date | null;
}

/** Provisioning log entries a posted daily summary counted, and where the next one reads from. */
export interface LogWindowCommit {
  migrationId: string;
  /** When the read began: the next scheduled read starts here, minus an overlap. */
  readUntil: Date;
  entries: { id: string; at: Date }[];
  /** Entries at or before this instant cannot be returned again and are forgotten. */
  forgetBefore: Date;
}

export interface CloudSnapshot {
  deltaLink: string;
  fullReads: number;
  deltaReads: number;
  refreshedAt: Date;
  /** The generation of cloud_users rows that is the copy (migration 018). */
  generation: number;
}

export interface WaveRepo {
  /** Null when the migration already has a live wave of that name (the unique index decides). */
  createWave(input: {
    migrationId: string;
    name: string;
    scheduledFor: string | null;
    createdBy: string;
    ous: string[];
    now: Date;
  }): Promise<StoredWave | null>;
  listWaves(migrationId: string): Promise<StoredWave[]>;
  removeWave(input: { migrationId: string; name: string; now: Date }): Promise<StoredWave | null>;
  setOuCountJob(waveId: string, position: number, jobId: string): Promise<void>;
  findOuByJob(jobId: string): Promise<{ waveId: string; migrationId: string; position: number } | null>;
  recordOuCount(input: {
    jobId: string;
    baseDn: string | null;
    users: number | null;
    disabled: number | null;
    error: string | null;
    now: Date;
  }): Promise<void>;

  getSettings(migrationId: string): Promise<SummarySettings | null>;
  setSchedule(input: {
    migrationId: string;
    localTime: string;
    timeZone: string;
    setBy: string;
    now: Date;
  }): Promise<SummarySettings>;
  setProvisioningJob(input: { migrationId: string; jobId: string; setBy: string; now: Date }): Promise<SummarySettings>;
  /** Moves the scheduled read position and remembers what was counted, in one transaction. */
  commitLogWindow(input: LogWindowCommit): Promise<void>;
  /** Ids of provisioning log entries already counted by a posted daily summary. */
  seenLogEntries(migrationId: string): Promise<Set<string>>;
  /** Settings of active migrations that have a daily time. */
  listScheduled(): Promise<SummarySettings[]>;

  /**
   * Claims the scheduled summary of one local date. Returns the claim, or null when another
   * instance holds a live claim, or the summary is sending, posted, of unknown outcome or given up.
   * A claim whose lease ran out (its holder died) can be taken over; the lease is measured in the
   * database's time, so an instance whose clock runs ahead cannot take a live claim. A failed
   * attempt can be taken over from its retry time on, judged by `now` (the schedule's clock).
   */
  claimScheduled(input: {
    migrationId: string;
    localDate: string;
    claimedBy: string;
    now: Date;
    claimMs: number;
  }): Promise<SummaryRecord | null>;
  createOnDemand(input: {
    migrationId: string;
    localDate: string;
    claimedBy: string;
    now: Date;
    claimMs: number;
  }): Promise<SummaryRecord>;
  /** Renews the lease (while claimed or sending) to `claimMs` from the database's now; false when the claim was lost. */
  extendClaim(input: { id: string; claimedBy: string; claimMs: number }): Promise<boolean>;
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
   * before `sentBefore`, or 'sending' whose holder's lease ran out) and that have no notice yet;
   * each returned row is this instance's alone to post the one note for.
   */
  claimDeliveryNotices(input: { migrationId: string; sentBefore: Date; now: Date }): Promise<SummaryRecord[]>;
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

  getSnapshot(migrationId: string): Promise<CloudSnapshot | null>;
  /**
   * Applies one delta round (or a full read when `full`) and the new deltaLink atomically. With
   * `expectDeltaLink` (null: no copy yet) nothing is applied and false comes back when the copy has
   * moved on meanwhile (another refresh, on this instance or another, finished first).
   */
  applyCloudChanges(input: {
    migrationId: string;
    changes: CloudUserChange[];
    deltaLink: string;
    full: boolean;
    now: Date;
    expectDeltaLink?: string | null;
  }): Promise<boolean>;
  /** A generation for a full read written page by page beside the current copy (unique across instances). */
  beginFullCopy(migrationId: string): Promise<number>;
  /** One page of a full read of synced users (/users) into its generation; not part of the copy yet. */
  addToFullCopy(migrationId: string, generation: number, users: readonly CloudUser[]): Promise<void>;
  /**
   * Makes a full read's generation the copy, with the deltaLink taken before it began, in one
   * transaction, and drops older generations. False (and the generation dropped) when the copy moved
   * on meanwhile, as for applyCloudChanges.
   */
  finishFullCopy(input: {
    migrationId: string;
    generation: number;
    deltaLink: string;
    now: Date;
    expectDeltaLink: string | null;
  }): Promise<boolean>;
  /**
   * The copy's synced users, page by page in id order, from one consistent view of it; never the
   * whole copy in memory. Returns how many were read (0 without a copy).
   */
  readCloudUsers(
    migrationId: string,
    onPage: (users: CloudUser[]) => void | Promise<void>,
    pageSize?: number,
  ): Promise<number>;
  /** Synced users of the snapshot, all at once: for small copies and tests; verify and summary stream. */
  cloudUsers(migrationId: string): Promise<CloudUser[]>;
  addConfirmed(migrationId: string, userIds: string[], now: Date): Promise<void>;
  confirmedIds(migrationId: string): Promise<Set<string>>;
}

const WAVE_COLUMNS = 'id, migration_id, name, scheduled_for::text AS scheduled_for, created_by, created_at';
/** Rows per statement when applying cloud changes: one round trip per batch, not per user. */
const CHANGE_BATCH = 1000;
const SUMMARY_COLUMNS =
  'id, migration_id, kind, local_date::text AS local_date, status, claimed_by, claimed_at, attempts, sending_at, posted_at, activity_id, content, error, last_error, notice_at';
/** A lease of $n milliseconds from the database's clock, never from the caller's. */
const leaseFromNow = (param: string) => `now() + ${param}::integer * interval '1 millisecond'`;
const SETTINGS_COLUMNS = 'migration_id, local_time, time_zone, provisioning_job_id, logs_read_until, set_by, set_at';

export function createWaveRepo(db: Db): WaveRepo {
  const ousOf = async (waveIds: string[]): Promise<Map<string, StoredWaveOu[]>> => {
    const byWave = new Map<string, StoredWaveOu[]>();
    if (waveIds.length === 0) return byWave;
    const rows = await db.query(
      `SELECT wave_id, position, ou_input, base_dn, users, disabled, error, count_job_id, counted_at FROM wave_ous WHERE wave_id::text = ANY($1::text[]) ORDER BY wave_id, position`,
      [waveIds],
    );
    for (const r of rows) {
      const list = byWave.get(String(r.wave_id)) ?? [];
      list.push(mapOu(r));
      byWave.set(String(r.wave_id), list);
    }
    return byWave;
  };
  const withOus = async (rows: Row[]): Promise<StoredWave[]> => {
    const ous = await ousOf(rows.map((r) => String(r.id)));
    return rows.map((r) => ({ ...mapWave(r), ous: ous.get(String(r.id)) ?? [] }));
  };
  /** `set` is applied to the migration's settings row, created first if missing. */
  const updateSettings = async (
    migrationId: string,
    set: string,
    params: unknown[],
    setBy: string,
    now: Date,
  ): Promise<SummarySettings> => {
    await db.query(
      `INSERT INTO summary_settings (migration_id, set_by, set_at) VALUES ($1, $2, $3) ON CONFLICT (migration_id) DO NOTHING`,
      [migrationId, setBy, timeParam(now)],
    );
    const updated = await db.query(
      `UPDATE summary_settings SET ${set} WHERE migration_id = $1 RETURNING ${SETTINGS_COLUMNS}`,
      [migrationId, ...params],
    );
    return mapSettings(updated[0]!);
  };

  return {
    async createWave(input) {
      try {
        return await db.transaction(async (tx) => {
          const rows = await tx.query(
            `INSERT INTO waves (migration_id, name, scheduled_for, created_by, created_at) VALUES ($1, $2, $3::date, $4, $5) RETURNING ${WAVE_COLUMNS}`,
            [input.migrationId, input.name, input.scheduledFor, input.createdBy, timeParam(input.now)],
          );
          const wave = mapWave(rows[0]!);
          const ous: StoredWaveOu[] = [];
          for (const [position, ou] of input.ous.entries()) {
            await tx.query(`INSERT INTO wave_ous (wave_id, position, ou_input) VALUES ($1, $2, $3)`, [
              wave.id,
              position,
              ou,
            ]);
            ous.push({
              position,
              input: ou,
              baseDn: null,
              users: null,
              disabled: null,
              error: null,
              countJobId: null,
              countedAt: null,
            });
          }
          return { ...wave, ous };
        });
      } catch (err) {
        if (sqlState(err) === '23505') return null;
        throw err;
      }
    },
    async listWaves(migrationId) {
      const rows = await db.query(
        `SELECT ${WAVE_COLUMNS} FROM waves WHERE migration_id = $1 AND removed_at IS NULL ORDER BY scheduled_for NULLS LAST, created_at`,
        [migrationId],
      );
      return withOus(rows);
    },
    async removeWave(input) {
      const rows = await db.query(
        `UPDATE waves SET removed_at = $3 WHERE migration_id = $1 AND lower(name) = lower($2) AND removed_at IS NULL RETURNING ${WAVE_COLUMNS}`,
        [input.migrationId, input.name, timeParam(input.now)],
      );
      return rows[0] ? (await withOus(rows))[0]! : null;
    },
    async setOuCountJob(waveId, position, jobId) {
      await db.query(`UPDATE wave_ous SET count_job_id = $3 WHERE wave_id = $1 AND position = $2`, [
        waveId,
        position,
        jobId,
      ]);
    },
    async findOuByJob(jobId) {
      const rows = await db.query(
        `SELECT o.wave_id, o.position, w.migration_id FROM wave_ous o JOIN waves w ON w.id = o.wave_id WHERE o.count_job_id::text = $1`,
        [jobId],
      );
      return rows[0]
        ? {
            waveId: String(rows[0].wave_id),
            migrationId: String(rows[0].migration_id),
            position: Number(rows[0].position),
          }
        : null;
    },
    async recordOuCount(input) {
      await db.query(
        `UPDATE wave_ous SET base_dn = COALESCE($2, base_dn), users = $3, disabled = $4, error = $5, counted_at = $6 WHERE count_job_id::text = $1`,
        [input.jobId, input.baseDn, input.users, input.disabled, input.error, timeParam(input.now)],
      );
    },

    async getSettings(migrationId) {
      const rows = await db.query(`SELECT ${SETTINGS_COLUMNS} FROM summary_settings WHERE migration_id = $1`, [
        migrationId,
      ]);
      return rows[0] ? mapSettings(rows[0]) : null;
    },
    // A new time restarts the schedule: set_at is when summaries start being owed.
    setSchedule: (input) =>
      updateSettings(
        input.migrationId,
        'local_time = $2, time_zone = $3, set_by = $4, set_at = $5',
        [input.localTime, input.timeZone, input.setBy, timeParam(input.now)],
        input.setBy,
        input.now,
      ),
    setProvisioningJob: (input) =>
      updateSettings(
        input.migrationId,
        'provisioning_job_id = $2, logs_read_until = NULL',
        [input.jobId],
        input.setBy,
        input.now,
      ),
    async commitLogWindow(input) {
      await db.transaction(async (tx) => {
        await tx.query(`UPDATE summary_settings SET logs_read_until = $2 WHERE migration_id = $1`, [
          input.migrationId,
          timeParam(input.readUntil),
        ]);
        for (let i = 0; i < input.entries.length; i += CHANGE_BATCH) {
          const batch = input.entries.slice(i, i + CHANGE_BATCH);
          await tx.query(
            `INSERT INTO provisioning_log_seen (migration_id, entry_id, activity_at) SELECT $1, e.id, e.at FROM unnest($2::text[], $3::timestamptz[]) AS e(id, at) ON CONFLICT DO NOTHING`,
            [input.migrationId, batch.map((e) => e.id), batch.map((e) => timeParam(e.at))],
          );
        }
        await tx.query(`DELETE FROM provisioning_log_seen WHERE migration_id = $1 AND activity_at <= $2`, [
          input.migrationId,
          timeParam(input.forgetBefore),
        ]);
      });
    },
    async seenLogEntries(migrationId) {
      const rows = await db.query(`SELECT entry_id FROM provisioning_log_seen WHERE migration_id = $1`, [migrationId]);
      return new Set(rows.map((r) => String(r.entry_id)));
    },
    async listScheduled() {
      const rows = await db.query(
        `SELECT ${SETTINGS_COLUMNS.split(', ')
          .map((c) => `s.${c}`)
          .join(
            ', ',
          )} FROM summary_settings s JOIN migrations m ON m.id = s.migration_id WHERE s.local_time IS NOT NULL AND m.status = 'active' ORDER BY s.migration_id`,
      );
      return rows.map(mapSettings);
    },

    async claimScheduled(input) {
      const rows = await db.query(
        `INSERT INTO summaries (migration_id, kind, local_date, status, claimed_by, claimed_at, claim_expires_at)
         VALUES ($1, 'scheduled', $2::date, 'claimed', $3, $4, ${leaseFromNow('$5')})
         ON CONFLICT (migration_id, local_date) WHERE kind = 'scheduled'
         DO UPDATE SET status = 'claimed', claimed_by = EXCLUDED.claimed_by, claimed_at = EXCLUDED.claimed_at, claim_expires_at = EXCLUDED.claim_expires_at,
             attempts = summaries.attempts + 1, last_error = COALESCE(summaries.error, summaries.last_error), error = NULL, retry_at = NULL
           WHERE (summaries.status = 'claimed' AND summaries.claim_expires_at < now())
              OR (summaries.status = 'failed' AND summaries.retry_at <= EXCLUDED.claimed_at)
         RETURNING ${SUMMARY_COLUMNS}`,
        [input.migrationId, input.localDate, input.claimedBy, timeParam(input.now), input.claimMs],
      );
      return rows[0] ? mapSummary(rows[0]) : null;
    },
    async createOnDemand(input) {
      const rows = await db.query(
        `INSERT INTO summaries (migration_id, kind, local_date, status, claimed_by, claimed_at, claim_expires_at) VALUES ($1, 'on_demand', $2::date, 'claimed', $3, $4, ${leaseFromNow('$5')}) RETURNING ${SUMMARY_COLUMNS}`,
        [input.migrationId, input.localDate, input.claimedBy, timeParam(input.now), input.claimMs],
      );
      return mapSummary(rows[0]!);
    },
    async extendClaim(input) {
      // A sending row is renewed too: a live holder whose card waits for room under Teams' limits
      // must not look dead, or another instance would say the summary may be missing.
      const rows = await db.query(
        `UPDATE summaries SET claim_expires_at = ${leaseFromNow('$3')} WHERE id = $1 AND claimed_by = $2 AND status IN ('claimed', 'sending') RETURNING id`,
        [input.id, input.claimedBy, input.claimMs],
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
           AND ((status = 'outcome_unknown' AND sending_at <= $2) OR (status = 'sending' AND claim_expires_at < now()))
         RETURNING ${SUMMARY_COLUMNS}`,
        [input.migrationId, timeParam(input.sentBefore), timeParam(input.now)],
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

    async getSnapshot(migrationId) {
      const rows = await db.query(
        `SELECT delta_link, full_reads, delta_reads, refreshed_at, generation FROM cloud_snapshots WHERE migration_id = $1`,
        [migrationId],
      );
      const r = rows[0];
      return r
        ? {
            deltaLink: String(r.delta_link),
            fullReads: Number(r.full_reads),
            deltaReads: Number(r.delta_reads),
            refreshedAt: toDate(r.refreshed_at),
            generation: Number(r.generation),
          }
        : null;
    },
    async applyCloudChanges(input) {
      return db.transaction(async (tx) => {
        // The snapshot row first: its lock orders concurrent appliers, and the condition refuses a
        // round read from a deltaLink that is no longer the copy's.
        const counters = `full_reads = cloud_snapshots.full_reads + CASE WHEN $4 THEN 1 ELSE 0 END,
             delta_reads = cloud_snapshots.delta_reads + CASE WHEN $4 THEN 0 ELSE 1 END`;
        let snapshot: Record<string, unknown>[];
        if (input.expectDeltaLink === undefined) {
          snapshot = await tx.query(
            `INSERT INTO cloud_snapshots (migration_id, delta_link, full_reads, delta_reads, refreshed_at) VALUES ($1, $2, 1, 0, $3)
             ON CONFLICT (migration_id) DO UPDATE SET delta_link = EXCLUDED.delta_link, refreshed_at = EXCLUDED.refreshed_at, ${counters}
             RETURNING generation`,
            [input.migrationId, input.deltaLink, timeParam(input.now), input.full],
          );
        } else if (input.expectDeltaLink === null) {
          snapshot = await tx.query(
            `INSERT INTO cloud_snapshots (migration_id, delta_link, full_reads, delta_reads, refreshed_at) VALUES ($1, $2, 1, 0, $3)
             ON CONFLICT (migration_id) DO NOTHING RETURNING generation`,
            [input.migrationId, input.deltaLink, timeParam(input.now)],
          );
        } else {
          snapshot = await tx.query(
            `UPDATE cloud_snapshots SET delta_link = $2, refreshed_at = $3, ${counters.replace(/cloud_snapshots\./g, '')}
             WHERE migration_id = $1 AND delta_link = $5 RETURNING generation`,
            [input.migrationId, input.deltaLink, timeParam(input.now), input.full, input.expectDeltaLink],
          );
        }
        if (!snapshot[0]) return false;
        const generation = Number(snapshot[0].generation);
        if (input.full)
          await tx.query(`DELETE FROM cloud_users WHERE migration_id = $1 AND generation = $2`, [
            input.migrationId,
            generation,
          ]);
        const removed = input.changes.filter((c) => c.removed).map((c) => c.id);
        for (let i = 0; i < removed.length; i += CHANGE_BATCH) {
          await tx.query(
            `DELETE FROM cloud_users WHERE migration_id = $1 AND generation = $3 AND id = ANY($2::text[])`,
            [input.migrationId, removed.slice(i, i + CHANGE_BATCH), generation],
          );
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
            `INSERT INTO cloud_users (migration_id, generation, id, upn, dn, immutable_id, synced) SELECT $1, $11, c.id, c.upn, c.dn, c.immutable_id, COALESCE(c.synced, false) FROM ${changes} ON CONFLICT DO NOTHING`,
            [...params, generation],
          );
          // Delta rounds carry only the properties that changed; absent ones keep their stored value.
          await tx.query(
            `UPDATE cloud_users u SET
               upn = CASE WHEN c.has_upn THEN c.upn ELSE u.upn END,
               dn = CASE WHEN c.has_dn THEN c.dn ELSE u.dn END,
               immutable_id = CASE WHEN c.has_immutable_id THEN c.immutable_id ELSE u.immutable_id END,
               synced = CASE WHEN c.has_synced THEN COALESCE(c.synced, false) ELSE u.synced END
             FROM ${changes} WHERE u.migration_id = $1 AND u.generation = $11 AND u.id = c.id`,
            [...params, generation],
          );
        }
        return true;
      });
    },
    async beginFullCopy() {
      const rows = await db.query<{ g: unknown }>(`SELECT nextval('cloud_copy_generations') AS g`);
      return Number(rows[0]!.g);
    },
    async addToFullCopy(migrationId, generation, users) {
      for (let i = 0; i < users.length; i += CHANGE_BATCH) {
        const batch = users.slice(i, i + CHANGE_BATCH);
        // ON CONFLICT: Graph may page one user twice; the later copy wins, as in a delta round.
        await db.query(
          `INSERT INTO cloud_users (migration_id, generation, id, upn, dn, immutable_id, synced)
           SELECT $1, $2, c.id, c.upn, c.dn, c.immutable_id, true FROM unnest($3::text[], $4::text[], $5::text[], $6::text[]) AS c(id, upn, dn, immutable_id)
           ON CONFLICT (migration_id, generation, id) DO UPDATE SET upn = EXCLUDED.upn, dn = EXCLUDED.dn, immutable_id = EXCLUDED.immutable_id`,
          [
            migrationId,
            generation,
            batch.map((u) => u.id),
            batch.map((u) => u.userPrincipalName),
            batch.map((u) => u.onPremisesDistinguishedName),
            batch.map((u) => u.onPremisesImmutableId),
          ],
        );
      }
    },
    async finishFullCopy(input) {
      return db.transaction(async (tx) => {
        const switched =
          input.expectDeltaLink === null
            ? await tx.query(
                `INSERT INTO cloud_snapshots (migration_id, delta_link, full_reads, delta_reads, refreshed_at, generation) VALUES ($1, $2, 1, 0, $3, $4)
                 ON CONFLICT (migration_id) DO NOTHING RETURNING generation`,
                [input.migrationId, input.deltaLink, timeParam(input.now), input.generation],
              )
            : await tx.query(
                `UPDATE cloud_snapshots SET delta_link = $2, refreshed_at = $3, generation = $4, full_reads = full_reads + 1
                 WHERE migration_id = $1 AND delta_link = $5 RETURNING generation`,
                [input.migrationId, input.deltaLink, timeParam(input.now), input.generation, input.expectDeltaLink],
              );
        // Older generations are the previous copy and full reads that died half-way; a newer one may be
        // another instance's read still being written, and is left to it.
        await tx.query(
          switched[0]
            ? `DELETE FROM cloud_users WHERE migration_id = $1 AND generation < $2`
            : `DELETE FROM cloud_users WHERE migration_id = $1 AND generation = $2`,
          [input.migrationId, input.generation],
        );
        return switched[0] !== undefined;
      });
    },
    async readCloudUsers(migrationId, onPage, pageSize = READ_PAGE) {
      return db.transaction(async (tx) => {
        // One view of the copy for every page, whatever another refresh applies meanwhile.
        if (db.kind === 'postgres') await tx.query('SET TRANSACTION ISOLATION LEVEL REPEATABLE READ');
        const snapshot = await tx.query(`SELECT generation FROM cloud_snapshots WHERE migration_id = $1`, [
          migrationId,
        ]);
        if (!snapshot[0]) return 0;
        const generation = Number(snapshot[0].generation);
        let after = '';
        let total = 0;
        for (;;) {
          // Keyset paging on the primary key: each page is an index range, not an OFFSET rescan.
          const rows = await tx.query(
            `SELECT id, upn, dn, immutable_id FROM cloud_users
             WHERE migration_id = $1 AND generation = $2 AND id > $3 AND synced ORDER BY id LIMIT $4`,
            [migrationId, generation, after, pageSize],
          );
          if (rows.length === 0) return total;
          total += rows.length;
          after = String(rows[rows.length - 1]!.id);
          await onPage(rows.map(toCloudUser));
          if (rows.length < pageSize) return total;
        }
      });
    },
    async cloudUsers(migrationId) {
      const rows = await db.query(
        `SELECT u.id, u.upn, u.dn, u.immutable_id FROM cloud_users u JOIN cloud_snapshots s
           ON s.migration_id = u.migration_id AND s.generation = u.generation
         WHERE u.migration_id = $1 AND u.synced ORDER BY u.id`,
        [migrationId],
      );
      return rows.map(toCloudUser);
    },
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

/** Rows per page when the copy is read back: about 150 KB of users at a time. */
const READ_PAGE = 1000;

function toCloudUser(r: Record<string, unknown>): CloudUser {
  return {
    id: String(r.id),
    userPrincipalName: strOrNull(r.upn),
    onPremisesDistinguishedName: strOrNull(r.dn),
    onPremisesImmutableId: strOrNull(r.immutable_id),
  };
}

function strOrNull(value: unknown): string | null {
  return value === null || value === undefined ? null : String(value);
}

/** Date columns are selected as ::text so neither driver turns them into a local-midnight Date. */
function dateText(value: unknown): string {
  return String(value).slice(0, 10);
}

function mapWave(r: Row): Omit<StoredWave, 'ous'> {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    name: String(r.name),
    scheduledFor: r.scheduled_for === null ? null : dateText(r.scheduled_for),
    createdBy: String(r.created_by),
    createdAt: toDate(r.created_at),
  };
}

function mapOu(r: Row): StoredWaveOu {
  const num = (v: unknown) => (v === null || v === undefined ? null : Number(v));
  return {
    position: Number(r.position),
    input: String(r.ou_input),
    baseDn: strOrNull(r.base_dn),
    users: num(r.users),
    disabled: num(r.disabled),
    error: strOrNull(r.error),
    countJobId: strOrNull(r.count_job_id),
    countedAt: toDateOrNull(r.counted_at),
  };
}

function mapSettings(r: Row): SummarySettings {
  return {
    migrationId: String(r.migration_id),
    localTime: strOrNull(r.local_time),
    timeZone: strOrNull(r.time_zone),
    provisioningJobId: strOrNull(r.provisioning_job_id),
    logsReadUntil: toDateOrNull(r.logs_read_until),
    setBy: String(r.set_by),
    setAt: toDate(r.set_at),
  };
}

function mapSummary(r: Row): SummaryRecord {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    kind: r.kind as SummaryKind,
    localDate: dateText(r.local_date),
    status: r.status as SummaryStatus,
    claimedBy: String(r.claimed_by),
    claimedAt: toDate(r.claimed_at),
    attempts: Number(r.attempts),
    sendingAt: toDateOrNull(r.sending_at),
    postedAt: toDateOrNull(r.posted_at),
    activityId: strOrNull(r.activity_id),
    content: typeof r.content === 'string' ? JSON.parse(r.content) : (r.content ?? null),
    error: strOrNull(r.error),
    lastError: strOrNull(r.last_error),
    noticeAt: toDateOrNull(r.notice_at),
  };
}
