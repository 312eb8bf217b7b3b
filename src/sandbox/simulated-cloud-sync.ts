/**
 * Entra Cloud Sync as the sandbox's tenant sees it. What it provisions is what the Graph simulator's
 * Cloud Sync job says, read the way the real service is configured: the job must be Active (not
 * Paused), and its schema's scope (`containerFilter.includedContainers`, an empty list meaning the
 * whole domain) names the OUs. An OU that enters the scope gets a first (initial) cycle a short while
 * later that provisions its users into the Graph simulator, matched by source anchor, and writes
 * provisioning log entries for its job the way the real service does (a success per provisioned or
 * matched user, a failure per failed hard match). Then, like the real service (every 2 minutes or
 * so), it runs a cycle per OU on an interval: users that appeared in the OU since are provisioned,
 * users whose DN, UPN or enabled state changed are updated, and each of those gets a log entry; a
 * hard-match failure is logged once. An OU taken out of the scope, or a paused job, stops its cycles.
 * A user the job created that is gone from the OU (deleted in AD, like step 12's canary) is deleted
 * from the tenant with a Delete log entry; other users that left the OU are not deleted here, since
 * the simulator cannot tell a move from a deletion. Critical system objects are out of scope, as in
 * the real service's default scope. Groups and contacts of the OU ("What is Microsoft Entra Cloud
 * Sync?": users, groups and contacts) are provisioned and logged too, each once per configuration
 * (identityType Group or Contact): an Entra group with the same onPremisesSecurityIdentifier, or a
 * contact with the same mail, stands for the hard match, since Graph shows no anchor for either;
 * otherwise one is created. Removing groups and contacts is not simulated. Sandbox and tests only:
 * it reads the simulator and writes to it.
 */
import { randomUUID } from 'node:crypto';
import type { Directory } from '../directory/types';
import { guidString } from '../runbook/cloud-sync-evidence';
import { canonicalDn } from '../runbook/dn';
import { sourceAnchor } from '../runbook/ou-comparison';
import { connectSyncFilters } from '../runbook/connect-sync-scope';
import type { Logger } from '../shared/logger';
import type { GraphSimulator, SimContact, SimGroup, SimProvisioningEvent, SimUser } from './graph-simulator';
import { SIMULATED_CLOUD_SYNC_JOB_ID, SIMULATED_CLOUD_SYNC_SP_ID } from './sim-synchronization';
import { domainOf, idFor } from './tenant-from-directory';

export { SIMULATED_CLOUD_SYNC_JOB_ID, SIMULATED_CLOUD_SYNC_SP_ID } from './sim-synchronization';
/** About how often the real service runs its cycle. */
export const DEFAULT_CYCLE_INTERVAL_MS = 2 * 60_000;

export interface ProvisioningCycle {
  /** The OU as the job's scope names it (the domain's naming context when the scope filters nothing). */
  baseDn: string;
  /** The first cycle of a configuration reads every user; later ones act on what changed. */
  kind: 'initial' | 'incremental';
  /** DNs of users created in the tenant. */
  created: string[];
  /** DNs of users whose cloud object was updated (DN, UPN or enabled state changed on-premises). */
  updated: string[];
  /** DNs of users it created earlier that were gone from the OU, now deleted from the tenant. */
  deleted: string[];
  /** Groups and contacts logged by this cycle (first seen by this configuration): matched or created. */
  others: { group: { matched: number; created: string[] }; contact: { matched: number; created: string[] } };
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
  graph: GraphSimulator;
  /** The on-premises directory the provisioning agent reads. */
  connectDirectory: () => Promise<Directory>;
  /** From an OU entering the scope to its first cycle. */
  delayMs: number;
  /** Between the end of one cycle of a configuration and the start of its next. */
  cycleIntervalMs?: number;
  /** How often the job's status and scope are read. */
  pollMs?: number;
  logger?: Logger;
  now?: () => Date;
}

