import type { WaveOu } from '../runbook/waves';
import {
  sqlState,
  timeParam,
  toDate,
  toDateOrNull,
  toDateText,
  toNumberOrNull,
  toStringOrNull,
  type Db,
  type Row,
} from './sql';

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
}

const WAVE_COLUMNS = 'id, migration_id, name, scheduled_for::text AS scheduled_for, created_by, created_at';

/** Waves and their OUs (tables waves, wave_ous), with the count job that last counted each OU. */
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
  };
}

function mapWave(r: Row): Omit<StoredWave, 'ous'> {
  return {
    id: String(r.id),
    migrationId: String(r.migration_id),
    name: String(r.name),
    scheduledFor: r.scheduled_for === null ? null : toDateText(r.scheduled_for),
    createdBy: String(r.created_by),
    createdAt: toDate(r.created_at),
  };
}

function mapOu(r: Row): StoredWaveOu {
  return {
    position: Number(r.position),
    input: String(r.ou_input),
    baseDn: toStringOrNull(r.base_dn),
    users: toNumberOrNull(r.users),
    disabled: toNumberOrNull(r.disabled),
    error: toStringOrNull(r.error),
    countJobId: toStringOrNull(r.count_job_id),
    countedAt: toDateOrNull(r.counted_at),
  };
}
