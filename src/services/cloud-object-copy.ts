import { isExpiredDeltaToken } from '../cloud/delta-token';
import type { CloudDirectory } from '../cloud/types';
import type { CloudObjectChange, CopiedObjectType } from '../runbook/cloud-users';
import { AppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';
import type { SnapshotRefresh } from './cloud-snapshot';
import { mergeChange } from './cloud-snapshot';
import type { ObjectCopyReaders } from './compare-ou';

/** How often a refresh starts again when another one changed the copy while it read. */
const MAX_CONFLICTS = 2;

/** One refresh at a time per migration and type in this process (as for the users copy). */
const running = new Map<string, Promise<unknown>>();

type DeltaRound = (
  deltaLink: string | null,
  onPage: (changes: CloudObjectChange[]) => void | Promise<void>,
) => Promise<{ deltaLink: string; changes: number }>;

/** The delta query this cloud directory offers for the type, or null (then a verify reads the type whole). */
export function deltaQueryFor(cloud: CloudDirectory, type: CopiedObjectType): DeltaRound | null {
  const round = type === 'group' ? cloud.groupsDelta : cloud.contactsDelta;
  return round ? round.bind(cloud) : null;
}

/**
 * Keeps a migration's copy of the tenant's synced groups or contacts current with that type's delta
 * query (/groups/delta, /contacts/delta), the way refreshCloudSnapshot keeps the users copy. Without a
 * copy, or when Graph no longer takes the stored deltaLink (410 Gone, or 400 syncStateNotFound), one
 * whole round from scratch is read and replaces the type's objects; otherwise only what changed since
 * the stored deltaLink. Callers read the copy back with store.cloudObjectCopies.readObjects.
 */
export function refreshObjectCopy(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  type: CopiedObjectType;
  now: Date;
  logger: Logger;
}): Promise<SnapshotRefresh> {
  const key = `${input.migrationId}:${input.type}`;
  const previous = running.get(key) ?? Promise.resolve();
  const next = previous.catch(() => undefined).then(() => refreshOnce(input));
  running.set(key, next);
  const forget = (): void => {
    if (running.get(key) === next) running.delete(key);
  };
  next.then(forget, forget);
  return next;
}

async function refreshOnce(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  type: CopiedObjectType;
  now: Date;
  logger: Logger;
}): Promise<SnapshotRefresh> {
  const { store, cloud, migrationId, type, logger } = input;
  const delta = deltaQueryFor(cloud, type);
  if (!delta)
    throw new AppError('CLOUD.ERROR', `This cloud directory has no ${type} delta query, so no ${type} copy is kept.`);
  const started = performance.now();
  for (let attempt = 0; ; attempt++) {
    const copy = await store.cloudObjectCopies.getCopy(migrationId, type);
    let outcome: Omit<SnapshotRefresh, 'ms'> | null;
    if (!copy) outcome = await round({ ...input, delta, from: null, reason: 'first' });
    else {
      try {
        outcome = await round({ ...input, delta, from: copy.deltaLink });
      } catch (err) {
        if (!isExpiredDeltaToken(err)) throw err;
        const details = (err as AppError).details as { status?: number; graphCode?: string } | undefined;
        logger.warn(
          { migrationId, type, status: details?.status, graphCode: details?.graphCode },
          `${type} delta token no longer valid; reading all of them again`,
        );
        outcome = await round({ ...input, delta, from: null, reason: 'expired', expect: copy.deltaLink });
      }
    }
    if (outcome) return { ...outcome, ms: performance.now() - started };
    if (attempt >= MAX_CONFLICTS)
      throw new AppError(
        'STORE.ERROR',
        `The ${type} copy of migration ${migrationId} kept changing while it was refreshed (${attempt + 1} tries).`,
        { hint: 'Another SyncShift instance is refreshing it at the same time; try again in a minute.' },
      );
    logger.info(
      { migrationId, type, attempt: attempt + 1 },
      `the ${type} copy changed while it was refreshed; reading again`,
    );
  }
}

