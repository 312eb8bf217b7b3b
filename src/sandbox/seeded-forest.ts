/**
 * The forest the sandbox hands the simulated directory: the seed spec the test Samba DC is seeded
 * from, so both report the same counts, and the users added to it while rehearsing.
 */
import { escapeDnValue } from '../runbook/dn';
import { AppError } from '../shared/errors';
import { COMPUTER_CLASSES, keysOf, simulatedObjectGuid, type SimulatedForest } from '../directory/simulated-directory';
import {
  BASE_DN,
  OU_CREATE_ORDER,
  OU,
  SEED_COMPUTERS,
  SEED_CONTACTS,
  SEED_GROUPS,
  SEED_INETORGPERSONS,
  SEED_USERS,
  UPN_SUFFIX,
  userDn,
} from './forest-spec';

/**
 * The seeded forest (src/sandbox/forest-spec.ts) plus what every AD domain has: CN=Users with
 * Administrator, Guest and krbtgt.
 */
export function buildSeededForest(): SimulatedForest {
  const builtinContainer = `CN=Users,${BASE_DN}`;
  const builtins = [
    { sam: 'Administrator', disabled: false },
    { sam: 'Guest', disabled: true },
    { sam: 'krbtgt', disabled: true },
  ].map(({ sam, disabled }) => {
    const dn = `CN=${sam},${builtinContainer}`;
    // Like AD's: every built-in account is a critical system object, which no sync engine syncs.
    return {
      dn,
      objectGuid: simulatedObjectGuid(dn).toString('base64'),
      consistencyGuid: null,
      samAccountName: sam,
      userPrincipalName: sam === 'Administrator' ? `administrator@${UPN_SUFFIX}` : null,
      disabled,
      criticalSystemObject: true,
    };
  });
  const seeded = [...SEED_USERS, ...SEED_INETORGPERSONS].map((u) => {
    const dn = userDn(u);
    return {
      dn,
      objectGuid: simulatedObjectGuid(dn).toString('base64'),
      consistencyGuid: u.consistencyGuid ? u.consistencyGuid.toString('base64') : null,
      samAccountName: u.samAccountName,
      userPrincipalName: u.userPrincipalName,
      disabled: u.disabled,
      ...(SEED_INETORGPERSONS.includes(u) ? { inetOrgPerson: true } : {}),
    };
  });
  // A SID per group like a domain's: the domain SID and a relative id from 1,100 on (AD starts
  // ordinary accounts at 1,000 or above).
  const groups = SEED_GROUPS.map((g, i) => {
    const dn = `CN=${escapeDnValue(g.cn)},${OU.sales}`;
    return {
      dn,
      objectGuid: simulatedObjectGuid(dn).toString('base64'),
      consistencyGuid: g.consistencyGuid ? g.consistencyGuid.toString('base64') : null,
      samAccountName: g.samAccountName,
      sid: `${SIMULATED_DOMAIN_SID}-${1100 + i}`,
      groupType: g.groupType,
      // Direct member counts, so /readiness counts group sizes the same in both modes.
      members: g.members,
      ...(g.mail ? { mail: g.mail, proxyAddresses: [`SMTP:${g.mail}`] } : {}),
    };
  });
  const contacts = SEED_CONTACTS.map((c) => {
    const dn = `CN=${escapeDnValue(c.cn)},${OU.sales}`;
    return {
      dn,
      objectGuid: simulatedObjectGuid(dn).toString('base64'),
      displayName: c.cn,
      ...(c.mail ? { mail: c.mail, proxyAddresses: [`SMTP:${c.mail}`] } : {}),
    };
  });
  return {
    defaultNamingContext: BASE_DN,
    containers: [builtinContainer, ...OU_CREATE_ORDER],
    users: [...builtins, ...seeded],
    groups,
    contacts,
    otherObjects: [
      ...SEED_COMPUTERS.map((c) => ({ dn: `CN=${escapeDnValue(c.cn)},${OU.sales}`, objectClass: COMPUTER_CLASSES })),
    ],
  };
}

/** The simulated domain's SID; its groups' SIDs add a relative id. */
export const SIMULATED_DOMAIN_SID = 'S-1-5-21-3623811015-3361044348-30300820';

/**
 * A new, enabled user in an existing OU of the forest (for rehearsing runbook step 12: "a new object
 * in the OU gets provisioned"). Its objectGUID is derived from its DN like the seeded ones'; it has
 * no ms-DS-ConsistencyGuid, so objectGUID is its source anchor.
 */
export function addUserToForest(
  forest: SimulatedForest,
  ouDn: string,
  name: string,
): { forest: SimulatedForest; user: SimulatedForest['users'][number] } {
  const trimmed = name.trim();
  if (trimmed === '' || trimmed.length > 64)
    throw new AppError('INPUT.BAD_DN', `A user name must be 1 to 64 characters, got "${name}".`, {
      hint: 'For example: "Pat Newhire".',
    });
  const ouKeys = keysOf(ouDn).join(',');
  if (!forest.containers.some((c) => keysOf(c).join(',') === ouKeys)) {
    throw new AppError('DIRECTORY.OU_NOT_FOUND', `"${ouDn}" is not an OU of the simulated directory.`, {
      hint: 'Use an OU the sandbox has, e.g. OU=SalesOps or OU=EMEA,OU=Sales.',
    });
  }
  const dn = `CN=${escapeDnValue(trimmed)},${ouDn}`;
  const dnKeys = keysOf(dn).join(',');
  if (forest.users.some((u) => keysOf(u.dn).join(',') === dnKeys)) {
    throw new AppError('INPUT.BAD_DN', `${dn} already exists.`, { hint: 'Pick another name.' });
  }
  const base =
    trimmed
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '.')
      .replace(/^\.+|\.+$/g, '')
      .slice(0, 20) || 'user';
  const taken = new Set(forest.users.map((u) => u.samAccountName?.toLowerCase()));
  let sam = base;
  for (let i = 2; taken.has(sam); i++) sam = `${base.slice(0, 20 - String(i).length)}${i}`;
  const user = {
    dn,
    objectGuid: simulatedObjectGuid(dn).toString('base64'),
    consistencyGuid: null,
    samAccountName: sam,
    userPrincipalName: `${sam}@${UPN_SUFFIX}`,
    disabled: false,
  };
  return { forest: { ...forest, users: [...forest.users, user] }, user };
}
