import type { CloudContact, CloudGroup, CloudUser, CloudUserChange } from '../runbook/cloud-users';

export interface CloudDirectory extends CloudChangeTracking {
  /**
   * Pages through every user with onPremisesSyncEnabled eq true ($top=999, following
   * @odata.nextLink), calling onPage per page. Returns the number of users seen.
   */
  listSyncedUsers(onPage: (users: CloudUser[]) => void | Promise<void>): Promise<number>;
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
  /** The Entra object the entry is about. */
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
  /** Provisioning log entries of one Cloud Sync job since an instant, paged. */
  provisioningEvents(
    input: { jobId: string; since: Date },
    onPage: (events: ProvisioningEvent[]) => void | Promise<void>,
  ): Promise<number>;
}