/**
 * One delta round: from the stored link (`from`), or from scratch (a full read: every object, which
 * replaces the copy). Repeats of one object in a round are folded in arrival order before writing.
 * Null when the copy moved on meanwhile (the store refused the write).
 */
async function round(input: {
  store: Store;
  migrationId: string;
  type: CopiedObjectType;
  now: Date;
  delta: DeltaRound;
  from: string | null;
  reason?: 'first' | 'expired';
  /** The link the copy must still hold for a full read to replace it (null: no copy yet). */
  expect?: string | null;
}): Promise<Omit<SnapshotRefresh, 'ms'> | null> {
  const changes = new Map<string, CloudObjectChange>();
  let pages = 0;
  const read = await input.delta(input.from, (page) => {
    pages += 1;
    for (const change of page) changes.set(change.id, mergeChange(changes.get(change.id), change));
  });
  const full = input.from === null;
  const applied = await input.store.cloudObjectCopies.applyChanges({
    migrationId: input.migrationId,
    type: input.type,
    // A whole round's removals are of objects the copy no longer holds anyway.
    changes: full ? [...changes.values()].filter((c) => !c.removed) : [...changes.values()],
    deltaLink: read.deltaLink,
    full,
    now: input.now,
    expectDeltaLink: full ? (input.expect ?? null) : input.from,
  });
  if (!applied) return null;
  // A full read counts the synced objects it found, as the users copy's does.
  const synced = [...changes.values()].filter((c) => !c.removed && c.onPremisesSyncEnabled === true).length;
  return full
    ? { mode: 'full', reason: input.reason ?? 'first', changesApplied: synced, pages }
    : { mode: 'delta', changesApplied: changes.size, pages };
}

/** How a verify read one object type from its copy, for the card. */
export interface ObjectCopyRead {
  mode: 'full' | 'delta';
  reason?: 'first' | 'expired';
  /** Objects read (full) or changes applied (delta). */
  count: number;
}

/**
 * Readers for compareOuWithCopy: each refreshes its type's copy by its delta query when the compare
 * asks for it (only when the OU holds that type), records how in `notes`, and streams the copy.
 * Types this cloud directory has no delta query for get no reader and are read from Graph whole.
 */
export function objectCopyReaders(input: {
  store: Store;
  cloud: CloudDirectory;
  migrationId: string;
  now: Date;
  logger: Logger;
  notes: Partial<Record<CopiedObjectType, ObjectCopyRead>>;
}): ObjectCopyReaders {
  const { store, migrationId } = input;
  const refreshed = async (type: CopiedObjectType): Promise<void> => {
    const r = await refreshObjectCopy({ ...input, type });
    input.notes[type] = { mode: r.mode, ...(r.reason ? { reason: r.reason } : {}), count: r.changesApplied };
    input.logger.info(
      {
        migrationId,
        type,
        cloudRead: r.mode,
        reason: r.reason,
        changes: r.changesApplied,
        pages: r.pages,
        ms: Math.round(r.ms),
      },
      `${type} copy refreshed`,
    );
  };
  const readers: ObjectCopyReaders = {};
  if (deltaQueryFor(input.cloud, 'group'))
    readers.group = async (onPage) => {
      await refreshed('group');
      return store.cloudObjectCopies.readObjects(migrationId, 'group', (page) =>
        onPage(page.map((o) => ({ id: o.id, displayName: o.displayName, onPremisesSecurityIdentifier: o.key }))),
      );
    };
  if (deltaQueryFor(input.cloud, 'contact'))
    readers.contact = async (onPage) => {
      await refreshed('contact');
      return store.cloudObjectCopies.readObjects(migrationId, 'contact', (page) =>
        onPage(page.map((o) => ({ id: o.id, displayName: o.displayName, mail: o.key }))),
      );
    };
  return readers;
}
