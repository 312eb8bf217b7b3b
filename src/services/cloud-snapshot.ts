import { isExpiredDeltaToken } from '../cloud/delta-token';
import type { CloudDirectory } from '../cloud/types';
import type { CloudUserChange } from '../runbook/cloud-users';
import { AppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';

export interface SnapshotRefresh {
  mode: 'full' | 'delta';
  /**
   * Why a full read: 'first' (no copy yet) or 'expired' (Graph no longer serves changes since the
   * stored deltaLink, and said so). Absent for a delta round.
   */
  reason?: 'first' | 'expired';
  /** Users read (full) or changes applied (delta). */
  changesApplied: number;
  /** Graph requests that returned a page (retries not counted). */
  pages: number;
  /** Wall time of the refresh. */
  ms: number;
}

/** How often a refresh starts again when another one changed the copy while it read. */
const MAX_CONFLICTS = 2;

/**
 * One refresh at a time per migration in this process: a verify and a summary, or two verifies,
 * asking at once read one delta round each, in turn, instead of both from the same deltaLink.
 * Other instances are kept apart by the store's conditional writes (expectDeltaLink).
 */
const running = new Map<string, Promise<unknown>>();

/**
 * Keeps a per-migration copy of the tenant's synced users current with Graph's users delta query.
 * Without a copy (or when the stored delta token expired) it reads the synced users once through
 * /users ($top=999, filtered on onPremisesSyncEnabled) after asking for a deltaLink from now on
 * (`$deltatoken=latest`), and writes them page by page as they arrive; after that only what changed
 * since the stored deltaLink is read. Callers read the copy back with store.cloudSnapshots.readCloudUsers.
 *
 * Seam for other object types (groups, contacts): each keeps its own copy and deltaLink and is
 * refreshed the same way, with its own delta query; this function is the users' one.
 */
export function refreshCloudSnapshot(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  now: Date;
  logger: Logger;
}): Promise<SnapshotRefresh> {
  const previous = running.get(input.migrationId) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => refreshOnce(input));
  running.set(input.migrationId, next);
  const forget = (): void => {
    if (running.get(input.migrationId) === next) running.delete(input.migrationId);
  };
  next.then(forget, forget);
  return next;
}

async function refreshOnce(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  now: Date;
  logger: Logger;
}): Promise<SnapshotRefresh> {
  const { store, cloud, migrationId, now, logger } = input;
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    const snapshot = await store.cloudSnapshots.getSnapshot(migrationId);
    let outcome: Omit<SnapshotRefresh, 'ms'> | null;
    if (!snapshot) outcome = await fullRead({ store, cloud, migrationId, now, expectDeltaLink: null, reason: 'first' });
    else {
      try {
        outcome = await deltaRound({ store, cloud, migrationId, now, deltaLink: snapshot.deltaLink });
      } catch (err) {
        if (!isExpiredDeltaToken(err)) throw err;
        const status = (err as AppError).details as { status?: number; graphCode?: string } | undefined;
        logger.warn(
          { migrationId, status: status?.status, graphCode: status?.graphCode },
          'delta token no longer valid; reading all synced users again',
        );
        outcome = await fullRead({
          store,
          cloud,
          migrationId,
          now,
          expectDeltaLink: snapshot.deltaLink,
          reason: 'expired',
        });
      }
    }
    if (outcome) return { ...outcome, ms: performance.now() - started };
    if (attempt >= MAX_CONFLICTS)
      throw new AppError(
        'STORE.ERROR',
        `The cloud copy of migration ${migrationId} kept changing while it was refreshed (${attempt + 1} tries).`,
        { hint: 'Another SyncShift instance is refreshing it at the same time; try again in a minute.' },
      );
    logger.info({ migrationId, attempt: attempt + 1 }, 'the cloud copy changed while it was refreshed; reading again');
  }
}

/** Null when another refresh changed the copy first (the store refused this one). */
async function fullRead(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  now: Date;
  expectDeltaLink: string | null;
  reason: 'first' | 'expired';
}): Promise<Omit<SnapshotRefresh, 'ms'> | null> {
  const { store, cloud, migrationId } = input;
  // The link first: whatever changes while the users are paged comes again in the next round.
  const deltaLink = await cloud.latestUsersDeltaLink();
  const generation = await store.cloudSnapshots.beginFullCopy(migrationId);
  let pages = 1;
  let users = 0;
  // On a failure the rows written so far stay unused; the next full read that finishes drops them.
  await cloud.listSyncedUsers(async (page) => {
    pages += 1;
    users += page.length;
    await store.cloudSnapshots.addToFullCopy(migrationId, generation, page);
  });
  const done = await store.cloudSnapshots.finishFullCopy({
    migrationId,
    generation,
    deltaLink,
    now: input.now,
    expectDeltaLink: input.expectDeltaLink,
  });
  return done ? { mode: 'full', reason: input.reason, changesApplied: users, pages } : null;
}

async function deltaRound(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  now: Date;
  deltaLink: string;
}): Promise<Omit<SnapshotRefresh, 'ms'> | null> {
  const changes = new Map<string, CloudUserChange>();
  let pages = 0;
  const round = await input.cloud.usersDelta(input.deltaLink, (page) => {
    pages += 1;
    for (const change of page) changes.set(change.id, mergeChange(changes.get(change.id), change));
  });
  const applied = await input.store.cloudSnapshots.applyCloudChanges({
    migrationId: input.migrationId,
    changes: [...changes.values()],
    deltaLink: round.deltaLink,
    full: false,
    now: input.now,
    expectDeltaLink: input.deltaLink,
  });
  return applied ? { mode: 'delta', changesApplied: changes.size, pages } : null;
}

/**
 * Graph may return one user more than once in a round (its docs say to expect it). Entries are
 * folded in arrival order: a removal wipes what came before, a later entry after a removal brings
 * the user back, and later properties win over earlier ones. Group and contact rounds fold the same way.
 */
export function mergeChange<T extends { removed: boolean }>(earlier: T | undefined, later: T): T {
  if (!earlier || later.removed || earlier.removed) return later;
  return { ...earlier, ...later, removed: false };
}
