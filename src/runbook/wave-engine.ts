import { coversWholeDomain, scopeLists, scopeWithOu, type ScopeReading } from './cloud-sync-scope';
import { canonicalDn } from './dn';
import { createdRuleIds, type StepState } from './runbook';
import type { ApprovalBasis } from './step-evidence';
import { stepByCheck } from './steps';
import { MAX_RULE_NAME_LENGTH, planNoFlowRules, renderRulesScriptPreview, type RulePlan } from './sync-rules';

/**
 * One OU, one engine, for the waves after the pilot (issue 16): each wave's OUs get their own
 * no-flow rules, then Cloud Sync's scope, each an approved action with its evidence; and
 * `/rollback <wave>` takes them back in the pilot tutorial's order (scope, rules, full cycle).
 *
 * Rules: a rule set per wave OU (the pilot's shape: inbound Join `dn ENDSWITH <OU>` stamping
 * cloudNoFlow, outbound JoinNoFlow on `cloudNoFlow EQUAL true`, for users, groups and contacts), all
 * created by one approval of the wave. No approved rule (the pilot's or another wave's) is ever
 * edited, so each wave's rollback disables exactly the rules its own action created.
 *
 * Pure: what may happen next is decided from the stored wave actions and steps; the service loads,
 * stores and runs. docs/cloud-sync-scope.md ("Waves") says why and names Microsoft's pages.
 */

export const WAVE_ACTION_KINDS = ['rules', 'scope', 'cycle'] as const;
export type WaveActionKind = (typeof WAVE_ACTION_KINDS)[number];

export const WAVE_ACTION_STATUSES = [
  /** The agent is reading the live rules before an approval is asked for. */
  'reading',
  'waiting_approval',
  /** Approved; the change is running. */
  'in_progress',
  'done',
  'failed',
  /** Its undo is approved and running. */
  'undoing',
  'undone',
] as const;
export type WaveActionStatus = (typeof WAVE_ACTION_STATUSES)[number];

export interface WaveActionState {
  kind: WaveActionKind;
  status: WaveActionStatus;
  evidence: unknown;
  reason: string | null;
  updatedAt: Date | null;
}

export interface WaveEngineWave {
  name: string;
  ous: { input: string; baseDn: string | null; error: string | null }[];
  actions: readonly WaveActionState[];
}

/** Approval actions of waves (approvals.action); `wave.undo:` ones take a change back. */
export type WaveApprovalAction = 'wave.rules' | 'wave.scope' | 'wave.cycle' | 'wave.undo:rules' | 'wave.undo:scope';

export function approvalActionOf(kind: WaveActionKind, undo: boolean): WaveApprovalAction {
  if (kind === 'cycle') return 'wave.cycle';
  return undo ? `wave.undo:${kind}` : `wave.${kind}`;
}

export function parseWaveApprovalAction(action: string): { kind: WaveActionKind; undo: boolean } | null {
  const m = /^wave\.(undo:)?(rules|scope|cycle)$/.exec(action);
  if (!m || (m[1] && m[2] === 'cycle')) return null;
  return { kind: m[2] as WaveActionKind, undo: Boolean(m[1]) };
}

function actionOf(wave: WaveEngineWave, kind: WaveActionKind): WaveActionState | undefined {
  return wave.actions.find((a) => a.kind === kind);
}

/** Still running or waiting: nothing else may be asked for this wave and kind meanwhile. */
function busy(a: WaveActionState | undefined): boolean {
  return a !== undefined && ['reading', 'waiting_approval', 'in_progress', 'undoing'].includes(a.status);
}

/** The wave's OUs as AD wrote them, or why not every OU has been resolved and counted yet. */
export function waveOuDns(wave: WaveEngineWave): { ok: true; dns: string[] } | { ok: false; reason: string } {
  const open = wave.ous.filter((o) => !o.baseDn);
  if (wave.ous.length === 0) return { ok: false, reason: `wave ${wave.name} has no OUs` };
  if (open.length > 0)
    return {
      ok: false,
      reason: `the agent has not resolved and counted ${open.map((o) => o.input).join(', ')} yet${
        open.some((o) => o.error)
          ? ` (${open
              .map((o) => o.error)
              .filter(Boolean)
              .join('; ')})`
          : ''
      }; see /wave list`,
    };
  return { ok: true, dns: wave.ous.map((o) => o.baseDn!) };
}

