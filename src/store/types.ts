/**
 * The store's ports. Implementations live beside this file; callers depend only on these types.
 * Every write that the bot relies on after a crash goes through here.
 */

import type { AuditRepo } from './audit-repo';
import type { ConversationRepo } from './conversation-repo';
import type { JobRepo } from './job-repo';
import type { MigrationRecord } from './migration-record';
import type { MigrationRepo } from './migration-repo';
import type { Db } from './sql';
import type { VerificationRepo } from './verification-repo';

// Each record is defined beside its repository (one file per record); callers take them from here.
export type { MigrationRecord, MigrationRepo };
export type { ConversationRepo };
export type { ExpiredLeases, JobRecord, JobRepo, JobState } from './job-repo';
export type { VerificationRecord, VerificationRepo } from './verification-repo';
export type { AuditEntry, AuditEvent, AuditRepo } from './audit-repo';
export type { ConnectSyncServerRecord, ServerRepo, StagingServerRecord } from './server-repo';

export interface Store {
  readonly db: Db;
  runbook: import('./runbook-repo').RunbookRepo;
  /** Waves and their OUs. */
  waves: import('./wave-repo').WaveRepo;
  /** Daily and on-demand wave summaries: claims and delivery. */
  summaries: import('./summary-repo').SummaryRepo;
  /** Each migration's summary schedule and provisioning log window. */
  summarySettings: import('./summary-settings-repo').SummarySettingsRepo;
  /** The per-migration copy of the tenant's synced users, kept current by Graph's delta query. */
  cloudSnapshots: import('./cloud-snapshot-repo').CloudSnapshotRepo;
  /** The per-migration copies of the tenant's synced groups and contacts, each kept by its own delta query. */
  cloudObjectCopies: import('./cloud-object-copy-repo').CloudObjectCopyRepo;
  /** Users whose provisioning by Cloud Sync a provisioning log entry proved. */
  cloudSyncConfirmed: import('./cloud-sync-confirmed-repo').CloudSyncConfirmedRepo;
  /** Relay agents: enrollment, credentials (as digests), revocation and health. */
  agents: import('./agent-repo').AgentRepo;
  /** Activity ids already handled, so a redelivery from Teams is processed once across instances. */
  activities: import('./agent-repo').ActivityRepo;
  migrations: MigrationRepo;
  conversations: ConversationRepo;
  jobs: JobRepo;
  verifications: VerificationRepo;
  audit: AuditRepo;
  /** Canaries of runbook step 12 and their waivers. */
  canaries: import('./canary-repo').CanaryRepo;
  /** The migration's Connect Sync server (the one agent its ADSync jobs run on) and the staging servers others report. */
  servers: import('./server-repo').ServerRepo;
  /** Per-object evidence from the Cloud Sync job's provisioning logs, and pre-flight acknowledgements. */
  cloudSync: import('./cloud-sync-repo').CloudSyncRepo;
  /** Each wave's approved rules, scope and full cycle (issue 16), with their approvals and jobs. */
  waveActions: import('./wave-action-repo').WaveActionRepo;
  close(): Promise<void>;
}
