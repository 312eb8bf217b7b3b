import type { StepState } from './runbook';
import { stepByCheck } from './steps';

/**
 * One Connect Sync server per migration, and what the other Connect Sync servers may still do.
 *
 * Microsoft's "Staging server and disaster recovery" page (learn.microsoft.com/entra/identity/hybrid/
 * connect/how-to-connect-sync-staging-server): a server in staging mode imports and synchronizes but
 * runs no exports; disabling staging mode makes it export; and configuration changes made on the
 * primary server are the admin's responsibility to make on the staging server as well. So a staging
 * server without the no-flow rules, once promoted, would export the migrated objects again (domain.md
 * section 8). Pure: the service reads the agents and their reads and hands them in.
 */

/** A Connect Sync server other than the migration's own, as SyncShift last read it (or a person decided). */
export interface OtherServer {
  agent: string;
  /** null: never read (or the read failed: readError says why). */
  stagingMode: boolean | null;
  /** Names of the enabled SyncShift rules found there; null: rules not read yet. */
  rulesFound: readonly string[] | null;
  readError: string | null;
  decommissioned: boolean;
}

export type OtherServerVerdict =
  { agent: string; safe: true; why: string } | { agent: string; safe: false; why: string; todo: string };

/** The names of the no-flow rules the migration's rules step created, from its stored evidence. */
export function createdRuleNames(steps: readonly StepState[]): string[] {
  const n = stepByCheck({ kind: 'noFlowRules' }).n;
  const evidence = steps.find((s) => s.n === n)?.evidence as
    { result?: { created?: { name?: unknown }[] }; created?: { name?: unknown }[] } | null | undefined;
  // A done step keeps them under result.created; a partly failed one under created (see step-jobs).
  const created = evidence?.result?.created ?? evidence?.created ?? [];
  return created.map((c) => c.name).filter((name): name is string => typeof name === 'string');
}

/**
 * Is this other Connect Sync server safe to leave running while Connect Sync is stopped for good?
 * Decommissioned (a person said so): yes. In staging mode with every no-flow rule the active server
 * got, enabled: yes. Anything else would, once promoted (or already now, if it is not in staging
 * mode), export the migrated objects again.
 */
export function judgeOtherServer(server: OtherServer, expectedRules: readonly string[]): OtherServerVerdict {
  const { agent } = server;
  if (server.decommissioned) return { agent, safe: true, why: 'decommissioned (confirmed by a person)' };
  if (server.stagingMode === null)
    return {
      agent,
      safe: false,
      why: server.readError ? `could not be read: ${server.readError}` : 'not read yet',
      todo: 'Run /server staging to read it, or confirm it decommissioned with /server decommissioned <agent>.',
    };
  if (!server.stagingMode)
    return {
      agent,
      safe: false,
      why: 'is NOT in staging mode: a second active Connect Sync server exports too',
      todo: 'Only one Connect Sync server may be active. Put it into staging mode (Connect Sync wizard → Configure staging mode) or decommission it.',
    };
  if (server.rulesFound === null)
    return {
      agent,
      safe: false,
      why: 'in staging mode; its sync rules were not read yet',
      todo: 'Run /server staging again to read its rules.',
    };
  const found = new Set(server.rulesFound);
  const missing = expectedRules.filter((name) => !found.has(name));
  if (expectedRules.length === 0)
    return {
      agent,
      safe: false,
      why: 'in staging mode; the active server has no SyncShift no-flow rules to compare with yet',
      todo: 'Create the no-flow rules (the custom sync rules step) first, then the same rules here.',
    };
  if (missing.length > 0)
    return {
      agent,
      safe: false,
      why: `in staging mode without ${missing.length} of the ${expectedRules.length} no-flow rules (${missing.join('; ')}): promoted, it would export the migrated objects again`,
      todo: 'Create the same rules there by hand in the Synchronization Rules Editor (SyncShift refuses to change a staging server), then run /server staging again; or decommission it and confirm with /server decommissioned <agent>.',
    };
  return { agent, safe: true, why: `in staging mode with all ${expectedRules.length} no-flow rules enabled` };
}

/** Why the final stop (step 16) must wait for other Connect Sync servers, or null when none is in the way. */
export function otherServersBlocker(servers: readonly OtherServer[], expectedRules: readonly string[]): string | null {
  const unsafe = servers
    .map((s) => judgeOtherServer(s, expectedRules))
    .filter((v): v is Extract<OtherServerVerdict, { safe: false }> => !v.safe);
  if (unsafe.length === 0) return null;
  return `another Connect Sync server would export the migrated objects again: ${unsafe
    .map((v) => `${v.agent} ${v.why}`)
    .join('; ')}. ${unsafe[0]!.todo}`;
}

/** What step 11's person said about Connect Sync's password hash sync, from its stored evidence. */
export function connectSyncPhs(steps: readonly StepState[], n: number): 'on' | 'off' | null {
  const evidence = steps.find((s) => s.n === n)?.evidence as { connectSyncPhs?: unknown } | null | undefined;
  return evidence?.connectSyncPhs === 'on' || evidence?.connectSyncPhs === 'off' ? evidence.connectSyncPhs : null;
}