/**
 * The pilot must be through step 13 (Connect Sync's scheduler running again with the pilot's rules
 * applied) before a wave changes anything: a wave rests on the pilot having shown that the no-flow
 * rules and Cloud Sync's scope work, and a wave started while the scheduler is stopped for the pilot
 * would be folded into the pilot's own rollback.
 */
export function pilotThroughRefusal(steps: readonly StepState[]): string | null {
  const n = stepByCheck({ kind: 'schedulerStart' }).n;
  const status = steps.find((s) => s.n === n)?.status;
  return status === 'done' ? null : `the pilot is not through step ${n} yet (the scheduler started again)`;
}

/** Why the wave's rules may not be asked for now, or null. */
export function rulesRequestRefusal(wave: WaveEngineWave, steps: readonly StepState[]): string | null {
  const pilot = pilotThroughRefusal(steps);
  if (pilot) return pilot;
  const dns = waveOuDns(wave);
  if (!dns.ok) return dns.reason;
  const rules = actionOf(wave, 'rules');
  if (busy(rules)) return `the rules of wave ${wave.name} are ${rules!.status.replace('_', ' ')} already`;
  if (rules?.status === 'done') return `the no-flow rules of wave ${wave.name} exist already`;
  if (rules?.status === 'failed' && createdRuleIds(rules.evidence).length > 0)
    return `the last attempt created some rules of wave ${wave.name}; roll them back first (/rollback ${wave.name})`;
  return null;
}

/** Why the wave's OUs may not be added to Cloud Sync's scope now, or null. Rules first, always. */
export function scopeRequestRefusal(wave: WaveEngineWave, steps: readonly StepState[]): string | null {
  const pilot = pilotThroughRefusal(steps);
  if (pilot) return pilot;
  const dns = waveOuDns(wave);
  if (!dns.ok) return dns.reason;
  if (actionOf(wave, 'rules')?.status !== 'done')
    return `the no-flow rules of wave ${wave.name} are not done yet (/wave rules ${wave.name}): Cloud Sync must not write objects Connect Sync still exports`;
  if (!cycleAfterRules(wave))
    return `no full Connect Sync cycle has run since the rules of wave ${wave.name} were created (/wave cycle ${wave.name}): only a full cycle applies new rules to objects that did not change, so Connect Sync may still export them`;
  const scope = actionOf(wave, 'scope');
  if (busy(scope)) return `the scope change of wave ${wave.name} is ${scope!.status.replace('_', ' ')} already`;
  if (scope?.status === 'done') return `the OUs of wave ${wave.name} are in Cloud Sync's scope already`;
  return null;
}

/**
 * When the wave's rules last changed (created, or disabled by a rollback), as the cycle's approval
 * records it: a full cycle counts for the rules only if it was asked for after that change.
 */
export function rulesChangedAt(wave: WaveEngineWave): string | null {
  return actionOf(wave, 'rules')?.updatedAt?.toISOString() ?? null;
}

/** A full cycle ran (done) for the rules as they are now. */
export function cycleAfterRules(wave: WaveEngineWave): boolean {
  const cycle = actionOf(wave, 'cycle');
  const at = rulesChangedAt(wave);
  return (
    cycle?.status === 'done' &&
    at !== null &&
    (cycle.evidence as { rulesChangedAt?: unknown } | null)?.rulesChangedAt === at
  );
}

/** Why a full cycle may not be asked for now, or null: only after the wave's rules changed. */
export function cycleRequestRefusal(wave: WaveEngineWave, steps: readonly StepState[]): string | null {
  const pilot = pilotThroughRefusal(steps);
  if (pilot) return pilot;
  const rules = actionOf(wave, 'rules');
  if (!rules || !['done', 'undone'].includes(rules.status))
    return `the rules of wave ${wave.name} did not change, so no full cycle is needed for them`;
  const cycle = actionOf(wave, 'cycle');
  if (busy(cycle)) return `a full cycle of wave ${wave.name} is ${cycle!.status.replace('_', ' ')} already`;
  if (cycleAfterRules(wave)) return `a full cycle ran already after the rules of wave ${wave.name} last changed`;
  return null;
}

