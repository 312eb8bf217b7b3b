/**
 * The seeded forest: what scripts/seed-ad.ts puts into the test Samba DC, what the sandbox's
 * simulated directory holds (src/sandbox/seeded-forest.ts), and what tests may therefore assert.
 *
 * Everything is derived from constants so the seed and the assertions cannot drift apart: change a
 * number here, bump SEED_VERSION, and `bash scripts/samba-down.sh --purge && bash scripts/samba-up.sh`.
 */
import { createHash } from 'node:crypto';
import { escapeDnValue } from '../runbook/dn';

export const BASE_DN = 'DC=contoso,DC=com';
export const UPN_SUFFIX = 'contoso.com';

/** Written last by the seed; its presence with description "complete" means the seed finished. */
export const SEED_MARKER_DN = `CN=SyncShift Seed,${BASE_DN}`;
export const SEED_VERSION = 3;

export const OU = {
  sales: `OU=Sales,${BASE_DN}`,
  salesEmea: `OU=EMEA,OU=Sales,${BASE_DN}`,
  salesEmeaDeep: `OU=Deep,OU=EMEA,OU=Sales,${BASE_DN}`,
  /** Shares the prefix "Sales": a substring match on OU=Sales wrongly includes it. */
  salesOps: `OU=SalesOps,${BASE_DN}`,
  /** The OU's own name contains a comma: "R,D". */
  rAndD: `OU=R\\,D,${BASE_DN}`,
  regions: `OU=Regions,${BASE_DN}`,
  regionsEmea: `OU=EMEA,OU=Regions,${BASE_DN}`,
  regionsApac: `OU=APAC,OU=Regions,${BASE_DN}`,
  /** Two OUs named "Marketing": a lookup by name alone is ambiguous. */
  marketingEmea: `OU=Marketing,OU=EMEA,OU=Regions,${BASE_DN}`,
  marketingApac: `OU=Marketing,OU=APAC,OU=Regions,${BASE_DN}`,
  /** Parentheses in the name: a filter built without escaping breaks on it. */
  legacy: `OU=Legacy (2019),${BASE_DN}`,
} as const;

/** Parents before children, the order they must be created in. */
export const OU_CREATE_ORDER: readonly string[] = [
  OU.sales,
  OU.salesEmea,
  OU.salesEmeaDeep,
  OU.salesOps,
  OU.rAndD,
  OU.regions,
  OU.regionsEmea,
  OU.regionsApac,
  OU.marketingEmea,
  OU.marketingApac,
  OU.legacy,
];

export interface SeedUser {
  /** Unescaped CN value. */
  cn: string;
  ou: string;
  samAccountName: string;
  userPrincipalName: string;
  disabled: boolean;
  /** ms-DS-ConsistencyGuid to set, or null to leave it unset. */
  consistencyGuid: Buffer | null;
  /** The RDN value exactly as AD writes it, when escaping `cn` would not give it (a conflict object's \0A). */
  rdn?: string;
}

export const SALES_DIRECT_USERS = 1200;
/** Every 100th Sales user is disabled (userAccountControl 514). */
export const SALES_DISABLED_EVERY = 100;
/** The first this-many Sales users carry ms-DS-ConsistencyGuid. */
export const SALES_WITH_CONSISTENCY_GUID = 50;

/**
 * CNs that break naive DN handling: escaped comma, quote/parentheses, leading '#', '+', backslash,
 * double quotes, filter metacharacter and non-ASCII. All are direct children of OU=Sales.
 */
export const TRICKY_CNS: readonly string[] = [
  'Smith, John',
  "O'Brien (Sales)",
  '#Hash Tag',
  'Plus+Sign',
  'Back\\Slash',
  'Quote "Q" Person',
  'Star*User',
  'Ünïcödé Ærøskøbing',
];

export const SALES_EMEA_USERS = 30;
/** The one disabled EMEA user, 1-based. */
export const SALES_EMEA_DISABLED_INDEX = 15;
export const SALES_DEEP_USERS = 5;
export const SALES_OPS_USERS = 40;
export const SALES_OPS_DISABLED_EVERY = 20;
export const R_AND_D_USERS = 7;
export const R_AND_D_DISABLED_INDEX = 7;
export const MARKETING_USERS_EACH = 3;
export const LEGACY_USERS = 2;

export const SALES_COMPUTERS = 10;
export const SALES_CONTACTS = 10;
export const SALES_GROUP_CN = 'Sales Team';
/** Members of the Sales group: the first few Sales users. */
export const SALES_GROUP_MEMBERS = 5;

function pad(n: number, width = 4): string {
  return String(n).padStart(width, '0');
}

/** Deterministic and, unlike objectGUID, known in advance; 16 bytes like a real ConsistencyGuid. */
export function consistencyGuidFor(samAccountName: string): Buffer {
  return createHash('md5').update(`syncshift-consistency:${samAccountName}`).digest();
}

