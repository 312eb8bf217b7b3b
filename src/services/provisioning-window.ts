import type { CloudDirectory } from '../cloud/types';
import type { ProvisioningFindings } from '../runbook/wave-summary';
import type { LogWindowCommit } from '../store/summary-settings-repo';
import type { Store } from '../store/types';

const DAY_MS = 24 * 3_600_000;
/** Provisioning logs are kept 30 days; the first read looks that far back for Cloud Sync's successes. */
const LOG_RETENTION_MS = 30 * DAY_MS;
/**
 * Each scheduled read starts this long before the previous one began: Graph can list an entry a
 * while after its activityDateTime, and such an entry would otherwise fall between two reads.
 * Entries seen twice are counted once (by id).
 */
const LOG_OVERLAP_MS = 30 * 60_000;

/**
 * Provisioning log entries of the job since the last posted daily summary began its read
 * (`readUntil`), minus an overlap for entries Graph lists late; entries a posted daily summary
 * already counted are skipped by id. The first read counts one day and looks back 30 days for Cloud
 * Sync's successes, which are recorded at once as proof of ownership. The returned window is what a
 * posted daily summary commits; nothing else moves the position.
 */
export async function readProvisioningWindow(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  jobId: string;
  readUntil: Date | null;
  now: Date;
}): Promise<{ findings: ProvisioningFindings; window: LogWindowCommit }> {
  const { store, cloud, migrationId, jobId, readUntil, now } = input;
  const windowStart = readUntil ? new Date(readUntil.getTime() - LOG_OVERLAP_MS) : new Date(now.getTime() - DAY_MS);
  const since = readUntil ? windowStart : new Date(now.getTime() - LOG_RETENTION_MS);
  const seen = readUntil ? await store.summarySettings.seenLogEntries(migrationId) : new Set<string>();
  const counted = new Map<string, Date>();
  let successes = 0;
  let failures = 0;
  const reasons = new Map<string, number>();
  const succeededIds: string[] = [];
  await cloud.provisioningEvents({ jobId, since }, (events) => {
    for (const e of events) {
      if (e.status === 'success' && e.targetId) succeededIds.push(e.targetId);
      const at = Date.parse(e.activityDateTime);
      // Older successes only prove ownership; counts and errors cover the summary's own window.
      if (at <= windowStart.getTime() || seen.has(e.id) || counted.has(e.id)) continue;
      counted.set(e.id, new Date(at));
      if (e.status === 'success') successes++;
      if (e.status === 'failure') {
        failures++;
        const reason = e.reason || e.errorCode || 'no reason given';
        reasons.set(reason, (reasons.get(reason) ?? 0) + 1);
      }
    }
  });
  await store.cloudSyncConfirmed.addConfirmed(migrationId, succeededIds, now);
  const forgetBefore = new Date(now.getTime() - LOG_OVERLAP_MS);
  return {
    findings: {
      jobId,
      since: (readUntil ?? windowStart).toISOString(),
      successes,
      failures,
      topFailureReasons: [...reasons]
        .sort((a, b) => b[1] - a[1] || a[0].localeCompare(b[0]))
        .slice(0, 3)
        .map(([reason, count]) => ({ reason, count })),
    },
    // Only entries the next read can return again (inside its overlap) need remembering.
    window: {
      migrationId,
      readUntil: now,
      entries: [...counted].filter(([, at]) => at > forgetBefore).map(([id, at]) => ({ id, at })),
      forgetBefore,
    },
  };
}
