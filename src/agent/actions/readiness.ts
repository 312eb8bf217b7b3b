import type { Directory } from '../../directory/types';
import type { ReadinessDirectory } from '../../relay/protocol';

const SAMPLE = 5;
const TOP_GROUPS = 5;

/**
 * The directory half of `/readiness`: users (and those without ms-DS-ConsistencyGuid), groups with
 * their sizes, contacts, OUs and inetOrgPerson objects, read page by page under each base. Only
 * counts and a few DNs leave the agent. `bases` is the agent's allow-list, or the domain when it
 * has none: the agent never reads outside what it may touch.
 */
export async function readDirectory(
  directory: Directory,
  allowedBases: readonly string[],
  onProgress?: (scanned: number) => Promise<void>,
): Promise<ReadinessDirectory> {
  const defaultNamingContext = await directory.defaultNamingContext();
  const bases = allowedBases.length > 0 ? [...allowedBases] : [defaultNamingContext];
  const result: ReadinessDirectory = {
    defaultNamingContext,
    bases,
    users: 0,
    groups: 0,
    contacts: 0,
    organizationalUnits: 0,
    inetOrgPersons: 0,
    inetOrgPersonSample: [],
    usersWithoutConsistencyGuid: 0,
    withoutConsistencyGuidSample: [],
    largestGroups: [],
  };
  const groups: { dn: string; count: number }[] = [];
  for (const base of bases) {
    const totals = await directory.scanUsers(base, {
      onPage: async (users, scanned) => {
        for (const u of users) {
          // Never synced by either engine (isCriticalSystemObject), so not a migration concern.
          if (u.criticalSystemObject || u.consistencyGuid !== null) continue;
          result.usersWithoutConsistencyGuid++;
          if (result.withoutConsistencyGuidSample.length < SAMPLE) result.withoutConsistencyGuidSample.push(u.dn);
        }
        await onProgress?.(result.users + scanned);
      },
    });
    result.users += totals.users;
    const counts = await directory.countObjects(base, { top: TOP_GROUPS, sample: SAMPLE });
    result.groups += counts.groups;
    result.contacts += counts.contacts;
    result.organizationalUnits += counts.organizationalUnits;
    result.inetOrgPersons += counts.inetOrgPersons;
    for (const dn of counts.inetOrgPersonSample)
      if (result.inetOrgPersonSample.length < SAMPLE) result.inetOrgPersonSample.push(dn);
    groups.push(...counts.largestGroups);
  }
  result.largestGroups = groups.sort((a, b) => b.count - a.count || a.dn.localeCompare(b.dn)).slice(0, TOP_GROUPS);
  return result;
}
