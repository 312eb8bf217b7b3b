import type { CloudContact, CloudGroup, CloudObjectChange, CloudUser, CloudUserChange } from '../runbook/cloud-users';
import type { CloudSyncScope, ScopeChange } from '../runbook/cloud-sync-scope';

export interface CloudDirectory extends CloudChangeTracking, CloudSyncApi {
  /**
   * Pages through every user with onPremisesSyncEnabled eq true ($top=999, following
   * @odata.nextLink), calling onPage per page. Returns the number of users seen.
   */
  listSyncedUsers(onPage: (users: CloudUser[]) => void | Promise<void>): Promise<number>;
  /**
   * The users whose onPremisesImmutableId equals `anchor` (an advanced query: ConsistencyLevel:
   * eventual and $count=true). onPremisesDistinguishedName cannot be filtered on, so the anchor is the key.
   */
  usersByImmutableId(anchor: string): Promise<CloudUser[]>;
  /**
   * Pages through every group with onPremisesSyncEnabled eq true. Optional: a cloud directory
   * without it (a test's, a snapshot's) leaves the groups of a verify "not read" on the card.
   */
  listSyncedGroups?(onPage: (groups: CloudGroup[]) => void | Promise<void>): Promise<number>;
  /** Pages through every organisational contact with onPremisesSyncEnabled eq true; optional as above. */
  listSyncedContacts?(onPage: (contacts: CloudContact[]) => void | Promise<void>): Promise<number>;
}

/** One Cloud Sync provisioning log entry (GET /auditLogs/provisioning), reduced to what summaries use. */
export interface ProvisioningEvent {
  id: string;
  activityDateTime: string;
  status: 'success' | 'failure' | 'skipped' | 'warning' | string;
  /** The job the entry belongs to (jobId); the read filters on it, and the evidence checks it again. */
  jobId: string;
  /** provisioningAction: create, update, delete, stagedDelete, disable, other; null when absent. */
  action: string | null;
  /** sourceIdentity.id: the on-premises object the entry is about. */
  sourceId: string | null;
  /** targetIdentity.id: the Entra object the entry is about. */
  targetId: string | null;
  sourceDisplayName: string | null;
  errorCode: string | null;
  reason: string | null;
}

export interface CloudChangeTracking {
  /**
   * Follows a users delta round: from scratch when `deltaLink` is null (a full read, paged), or from
   * the stored deltaLink (only what changed since). Returns the new deltaLink.
   */
  usersDelta(
    deltaLink: string | null,
    onPage: (changes: CloudUserChange[]) => void | Promise<void>,
  ): Promise<{ deltaLink: string; changes: number }>;
  /**
   * A users deltaLink from this moment on, without reading any user (`$deltatoken=latest`, delta
   * query overview): a copy read through /users afterwards, then followed from this link, misses
   * nothing, and what changed while it was read comes again in the next round.
   */
  latestUsersDeltaLink(): Promise<string>;
  /**
   * A groups delta round (GET /groups/delta, $select'ing what a verify matches on and
   * onPremisesSyncEnabled): every group when `deltaLink` is null, else what changed since. Optional:
   * without it a verify reads the synced groups whole (listSyncedGroups) every time.
   */
  groupsDelta?(
    deltaLink: string | null,
    onPage: (changes: CloudObjectChange[]) => void | Promise<void>,
  ): Promise<{ deltaLink: string; changes: number }>;
  /** The same for organisational contacts (GET /contacts/delta); optional as above. */
  contactsDelta?(
    deltaLink: string | null,
    onPage: (changes: CloudObjectChange[]) => void | Promise<void>,
  ): Promise<{ deltaLink: string; changes: number }>;
  /** Provisioning log entries of one Cloud Sync job since an instant, paged. */
  provisioningEvents(
    input: { jobId: string; since: Date },
    onPage: (events: ProvisioningEvent[]) => void | Promise<void>,
  ): Promise<number>;
}

/** One Cloud Sync job: the service principal of the configuration (one per AD domain) and the job's id. */
export interface CloudSyncJobRef {
  servicePrincipalId: string;
  jobId: string;
}

export interface CloudSyncJob extends CloudSyncJobRef {
  templateId: string;
  /** synchronizationStatus.code: NotConfigured, NotRun, Active, Paused, Quarantine. */
  statusCode: string;
}

/** The permission every write below needs (pause/start/schema update docs); reads need Synchronization.Read.All. */
export const CLOUD_SYNC_WRITE_PERMISSION = 'Synchronization.ReadWrite.All';

/**
 * Cloud Sync's scope and job through the synchronization API (Graph beta). Every method throws an
 * AppError; a 401/403 is CLOUD.FORBIDDEN with `details.permission` naming what the app lacks.
 */
export interface CloudSyncApi {
  /**
   * The configuration's AD2AADProvisioning job (GET /servicePrincipals/{id}/synchronization/jobs):
   * the job that provisions users, groups and contacts, and whose schema holds the OU scope.
   */
  findProvisioningJob(servicePrincipalId: string): Promise<CloudSyncJob>;
  /**
   * Every job of the configuration (GET /servicePrincipals/{id}/synchronization/jobs): besides the
   * provisioning job, an AD2AADPasswordHash job exists when the configuration syncs password hashes.
   */
  listJobs(servicePrincipalId: string): Promise<CloudSyncJob[]>;
  /** The job's status code now (GET …/jobs/{jobId}). */
  readJob(job: CloudSyncJobRef): Promise<CloudSyncJob>;
  /** GET …/jobs/{jobId}/schema: each synchronizationRule's containerFilter.includedContainers. */
  readScope(job: CloudSyncJobRef): Promise<CloudSyncScope>;
  /**
   * Reads the schema, applies `change` to its scope and, when it changed, writes the whole schema
   * back with PUT …/schema (the update replaces the schema, so everything else is sent as read).
   * Returns the scope before and what was written; a refused change is returned, not written.
   */
  updateScope(
    job: CloudSyncJobRef,
    change: (scope: CloudSyncScope) => ScopeChange,
  ): Promise<{ before: CloudSyncScope; change: ScopeChange }>;
  /** POST …/jobs/{jobId}/pause: the job keeps its state and continues from there on start. */
  pauseJob(job: CloudSyncJobRef): Promise<void>;
  /** POST …/jobs/{jobId}/start: resumes a paused job (Microsoft: only when paused or in quarantine). */
  startJob(job: CloudSyncJobRef): Promise<void>;
}
