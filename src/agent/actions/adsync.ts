import { randomUUID } from 'node:crypto';
import path from 'node:path';
import { z } from 'zod';
import { isDnWithin } from '../../runbook/dn';
import { AppError } from '../../shared/errors';
import {
  adsyncGuid,
  schedulerState,
  startSchedulerResult,
  exportConfigResult,
  listRulesResult,
  setRulesDisabledResult,
  serviceStateResult,
  readinessConnectSync,
  type ReadinessConnectSync,
  type SchedulerState,
  type StopSchedulerResult,
  type StartSchedulerResult,
  type ExportConfigResult,
  type SyncRuleSummary,
  type ConnectorSummary,
  type ListRulesResult,
  type CreatedRule,
  type CreateNoFlowRulesResult,
  type SetRulesDisabledResult,
  type ServiceStateResult,
} from '../../relay/protocol';
import { AdsyncError, rulePlanListSchema, SYNCSHIFT_RULE_MARKER, type RulePlan } from '../../runbook/sync-rules';
import { runPowerShellScript } from '../powershell/executor';
import {
  createRuleScript,
  exportConfigScript,
  getSchedulerScript,
  listRulesScript,
  readinessScript,
  setRulesDisabledScript,
  startSchedulerScript,
  startServiceScript,
  stopSchedulerScript,
  stopServiceScript,
  type FixedScript,
} from '../powershell/scripts';

/**
 * What the agent can do to Connect Sync. Each function runs one fixed script (createNoFlowRules
 * runs several) and returns a result validated against its schema in the relay protocol, the one the
 * bot reads the result with.
 */

export interface AdsyncRunOptions {
  /** PowerShell to run; defaults to `powershell` from PATH. */
  executable?: string;
  env?: Record<string, string | undefined>;
  timeoutMs?: number;
}

// What the script may report; stopScheduler turns stopped=false into an error.
const stopSchedulerScriptResult = z.object({ stopped: z.boolean(), scheduler: schedulerState });

const createRuleScriptResult = z.object({ identifier: adsyncGuid, name: z.string(), precedence: z.number().int() });

function run<T>(
  script: FixedScript,
  params: Record<string, unknown>,
  schema: z.ZodType<T, z.ZodTypeDef, unknown>,
  options: AdsyncRunOptions,
  defaultTimeoutMs: number,
): Promise<T> {
  return runPowerShellScript({
    script,
    params,
    resultSchema: schema,
    timeoutMs: options.timeoutMs ?? defaultTimeoutMs,
    ...(options.executable !== undefined ? { executable: options.executable } : {}),
    ...(options.env !== undefined ? { env: options.env } : {}),
  });
}

export function getScheduler(options: AdsyncRunOptions = {}): Promise<SchedulerState> {
  return run(getSchedulerScript, {}, schedulerState, options, 60_000);
}

/**
 * Disables the scheduler and stops a running cycle, then waits up to `waitSeconds` for it to end.
 * Fails with ADSYNC.SYNC_IN_PROGRESS if a cycle is still running: rule changes must not race it.
 */
export async function stopScheduler(
  options: AdsyncRunOptions & { waitSeconds?: number } = {},
): Promise<StopSchedulerResult> {
  const waitSeconds = options.waitSeconds ?? 120;
  if (!Number.isInteger(waitSeconds) || waitSeconds < 0 || waitSeconds > 3600)
    throw new RangeError('waitSeconds must be an integer between 0 and 3600');
  const result = await run(
    stopSchedulerScript,
    { waitSeconds },
    stopSchedulerScriptResult,
    options,
    (waitSeconds + 90) * 1000,
  );
  if (!result.stopped) {
    const running = result.scheduler.runningConnector ? ` (connector ${result.scheduler.runningConnector})` : '';
    throw new AdsyncError(
      'ADSYNC.SYNC_IN_PROGRESS',
      `The sync scheduler is now disabled, but a sync cycle${running} was still running after ${waitSeconds} s.`,
      {
        hint: 'Wait for the run to finish (Synchronization Service Manager shows it), then stop the scheduler again before changing rules.',
        details: { scheduler: result.scheduler },
      },
    );
  }
  return { stopped: true, scheduler: result.scheduler };
}

