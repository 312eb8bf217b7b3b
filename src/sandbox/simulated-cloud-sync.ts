/**
 * Entra Cloud Sync as the sandbox's tenant sees it. The runbook records "Cloud Sync is configured
 * for the pilot OU" when step 11 is marked done, and a planned wave's OUs are added to the scope on
 * the wave's date. A short while later the first (initial) cycle provisions the OU's users into the
 * Graph simulator, matched by source anchor, and writes provisioning log entries for its job the way
 * the real service does (a success per provisioned or matched user, a failure per failed hard match).
 * Then, like the real service (every 2 minutes or so), it runs a cycle per configured OU on an
 * interval: users that appeared in the OU since are provisioned, users whose DN, UPN or enabled
 * state changed are updated, and each of those gets a log entry; a hard-match failure is logged once.
 * A user this configuration created that is gone from the OU (deleted in AD, like step 12's canary)
 * is deleted from the tenant with a Delete log entry; other users that left the OU are not deleted
 * here, since the simulator cannot tell a move from a deletion. Critical system objects are out of scope, as in
 * the real service's default scope. Sandbox and tests only: it reads what the bot stored
 * and writes to the simulator.
 */
import type { Directory } from '../directory/types';
import { canonicalDn } from '../runbook/dn';
import { sourceAnchor } from '../runbook/ou-comparison';
import { pilotOu } from '../runbook/step-evidence';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';
import type { GraphSimulator, SimProvisioningEvent, SimUser } from './graph-simulator';
import { domainOf, idFor } from './tenant-from-directory';

/** The runbook step where a person configures Cloud Sync scoped to the pilot OU. */
export const CLOUD_SYNC_CONFIGURED_STEP = 11;
/** The Cloud Sync job id the simulated service writes provisioning logs under (`/summary job` takes it). */
export const SIMULATED_CLOUD_SYNC_JOB_ID = 'AD2AADProvisioning.5a4d60c1.0b7e3c2a-5a4d-4b6e-9f10-000000000011';
/** About how often the real service runs its cycle. */
export const DEFAULT_CYCLE_INTERVAL_MS = 2 * 60_000;

export interface ProvisioningCycle {
  migrationId: string;
  baseDn: string;
  /** The first cycle of a configuration reads every user; later ones act on what changed. */
  kind: 'initial' | 'incremental';
  /** DNs of users created in the tenant. */
  created: string[];
  /** DNs of users whose cloud object was updated (DN, UPN or enabled state changed on-premises). */
  updated: string[];
  /** DNs of users it created earlier that were gone from the OU, now deleted from the tenant. */
  deleted: string[];
  /** Users that already had a cloud object with their source anchor (hard match). */
  matched: number;
  /**
   * DNs whose cloud object carries a different onPremisesImmutableId: the hard match fails and the
   * real service reports an error instead of provisioning, so the simulator leaves them alone.
   */
  conflicts: string[];
  at: Date;
}

export interface SimulatedCloudSyncOptions {
  store: Store;
  graph: GraphSimulator;
  /** The on-premises directory the provisioning agent reads. */
  connectDirectory: () => Promise<Directory>;
  /** From "configured" being seen to the first cycle. */
  delayMs: number;
  /** Between the end of one cycle of a configuration and the start of its next. */
  cycleIntervalMs?: number;
  /** How often the runbook is read. */
  pollMs?: number;
  logger?: Logger;
  now?: () => Date;
}

export interface SimulatedCloudSync {
  /** Provisioning cycles so far, oldest first. */
  cycles(): ProvisioningCycle[];
  /** Configurations seen in the runbook (provisioned or waiting for the delay), as "migrationId|baseDn". */
  configured(): string[];
  /** Resolves with the first cycle for this migration (waits for it when needed). */
  cycleFor(migrationId: string): Promise<ProvisioningCycle>;
  /** Resolves with the next cycle for this migration that starts after this call. */
  nextCycleFor(migrationId: string): Promise<ProvisioningCycle>;
  /** Reads the runbook once now (tests use it instead of waiting for the next poll). */
  pollNow(): Promise<void>;
  stop(): Promise<void>;
}

