import type { CloudDirectory } from '../cloud/types';
import type { ScanOuResult } from '../relay/protocol';
import { OuComparison, type ComparisonReport } from '../runbook/ou-comparison';

/** The cloud half of a verify: page Graph's synced users into a comparison with the agent's scan. */
export async function compareOuWithCloud(scan: ScanOuResult, cloud: CloudDirectory, onCloudPage?: (read: number) => Promise<void>): Promise<ComparisonReport> {
  const comparison = new OuComparison(scan.baseDn);
  for (const user of scan.users) comparison.addOnPrem(user);
  let read = 0;
  await cloud.listSyncedUsers(async (page) => {
    for (const user of page) comparison.addCloud(user);
    read += page.length;
    if (onCloudPage) await onCloudPage(read);
  });
  return comparison.report();
}