/**
 * Re-enables the scheduler and starts a cycle. After rule changes use 'Initial': Connect Sync
 * applies changed rules only on a full sync.
 */
export function startScheduler(
  policyType: 'Delta' | 'Initial',
  options: AdsyncRunOptions = {},
): Promise<StartSchedulerResult> {
  if (policyType !== 'Delta' && policyType !== 'Initial') throw new RangeError('policyType must be Delta or Initial');
  return run(startSchedulerScript, { policyType }, startSchedulerResult, options, 120_000);
}

/** Backs the configuration up into a new timestamped folder under `baseDir` on the Connect Sync server. */
export function exportConfig(
  baseDir: string,
  options: AdsyncRunOptions & { now?: Date } = {},
): Promise<ExportConfigResult> {
  const problem = backupDirProblem(baseDir);
  if (problem) {
    return Promise.reject(
      new AppError('CONFIG.INVALID', `The backup folder "${baseDir}" cannot be used: ${problem}.`, {
        hint: 'Configure an absolute folder on the Connect Sync server, e.g. C:\\SyncShift\\Backups.',
      }),
    );
  }
  const folderName = `syncshift-${timestamp(options.now ?? new Date())}`;
  return run(exportConfigScript, { baseDir, folderName }, exportConfigResult, options, 600_000);
}

function backupDirProblem(dir: string): string | undefined {
  if (dir.length === 0 || dir.length > 200) return 'it must be 1 to 200 characters long';
  if (/[\u0000-\u001f]/.test(dir)) return 'it contains control characters';
  // Get-ADSyncServerConfiguration -Path may treat these as wildcards (**unverified**); refuse them.
  if (/[[\]*?]/.test(dir)) return 'it contains wildcard characters ([, ], * or ?)';
  if (!path.win32.isAbsolute(dir) && !path.posix.isAbsolute(dir)) return 'it is not an absolute path';
  return undefined;
}

function timestamp(d: Date): string {
  // 20260701T120000123Z: sortable, and legal in a Windows folder name (no colons).
  return d.toISOString().replace(/[-:.]/g, '');
}

export function listRules(options: AdsyncRunOptions = {}): Promise<ListRulesResult> {
  return run(listRulesScript, {}, listRulesResult, options, 120_000);
}

/** `/readiness`: the Connect Sync configuration, read only (see readinessScript). */
export function readConnectSync(options: AdsyncRunOptions = {}): Promise<ReadinessConnectSync> {
  return run(readinessScript, {}, readinessConnectSync, options, 180_000);
}

/**
 * Creates the approved plan. Connectors are looked up here rather than trusted from the plan, and
 * precedences and names are checked against the live rules just before creating. Stops at the
 * first failure; the error's details.created lists what already exists so it can be rolled back.
 */
export async function createNoFlowRules(
  plan: RulePlan[],
  options: AdsyncRunOptions = {},
): Promise<CreateNoFlowRulesResult> {
  const rules = rulePlanListSchema.parse(plan);
  checkPlanIsConsistent(rules);
  const live = await listRules(options);
  // A wave's plan holds one rule set per OU; each OU's AD connector is looked up on its own.
  const connectorsByOu = new Map(
    [...new Set(rules.map((r) => r.ouDn))].map((dn) => [dn, pickConnectors(live.connectors, dn)]),
  );
  checkStillFree(rules, live.rules);

  const created: CreatedRule[] = [];
  for (const rule of rules) {
    const identifier = randomUUID();
    const connectorId = connectorsByOu.get(rule.ouDn)![rule.connectorRole];
    try {
      const result = await run(
        createRuleScript,
        { rule, connectorId, identifier },
        createRuleScriptResult,
        options,
        120_000,
      );
      created.push({
        key: rule.key,
        name: rule.name,
        identifier: result.identifier,
        precedence: result.precedence,
        connectorId,
      });
    } catch (err) {
      // A timeout may strike after Add-ADSyncRule succeeded; look before reporting it as not created.
      const landed = await listRules(options)
        .then((after) => after.rules.some((r) => r.identifier.toLowerCase() === identifier))
        .catch(() => false);
      if (landed)
        created.push({ key: rule.key, name: rule.name, identifier, precedence: rule.precedence, connectorId });
      throw partialFailure(err, rule, created, rules.length);
    }
  }
  return { created };
}

