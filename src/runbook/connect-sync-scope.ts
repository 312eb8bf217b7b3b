/**
 * Which on-premises objects Connect Sync's out-of-box rules would export to Entra, and why the others
 * are filtered out. Pure: the agent applies it to what it read from AD, the bot to what the agent
 * sent, and the simulated tenant to the simulated forest, so all three agree.
 *
 * One table of conditions, each with Microsoft's own expression and the page it is written on
 * (docs/verify.md, "Objects Connect Sync filters out"). An object a condition hits is never expected in
 * the cloud: a verify lists it apart with the reason and it never counts as missing.
 */

/** The AD object types a verify tells apart. inetOrgPerson is a subclass of user with rules of its own. */
export const SCANNED_TYPES = ['user', 'inetOrgPerson', 'group', 'contact'] as const;
export type ScannedType = (typeof SCANNED_TYPES)[number];

/** What the conditions read from an AD object. Null or absent: the attribute is not set. */
export interface ScopeFacts {
  type: ScannedType;
  /** The DN as AD returns it (a conflict object's RDN carries `\0ACNF:<guid>`). */
  dn: string;
  /** isCriticalSystemObject is present (AD sets it TRUE on built-in objects). */
  criticalSystemObject?: boolean | null;
  samAccountName?: string | null;
  mailNickname?: string | null;
  mail?: string | null;
  proxyAddresses?: readonly string[] | null;
  /** msExchRecipientTypeDetails (an Exchange attribute; absent without the Exchange schema). */
  recipientTypeDetails?: number | null;
  displayName?: string | null;
  /** msExchHideFromAddressLists. */
  hideFromAddressLists?: boolean | null;
  /** groupType; bit 0x80000000 marks a security group, without it the group is a distribution group. */
  groupType?: number | null;
}

export const DEFAULT_CONFIGURATION_PAGE =
  'https://learn.microsoft.com/entra/identity/hybrid/connect/concept-azure-ad-connect-sync-default-configuration';

export interface ScopeCondition {
  id: string;
  appliesTo: readonly ScannedType[];
  /** What a person reads on the card, after the object's DN. */
  reason: string;
  /** The expression as the source page writes it. */
  expression: string;
  /** The page and section the condition is written on. */
  source: string;
  hits: (o: ScopeFacts) => boolean;
}

const USERS: readonly ScannedType[] = ['user', 'inetOrgPerson'];
const ALL: readonly ScannedType[] = SCANNED_TYPES;
const USER_RULES = `${DEFAULT_CONFIGURATION_PAGE}#user-out-of-box-rules`;
const CONTACT_RULES = `${DEFAULT_CONFIGURATION_PAGE}#contact-out-of-box-rules`;
const GROUP_RULES = `${DEFAULT_CONFIGURATION_PAGE}#group-out-of-box-rules`;

/** Recipient types Exchange Online cannot take (public folder, system mailboxes, mailbox plan, discovery…). */
export const EXCHANGE_RECIPIENT_MASK = 0x21c07000;
/** msExchRecipientTypeDetails bit of an Exchange role group. */
export const ROLE_GROUP_BIT = 0x40000000;
const SECURITY_GROUP_BIT = 0x80000000;

const startsWith = (value: string | null | undefined, prefix: string): boolean =>
  typeof value === 'string' && value.toLowerCase().startsWith(prefix.toLowerCase());

/** The first RDN of a DN as written, escapes kept (the part before the first unescaped comma). */
function firstRdn(dn: string): string {
  for (let i = 0; i < dn.length; i++) {
    if (dn[i] === '\\') i++;
    else if (dn[i] === ',') return dn.slice(0, i);
  }
  return dn;
}

/**
 * The contact rule's "mail-enabled" test, which distribution groups share: proxyAddresses is set, and
 * either its primary (SMTP:) address or mail holds an @.
 */
export function mailEnabled(o: Pick<ScopeFacts, 'mail' | 'proxyAddresses'>): boolean {
  const proxies = o.proxyAddresses ?? [];
  if (proxies.length === 0) return false;
  const primary = proxies.find((p) => p.startsWith('SMTP:'));
  return (primary !== undefined && primary.includes('@')) || (typeof o.mail === 'string' && o.mail.includes('@'));
}

