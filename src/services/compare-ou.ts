import type { CloudDirectory } from '../cloud/types';
import type { CloudContact, CloudGroup, CloudUser } from '../runbook/cloud-users';
import { OuComparison, type ComparisonReport } from '../runbook/ou-comparison';
import type { StoredScan } from './stored-scan';

/** Cloud pages kept while the on-premises side is still being read; then paging waits for it. */
const MAX_EARLY_PAGES = 16;

/**
 * Readers of the migration's group and contact copies (cloud-object-copy.ts), each refreshing its
 * copy by its delta query when called. A type without one is read from Graph whole.
 */
export interface ObjectCopyReaders {
  group?: (onPage: (groups: CloudGroup[]) => void) => Promise<number>;
  contact?: (onPage: (contacts: CloudContact[]) => void) => Promise<number>;
}

/**
 * The cloud half of a verify: the stored scan into a comparison, and Graph's synced users page by
 * page. Both start at once: reading 100,000 stored users takes about as long as a third of the
 * Graph pages, so the first pages are kept (up to MAX_EARLY_PAGES) and compared once the scan is
 * in, instead of Graph waiting for the store.
 * `onCloudPage` only hears how far the paging got; it cannot hold the paging up. `indexed`, when
 * given, already holds the scan's users and nothing is read from the store. `into`, when given
 * (and no `indexed`), is an empty comparison to fill, so the caller can read more than the report
 * from it afterwards (its in-scope objects, for the Cloud Sync evidence).
 */
export async function compareOuWithCloud(
  scan: StoredScan,
  cloud: CloudDirectory,
  onCloudPage?: (read: number) => void,
  indexed?: OuComparison | null,
  into?: OuComparison,
): Promise<ComparisonReport> {
  // An index built while the scan arrived (IncomingScans) already holds the on-premises half.
  const ready = indexed && indexed.baseDn === scan.head.baseDn ? indexed : null;
  const comparison = ready ?? (into && into.baseDn === scan.head.baseDn ? into : new OuComparison(scan.head.baseDn));
  const early: CloudUser[][] = [];
  let onPremReady = false;
  const onPrem = (async () => {
    if (!ready) for await (const piece of scan.users()) for (const user of piece) comparison.addOnPrem(user);
    onPremReady = true;
    for (const page of early.splice(0)) for (const user of page) comparison.addCloud(user);
  })();
  // Awaited below; until then a failure must not count as unhandled while Graph is paged.
  onPrem.catch(() => undefined);
  let read = 0;
  await cloud.listSyncedUsers(async (page) => {
    read += page.length;
    onCloudPage?.(read);
    if (!onPremReady) {
      early.push(page);
      if (early.length < MAX_EARLY_PAGES) return;
      await onPrem;
      return;
    }
    for (const user of page) comparison.addCloud(user);
  });
  await onPrem;
  await compareGroupsAndContacts(cloud, comparison);
  return comparison.report();
}

/**
 * Groups and contacts carry no on-premises DN in Graph, so every synced one is read and matched on
 * its SID or mail; only when the OU has some. From the migration's copy of the type when there is a
 * reader for it, else from Graph whole where this cloud directory can list them.
 */
async function compareGroupsAndContacts(
  cloud: CloudDirectory,
  comparison: OuComparison,
  copies: ObjectCopyReaders = {},
): Promise<void> {
  if (copies.group && comparison.hasOnPrem('group')) {
    await copies.group((page) => {
      for (const group of page) comparison.addCloudGroup(group);
    });
    comparison.cloudTypeRead('group');
  } else if (cloud.listSyncedGroups && comparison.hasOnPrem('group')) {
    await cloud.listSyncedGroups((page) => {
      for (const group of page) comparison.addCloudGroup(group);
    });
    comparison.cloudTypeRead('group');
  }
  if (copies.contact && comparison.hasOnPrem('contact')) {
    await copies.contact((page) => {
      for (const contact of page) comparison.addCloudContact(contact);
    });
    comparison.cloudTypeRead('contact');
  } else if (cloud.listSyncedContacts && comparison.hasOnPrem('contact')) {
    await cloud.listSyncedContacts((page) => {
      for (const contact of page) comparison.addCloudContact(contact);
    });
    comparison.cloudTypeRead('contact');
  }
}

/**
 * The cloud half of a verify from the migration's stored copy (kept current by refreshCloudSnapshot):
 * the on-premises side first, then the copy streamed page by page from the store. Nothing waits on
 * Graph here, so no early pages are kept; and with PGlite the copy's read transaction must not wait
 * for the scan's reads, which would queue behind it.
 */
export async function compareOuWithCopy(
  scan: StoredScan,
  readCopy: (onPage: (users: CloudUser[]) => void) => Promise<number>,
  cloud: CloudDirectory,
  onCloudPage?: (read: number) => void,
  indexed?: OuComparison | null,
  into?: OuComparison,
  copies?: ObjectCopyReaders,
): Promise<ComparisonReport> {
  const ready = indexed && indexed.baseDn === scan.head.baseDn ? indexed : null;
  const comparison = ready ?? (into && into.baseDn === scan.head.baseDn ? into : new OuComparison(scan.head.baseDn));
  if (!ready) for await (const piece of scan.users()) for (const user of piece) comparison.addOnPrem(user);
  let read = 0;
  await readCopy((page) => {
    for (const user of page) comparison.addCloud(user);
    read += page.length;
    onCloudPage?.(read);
  });
  await compareGroupsAndContacts(cloud, comparison, copies);
  return comparison.report();
}
