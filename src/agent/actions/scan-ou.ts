import type { Directory, DirectoryUser } from '../../directory/types';
import type { ScanOuPayload, ScanOuResult, ScannedUser } from '../../relay/protocol';
import { connectSyncFilters } from '../../runbook/connect-sync-scope';
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
    objectTypes: 'all',
    onPage: async (page, scannedSoFar) => {
      if (!payload.countOnly) for (const u of page) users.push(toScannedUser(u));
      await onProgress(scannedSoFar);
    },
  });
  return { action: 'directory.scanOu', baseDn, defaultNamingContext, totals, users };
}

/**
 * One object as it goes to the bot: what the comparison needs, and the rest only when set, so lines
 * stay small. Connect Sync's default scope is applied here, where the attributes it reads are at hand.
 */
export function toScannedUser(u: DirectoryUser): ScannedUser {
  const type = u.objectType ?? 'user';
  const user: ScannedUser = { dn: u.dn, anchor: sourceAnchor(u.objectGuid, u.consistencyGuid), disabled: u.disabled };
  // The objectGUID too when the anchor is other bytes: a Cloud Sync log entry may name the object by
  // either (docs/verify.md). Equal, it would only repeat the anchor on every line. Only an object
  // whose ms-DS-ConsistencyGuid is the anchor can differ, so the others allocate nothing more.
  const cg = u.consistencyGuid;
  if (cg && cg.length === 16 && u.objectGuid.length === 16 && !u.objectGuid.equals(cg))
    user.objectGuid = u.objectGuid.toString('base64');
  if (type !== 'user') user.type = type;
  if (u.criticalSystemObject) user.criticalSystemObject = true;
  const filteredBy = connectSyncFilters({ ...u, type });
  if (filteredBy.length > 0) user.filteredBy = filteredBy;
  if (type === 'group') {
    if (u.sid) user.sid = u.sid;
    if (u.consistencyGuid && u.consistencyGuid.length === 16) user.consistencyGuid = true;
  }
  if (type === 'contact' && u.mail) user.mail = u.mail;
  return user;
}
