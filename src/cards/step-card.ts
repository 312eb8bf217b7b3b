import { canVote, type Approval, type ApprovalPolicy } from '../runbook/approvals';
import { dependenciesMet, describe, undoAllowed, type StepState } from '../runbook/runbook';
import {
  isReadinessEvidence,
  SOURCES,
  type Prerequisite,
  type SourceKey,
  type StoredFinding,
} from '../runbook/readiness';
import { STEP_VERBS, type StepVerb } from '../runbook/step-actions';
import { pendingPreflight } from '../runbook/step-evidence';
import type { StepDefinition } from '../runbook/steps';
import { readableEvidence } from './evidence-text';
import { literal, literalFacts, literalLines } from './literal';
import { expandTemplate, type AdaptiveCardJson } from './render';

export { STEP_VERBS, type StepVerb };

export interface StepCardInput {
  migrationId: string;
  migrationName: string;
  def: StepDefinition;
  step: StepState;
  steps: readonly StepState[];
  approval: Approval | null;
  policy: ApprovalPolicy;
  /** The person the card is rendered for (Universal Actions refresh); null for the shared copy. */
  viewer: string | null;
  /** A one-off message for this viewer, such as why their click was refused. */
  notice?: string;
  now: Date;
  /** Waves that still hold a change (read from the store): the pilot's steps under them offer no Undo. None when omitted. */
  wavesHolding?: readonly string[];
  /** Step 12's canary: what happened to it (read from the store) and which of its buttons to offer. */
  canary?: { lines: string[]; canCreate: boolean; canDelete: boolean; canWaive: boolean };
}

/** Teams refreshes the card automatically for at most 60 listed users. */
const MAX_REFRESH_USERS = 60;

export function renderStepCard(input: StepCardInput): AdaptiveCardJson {
  const { def, step, approval } = input;
  const data = (extra: Record<string, unknown> = {}): Record<string, unknown> => ({
    migrationId: input.migrationId,
    n: def.n,
    ...extra,
  });
  const actions: { title: string; verb: StepVerb; data: Record<string, unknown>; style: string }[] = [];
  const ready = dependenciesMet(input.steps, def);
  const startable = (step.status === 'pending' || step.status === 'failed') && ready;
  const liveApproval =
    approval && (approval.status === 'pending' || approval.status === 'approved' || approval.status === 'executing')
      ? approval
      : null;

  if (startable && !liveApproval) {
    switch (def.check.kind) {
      case 'person':
        actions.push({ title: 'Mark done', verb: STEP_VERBS.confirm, data: data(), style: 'positive' });
        break;
      case 'pilotOu':
        actions.push({ title: 'Set pilot OU', verb: STEP_VERBS.run, data: data(), style: 'positive' });
        break;
      case 'cloudSyncScope':
        // SyncShift writes the scope after approval; a person who did it in the portal asks for the read instead.
        actions.push({ title: 'Request approval', verb: STEP_VERBS.requestApproval, data: data(), style: 'positive' });
        actions.push({ title: 'Check the scope', verb: STEP_VERBS.run, data: data(), style: 'default' });
        break;
      default:
        actions.push(
          def.mutating
            ? { title: 'Request approval', verb: STEP_VERBS.requestApproval, data: data(), style: 'positive' }
            : { title: 'Run check', verb: STEP_VERBS.run, data: data(), style: 'positive' },
        );
    }
    if (def.optional) actions.push({ title: 'Skip', verb: STEP_VERBS.skip, data: data(), style: 'default' });
  }
  // Findings a person may acknowledge: shown to approvers (and on the shared copy); the service asks the same rule.
  const acknowledgeable =
    ready &&
    pendingPreflight(def, step) !== null &&
    (input.viewer === null || input.policy.approvers.includes(input.viewer));
  if (acknowledgeable)
    actions.push({
      title: 'Acknowledge and count again',
      verb: STEP_VERBS.acknowledge,
      data: data(),
      style: 'default',
    });
  if (liveApproval?.status === 'pending') {
    const eligible = input.viewer === null || canVote(liveApproval, input.viewer, input.policy, input.now);
    if (eligible)
      actions.push({
        title: 'Approve',
        verb: STEP_VERBS.approve,
        data: data({ approvalId: liveApproval.id }),
        style: 'positive',
      });
    if (eligible || input.viewer === liveApproval.requestedBy) {
      actions.push({
        title: input.viewer === liveApproval.requestedBy ? 'Withdraw request' : 'Reject',
        verb: STEP_VERBS.reject,
        data: data({ approvalId: liveApproval.id }),
        style: 'destructive',
      });
    }
  }
  const canary = input.canary;
  if (canary && !liveApproval) {
    if (canary.canCreate)
      actions.push({
        title: 'Create canary (needs approval)',
        verb: STEP_VERBS.canaryCreate,
        data: data(),
        style: 'default',
      });
    if (canary.canDelete)
      actions.push({
        title: 'Delete canary (needs approval)',
        verb: STEP_VERBS.canaryDelete,
        data: data(),
        style: 'default',
      });
  }
  if (canary?.canWaive)
    actions.push({ title: 'Waive canary (approvers)', verb: STEP_VERBS.waiveCanary, data: data(), style: 'default' });
  // The card only shows what the service would accept: both ask the same rule.
  const undo = undoAllowed(input.steps, def.n, liveApproval, input.wavesHolding ?? []);
  if (undo.ok) {
    actions.push({
      title: undo.undo === 'reopen' ? 'Reopen (needs approval)' : 'Undo (needs approval)',
      verb: STEP_VERBS.undo,
      data: data(),
      style: 'destructive',
    });
  }

  const refreshUserIds = [
    ...new Set([...(liveApproval ? [liveApproval.requestedBy] : []), ...input.policy.approvers]),
  ].slice(0, MAX_REFRESH_USERS);
  const evidence = (step.evidence ?? {}) as Record<string, unknown>;
  const readiness = readinessSections(input, evidence, data);
  const script = typeof evidence.script === 'string' && step.status !== 'done' ? evidence.script : '';
  return expandTemplate('step', {
    migrationName: literal(input.migrationName),
    heading: literal(`Step ${def.n} of 18 · ${def.title}`),
    statusText: literal(statusLine(step, liveApproval, ready)),
    statusColor: colorFor(step),
    notice: literal(input.notice ?? ''),
    guidance: literal(def.guidance),
    facts: readiness.shown ? [] : literalFacts(readableEvidence(evidence)),
    blockers: readiness.blockers,
    warnings: readiness.warnings,
    readinessFacts: readiness.facts,
    prerequisites: readiness.prerequisites,
    showAcceptInput: readiness.showAcceptInput,
    rawFacts: literalLines(evidenceFacts(evidence).map((f) => `${f.title}: ${f.value}`)),
    script: scriptLines(script),
    history: literal(history(step, approval)),
    showOuInput: def.check.kind === 'pilotOu' && startable,
    canaryLines: literalLines(canary?.lines ?? []),
    showReasonInput: (def.optional && startable) || canary?.canWaive === true || acknowledgeable,
    reasonLabel: acknowledgeable
      ? 'Reason (to acknowledge the users above)'
      : def.optional
        ? 'Reason (to skip)'
        : 'Reason (to waive the canary)',
    reasonPlaceholder: acknowledgeable
      ? 'Why these users may go ahead although their hard match is predicted to fail'
      : def.optional
        ? 'Why this step is skipped'
        : 'Why step 12 may pass without a canary',
    // Fixed words, not stored values: a plain label.
    showPhsInput: def.asksPhs !== undefined && startable && !liveApproval,
    phsLabel:
      def.asksPhs === 'connectSync'
        ? "Is Connect Sync's password hash sync on? (Connect Sync wizard → View or export current configuration)"
        : "Password hash sync in the Cloud Sync configuration (needed if Connect Sync's was on). SyncShift reads it from Graph; your answer counts only if Graph refuses the read, and is shown as unverified",
    actions,
    refreshData: data(),
    refreshUserIds,
  });
}