export interface SimulatedCloudSync {
  /** Provisioning cycles so far, oldest first. */
  cycles(): ProvisioningCycle[];
  /** OUs in the running job's scope (provisioned or waiting for the delay), as the scope names them. */
  configured(): string[];
  /** Resolves with the first cycle of this OU (any OU when omitted), waiting for it when needed. */
  cycleFor(baseDn?: string): Promise<ProvisioningCycle>;
  /** Resolves with the next cycle of this OU (any OU when omitted) that starts after this call. */
  nextCycleFor(baseDn?: string): Promise<ProvisioningCycle>;
  /** Reads the job once now (tests use it instead of waiting for the next poll). */
  pollNow(): Promise<void>;
  stop(): Promise<void>;
}

interface Configuration {
  baseDn: string;
  /** Cleared when the OU leaves the scope or the job is paused: no further cycle is scheduled. */
  live: boolean;
  cycles: number;
  /** Hard-match failures already in the logs; the real service retries them quietly. */
  reportedConflicts: Set<string>;
  /** Cloud ids of the users this configuration created, by source anchor. */
  createdByAnchor: Map<string, string>;
  /** Groups and contacts (by DN key) this configuration has logged: each gets one entry. */
  loggedOthers: Set<string>;
}

interface Waiter {
  /** dnKey-style comparable key of the OU, or null for any OU. */
  key: string | null;
  /** undefined: the first cycle; otherwise cycles that started after this many had. */
  after: number | undefined;
  resolve(cycle: ProvisioningCycle): void;
}

/** A group or contact of the OU that Connect Sync's default rules would export. */
interface OnPremOther {
  type: 'group' | 'contact';
  dn: string;
  objectGuid: string;
  /** Groups: objectSid as S-1-5-…; contacts: mail (lower case); what Entra is searched by. */
  key: string | null;
  displayName: string;
  sam: string | null;
  mail: string | null;
  groupType: number | null;
}

interface OnPremUser {
  dn: string;
  anchor: string;
  /** objectGUID as a GUID string: the source id the log entries name. */
  objectGuid: string;
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
  /** Comparable OU key → its configuration while the OU is in the running job's scope. */
  const configurations = new Map<string, Configuration>();
  const timers = new Set<NodeJS.Timeout>();
  const inFlight = new Set<Promise<void>>();
  let stopped = false;

  const readOu = async (baseDn: string): Promise<{ nc: string; users: OnPremUser[]; others: OnPremOther[] }> => {
    const directory = await options.connectDirectory();
    const users: OnPremUser[] = [];
    const others: OnPremOther[] = [];
    try {
      const nc = await directory.defaultNamingContext();
      await directory.scanUsers(baseDn, {
        objectTypes: 'all',
        onPage: (page) => {
          // Cloud Sync's default scope leaves at least critical system objects, CAS_ nicknames and
          // conflict objects out (docs/verify.md); the simulation leaves out all that Connect Sync's
          // default rules filter, which its exclusion of MSOL_/AAD_ accounts is unverified against.
          for (const u of page) {
            const type = u.objectType ?? 'user';
            if (type === 'inetOrgPerson' || connectSyncFilters({ ...u, type }).length > 0) continue;
            if (type === 'group' || type === 'contact') {
              others.push({
                type,
                dn: u.dn,
                objectGuid: guidString(u.objectGuid),
                key: type === 'group' ? (u.sid?.toUpperCase() ?? null) : (u.mail?.toLowerCase() ?? null),
                displayName: u.displayName ?? u.samAccountName ?? u.dn,
                sam: u.samAccountName,
                mail: u.mail ?? null,
                groupType: u.groupType ?? null,
              });
              continue;
            }
            users.push({
              dn: u.dn,
              anchor: sourceAnchor(u.objectGuid, u.consistencyGuid),
              objectGuid: guidString(u.objectGuid),
              sam: u.samAccountName,
              upn: u.userPrincipalName,
              disabled: u.disabled,
            });
          }
        },
      });
      return { nc, users, others };
    } finally {
      await directory.close().catch(() => undefined);
    }
  };

