/** A synced user as Graph returns it with the $select the verify needs. */
export interface CloudUser {
  id: string;
  userPrincipalName: string | null;
  onPremisesDistinguishedName: string | null;
  onPremisesImmutableId: string | null;
}

export interface CloudDirectory extends CloudChangeTracking {
  /**
   * Pages through every user with onPremisesSyncEnabled eq true ($top=999, following
   * @odata.nextLink), calling onPage per page. Returns the number of users seen.
   */
  listSyncedUsers(onPage: (users: CloudUser[]) => void | Promise<void>): Promise<number>;
}

/**
 * One entry of a /users/delta page. After the first full round Graph sends only the properties
 * that changed, so an absent property (undefined) means "unchanged", while null means "cleared".
 */
export interface CloudUserChange {
  id: string;
  /** "@removed" was present: the user was deleted (or soft-deleted). */
  removed: boolean;
  userPrincipalName?: string | null;
  onPremisesDistinguishedName?: string | null;
  onPremisesImmutableId?: string | null;
  onPremisesSyncEnabled?: boolean | null;
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
  usersDelta(deltaLink: string | null, onPage: (changes: CloudUserChange[]) => void | Promise<void>): Promise<{ deltaLink: string; changes: number }>;
  /** Provisioning log entries of one Cloud Sync job since an instant, paged. */
  provisioningEvents(input: { jobId: string; since: Date }, onPage: (events: ProvisioningEvent[]) => void | Promise<void>): Promise<number>;
}