export function userDn(user: Pick<SeedUser, 'cn' | 'ou' | 'rdn'>): string {
  return `CN=${user.rdn ?? escapeDnValue(user.cn)},${user.ou}`;
}

function user(cn: string, ou: string, sam: string, disabled: boolean, consistencyGuid: Buffer | null = null): SeedUser {
  return { cn, ou, samAccountName: sam, userPrincipalName: `${sam}@${UPN_SUFFIX}`, disabled, consistencyGuid };
}

function buildUsers(): SeedUser[] {
  const users: SeedUser[] = [];
  for (let i = 1; i <= SALES_DIRECT_USERS; i++) {
    const sam = `sales${pad(i)}`;
    users.push(
      user(
        `Sales User ${pad(i)}`,
        OU.sales,
        sam,
        i % SALES_DISABLED_EVERY === 0,
        i <= SALES_WITH_CONSISTENCY_GUID ? consistencyGuidFor(sam) : null,
      ),
    );
  }
  TRICKY_CNS.forEach((cn, idx) => users.push(user(cn, OU.sales, `tricky${idx + 1}`, false)));
  for (let i = 1; i <= SALES_EMEA_USERS; i++)
    users.push(user(`EMEA User ${pad(i, 2)}`, OU.salesEmea, `emea${pad(i, 2)}`, i === SALES_EMEA_DISABLED_INDEX));
  for (let i = 1; i <= SALES_DEEP_USERS; i++) users.push(user(`Deep User ${i}`, OU.salesEmeaDeep, `deep${i}`, false));
  for (let i = 1; i <= SALES_OPS_USERS; i++) {
    users.push(
      user(`SalesOps User ${pad(i, 2)}`, OU.salesOps, `salesops${pad(i, 2)}`, i % SALES_OPS_DISABLED_EVERY === 0),
    );
  }
  for (let i = 1; i <= R_AND_D_USERS; i++)
    users.push(user(`RD User ${i}`, OU.rAndD, `rd${i}`, i === R_AND_D_DISABLED_INDEX));
  for (let i = 1; i <= MARKETING_USERS_EACH; i++) {
    users.push(user(`Marketing EMEA ${i}`, OU.marketingEmea, `mkt-emea${i}`, false));
    users.push(user(`Marketing APAC ${i}`, OU.marketingApac, `mkt-apac${i}`, false));
  }
  for (let i = 1; i <= LEGACY_USERS; i++) users.push(user(`Legacy User ${i}`, OU.legacy, `legacy${i}`, false));
  users.push(...SALES_FILTERED_USERS.map((f) => f.user));
  return users;
}

/**
 * Users in the pilot OU that Connect Sync's default rules filter out (src/runbook/connect-sync-scope.ts),
 * with the condition each trips. isCriticalSystemObject cannot be set over LDAP, so the built-in
 * accounts of CN=Users stand for that one.
 */
export const SALES_FILTERED_USERS: readonly { user: SeedUser; condition: string }[] = [
  { user: user('MSOL_2f9c1e0b7a64', OU.sales, 'MSOL_2f9c1e0b7a64', false), condition: 'syncServiceAccount' },
  { user: user('AAD_5d3e8a1c6b90', OU.sales, 'AAD_5d3e8a1c6b90', false), condition: 'syncServiceAccount' },
  {
    // A replication conflict ("victim") object: AD appends a line feed, CNF: and the object's GUID.
    user: {
      ...user('Sales Conflict\nCNF:6c1f4b2e-8d3a-4f5e-9a7b-1c2d3e4f5a6b', OU.sales, 'salesconflict', false),
      rdn: 'Sales Conflict\\0ACNF:6c1f4b2e-8d3a-4f5e-9a7b-1c2d3e4f5a6b',
    },
    condition: 'replicationConflict',
  },
];

/** inetOrgPerson objects in the pilot OU: counted as their own type, never as users. */
export const SEED_INETORGPERSONS: readonly SeedUser[] = [1, 2].map((i) =>
  user(`Inet Person ${i}`, OU.sales, `inetperson${i}`, false),
);

export interface SeedGroup {
  cn: string;
  samAccountName: string;
  /** groupType: -2147483646 a global security group, 2 a global distribution group. */
  groupType: number;
  mail: string | null;
  /** Members: how many of the first Sales users. */
  members: number;
  consistencyGuid: Buffer | null;
  /** The Connect Sync condition that filters it out, or null when Connect Sync exports it. */
  filteredBy: string | null;
}

export const GLOBAL_SECURITY_GROUP = -2147483646;
export const GLOBAL_DISTRIBUTION_GROUP = 2;

