/** A synced user as Graph returns it with the $select the verify needs. */
export interface CloudUser {
  id: string;
  userPrincipalName: string | null;
  onPremisesDistinguishedName: string | null;
  onPremisesImmutableId: string | null;
}

export interface CloudDirectory {
  /**
   * Pages through every user with onPremisesSyncEnabled eq true ($top=999, following
   * @odata.nextLink), calling onPage per page. Returns the number of users seen.
   */
  listSyncedUsers(onPage: (users: CloudUser[]) => void | Promise<void>): Promise<number>;
}
