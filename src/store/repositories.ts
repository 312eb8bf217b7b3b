import { createAuditRepo } from './audit-repo';
import { createCloudObjectCopyRepo } from './cloud-object-copy-repo';
import { createCloudSnapshotRepo } from './cloud-snapshot-repo';
import { createCloudSyncConfirmedRepo } from './cloud-sync-confirmed-repo';
import { createCanaryRepo } from './canary-repo';
import { createCloudSyncRepo } from './cloud-sync-repo';
import { createConversationRepo } from './conversation-repo';
import { createJobRepo } from './job-repo';
import { createMigrationRepo } from './migration-repo';
import { createServerRepo } from './server-repo';
import type { Db } from './sql';
import { createSummaryRepo } from './summary-repo';
import { createSummarySettingsRepo } from './summary-settings-repo';
import type { Store } from './types';
import { createVerificationRepo } from './verification-repo';
import { createWaveActionRepo } from './wave-action-repo';

export { DEFAULT_APPLY_CLAIM_MS, DEFAULT_MAX_ATTEMPTS } from './job-repo';

/** The repositories of the migration's own records, one file each. */
export function createRepositories(
  db: Db,
): Omit<Store, 'db' | 'close' | 'runbook' | 'waves' | 'agents' | 'activities'> {
  return {
    migrations: createMigrationRepo(db),
    conversations: createConversationRepo(db),
    jobs: createJobRepo(db),
    verifications: createVerificationRepo(db),
    audit: createAuditRepo(db),
    summaries: createSummaryRepo(db),
    summarySettings: createSummarySettingsRepo(db),
    cloudSnapshots: createCloudSnapshotRepo(db),
    cloudObjectCopies: createCloudObjectCopyRepo(db),
    cloudSyncConfirmed: createCloudSyncConfirmedRepo(db),
    canaries: createCanaryRepo(db),
    servers: createServerRepo(db),
    cloudSync: createCloudSyncRepo(db),
    waveActions: createWaveActionRepo(db),
  };
}