  const runCycle = async (config: Configuration): Promise<void> => {
    const startedAs = ++started;
    const kind = config.cycles === 0 ? 'initial' : 'incremental';
    const { nc, users: onPrem, others } = await readOu(config.baseDn);
    const syncedAt = now().toISOString();
    const tenant = options.graph.users();
    const byAnchor = new Map<string, SimUser>();
    const byDn = new Map<string, SimUser>();
    for (const u of tenant) {
      if (u.onPremisesImmutableId) byAnchor.set(u.onPremisesImmutableId, u);
      const keys = u.onPremisesDistinguishedName ? canonicalDn(u.onPremisesDistinguishedName) : null;
      if (keys) byDn.set(keys.join(','), u);
    }
    /** Entra object id → the AD object it was matched to (or created from). */
    const matched = new Map<string, OnPremUser>();
    const changed = new Map<string, SimUser>();
    const created: { user: SimUser; source: OnPremUser }[] = [];
    const conflicts: string[] = [];
    for (const u of onPrem) {
      const existing = byAnchor.get(u.anchor);
      if (existing) {
        matched.set(existing.id, u);
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
        source: u,
        user: {
          id: idFor(`cloud-sync:${u.dn}`),
          userPrincipalName: u.upn ?? `${u.sam ?? idFor(u.dn).slice(0, 8)}@${domainOf(nc)}`,
          accountEnabled: !u.disabled,
          onPremisesSyncEnabled: true,
          onPremisesDistinguishedName: u.dn,
          onPremisesImmutableId: u.anchor,
          onPremisesSamAccountName: u.sam,
          onPremisesLastSyncDateTime: syncedAt,
        },
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
    for (const { user: u } of created) config.createdByAnchor.set(u.onPremisesImmutableId!, u.id);
    // The initial cycle touches every matched object; a later one only what changed.
    const touched = new Set(kind === 'initial' ? matched.keys() : changed.keys());
    options.graph.setUsers([
      ...tenant
        .filter((u) => !deletedIds.has(u.id))
        .map((u) => changed.get(u.id) ?? (touched.has(u.id) ? { ...u, onPremisesLastSyncDateTime: syncedAt } : u)),
      ...created.map((c) => c.user),
    ]);
    const newConflicts = conflicts.filter((dn) => !config.reportedConflicts.has(dn));
    for (const dn of newConflicts) config.reportedConflicts.add(dn);
    const byId = new Map(tenant.map((u) => [u.id, changed.get(u.id) ?? u]));
    // One entry per object this cycle provisioned, in provisioningObjectSummary's shape: the AD
    // object (objectGUID) as sourceIdentity, the Entra object as targetIdentity. Only what this
    // configuration read from its own scope is logged; users Connect Sync synced and this cycle did
    // not touch get nothing, as Connect Sync writes no provisioning logs.
    const cycleId = randomUUID();
    const entry = (
      source: OnPremUser | { dn: string; objectGuid: string | null },
      target: SimUser | null,
      outcome: Pick<SimProvisioningEvent, 'status' | 'action' | 'errorCode' | 'reason'>,
    ): SimProvisioningEvent => ({
      activityDateTime: syncedAt,
      jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
      cycleId,
      sourceId: source.objectGuid,
      targetId: target?.id ?? null,
      sourceDisplayName: target?.userPrincipalName ?? source.dn,
      identityType: 'User',
      servicePrincipal: { id: SIMULATED_CLOUD_SYNC_SP_ID, name: domainOf(nc) },
      ...outcome,
    });
    const events: SimProvisioningEvent[] = [
      ...created.map((c) => entry(c.source, c.user, { status: 'success', action: 'create' })),
      ...[...touched].map((id) => entry(matched.get(id)!, byId.get(id)!, { status: 'success', action: 'update' })),
      // The AD object is gone; its objectGUID is the anchor's bytes (this configuration created it from them).
      ...deleted.map((u) =>
        entry({ dn: u.onPremisesDistinguishedName ?? u.id, objectGuid: guidFromAnchor(u.onPremisesImmutableId) }, u, {
          status: 'success',
          action: 'delete',
        }),
      ),
      ...newConflicts.map((dn) =>
        entry(onPrem.find((u) => u.dn === dn) ?? { dn, objectGuid: null }, null, {
          status: 'failure',
          action: 'create',
          errorCode: 'SimulatedHardMatchConflict',
          reason:
            'A cloud user with this distinguished name has a different onPremisesImmutableId, so the hard match failed.',
        }),
      ),
    ];
    const provisionedOthers = provisionOthers(options.graph, config, others);
    events.push(
      ...provisionedOthers.logged.map(({ source, targetId, created }) => ({
        activityDateTime: syncedAt,
        jobId: SIMULATED_CLOUD_SYNC_JOB_ID,
        cycleId,
        sourceId: source.objectGuid,
        targetId,
        sourceDisplayName: source.displayName,
        identityType: source.type === 'group' ? 'Group' : 'Contact',
        servicePrincipal: { id: SIMULATED_CLOUD_SYNC_SP_ID, name: domainOf(nc) },
        status: 'success' as const,
        action: created ? ('create' as const) : ('update' as const),
      })),
    );
    options.graph.addProvisioningEvents(events);
    config.cycles += 1;
    const cycle: ProvisioningCycle = {
      baseDn: config.baseDn,
      kind,
      created: created.map((c) => c.user.onPremisesDistinguishedName ?? c.user.id),
      updated: [...changed.values()].map((u) => u.onPremisesDistinguishedName ?? u.id),
      deleted: deleted.map((u) => u.onPremisesDistinguishedName ?? u.id),
      matched: matched.size,
      conflicts,
      others: provisionedOthers.summary,
      at: now(),
    };
    cycles.push(cycle);
    if (kind === 'initial' || created.length > 0 || changed.size > 0 || deleted.length > 0) {
      options.logger?.info(
        {
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
      (w.key === null || w.key === keyOf(config.baseDn)) &&
      (w.after === undefined ? kind === 'initial' : startedAs > w.after);
    for (const waiters of [firstWaiters, nextWaiters]) {
      for (const w of waiters.filter(due)) {
        waiters.splice(waiters.indexOf(w), 1);
        w.resolve(cycle);
      }
    }
  };

  /** Runs a cycle after `afterMs`, then keeps doing so every interval until stopped. */
  const schedule = (config: Configuration, afterMs: number): void => {
    if (stopped || !config.live) return;
    const timer = setTimeout(() => {
      timers.delete(timer);
      if (stopped || !config.live) return;
      const run = runCycle(config)
        .catch((err: Error) =>
          options.logger?.error(
            { baseDn: config.baseDn, err: err.message },
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

  const configure = (baseDn: string): void => {
    const key = keyOf(baseDn);
    if (configurations.has(key)) return;
    const config: Configuration = {
      baseDn,
      live: true,
      cycles: 0,
      reportedConflicts: new Set(),
      createdByAnchor: new Map(),
      loggedOthers: new Set(),
    };
    configurations.set(key, config);
    options.logger?.info(
      { baseDn, delayMs: options.delayMs, cycleIntervalMs },
      "simulated Cloud Sync: the OU entered the job's scope; first cycle after the delay",
    );
    schedule(config, options.delayMs);
  };

  /** The job as the simulator serves it: Active with a scope, or nothing runs. */
  const poll = async (): Promise<void> => {
    const job = options.graph.cloudSync();
    const wanted = new Map<string, string>();
    if (job.statusCode === 'Active' && job.includedContainers.length > 0) {
      // Every rule must include an OU for its objects to flow; an empty list filters nothing.
      if (job.includedContainers.some((list) => list.length === 0)) {
        const directory = await options.connectDirectory();
        try {
          const nc = await directory.defaultNamingContext();
          wanted.set(keyOf(nc), nc);
        } finally {
          await directory.close().catch(() => undefined);
        }
      } else {
        const [first, ...others] = job.includedContainers;
        for (const dn of first!)
          if (others.every((list) => list.some((d) => keyOf(d) === keyOf(dn)))) wanted.set(keyOf(dn), dn);
      }
    }
    for (const [key, config] of configurations)
      if (!wanted.has(key)) {
        config.live = false;
        configurations.delete(key);
        options.logger?.info({ baseDn: config.baseDn }, "simulated Cloud Sync: the OU left the job's scope");
      }
    for (const dn of wanted.values()) configure(dn);
  };

  let polling: Promise<void> = Promise.resolve();
  // One poll at a time: a slow directory must not pile them up.
  const enqueuePoll = (): Promise<void> =>
    (polling = polling.catch(() => undefined).then(() => (stopped ? undefined : poll())));
  const interval = setInterval(() => {
    enqueuePoll().catch((err: Error) =>
      options.logger?.warn({ err: err.message }, 'simulated Cloud Sync could not read its job'),
    );
  }, pollMs);

  return {
    cycles: () => [...cycles],
    configured: () => [...configurations.values()].map((c) => c.baseDn),
    cycleFor: (baseDn) => {
      const key = baseDn === undefined ? null : keyOf(baseDn);
      const done = cycles.find((c) => key === null || keyOf(c.baseDn) === key);
      return done
        ? Promise.resolve(done)
        : new Promise((resolve) => firstWaiters.push({ key, after: undefined, resolve }));
    },
    nextCycleFor: (baseDn) =>
      new Promise((resolve) =>
        nextWaiters.push({ key: baseDn === undefined ? null : keyOf(baseDn), after: started, resolve }),
      ),
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

/**
 * The OU's groups and contacts this configuration has not logged yet: each is matched to the Entra
 * object with its SID (groups) or mail (contacts), or created, and returned for one log entry.
 */
function provisionOthers(
  graph: GraphSimulator,
  config: Configuration,
  others: OnPremOther[],
): {
  logged: { source: OnPremOther; targetId: string; created: boolean }[];
  summary: ProvisioningCycle['others'];
} {
  const summary: ProvisioningCycle['others'] = {
    group: { matched: 0, created: [] },
    contact: { matched: 0, created: [] },
  };
  const logged: { source: OnPremOther; targetId: string; created: boolean }[] = [];
  const groups = graph.groups();
  const contacts = graph.contacts();
  const newGroups: SimGroup[] = [];
  const newContacts: SimContact[] = [];
  for (const o of others) {
    const dnKey = `${o.type}:${keyOf(o.dn)}`;
    if (config.loggedOthers.has(dnKey)) continue;
    const existing =
      o.key === null
        ? undefined
        : o.type === 'group'
          ? groups.find((g) => g.onPremisesSecurityIdentifier?.toUpperCase() === o.key)
          : contacts.find((c) => c.mail?.toLowerCase() === o.key);
    config.loggedOthers.add(dnKey);
    if (existing) {
      summary[o.type].matched++;
      logged.push({ source: o, targetId: existing.id, created: false });
      continue;
    }
    const id = idFor(`cloud-sync:${o.type}:${o.dn}`);
    if (o.type === 'group')
      newGroups.push({
        id,
        displayName: o.displayName,
        onPremisesSyncEnabled: true,
        onPremisesSecurityIdentifier: o.key,
        onPremisesSamAccountName: o.sam,
        securityEnabled: o.groupType !== null && (o.groupType & 0x80000000) !== 0,
        mailEnabled: !!o.mail,
        mail: o.mail,
      });
    else newContacts.push({ id, displayName: o.displayName, mail: o.mail, onPremisesSyncEnabled: true });
    summary[o.type].created.push(o.dn);
    logged.push({ source: o, targetId: id, created: true });
  }
  if (newGroups.length > 0) graph.setGroups([...groups, ...newGroups]);
  if (newContacts.length > 0) graph.setContacts([...contacts, ...newContacts]);
  return { logged, summary };
}

function guidFromAnchor(anchor: string | null): string | null {
  const bytes = anchor ? Buffer.from(anchor, 'base64') : null;
  return bytes && bytes.length === 16 ? guidString(bytes) : null;
}

/** OUs compare as AD compares DNs: the scope may spell one differently from the directory. */
function keyOf(dn: string): string {
  return (canonicalDn(dn) ?? [dn]).join(',');
}