/** Groups of the pilot OU. */
export const SEED_GROUPS: readonly SeedGroup[] = [
  {
    cn: SALES_GROUP_CN,
    samAccountName: 'SalesTeam',
    groupType: GLOBAL_SECURITY_GROUP,
    mail: null,
    members: SALES_GROUP_MEMBERS,
    consistencyGuid: null,
    filteredBy: null,
  },
  {
    // Anchored on ms-DS-ConsistencyGuid, which Connect Sync does not fill for groups by default.
    cn: 'Sales Managers',
    samAccountName: 'SalesManagers',
    groupType: GLOBAL_SECURITY_GROUP,
    mail: null,
    members: 2,
    consistencyGuid: consistencyGuidFor('SalesManagers'),
    filteredBy: null,
  },
  {
    cn: 'Sales Announcements',
    samAccountName: 'SalesAnnouncements',
    groupType: GLOBAL_DISTRIBUTION_GROUP,
    mail: `sales-announcements@${UPN_SUFFIX}`,
    members: 3,
    consistencyGuid: null,
    filteredBy: null,
  },
  {
    cn: 'Sales Old List',
    samAccountName: 'SalesOldList',
    groupType: GLOBAL_DISTRIBUTION_GROUP,
    mail: null,
    members: 0,
    consistencyGuid: null,
    filteredBy: 'distributionGroupNotMailEnabled',
  },
];

export interface SeedContact {
  cn: string;
  /** Set with a matching SMTP: proxyAddress; null leaves the contact not mail-enabled. */
  mail: string | null;
}

export const SEED_USERS: readonly SeedUser[] = buildUsers();

export interface SeedComputer {
  cn: string;
  samAccountName: string;
}
export const SEED_COMPUTERS: readonly SeedComputer[] = Array.from({ length: SALES_COMPUTERS }, (_, i) => ({
  cn: `SALES-PC${pad(i + 1, 2)}`,
  samAccountName: `SALES-PC${pad(i + 1, 2)}$`,
}));
/** The last contact has no mail, so Connect Sync filters it out (contactWithoutMail). */
export const SEED_CONTACTS: readonly SeedContact[] = Array.from({ length: SALES_CONTACTS }, (_, i) => ({
  cn: `Sales Contact ${pad(i + 1, 2)}`,
  mail: i + 1 < SALES_CONTACTS ? `contact${pad(i + 1, 2)}@partner.example` : null,
}));

/** The DN of a seeded tricky-name user, as AD spells it. */
export function trickyUserDn(cn: string): string {
  return userDn({ cn, ou: OU.sales });
}

function totals(predicate: (u: SeedUser) => boolean): { users: number; disabled: number } {
  const picked = SEED_USERS.filter(predicate);
  return { users: picked.length, disabled: picked.filter((u) => u.disabled).length };
}

const under = (ous: readonly string[]) => (u: SeedUser) => ous.includes(u.ou);

/**
 * What a subtree scan of each OU must return. Literals rather than computed values so a reader sees
 * the numbers the tests promise; the seed refuses to run if they disagree with SEED_USERS.
 */
export const EXPECTED = {
  /**
   * 1,200 direct + 8 tricky + 30 EMEA + 5 Deep + 3 that Connect Sync filters out; computers, contacts,
   * groups, inetOrgPersons and SalesOps excluded.
   */
  sales: { users: 1246, disabled: 13 },
  salesEmea: { users: 35, disabled: 1 },
  salesEmeaDeep: { users: 5, disabled: 0 },
  salesOps: { users: 40, disabled: 2 },
  rAndD: { users: 7, disabled: 1 },
  regions: { users: 6, disabled: 0 },
  marketingEmea: { users: 3, disabled: 0 },
  marketingApac: { users: 3, disabled: 0 },
  legacy: { users: 2, disabled: 0 },
} as const;

/**
 * What a verify of the OU counts as users Connect Sync exports: EXPECTED less the users its default
 * rules filter out (SALES_FILTERED_USERS, none of them disabled).
 */
export const EXPECTED_SYNCED = {
  sales: { users: 1243, disabled: 13 },
} as const;

/** The other object types of the pilot OU a scan of all types counts, and how many of each Connect Sync filters out. */
export const EXPECTED_OTHER_TYPES = {
  sales: { inetOrgPersons: 2, groups: 4, contacts: 10 },
  salesFiltered: { users: 3, groups: 1, contacts: 1 },
} as const;

/** EXPECTED recomputed from SEED_USERS; the seed refuses to run if the two disagree. */
export function computedExpected(): Record<keyof typeof EXPECTED, { users: number; disabled: number }> {
  return {
    sales: totals(under([OU.sales, OU.salesEmea, OU.salesEmeaDeep])),
    salesEmea: totals(under([OU.salesEmea, OU.salesEmeaDeep])),
    salesEmeaDeep: totals(under([OU.salesEmeaDeep])),
    salesOps: totals(under([OU.salesOps])),
    rAndD: totals(under([OU.rAndD])),
    regions: totals(under([OU.regions, OU.regionsEmea, OU.regionsApac, OU.marketingEmea, OU.marketingApac])),
    marketingEmea: totals(under([OU.marketingEmea])),
    marketingApac: totals(under([OU.marketingApac])),
    legacy: totals(under([OU.legacy])),
  };
}