/**
 * The rules of every OU of the wave, precedences taken one after the other from the free ones. Names
 * carry the wave (and the OU's place in it) so they differ from the pilot's and between two OUs with
 * the same name; the agent refuses a plan whose names repeat or exist already.
 */
export function planWaveRules(
  waveName: string,
  dns: readonly string[],
  usedPrecedences: readonly number[],
): RulePlan[] {
  const used = [...usedPrecedences];
  const plan: RulePlan[] = [];
  dns.forEach((dn, i) => {
    const part = planNoFlowRules({ ouDn: dn, usedPrecedences: used });
    used.push(...part.map((r) => r.precedence));
    const suffix = dns.length > 1 ? ` (wave ${waveName}, OU ${i + 1})` : ` (wave ${waveName})`;
    for (const rule of part)
      plan.push({
        ...rule,
        name: rule.name.slice(0, MAX_RULE_NAME_LENGTH - suffix.length) + suffix,
        description: `Created by SyncShift for wave ${waveName} of ${dn}. Disable to roll back.`.slice(0, 1024),
      });
  });
  return plan;
}

/** What a wave's rules approval rests on: the OUs as AD wrote them and the live rules' precedences. */
export function waveRulesApproval(wave: WaveEngineWave, liveRules: readonly { precedence: number }[]): ApprovalBasis {
  const dns = waveOuDns(wave);
  if (!dns.ok) return { refusal: dns.reason };
  const used = liveRules
    .map((r) => r.precedence)
    .filter((p) => Number.isInteger(p))
    .sort((a, b) => a - b);
  try {
    const plan = planWaveRules(wave.name, dns.dns, used);
    return {
      evidence: {
        wave: wave.name,
        ous: dns.dns,
        usedPrecedences: used.filter((p) => p <= 99),
        plan,
        script: renderRulesScriptPreview(plan),
      },
    };
  } catch (err) {
    return { refusal: (err as Error).message };
  }
}

/** What a wave's scope approval rests on: its OUs as AD wrote them and the Cloud Sync job read now. */
export function waveScopeApproval(wave: WaveEngineWave, reading: ScopeReading): ApprovalBasis {
  const dns = waveOuDns(wave);
  if (!dns.ok) return { refusal: dns.reason };
  let scope = reading.scope;
  for (const dn of dns.dns) {
    const change = scopeWithOu(scope, dn);
    if (!change.ok) return { refusal: change.reason };
    scope = { rules: change.rules };
  }
  return {
    evidence: {
      wave: wave.name,
      scopeValues: dns.dns,
      servicePrincipalId: reading.servicePrincipalId,
      jobId: reading.jobId,
      jobStatus: reading.statusCode,
      scopeBefore: scopeLists(reading.scope),
      wholeDomainBefore: coversWholeDomain(reading.scope),
    },
  };
}

/** The OUs an approval names, from its stored evidence only (scopeValues, or ous of a rules plan). */
export function approvedOus(evidence: unknown): string[] {
  const e = (evidence ?? {}) as { scopeValues?: unknown; ous?: unknown };
  const list = Array.isArray(e.scopeValues) ? e.scopeValues : Array.isArray(e.ous) ? e.ous : [];
  return list.filter((v): v is string => typeof v === 'string' && canonicalDn(v) !== null);
}

/** Why the wave's rules may not be disabled now, or null: Cloud Sync's scope must go first. */
export function rulesUndoRefusal(wave: WaveEngineWave): string | null {
  const scope = actionOf(wave, 'scope');
  if (scope && ['done', 'in_progress', 'waiting_approval', 'undoing'].includes(scope.status))
    return `the OUs of wave ${wave.name} are still in Cloud Sync's scope (or a scope change is open); take them out first, or both engines would write them`;
  const rules = actionOf(wave, 'rules');
  if (!rules || createdRuleIds(rules.evidence).length === 0)
    return `nothing to undo: SyncShift created no rules for wave ${wave.name}`;
  if (busy(rules)) return `the rules of wave ${wave.name} are ${rules.status.replace('_', ' ')}`;
  return null;
}