/**
 * One rule per key and OU, every precedence once. A plan may hold several OUs (a wave's: one rule
 * set each, see planWaveRules); the agent's policy still checks each rule's scope against its own OU.
 */
function checkPlanIsConsistent(rules: RulePlan[]): void {
  const keys = new Set(rules.map((r) => `${r.key}\u0000${r.ouDn}`));
  const precedences = new Set(rules.map((r) => r.precedence));
  const names = new Set(rules.map((r) => r.name));
  if (keys.size !== rules.length || precedences.size !== rules.length || names.size !== rules.length) {
    throw new AdsyncError('ADSYNC.RULE_CONFLICT', 'The rule plan repeats a rule, a name or a precedence.', {
      hint: 'Plan the rules again (planNoFlowRules for one OU, planWaveRules for a wave).',
    });
  }
}

function pickConnectors(connectors: ConnectorSummary[], ouDn: string): { ad: string; entra: string } {
  const entra = connectors.filter((c) => c.type === 'Entra');
  if (entra.length !== 1) {
    throw new AdsyncError(
      'ADSYNC.CONNECTOR_NOT_FOUND',
      entra.length === 0
        ? 'Connect Sync has no Microsoft Entra connector.'
        : `Connect Sync has ${entra.length} Microsoft Entra connectors; SyncShift supports one.`,
      {
        hint: 'Create the rules by hand in the Synchronization Rules Editor, using the preview on the card.',
        details: { connectors: connectors.map((c) => ({ name: c.name, type: c.type, subType: c.subType })) },
      },
    );
  }
  const ads = connectors.filter((c) => c.type === 'AD');
  // With one forest the partition check is only a sanity check, skipped if partitions are unknown.
  const holding = ads.filter((c) => c.partitions.some((p) => isDnWithin(ouDn, p)));
  const chosen = ads.length === 1 && (holding.length === 1 || ads[0]!.partitions.length === 0) ? ads : holding;
  if (chosen.length !== 1) {
    throw new AdsyncError(
      'ADSYNC.CONNECTOR_NOT_FOUND',
      chosen.length === 0
        ? `No Active Directory connector covers ${ouDn}.`
        : `Several Active Directory connectors cover ${ouDn}.`,
      {
        hint: 'Check the OU and the connectors in Synchronization Service Manager; create the rules by hand if the forest layout is unusual.',
        details: { adConnectors: ads.map((c) => ({ name: c.name, partitions: c.partitions })) },
      },
    );
  }
  return { ad: chosen[0]!.identifier, entra: entra[0]!.identifier };
}

function checkStillFree(plan: RulePlan[], live: SyncRuleSummary[]): void {
  const byPrecedence = new Map(live.map((r) => [r.precedence, r.name]));
  const names = new Set(live.map((r) => r.name));
  const clashes = plan
    .filter((r) => byPrecedence.has(r.precedence))
    .map((r) => `${r.precedence} (used by "${byPrecedence.get(r.precedence)}")`);
  if (clashes.length > 0) {
    throw new AdsyncError(
      'ADSYNC.RULE_CONFLICT',
      `Precedence ${clashes.join(', ')} is no longer free; nothing was created.`,
      {
        hint: 'Someone changed the sync rules since the plan was approved; plan again and approve the new plan.',
        details: { precedences: plan.filter((r) => byPrecedence.has(r.precedence)).map((r) => r.precedence) },
      },
    );
  }
  const sameName = plan.filter((r) => names.has(r.name)).map((r) => r.name);
  if (sameName.length > 0) {
    throw new AdsyncError(
      'ADSYNC.RULE_CONFLICT',
      `Rules named ${sameName.map((n) => `"${n}"`).join(', ')} already exist; nothing was created.`,
      {
        hint: 'They are probably left from an earlier attempt: roll that attempt back (disable or delete those rules) before creating them again.',
        details: { names: sameName },
      },
    );
  }
}

