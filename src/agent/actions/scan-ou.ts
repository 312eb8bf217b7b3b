import type { Directory, DirectoryUser } from '../../directory/types';
import type { ScanOuPayload, ScanOuResult, ScannedUser } from '../../relay/protocol';
import { sourceAnchor } from '../../runbook/ou-comparison';
import { resolveOu } from '../resolve-ou';

export type ProgressFn = (scanned: number) => void | Promise<void>;

/**
 * Resolves the OU and lists its users; the bot does the cloud side and the comparison.
 * `checkBase` sees the resolved DN before anything under it is read, and throws to refuse it.
 * With `countOnly` the pages are counted and dropped, so a count of any size holds one page.
 */
export async function scanOu(
  directory: Directory,
  payload: ScanOuPayload,
  onProgress: ProgressFn,
  checkBase: (baseDn: string) => void = () => undefined,
): Promise<ScanOuResult> {
  const { baseDn, defaultNamingContext } = await resolveOu(directory, payload.ou);
  checkBase(baseDn);
  const users: ScannedUser[] = [];
  const totals = await directory.scanUsers(baseDn, {
    ...(payload.pageSize ? { pageSize: payload.pageSize } : {}),
    onPage: async (page, scannedSoFar) => {
      if (!payload.countOnly) for (const u of page) users.push(toScannedUser(u));
      await onProgress(scannedSoFar);
    },
  });
  return { action: 'directory.scanOu', baseDn, defaultNamingContext, totals, users };
}

/** One user as it goes to the bot; the critical-system flag only when set, so lines stay small. */
export function toScannedUser(u: DirectoryUser): ScannedUser {
  const user: ScannedUser = { dn: u.dn, anchor: sourceAnchor(u.objectGuid, u.consistencyGuid), disabled: u.disabled };
  if (u.criticalSystemObject) user.criticalSystemObject = true;
  return user;
}
