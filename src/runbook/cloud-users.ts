/**
 * Entra users as the bot reads them from Microsoft Graph. They live in the core, not beside the
 * Graph client, because the store keeps them (the users-delta snapshot) and the services compare
 * them, and neither may depend on how they were fetched.
 */

/** A synced user as Graph returns it with the $select the verify needs. */
export interface CloudUser {
  id: string;
  userPrincipalName: string | null;
  onPremisesDistinguishedName: string | null;
  onPremisesImmutableId: string | null;
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

/**
 * A synced Entra group with what a verify matches it on. Graph v1.0 gives a group no on-premises
 * DN and no source anchor; its onPremisesSecurityIdentifier is the AD group's objectSid.
 */
export interface CloudGroup {
  id: string;
  displayName: string | null;
  onPremisesSecurityIdentifier: string | null;
}

/** A synced Entra organisational contact (orgContact); matched on mail, the only key both sides carry. */
export interface CloudContact {
  id: string;
  displayName: string | null;
  mail: string | null;
}

/**
 * One entry of a /groups/delta or /contacts/delta page, reduced to what the copy keeps. As for users,
 * an absent property (undefined) is "not sent", null is "cleared". `key` is what a verify matches
 * on: onPremisesSecurityIdentifier for a group, mail for a contact.
 */
export interface CloudObjectChange {
  id: string;
  /** "@removed" was present: the object was deleted (or soft-deleted). */
  removed: boolean;
  displayName?: string | null;
  key?: string | null;
  onPremisesSyncEnabled?: boolean | null;
}

/** The object types besides users whose cloud copies are kept by their own delta query. */
export type CopiedObjectType = 'group' | 'contact';
