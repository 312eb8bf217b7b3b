import { timeParam, toDate, toDateOrNull, toStringOrNull, type Db, type Row } from './sql';

export interface SummarySettings {
  migrationId: string;
  localTime: string | null;
  timeZone: string | null;
  provisioningJobId: string | null;
  logsReadUntil: Date | null;
  setBy: string;
  setAt: Date;
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

export interface SummarySettingsRepo {
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
}

const SETTINGS_COLUMNS = 'migration_id, local_time, time_zone, provisioning_job_id, logs_read_until, set_by, set_at';
/** Rows per statement when remembering counted log entries: one round trip per batch, not per entry. */
const ENTRY_BATCH = 1000;

/**
 * A migration's daily-summary settings (table summary_settings) and the provisioning log window the
 * posted daily summaries have read (logs_read_until and table provisioning_log_seen).
 */
export function createSummarySettingsRepo(db: Db): SummarySettingsRepo {
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
        for (let i = 0; i < input.entries.length; i += ENTRY_BATCH) {
          const batch = input.entries.slice(i, i + ENTRY_BATCH);
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
  };
}

function mapSettings(r: Row): SummarySettings {
  return {
    migrationId: String(r.migration_id),
    localTime: toStringOrNull(r.local_time),
    timeZone: toStringOrNull(r.time_zone),
    provisioningJobId: toStringOrNull(r.provisioning_job_id),
    logsReadUntil: toDateOrNull(r.logs_read_until),
    setBy: String(r.set_by),
    setAt: toDate(r.set_at),
  };
}