/** Every condition of Connect Sync's out-of-box inbound rules that keeps an object out of Entra. */
export const CONNECT_SYNC_SCOPE: readonly ScopeCondition[] = [
  {
    id: 'criticalSystemObject',
    appliesTo: ALL,
    // The words verifies have always shown for it, so reports before and after this table read alike.
    reason: 'isCriticalSystemObject: not synced by Connect Sync or Cloud Sync',
    expression: 'IsPresent([isCriticalSystemObject])',
    source: USER_RULES,
    hits: (o) => o.criticalSystemObject === true,
  },
  {
    id: 'noSamAccountName',
    appliesTo: USERS,
    reason: 'no sAMAccountName',
    expression: 'IsPresent([sAMAccountName]) = False',
    source: USER_RULES,
    hits: (o) => !o.samAccountName,
  },
  {
    id: 'syncServiceAccount',
    appliesTo: USERS,
    reason: "sAMAccountName starts with AAD_ or MSOL_: Connect Sync's own service account",
    expression: 'Left([sAMAccountName], 4) = "AAD_", Left([sAMAccountName], 5) = "MSOL_"',
    source: USER_RULES,
    hits: (o) => startsWith(o.samAccountName, 'AAD_') || startsWith(o.samAccountName, 'MSOL_'),
  },
  {
    id: 'exchangeSupportAccount',
    appliesTo: USERS,
    reason: 'sAMAccountName is SUPPORT_388945a0: an Exchange account that would not work in Exchange Online',
    expression: '[sAMAccountName] = "SUPPORT_388945a0"',
    source: USER_RULES,
    hits: (o) => o.samAccountName?.toLowerCase() === 'support_388945a0',
  },
  {
    id: 'systemMailbox',
    appliesTo: USERS,
    reason: 'mailNickname starts with SystemMailbox{: an Exchange system mailbox',
    expression: 'Left([mailNickname], 14) = "SystemMailbox{"',
    source: USER_RULES,
    hits: (o) => startsWith(o.mailNickname, 'SystemMailbox{'),
  },
  {
    id: 'casMailNickname',
    appliesTo: ['user', 'inetOrgPerson', 'contact'],
    reason: 'mailNickname starts with CAS_ and holds a }: an Exchange object that would not work in Exchange Online',
    expression: '(Left([mailNickname], 4) = "CAS_" && (InStr([mailNickname], "}") > 0))',
    source: USER_RULES,
    hits: (o) => startsWith(o.mailNickname, 'CAS_') && o.mailNickname!.includes('}'),
  },
  {
    id: 'casSamAccountName',
    appliesTo: USERS,
    reason: 'sAMAccountName starts with CAS_ and holds a }: an Exchange object that would not work in Exchange Online',
    expression: '(Left([sAMAccountName], 4) = "CAS_" && (InStr([sAMAccountName], "}") > 0))',
    source: USER_RULES,
    hits: (o) => startsWith(o.samAccountName, 'CAS_') && o.samAccountName!.includes('}'),
  },
  {
    id: 'exchangeRecipientType',
    appliesTo: USERS,
    reason:
      'msExchRecipientTypeDetails is a type Exchange Online cannot take (public folder, system attendant, system mailbox, mailbox plan, discovery mailbox…)',
    expression: 'BitAnd([msExchRecipientTypeDetails],&H21C07000) > 0',
    source: USER_RULES,
    hits: (o) => typeof o.recipientTypeDetails === 'number' && (o.recipientTypeDetails & EXCHANGE_RECIPIENT_MASK) !== 0,
  },
  {
    id: 'replicationConflict',
    appliesTo: ALL,
    reason: 'its name holds \\0ACNF: a replication conflict ("victim") object',
    expression: 'CBool(InStr(DNComponent(CRef([dn]),1),"\\\\0ACNF:")>0)',
    source: USER_RULES,
    hits: (o) => {
      const rdn = firstRdn(o.dn);
      return rdn.toUpperCase().includes('\\0ACNF:') || rdn.includes('\nCNF:');
    },
  },
  {
    id: 'contactWithoutMail',
    appliesTo: ['contact'],
    reason: 'no mail attribute: Connect Sync exports only mail-enabled contacts',
    expression: 'Must have mail attribute value',
    source: CONTACT_RULES,
    hits: (o) => !o.mail,
  },
  {
    id: 'notMailEnabled',
    appliesTo: ['contact'],
    reason: 'not mail-enabled: proxyAddresses is empty, or neither its SMTP: address nor mail holds an @',
    expression:
      'IsPresent([proxyAddresses]) = True, and (Contains([proxyAddresses], "SMTP:") … "@") or (IsPresent([mail]) = True && InStr([mail], "@") > 0)',
    source: CONTACT_RULES,
    hits: (o) => !!o.mail && !mailEnabled(o),
  },
  {
    id: 'msolHiddenContact',
    appliesTo: ['contact'],
    reason: 'displayName holds (MSOL) and it is hidden from address lists',
    expression: '((InStr([displayName], "(MSOL)") > 0) && (CBool([msExchHideFromAddressLists])))',
    source: CONTACT_RULES,
    hits: (o) => (o.displayName ?? '').includes('(MSOL)') && o.hideFromAddressLists === true,
  },
  {
    id: 'richCoexistenceGroup',
    appliesTo: ['group'],
    reason: 'sAMAccountName is MSOL_AD_Sync_RichCoexistence: a legacy DirSync group',
    expression: '[sAMAccountName] = "MSOL_AD_Sync_RichCoexistence"',
    source: GROUP_RULES,
    hits: (o) => o.samAccountName?.toLowerCase() === 'msol_ad_sync_richcoexistence',
  },
  {
    id: 'roleGroup',
    appliesTo: ['group'],
    reason: 'msExchRecipientTypeDetails marks an Exchange role group',
    expression: 'BitAnd([msExchRecipientTypeDetails],&H40000000)',
    source: GROUP_RULES,
    hits: (o) => typeof o.recipientTypeDetails === 'number' && (o.recipientTypeDetails & ROLE_GROUP_BIT) !== 0,
  },
  {
    id: 'distributionGroupNotMailEnabled',
    appliesTo: ['group'],
    reason: 'a distribution group that is not mail-enabled',
    expression: 'If the group is a Distribution Group, then it must also be mail enabled (the contact rule)',
    source: GROUP_RULES,
    hits: (o) => typeof o.groupType === 'number' && (o.groupType & SECURITY_GROUP_BIT) === 0 && !mailEnabled(o),
  },
];

