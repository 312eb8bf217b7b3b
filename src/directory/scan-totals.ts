import type { DirectoryUser, ScanTotals } from './types';

/** Adds a page's objects to the totals: users (and their disabled ones) and, when counted, the other types. */
export function countInto(totals: ScanTotals, page: readonly DirectoryUser[]): void {
  for (const u of page) {
    const type = u.objectType ?? 'user';
    if (type === 'user') {
      totals.users++;
      if (u.disabled) totals.disabled++;
    } else if (type === 'inetOrgPerson') totals.inetOrgPersons = (totals.inetOrgPersons ?? 0) + 1;
    else if (type === 'group') totals.groups = (totals.groups ?? 0) + 1;
    else totals.contacts = (totals.contacts ?? 0) + 1;
  }
}
