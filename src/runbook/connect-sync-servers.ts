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
  return ruleNamesIn(steps.find((s) => s.n === n)?.evidence);
}

/** Rule names in a rules change's evidence: a done one keeps them under result.created, a partly failed one under created (see step-jobs). */
function ruleNamesIn(evidence: unknown): string[] {
  const e = evidence as { result?: { created?: unknown }; created?: unknown } | null | undefined;
  const created = Array.isArray(e?.result?.created) ? e.result.created : Array.isArray(e?.created) ? e.created : [];
  return (created as { name?: unknown }[])
    .map((c) => c?.name)
    .filter((name): name is string => typeof name === 'string' && name !== '');
}

/**
 * The rules every other Connect Sync server needs before the final stop: step 9's, and those each
 * wave's rules action created and did not undo (a partly failed creation counts: its rules exist on
 * the active server until the wave's rollback disables them). Waves come in as stored data.
 */
export function expectedRuleNames(
  steps: readonly StepState[],
  waves: readonly { actions: readonly { kind: string; status: string; evidence: unknown }[] }[],
): string[] {
  const names = createdRuleNames(steps);
  for (const wave of waves)
    for (const a of wave.actions)
      if (a.kind === 'rules' && a.status !== 'undone') names.push(...ruleNamesIn(a.evidence));
  return [...new Set(names)];
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

/** The job template Cloud Sync's password hash sync runs under ("How to programmatically configure cloud sync using MS Graph API"). */
export const PASSWORD_HASH_TEMPLATE = 'AD2AADPasswordHash';

/**
 * Whether a job of the configuration is its password hash sync job. Job ids start with their
 * template's name (AD2AADProvisioning.<hex> in Microsoft's example), and that example's answer shows
 * a templateId that is not the one posted, so either is taken.
 */
export function isPasswordHashJob(job: { jobId: string; templateId: string }): boolean {
  return job.templateId === PASSWORD_HASH_TEMPLATE || job.jobId.startsWith(`${PASSWORD_HASH_TEMPLATE}.`);
}

/** Cloud Sync's password hash sync jobs as Graph listed them at step 16's request, or why they were not read. */
export type PhsJobRead =
  | {
      kind: 'read';
      at: Date;
      servicePrincipalId: string;
      /** The AD2AADPasswordHash jobs only; empty: the configuration syncs no password hashes. */
      jobs: readonly { jobId: string; statusCode: string }[];
    }
  /** Graph answered 401/403 (CLOUD.FORBIDDEN): the app may not read the jobs. */
  | { kind: 'forbidden'; message: string }
  /** Anything else: no configuration set, Graph unreachable, an answer of the wrong shape. */
  | { kind: 'failed'; message: string; hint: string | null };

const TURN_ON = 'Turn on password hash sync in the Cloud Sync configuration (its properties, Basics), then ask again.';

/**
 * Password hash sync at the final stop. Stopping Connect Sync stops its password hash sync; if it was
 * on (step 10's answer; unknown counts as on), Cloud Sync's configuration must sync password hashes
 * too. Microsoft Graph shows that as a second synchronization job of the configuration, template
 * AD2AADPasswordHash, beside the provisioning job: present and Active, it is read as on. Absent, or
 * in any other state (Paused, Quarantine, NotRun, NotConfigured), step 16 is refused. Only when Graph
 * refuses the read (403) does the requester's answer stand in, shown as unverified.
 */
export function finalStopPhs(
  steps: readonly StepState[],
  answerStep: number,
  requesterSays: 'on' | 'off' | undefined,
  read: PhsJobRead | null,
): { ok: true; evidence: Record<string, string> } | { ok: false; reason: string } {
  const connect = connectSyncPhs(steps, answerStep);
  if (connect === 'off') return { ok: true, evidence: { connectSyncPhs: 'off' } };
  const connectText = connect ?? `not recorded in step ${answerStep} (taken as on)`;
  const why = `Connect Sync's password hash sync is ${connect === 'on' ? `on (step ${answerStep})` : `not recorded as off in step ${answerStep}`}, and stopping Connect Sync stops it.`;
  if (read === null || read.kind === 'failed')
    return {
      ok: false,
      reason: `${why} Cloud Sync's password hash sync could not be read from Microsoft Graph: ${read?.message ?? 'it was not read'}.${read?.hint ? ` ${read.hint}` : ''} Ask again once Graph answers.`,
    };
  if (read.kind === 'forbidden') {
    if (requesterSays === 'on')
      return {
        ok: true,
        evidence: {
          connectSyncPhs: connectText,
          cloudSyncPhs: `on, confirmed by the requester (unverified: Graph refused to list the ${PASSWORD_HASH_TEMPLATE} job: ${read.message})`,
        },
      };
    return {
      ok: false,
      reason: `${why} SyncShift could not read Cloud Sync's setting (Graph refused to list the ${PASSWORD_HASH_TEMPLATE} job: ${read.message}). Turn on password hash sync in the Cloud Sync configuration (its properties, Basics), then choose On for it on this card and ask again; the approval shows it as the requester's word, unverified.`,
    };
  }
  const readAt = read.at.toISOString();
  if (read.jobs.length === 0)
    return {
      ok: false,
      reason: `${why} Cloud Sync's configuration (service principal ${read.servicePrincipalId}) has no ${PASSWORD_HASH_TEMPLATE} job, read from Graph at ${readAt}: it syncs no password hashes. ${TURN_ON}`,
    };
  const active = read.jobs.find((j) => j.statusCode === 'Active');
  if (active)
    return {
      ok: true,
      evidence: {
        connectSyncPhs: connectText,
        cloudSyncPhs: `on, read from Graph: job ${active.jobId} is Active (${readAt})`,
      },
    };
  const job = read.jobs[0]!;
  return {
    ok: false,
    reason: `${why} Cloud Sync's password hash sync job ${job.jobId} is ${job.statusCode} (read from Graph at ${readAt}), so no password hashes flow through Cloud Sync. Start it (POST …/synchronization/jobs/${job.jobId}/start, the call Microsoft's Graph configuration page starts each job with; a quarantined job first needs its cause fixed), then ask again.`,
  };
}