type Section = {
  title: string[];
  detail: string[];
  items: { text: string[] }[];
  accepted: string[];
  source: string[];
  actions: { title: string; verb: StepVerb; data: Record<string, unknown>; style: string }[];
}[];

/**
 * The readiness report (steps 1 and 2) as three lists and the prerequisites, each entry with the
 * Microsoft page it rests on. An approver sees an Accept button on each open blocker while step 1
 * is failed on them; the button carries the blocker's opaque id and the reason typed in the box.
 */
function readinessSections(
  input: StepCardInput,
  evidence: Record<string, unknown>,
  data: (extra?: Record<string, unknown>) => Record<string, unknown>,
): {
  shown: boolean;
  blockers: Section;
  warnings: Section;
  facts: Section;
  prerequisites: Section;
  showAcceptInput: boolean;
} {
  const source = (key: SourceKey): string[] => literal(`Source: ${SOURCES[key].title} · ${SOURCES[key].url}`);
  const mayAccept =
    input.step.status === 'failed' &&
    input.def.check.kind === 'readiness' &&
    (input.viewer === null || input.policy.approvers.includes(input.viewer));
  const entry = (f: StoredFinding): Section[number] => ({
    title: literal(f.title),
    detail: literal(f.detail),
    items: literalLines(f.items),
    accepted: literal(
      f.accepted
        ? `Accepted by ${f.accepted.by} at ${f.accepted.at.replace(/\.\d+Z$/, 'Z')}: ${f.accepted.reason}`
        : '',
    ),
    source: source(f.source),
    actions:
      f.severity === 'blocker' && !f.accepted && f.id && mayAccept
        ? [
            {
              title: 'Accept this blocker',
              verb: STEP_VERBS.acceptBlocker,
              data: data({ findingId: f.id }),
              style: 'destructive',
            },
          ]
        : [],
  });
  const report = isReadinessEvidence(evidence) ? evidence : null;
  const prereqs = Array.isArray(evidence.prerequisites) ? (evidence.prerequisites as Prerequisite[]) : [];
  const findings = input.def.check.kind === 'readiness' && report ? report.findings : [];
  const status = { held: 'Holds', failed: 'Not met', person: 'Check by hand' } as const;
  const prerequisites: Section =
    input.def.check.kind === 'prerequisites'
      ? prereqs.map((p) => ({
          title: literal(`${status[p.status]} · ${p.title}`),
          detail: literal(p.detail),
          items: [],
          accepted: [],
          source: source(p.source),
          actions: [],
        }))
      : [];
  const blockers = findings.filter((f) => f.severity === 'blocker').map(entry);
  return {
    shown: findings.length > 0 || prerequisites.length > 0,
    blockers,
    warnings: findings.filter((f) => f.severity === 'warning').map(entry),
    facts: findings.filter((f) => f.severity === 'fact').map(entry),
    prerequisites,
    showAcceptInput: blockers.some((b) => b.actions.length > 0),
  };
}

