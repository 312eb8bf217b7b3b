import { randomUUID } from 'node:crypto';
import type { Actor } from '../runbook/actor';
import { ConfirmationIndex, isConfirmingEntry, type ProvisioningLogEntry } from '../runbook/cloud-sync-evidence';
import { jsonParam, timeParam, toDate, toJson, type Db } from './sql';

/** A provisioning log entry as read from Graph, with what identifies it there. */
export interface StoredLogEntry extends ProvisioningLogEntry {
  logId: string;
  at: Date;
}

export interface PreflightAcknowledgement {
  id: string;
  migrationId: string;
  step: number;
  findingsHash: string;
  findings: unknown;
  reason: string;
  by: Actor;
  at: Date;
}

/** Evidence that Cloud Sync provisioned objects, and acknowledgements of pre-flight findings. */
export interface CloudSyncRepo {
  /** Keeps the entries that confirm an object (isConfirmingEntry); returns how many were new. */
  recordEntries(migrationId: string, entries: StoredLogEntry[], now: Date): Promise<number>;
  /** Every confirming entry of this job seen for this migration, as the rule reads them. */
  index(migrationId: string, jobId: string): Promise<ConfirmationIndex>;
  acknowledge(input: Omit<PreflightAcknowledgement, 'id'>): Promise<PreflightAcknowledgement>;
  /** The latest acknowledgement of exactly these findings at this step, if any. */
  acknowledgement(migrationId: string, step: number, findingsHash: string): Promise<PreflightAcknowledgement | null>;
}

/** Rows per INSERT, so a first read of 30 days of logs is a few statements, not one per entry. */
const BATCH = 1000;

export function createCloudSyncRepo(db: Db): CloudSyncRepo {
  return {
    async recordEntries(migrationId, entries, now) {
      let added = 0;
      for (let i = 0; i < entries.length; i += BATCH) {
        const batch = entries.slice(i, i + BATCH).filter((e) => isConfirmingEntry(e.jobId, e));
        if (batch.length === 0) continue;
        const rows = await db.query(
          `INSERT INTO cloud_sync_evidence (migration_id, job_id, target_id, source_id, action, log_id, activity_at, first_seen)
             SELECT $1, j, t, s, a, l, at::timestamptz, $8 FROM unnest($2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(j, t, s, a, l, at)
             ON CONFLICT DO NOTHING RETURNING 1`,
          [
            migrationId,
            batch.map((e) => e.jobId),
            batch.map((e) => e.targetId!),
            batch.map((e) => e.sourceId!),
            batch.map((e) => e.action!),
            batch.map((e) => e.logId),
            batch.map((e) => e.at.toISOString()),
            timeParam(now),
          ],
        );
        added += rows.length;
      }
      return added;
    },
    async index(migrationId, jobId) {
      const rows = await db.query(
        `SELECT target_id, source_id, action FROM cloud_sync_evidence WHERE migration_id = $1 AND job_id = $2`,
        [migrationId, jobId],
      );
      return new ConfirmationIndex(
        jobId,
        rows.map((r) => ({
          jobId,
          status: 'success',
          action: String(r.action),
          sourceId: String(r.source_id),
          targetId: String(r.target_id),
        })),
      );
    },
    async acknowledge(input) {
      const id = randomUUID();
      await db.query(
        `INSERT INTO preflight_acknowledgements (id, migration_id, step, findings_hash, findings, reason, by_id, by_name, at)
           VALUES ($1, $2, $3, $4, $5::jsonb, $6, $7, $8, $9)`,
        [
          id,
          input.migrationId,
          input.step,
          input.findingsHash,
          jsonParam(input.findings),
          input.reason,
          input.by.id,
          input.by.name,
          timeParam(input.at),
        ],
      );
      return { ...input, id };
    },
    async acknowledgement(migrationId, step, findingsHash) {
      const rows = await db.query(
        `SELECT id, findings, reason, by_id, by_name, at FROM preflight_acknowledgements
          WHERE migration_id = $1 AND step = $2 AND findings_hash = $3 ORDER BY at DESC LIMIT 1`,
        [migrationId, step, findingsHash],
      );
      const r = rows[0];
      if (!r) return null;
      return {
        id: String(r.id),
        migrationId,
        step,
        findingsHash,
        findings: toJson(r.findings),
        reason: String(r.reason),
        by: { id: String(r.by_id), name: String(r.by_name) },
        at: toDate(r.at),
      };
    },
  };
}