const BY_ID = new Map(CONNECT_SYNC_SCOPE.map((c) => [c.id, c]));

/** Every condition id, for validating what an agent sends. */
export const SCOPE_CONDITION_IDS: readonly string[] = CONNECT_SYNC_SCOPE.map((c) => c.id);

/** The ids of the conditions that keep this object out of Entra; empty when Connect Sync would export it. */
export function connectSyncFilters(o: ScopeFacts): string[] {
  return CONNECT_SYNC_SCOPE.filter((c) => c.appliesTo.includes(o.type) && c.hits(o)).map((c) => c.id);
}

export function scopeCondition(id: string): ScopeCondition | undefined {
  return BY_ID.get(id);
}

/** The reasons shown for a list of condition ids; an id this bot does not know is shown as sent. */
export function filterReason(ids: readonly string[]): string {
  return ids.map((id) => BY_ID.get(id)?.reason ?? `filtered by condition "${id}"`).join('; ');
}

/**
 * Why inetOrgPerson objects are refused rather than migrated: the no-flow rules the runbook writes
 * (src/runbook/sync-rules.ts) are for user, group and contact, so Connect Sync's own inetOrgPerson
 * rules keep exporting them, and Cloud Sync's password hash sync does not support InetOrgPerson.
 * Moving it out of the pilot OU is the remedy those pages support (step-evidence.ts, inetOrgPersonProblem).
 */
export const INETORGPERSON_REFUSAL =
  'inetOrgPerson: not covered by the no-flow rules (they are written for user, group and contact, so Connect Sync keeps exporting it) and Cloud Sync password hash sync does not support InetOrgPerson; move it out of the pilot OU (step 12 refuses the OU while it holds one)';