/** One block per script line; a blank line becomes space above the next one. */
function scriptLines(script: string): { text: string[]; spacing: string }[] {
  const lines: { text: string[]; spacing: string }[] = [];
  let gap = false;
  for (const line of script.split('\n')) {
    if (line.trim() === '') gap = lines.length > 0;
    else {
      lines.push({ text: literal(line), spacing: gap ? 'Medium' : 'None' });
      gap = false;
    }
  }
  return lines;
}

function statusLine(step: StepState, approval: Approval | null, ready: boolean): string {
  if (approval?.status === 'pending') {
    const got = approval.votes.filter((v) => v.decision === 'approve').length;
    const kind = approval.action.startsWith('undo:')
      ? 'Undo waiting for approval'
      : approval.action === 'canary.create'
        ? 'Canary creation waiting for approval'
        : approval.action === 'canary.delete'
          ? 'Canary deletion waiting for approval'
          : 'Waiting for approval';
    return `${kind}: ${got} of ${approval.required} · expires ${iso(approval.expiresAt)}`;
  }
  if (approval?.status === 'approved' || approval?.status === 'executing') return 'Approved · running on the agent…';
  if (!ready && step.status === 'pending') return 'Not started · waiting for earlier steps';
  const base = describe(step.status);
  const text = base[0]!.toUpperCase() + base.slice(1);
  return step.reason ? `${text}: ${step.reason}` : text;
}

function colorFor(step: StepState): string {
  switch (step.status) {
    case 'done':
      return 'Good';
    case 'failed':
      return 'Attention';
    case 'waiting_approval':
    case 'in_progress':
      return 'Warning';
    default:
      return 'Default';
  }
}

function history(step: StepState, approval: Approval | null): string {
  const parts: string[] = [];
  if (approval) {
    parts.push(
      `${approval.action.startsWith('undo:') ? 'Undo requested' : 'Requested'} by ${approval.requestedByName} at ${iso(approval.requestedAt)}`,
    );
    for (const v of approval.votes)
      parts.push(`${v.decision === 'approve' ? 'approved' : 'rejected'} by ${v.byName} at ${iso(v.at)}`);
    if (['expired', 'void', 'rejected'].includes(approval.status)) parts.push(`request ${approval.status}`);
  }
  if (step.updatedAt)
    parts.push(
      `${describe(step.status)} · last change ${step.updatedBy ? `by ${step.updatedBy} ` : ''}at ${iso(step.updatedAt)}`,
    );
  return parts.join(' · ');
}

/** Evidence as raw key paths and values: primitives and two levels of nesting; long lists are summarised, not dumped. */
export function evidenceFacts(evidence: Record<string, unknown>): { title: string; value: string }[] {
  const facts: { title: string; value: string }[] = [];
  const add = (key: string, value: unknown, depth: number): void => {
    // The script has its own block on the card; as a fact it would be unreadable.
    if (key === 'script' || key.endsWith('.script') || value === undefined) return;
    if (value === null) facts.push({ title: key, value: '—' });
    else if (Array.isArray(value))
      facts.push({
        title: key,
        value:
          value.length <= 3 && value.every((v) => typeof v !== 'object') ? value.join(', ') : `${value.length} items`,
      });
    else if (typeof value === 'object') {
      if (depth < 2)
        for (const [k, v] of Object.entries(value as Record<string, unknown>)) add(`${key}.${k}`, v, depth + 1);
    } else facts.push({ title: key, value: typeof value === 'number' ? value.toLocaleString('en-US') : String(value) });
  };
  for (const [k, v] of Object.entries(evidence)) add(k, v, 0);
  return facts.slice(0, 20);
}

function iso(d: Date): string {
  return d.toISOString().replace(/\.\d+Z$/, 'Z');
}
