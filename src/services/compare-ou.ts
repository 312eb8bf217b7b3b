import type { CloudDirectory } from '../cloud/types';
import type { ScanOuResult } from '../relay/protocol';
import { namesAt, OuComparison, type ComparisonReport } from '../runbook/ou-comparison';

/**
 * The cloud half of a verify: page Graph's synced users into a comparison with the agent's scan.
 * `onCloudPage` only hears how far the paging got; it cannot hold the paging up.
 */
export async function compareOuWithCloud(scan: ScanOuResult, cloud: CloudDirectory, onCloudPage?: (read: number) => void): Promise<ComparisonReport> {
  const comparison = new OuComparison(scan.baseDn);
  for (const user of scan.users) comparison.addOnPrem(user);
  let read = 0;
  await cloud.listSyncedUsers((page) => {
    for (const user of page) comparison.addCloud(user);
    read += page.length;
    onCloudPage?.(read);
  });
  return comparison.report(namesAt(scan.users, comparison.positionsToName()));
}
