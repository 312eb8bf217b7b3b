/**
 * Entra Cloud Sync as the sandbox's tenant sees it. The runbook records "Cloud Sync is configured
 * for the pilot OU" when step 11 is marked done, and a planned wave's OUs are added to the scope on
 * the wave's date; a short while later (the real service runs every few minutes) this provisions
 * the OU's users into the Graph simulator, matched by source anchor, and writes provisioning log
 * entries for its job the way the real service does (a success per provisioned or matched user, a
 * failure per failed hard match). Sandbox and tests only: it reads what the bot stored and writes
 * to the simulator.
 */
import type { Directory } from '../directory/types';
import { canonicalDn } from '../runbook/dn';
import { sourceAnchor } from '../runbook/ou-comparison';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';
import type { GraphSimulator, SimUser } from './graph-simulator';
import { domainOf, idFor } from './tenant-from-directory';

/** The runbook step where a person configures Cloud Sync scoped to the pilot OU. */
export const CLOUD_SYNC_CONFIGURED_STEP = 11;
/** The step whose evidence holds the resolved pilot OU. */
const PILOT_OU_STEP = 5;
/** The Cloud Sync job id the simulated service writes provisioning logs under (`/summary job` takes it). */
export const SIMULATED_CLOUD_SYNC_JOB_ID = 'AD2AADProvisioning.5a4d60c1.0b7e3c2a-5a4d-4b6e-9f10-000000000011';

export interface ProvisioningCycle {
  migrationId: string;
  baseDn: string;
  /** DNs of users created in the tenant. */
  created: string[];
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
  /** From "configured" being seen to the users appearing in the tenant. */
  delayMs: number;
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
  /** Reads the runbook once now (tests use it instead of waiting for the next poll). */
  pollNow(): Promise<void>;
  stop(): Promise<void>;
}

export function startSimulatedCloudSync(options: SimulatedCloudSyncOptions): SimulatedCloudSync {
  const now = options.now ?? (() => new Date());
  const pollMs = options.pollMs ?? 500;
  const cycles: ProvisioningCycle[] = [];
  const waiters = new Map<string, ((cycle: ProvisioningCycle) => void)[]>();
  /** migration id + OU: each configuration provisions once. */
  const scheduled = new Set<string>();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  const provision = async (migrationId: string, baseDn: string): Promise<void> => {
    const directory = await options.connectDirectory();
    const onPrem: { dn: string; anchor: string; sam: string | null; upn: string | null; disabled: boolean }[] = [];
    let nc: string;
    try {
      nc = await directory.defaultNamingContext();
      await directory.scanUsers(baseDn, {
        onPage: (page) => {
          for (const u of page) onPrem.push({ dn: u.dn, anchor: sourceAnchor(u.objectGuid, u.consistencyGuid), sam: u.samAccountName, upn: u.userPrincipalName, disabled: u.disabled });
        },
      });
    } finally {
      await directory.close().catch(() => undefined);
    }
    const syncedAt = now().toISOString();
    const tenant = options.graph.users();
    const byAnchor = new Map<string, SimUser>();
    const byDn = new Map<string, SimUser>();
    for (const u of tenant) {
      if (u.onPremisesImmutableId) byAnchor.set(u.onPremisesImmutableId, u);
      const keys = u.onPremisesDistinguishedName ? canonicalDn(u.onPremisesDistinguishedName) : null;
      if (keys) byDn.set(keys.join(','), u);
    }
    const touched = new Set<string>();
    const created: SimUser[] = [];
    const conflicts: string[] = [];
    for (const u of onPrem) {
      const existing = byAnchor.get(u.anchor);
      if (existing) {
        touched.add(existing.id);
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
    options.graph.setUsers([...tenant.map((u) => (touched.has(u.id) ? { ...u, onPremisesLastSyncDateTime: syncedAt } : u)), ...created]);
    const byId = new Map(tenant.map((u) => [u.id, u]));
    options.graph.addProvisioningEvents([
      ...[...created, ...[...touched].map((id) => byId.get(id)!)].map((u) => ({ activityDateTime: syncedAt, jobId: SIMULATED_CLOUD_SYNC_JOB_ID, status: 'success' as const, targetId: u.id, sourceDisplayName: u.userPrincipalName })),
      ...conflicts.map((dn) => ({
        activityDateTime: syncedAt,
        jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
        status: 'failure' as const,
        targetId: null,
        sourceDisplayName: dn,
        errorCode: 'SimulatedHardMatchConflict',
        reason: 'A cloud user with this distinguished name has a different onPremisesImmutableId, so the hard match failed.',
      })),
    ]);
    const cycle: ProvisioningCycle = { migrationId, baseDn, created: created.map((u) => u.onPremisesDistinguishedName ?? u.id), matched: touched.size, conflicts, at: now() };
    cycles.push(cycle);
    options.logger?.info({ migrationId, baseDn, created: created.length, matched: touched.size, conflicts: conflicts.length }, 'simulated Cloud Sync provisioned the OU');
    for (const resolve of waiters.get(migrationId) ?? []) resolve(cycle);
    waiters.delete(migrationId);
  };

  /** Each configured OU provisions once, after the delay. */
  const configure = (migrationId: string, baseDn: string, why: string): void => {
    const key = `${migrationId}|${baseDn}`;
    if (scheduled.has(key)) return;
    scheduled.add(key);
    options.logger?.info({ migrationId, baseDn, delayMs: options.delayMs }, `simulated Cloud Sync: configured for ${why}; provisioning after the delay`);
    const timer = setTimeout(() => {
      timers.delete(timer);
      const run = provision(migrationId, baseDn)
        .catch((err: Error) => options.logger?.error({ migrationId, baseDn, err: err.message }, 'simulated Cloud Sync could not provision the OU'))
        .finally(() => inFlight.delete(run));
      inFlight.add(run);
    }, options.delayMs);
    timers.add(timer);
  };

  const poll = async (): Promise<void> => {
    const rows = await options.store.db.query<{ migration_id: string }>(
      `SELECT migration_id::text AS migration_id FROM runbook_steps WHERE n = $1 AND status = 'done'`,
      [CLOUD_SYNC_CONFIGURED_STEP],
    );
    for (const { migration_id: migrationId } of rows) {
      const steps = await options.store.runbook.listSteps(migrationId);
      const baseDn = (steps.find((s) => s.n === PILOT_OU_STEP)?.evidence as { pilotOu?: unknown } | null)?.pilotOu;
      if (typeof baseDn === 'string') configure(migrationId, baseDn, 'the pilot OU');
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
  const enqueuePoll = (): Promise<void> => (polling = polling.catch(() => undefined).then(() => (stopped ? undefined : poll())));
  const interval = setInterval(() => {
    enqueuePoll().catch((err: Error) => options.logger?.warn({ err: err.message }, 'simulated Cloud Sync could not read the runbook'));
  }, pollMs);

  return {
    cycles: () => [...cycles],
    configured: () => [...scheduled],
    cycleFor: (migrationId) => {
      const done = cycles.find((c) => c.migrationId === migrationId);
      if (done) return Promise.resolve(done);
      return new Promise((resolve) => waiters.set(migrationId, [...(waiters.get(migrationId) ?? []), resolve]));
    },
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