function partialFailure(err: unknown, rule: RulePlan, created: CreatedRule[], total: number): AdsyncError {
  const cause = err instanceof AdsyncError ? err : undefined;
  const message = err instanceof Error ? err.message : String(err);
  return new AdsyncError(
    cause?.code ?? 'ADSYNC.CMDLET_FAILED',
    `Created ${created.length} of ${total} no-flow rules; creating "${rule.name}" failed: ${message}`,
    {
      hint:
        created.length > 0
          ? 'Disable the rules listed in details.created to roll back, fix the cause, then plan and create again.'
          : (cause?.hint ?? 'Fix the cause and try again; nothing was created.'),
      details: { created, failedKey: rule.key, failedName: rule.name, ...(cause ? { cause: cause.toJSON() } : {}) },
      cause: err,
    },
  );
}

/**
 * Rollback and re-enable, for rules SyncShift created only: the agent reads the live rules first and
 * refuses any custom rule without SyncShift's name marker, whichever identifiers the bot sent. The
 * script checks the marker again (and refuses built-in rules) in the run that changes them.
 */
export async function setRulesDisabled(
  identifiers: string[],
  disabled: boolean,
  options: AdsyncRunOptions = {},
): Promise<SetRulesDisabledResult> {
  const ids = [
    ...new Set(
      z
        .array(adsyncGuid)
        .min(1)
        .max(64)
        .parse(identifiers)
        .map((i) => i.toLowerCase()),
    ),
  ];
  const live = new Map((await listRules(options)).rules.map((r) => [r.identifier.toLowerCase(), r]));
  const foreign = ids
    .map((id) => live.get(id))
    .filter(
      (r): r is SyncRuleSummary => r !== undefined && r.immutableTag === '' && !r.name.includes(SYNCSHIFT_RULE_MARKER),
    );
  if (foreign.length > 0) {
    throw new AppError(
      'POLICY.FOREIGN_RULE',
      `The agent refused to ${disabled ? 'disable' : 'enable'} ${foreign.map((r) => `"${r.name}"`).join(', ')}: SyncShift did not create ${foreign.length === 1 ? 'it' : 'them'}. Nothing was changed.`,
      {
        hint: `SyncShift only changes rules whose name carries ${SYNCSHIFT_RULE_MARKER}. Change other rules in the Synchronization Rules Editor; if the bot asked for this, check its audit log.`,
        details: { refused: foreign.map((r) => ({ identifier: r.identifier, name: r.name })) },
      },
    );
  }
  return run(setRulesDisabledScript, { identifiers: ids, disabled }, setRulesDisabledResult, options, 180_000);
}

/** Final cutover: stops ADSync and sets it Disabled so a reboot does not bring Connect Sync back. */
export function stopService(options: AdsyncRunOptions = {}): Promise<ServiceStateResult> {
  return run(stopServiceScript, {}, serviceStateResult, options, 300_000);
}

/** Rollback of stopService; pass the previousStartType it reported (Manual or Automatic). */
export function startService(
  startType: 'Automatic' | 'Manual' = 'Automatic',
  options: AdsyncRunOptions = {},
): Promise<ServiceStateResult> {
  if (startType !== 'Automatic' && startType !== 'Manual')
    throw new RangeError('startType must be Automatic or Manual');
  return run(startServiceScript, { startType }, serviceStateResult, options, 300_000);
}
