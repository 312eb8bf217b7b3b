import type { CloudDirectory, ProvisioningEvent } from '../cloud/types';
import { confirmObjects, type CloudSyncConfirmation, type ConfirmationIndex } from '../runbook/cloud-sync-evidence';
import type { OuComparison } from '../runbook/ou-comparison';
import { asAppError } from '../shared/errors';
import type { StoredLogEntry } from '../store/cloud-sync-repo';
import type { Store } from '../store/types';

/** Provisioning logs are kept 30 days (Microsoft Entra data retention); older proof is what the store kept. */
export const LOG_RETENTION_MS = 30 * 24 * 3_600_000;

/** A provisioning log entry as the evidence store keeps it. */
export function storedEntry(e: ProvisioningEvent): StoredLogEntry {
  return {
    logId: e.id,
    at: new Date(Date.parse(e.activityDateTime) || 0),
    jobId: e.jobId,
    status: e.status,
    action: e.action,
    sourceId: e.sourceId,
    targetId: e.targetId,
  };
}

/**
 * Reads the Cloud Sync job's provisioning logs as far back as Graph keeps them, stores each
 * successful entry that names an object, and returns everything stored for the job: proof seen by
 * an earlier read stays proof when the entry has aged out of Graph.
 */
export async function readCloudSyncEvidence(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  jobId: string;
  now: Date;
}): Promise<ConfirmationIndex> {
  const { store, cloud, migrationId, jobId, now } = input;
  await cloud.provisioningEvents({ jobId, since: new Date(now.getTime() - LOG_RETENTION_MS) }, (events) =>
    store.cloudSync.recordEntries(migrationId, events.map(storedEntry), now).then(() => undefined),
  );
  return store.cloudSync.index(migrationId, jobId);
}

/**
 * The Cloud Sync evidence for the objects of a comparison: the job id comes from the migration's
 * settings (/summary job), the entries from the job's provisioning logs. What could not be read is
 * said, with what to do, and the check does not pass on it.
 */
export async function cloudSyncConfirmation(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  comparison: OuComparison;
  now: Date;
}): Promise<CloudSyncConfirmation | { unavailable: string }> {
  const jobId = (await input.store.summarySettings.getSettings(input.migrationId))?.provisioningJobId;
  if (!jobId)
    return {
      unavailable: `no Cloud Sync job is set for this migration, so nothing shows that Cloud Sync provisioned these objects. ${CLOUD_SYNC_JOB_HINT}`,
    };
  try {
    const index = await readCloudSyncEvidence({
      store: input.store,
      cloud: input.cloud,
      migrationId: input.migrationId,
      jobId,
      now: input.now,
    });
    return confirmObjects(input.comparison.inScope(), index);
  } catch (err) {
    const e = asAppError(err);
    return {
      unavailable: `the provisioning logs of Cloud Sync job ${jobId} could not be read (${e.message})${e.hint ? ` ${e.hint}` : ''}`,
    };
  }
}

/** Where an admin finds the job id, and how SyncShift learns it. */
export const CLOUD_SYNC_JOB_HINT =
  "Type /summary job <job id> with the id of the configuration's provisioning job (AD2AADProvisioning.<hex>.<guid>; Get-AADCloudSyncToolsJob or GET /servicePrincipals/{id}/synchronization/jobs lists it), then run the check again.";
