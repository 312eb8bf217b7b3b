import type { CloudDirectory } from '../cloud/types';
import type { CloudUser, CloudUserChange } from '../runbook/cloud-users';
import { AppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';

export interface SnapshotRefresh {
  mode: 'full' | 'delta';
  changesApplied: number;
  users: CloudUser[];
}

/**
 * Keeps a per-migration copy of the tenant's synced users current with Graph's users delta query:
 * one full read the first time, then only what changed since the stored deltaLink. A daily summary
 * then costs a handful of requests instead of paging every user of the tenant again.
 */
export async function refreshCloudSnapshot(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  now: Date;
  logger: Logger;
}): Promise<SnapshotRefresh> {
  const { store, cloud, migrationId, now, logger } = input;
  const snapshot = await store.cloudSnapshots.getSnapshot(migrationId);
  const read = async (deltaLink: string | null) => {
    const changes = new Map<string, CloudUserChange>();
    const round = await cloud.usersDelta(deltaLink, (page) => {
      for (const change of page) changes.set(change.id, mergeChange(changes.get(change.id), change));
    });
    return { changes: [...changes.values()], deltaLink: round.deltaLink };
  };
  let mode: 'full' | 'delta' = snapshot ? 'delta' : 'full';
  let round;
  try {
    round = await read(snapshot?.deltaLink ?? null);
  } catch (err) {
    // An expired or unknown delta token (Graph answers 410 Gone / 400) means: start over with a full round.
    const status = err instanceof AppError ? (err.details as { status?: number } | undefined)?.status : undefined;
    if (!snapshot || (status !== 410 && status !== 400)) throw err;
    logger.warn({ migrationId, status }, 'delta token no longer valid; reading all users again');
    mode = 'full';
    round = await read(null);
  }
  // A full round replaces the copy; a delta round is applied on top, in one transaction either way.
  await store.cloudSnapshots.applyCloudChanges({
    migrationId,
    changes: round.changes,
    deltaLink: round.deltaLink,
    full: mode === 'full',
    now,
  });
  return { mode, changesApplied: round.changes.length, users: await store.cloudSnapshots.cloudUsers(migrationId) };
}

/**
 * Graph may return one user more than once in a round (its docs say to expect it). Entries are
 * folded in arrival order: a removal wipes what came before, a later entry after a removal brings
 * the user back, and later properties win over earlier ones.
 */
export function mergeChange(earlier: CloudUserChange | undefined, later: CloudUserChange): CloudUserChange {
  if (!earlier || later.removed || earlier.removed) return later;
  return { ...earlier, ...later, removed: false };
}