interface Configuration {
  migrationId: string;
  baseDn: string;
  cycles: number;
  /** Hard-match failures already in the logs; the real service retries them quietly. */
  reportedConflicts: Set<string>;
  /** Cloud ids of the users this configuration created, by source anchor. */
  createdByAnchor: Map<string, string>;
}

interface Waiter {
  migrationId: string;
  /** undefined: the first cycle; otherwise cycles that started after this many had. */
  after: number | undefined;
  resolve(cycle: ProvisioningCycle): void;
}

interface OnPremUser {
  dn: string;
  anchor: string;
  sam: string | null;
  upn: string | null;
  disabled: boolean;
}

export function startSimulatedCloudSync(options: SimulatedCloudSyncOptions): SimulatedCloudSync {
  const now = options.now ?? (() => new Date());
  const pollMs = options.pollMs ?? 500;
  const cycleIntervalMs = options.cycleIntervalMs ?? DEFAULT_CYCLE_INTERVAL_MS;
  const cycles: ProvisioningCycle[] = [];
  const firstWaiters: Waiter[] = [];
  const nextWaiters: Waiter[] = [];
  /** Cycles started so far; a "next cycle" waiter wants one that started after it asked. */
  let started = 0;
  /** "migration id|OU" → its configuration; each is configured once and then cycles. */
  const configurations = new Map<string, Configuration>();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  const readOu = async (baseDn: string): Promise<{ nc: string; users: OnPremUser[] }> => {
    const directory = await options.connectDirectory();
    const users: OnPremUser[] = [];
    try {
      const nc = await directory.defaultNamingContext();
      await directory.scanUsers(baseDn, {
        onPage: (page) => {
          // The default scope leaves critical system objects (Administrator, krbtgt…) out.
          for (const u of page)
            if (!u.criticalSystemObject)
              users.push({
                dn: u.dn,
                anchor: sourceAnchor(u.objectGuid, u.consistencyGuid),
                sam: u.samAccountName,
                upn: u.userPrincipalName,
                disabled: u.disabled,
              });
        },
      });
      return { nc, users };
    } finally {
      await directory.close().catch(() => undefined);
    }
  };

  const runCycle = async (config: Configuration): Promise<void> => {
    const startedAs = ++started;
    const kind = config.cycles === 0 ? 'initial' : 'incremental';
    const { nc, users: onPrem } = await readOu(config.baseDn);
    const syncedAt = now().toISOString();
    const tenant = options.graph.users();
    const byAnchor = new Map<string, SimUser>();
    const byDn = new Map<string, SimUser>();
    for (const u of tenant) {
      if (u.onPremisesImmutableId) byAnchor.set(u.onPremisesImmutableId, u);
      const keys = u.onPremisesDistinguishedName ? canonicalDn(u.onPremisesDistinguishedName) : null;
      if (keys) byDn.set(keys.join(','), u);
    }
    const matched = new Set<string>();
    const changed = new Map<string, SimUser>();
    const created: SimUser[] = [];
    const conflicts: string[] = [];
    for (const u of onPrem) {
      const existing = byAnchor.get(u.anchor);
      if (existing) {
        matched.add(existing.id);
        const upn = u.upn ?? existing.userPrincipalName;
        if (
          existing.onPremisesDistinguishedName !== u.dn ||
          existing.userPrincipalName !== upn ||
          existing.accountEnabled !== !u.disabled ||
          existing.onPremisesSamAccountName !== u.sam
        ) {
          changed.set(existing.id, {
            ...existing,
            onPremisesDistinguishedName: u.dn,
            userPrincipalName: upn,
            accountEnabled: !u.disabled,
            onPremisesSamAccountName: u.sam,
            onPremisesLastSyncDateTime: syncedAt,
          });
        }
        continue;
      }
      const sameDn = byDn.get((canonicalDn(u.dn) ?? []).join(','));
      if (sameDn) {
        conflicts.push(u.dn);
        continue;
      }
      created.push({
        id: idFor(`cloud-sync:${u.dn}`),
        userPrincipalName: u.upn ?? `${u.sam ?? idFor(u.dn).slice(0, 8)}@${domainOf(nc)}`,
        accountEnabled: !u.disabled,
        onPremisesSyncEnabled: true,
        onPremisesDistinguishedName: u.dn,
        onPremisesImmutableId: u.anchor,
        onPremisesSamAccountName: u.sam,
        onPremisesLastSyncDateTime: syncedAt,
      });
    }
    // What this configuration created and is no longer in the OU was deleted on-premises.
    const present = new Set(onPrem.map((u) => u.anchor));
    const deletedIds = new Set<string>();
    for (const [anchor, id] of config.createdByAnchor)
      if (!present.has(anchor)) {
        config.createdByAnchor.delete(anchor);
        deletedIds.add(id);
      }
    const deleted = tenant.filter((u) => deletedIds.has(u.id));
    for (const u of created) config.createdByAnchor.set(u.onPremisesImmutableId!, u.id);
    // The initial cycle touches every matched object; a later one only what changed.
    const touched = new Set(kind === 'initial' ? matched : changed.keys());
    options.graph.setUsers([
      ...tenant
        .filter((u) => !deletedIds.has(u.id))
        .map((u) => changed.get(u.id) ?? (touched.has(u.id) ? { ...u, onPremisesLastSyncDateTime: syncedAt } : u)),
      ...created,
    ]);
    const newConflicts = conflicts.filter((dn) => !config.reportedConflicts.has(dn));
    for (const dn of newConflicts) config.reportedConflicts.add(dn);
    const byId = new Map(tenant.map((u) => [u.id, changed.get(u.id) ?? u]));
    const events: SimProvisioningEvent[] = [
      ...created.map((u) => ({
        activityDateTime: syncedAt,
        jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
        status: 'success' as const,
        action: 'create' as const,
        targetId: u.id,
        sourceDisplayName: u.userPrincipalName,
      })),
      ...[...touched]
        .map((id) => byId.get(id)!)
        .map((u) => ({
          activityDateTime: syncedAt,
          jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
          status: 'success' as const,
          action: 'update' as const,
          targetId: u.id,
          sourceDisplayName: u.userPrincipalName,
        })),
      ...deleted.map((u) => ({
        activityDateTime: syncedAt,
        jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
        status: 'success' as const,
        action: 'delete' as const,
        targetId: u.id,
        sourceDisplayName: u.userPrincipalName,
      })),
      ...newConflicts.map((dn) => ({
        activityDateTime: syncedAt,
        jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
        status: 'failure' as const,
        targetId: null,
        sourceDisplayName: dn,
        errorCode: 'SimulatedHardMatchConflict',
        reason:
          'A cloud user with this distinguished name has a different onPremisesImmutableId, so the hard match failed.',
      })),
    ];
    options.graph.addProvisioningEvents(events);
    config.cycles += 1;
    const cycle: ProvisioningCycle = {
      migrationId: config.migrationId,
      baseDn: config.baseDn,
      kind,
      created: created.map((u) => u.onPremisesDistinguishedName ?? u.id),
      updated: [...changed.values()].map((u) => u.onPremisesDistinguishedName ?? u.id),
      deleted: deleted.map((u) => u.onPremisesDistinguishedName ?? u.id),
      matched: matched.size,
      conflicts,
      at: now(),
    };
    cycles.push(cycle);
    if (kind === 'initial' || created.length > 0 || changed.size > 0 || deleted.length > 0) {
      options.logger?.info(
        {
          migrationId: config.migrationId,
          baseDn: config.baseDn,
          kind,
          created: created.length,
          updated: changed.size,
          deleted: deleted.length,
          matched: matched.size,
          conflicts: conflicts.length,
        },
        'simulated Cloud Sync ran a provisioning cycle',
      );
    }
    const due = (w: Waiter): boolean =>
      w.migrationId === config.migrationId && (w.after === undefined ? kind === 'initial' : startedAs > w.after);
    for (const waiters of [firstWaiters, nextWaiters]) {
      for (const w of waiters.filter(due)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(cycle);
      }
    }
  };

  /** Runs a cycle after `afterMs`, then keeps doing so every interval until stopped. */
  const schedule = (config: Configuration, afterMs: number): void => {
    if (stopped) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped) return;
      const run = runCycle(config)
        .catch((err: Error) =>
          options.logger?.error(
            { migrationId: config.migrationId, baseDn: config.baseDn, err: err.message },
            'simulated Cloud Sync could not run its cycle',
          ),
        )
        .finally(() => {
          inFlight.delete(run);
          schedule(config, cycleIntervalMs);
        });
      inFlight.add(run);
    }, afterMs);
    timers.add(timer);
  };

  const configure = (migrationId: string, baseDn: string, why: string): void => {
    const key = `${migrationId}|${baseDn}`;
    if (configurations.has(key)) return;
    const config: Configuration = {
      migrationId,
      baseDn,
      cycles: 0,
      reportedConflicts: new Set(),
      createdByAnchor: new Map(),
    };
    configurations.set(key, config);
    options.logger?.info(
      { migrationId, baseDn, delayMs: options.delayMs, cycleIntervalMs },
      `simulated Cloud Sync: configured for ${why}; first cycle after the delay`,
    );
    schedule(config, options.delayMs);
  };

  const poll = async (): Promise<void> => {
    const rows = await options.store.db.query<{ migration_id: string }>(
      `SELECT migration_id::text AS migration_id FROM runbook_steps WHERE n = $1 AND status = 'done'`,
      [CLOUD_SYNC_CONFIGURED_STEP],
    );
    for (const { migration_id: migrationId } of rows) {
      const steps = await options.store.runbook.listSteps(migrationId);
      const pilot = pilotOu(steps);
      if (pilot) configure(migrationId, pilot.baseDn, 'the pilot OU');
    }
    // A wave's OUs join the scope on the wave's date (in UTC here; the sandbox does not need more).
    const waves = await options.store.db.query<{ migration_id: string; base_dn: string }>(
      `SELECT w.migration_id::text AS migration_id, o.base_dn FROM waves w JOIN wave_ous o ON o.wave_id = w.id
        WHERE w.removed_at IS NULL AND w.scheduled_for <= $1::date AND o.base_dn IS NOT NULL`,
      [now().toISOString().slice(0, 10)],
    );
    for (const w of waves) configure(w.migration_id, w.base_dn, 'a wave whose date has come');
  };

  let polling: Promise<void> = Promise.resolve();
  // One poll at a time: a slow store must not pile them up.
  const enqueuePoll = (): Promise<void> =>
    (polling = polling.catch(() => undefined).then(() => (stopped ? undefined : poll())));
  const interval = setInterval(() => {
    enqueuePoll().catch((err: Error) =>
      options.logger?.warn({ err: err.message }, 'simulated Cloud Sync could not read the runbook'),
    );
  }, pollMs);

  return {
    cycles: () => [...cycles],
    configured: () => [...configurations.keys()],
    cycleFor: (migrationId) => {
      const done = cycles.find((c) => c.migrationId === migrationId);
      return done
        ? Promise.resolve(done)
        : new Promise((resolve) => firstWaiters.push({ migrationId, after: undefined, resolve }));
    },
    nextCycleFor: (migrationId) => new Promise((resolve) => nextWaiters.push({ migrationId, after: started, resolve })),
    pollNow: () => enqueuePoll(),
    stop: async () => {
      stopped = true;
      clearInterval(interval);
      for (const t of timers) clearTimeout(t);
      timers.clear();
      await polling.catch(() => undefined);
      await Promise.all([...inFlight]);
    },
  };
}