export type WaveRollbackPartState = 'undone' | 'not-needed' | 'next' | 'waiting' | 'running';

export interface WaveRollbackPart {
  kind: WaveActionKind;
  does: string;
  state: WaveRollbackPartState;
}

export type WaveRollbackPlan =
  | { ok: true; parts: WaveRollbackPart[]; next: WaveActionKind | null }
  | { ok: false; parts: WaveRollbackPart[]; reason: string };

const DOES: Record<WaveActionKind, string> = {
  scope:
    "Take the wave's OUs out of the Cloud Sync configuration's scope (or pause its job when they are the last OUs: an empty scope would cover the whole domain).",
  rules:
    "Disable the wave's no-flow sync rules (exactly those its approved action created), so Connect Sync exports the OUs' objects again.",
  cycle: 'Run a full (Initial) Connect Sync cycle: a Delta cycle does not re-evaluate changed rules.',
};

/**
 * `/rollback <wave>`: scope, then rules, then a full cycle, each its own approved action. Recomputed
 * from the stored actions every time, so a second `/rollback <wave>` asks for the next part.
 */
export function waveRollbackPlan(wave: WaveEngineWave): WaveRollbackPlan {
  const scope = actionOf(wave, 'scope');
  const rules = actionOf(wave, 'rules');
  const cycle = actionOf(wave, 'cycle');
  // The rules were disabled and no full cycle has applied that since.
  const cycleNeeded = rules?.status === 'undone' && !cycleAfterRules(wave);
  const parts: WaveRollbackPart[] = [];
  let next: WaveActionKind | null = null;
  let running: string | null = null;
  const push = (kind: WaveActionKind, needed: boolean, undone: boolean, a: WaveActionState | undefined): void => {
    const state: WaveRollbackPartState =
      a && busy(a) && (needed || a.status === 'undoing')
        ? 'running'
        : !needed
          ? undone
            ? 'undone'
            : 'not-needed'
          : next === null && running === null
            ? 'next'
            : 'waiting';
    if (state === 'running') running ??= kind;
    if (state === 'next') next = kind;
    parts.push({ kind, does: DOES[kind], state });
  };
  push('scope', scope?.status === 'done', scope?.status === 'undone', scope);
  const rulesNeeded =
    (rules?.status === 'done' || rules?.status === 'failed') && createdRuleIds(rules.evidence).length > 0;
  push('rules', rulesNeeded, rules?.status === 'undone', rules);
  const cycleOpen = cycleNeeded || rulesNeeded;
  push('cycle', cycleOpen, rules?.status === 'undone' && !cycleOpen, cycle);
  if (running !== null)
    return {
      ok: false,
      parts,
      reason: `The ${running} part of wave ${wave.name} is running or waiting for approval; answer its card first.`,
    };
  if (scope && ['waiting_approval', 'in_progress', 'reading'].includes(scope.status))
    return { ok: false, parts, reason: `A scope change of wave ${wave.name} is open; answer it first.` };
  return { ok: true, parts, next };
}

/**
 * The wave still holds a change SyncShift made (its rules, a cycle its rollback still needs, its
 * scope), or a part of it is open: `/rollback <wave>` has something left to do, or a card to answer.
 * Such a wave rests on the pilot's floor (step 13, the scheduler running with the pilot's rules), so
 * the pilot may not be rolled back from under it, and `/wave remove` may not drop it.
 */
export function waveHoldsChanges(wave: WaveEngineWave): boolean {
  const plan = waveRollbackPlan(wave);
  return !plan.ok || plan.next !== null || wave.actions.some((a) => busy(a));
}

/** The ledger's stored facts for a wave: its rules and its scope add, done and not undone. */
export function waveLedgerFlags(actions: readonly WaveActionState[]): { noFlowRules: boolean; scopeAdded: boolean } {
  const status = (kind: WaveActionKind) => actions.find((a) => a.kind === kind)?.status;
  // A rules undo or scope removal that is still running has not taken anything back yet.
  return {
    noFlowRules: status('rules') === 'done' || status('rules') === 'undoing',
    scopeAdded: status('scope') === 'done' || status('scope') === 'undoing',
  };
}
