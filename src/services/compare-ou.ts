import type { CloudDirectory } from '../cloud/types';
import { OuComparison, type ComparisonReport } from '../runbook/ou-comparison';
import { storedNamesAt, type StoredScan } from './stored-scan';

/**
 * The cloud half of a verify: the stored scan into a comparison, then Graph's synced users page by
 * page, then a second pass over the scan for the DNs of the users the report names.
 * `onCloudPage` only hears how far the paging got; it cannot hold the paging up.
 */
export async function compareOuWithCloud(scan: StoredScan, cloud: CloudDirectory, onCloudPage?: (read: number) => void): Promise<ComparisonReport> {
  const comparison = new OuComparison(scan.head.baseDn);
  for await (const piece of scan.users()) for (const user of piece) comparison.addOnPrem(user);
  let read = 0;
  await cloud.listSyncedUsers((page) => {
    for (const user of page) comparison.addCloud(user);
    read += page.length;
    onCloudPage?.(read);
  });
  return comparison.report(await storedNamesAt(scan, comparison.positionsToName()));
}
