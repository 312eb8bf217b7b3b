import type { Approval } from '../runbook/approvals';
import { createdRuleIds } from '../runbook/runbook';
import {
  approvedOus,
  parseWaveApprovalAction,
  type WaveActionKind,
  type WaveActionStatus,
  type WaveRollbackPartState,
  type WaveRollbackPlan,
} from '../runbook/wave-engine';
import { renderMessageCard, type MessageCardInput } from './message-cards';
import type { AdaptiveCardJson } from './render';

export const WAVE_VERBS = {
  approve: 'wave.approve',
  reject: 'wave.reject',
  rollback: 'wave.rollback',
  checkScope: 'wave.checkScope',
} as const;

const PILOT_TUTORIAL = 'https://learn.microsoft.com/entra/identity/hybrid/cloud-sync/tutorial-pilot-aadc-aadccp';

export const KIND_TITLE: Record<WaveActionKind, string> = {
  rules: 'No-flow sync rules',
  scope: "Cloud Sync's scope",
  cycle: 'Full Connect Sync cycle',
};

const STATUS_TEXT: Record<WaveActionStatus, string> = {
  reading: 'reading the current state through the agent',
  waiting_approval: 'waiting for approval',
  in_progress: 'approved, running',
  done: 'done',
  failed: 'failed',
  undoing: 'being taken back',
  undone: 'undone',
};

export interface WaveActionView {
  migrationId: string;
  waveId: string;
  waveName: string;
  actionId: string;
  kind: WaveActionKind;
  status: WaveActionStatus;
  reason: string | null;
  evidence: unknown;
  updatedBy: string | null;
  /** The action's latest approval, if any. */
  approval: Approval | null;
  /** Something of the wave can be rolled back (the card then offers Rollback). */
  canRollBack: boolean;
  notice?: string;
}

/**
 * A wave's rules, scope or full-cycle part: status, what it rests on as read (the OUs as AD wrote
 * them, the plan, Cloud Sync's scope before and after) and the approval with its votes. Buttons name
 * only stored ids: the action, its approval, the wave.
 */
export function renderWaveActionCard(v: WaveActionView): AdaptiveCardJson {
  const e = (v.evidence ?? {}) as Record<string, unknown>;
  const approval = v.approval;
  const pending = approval?.status === 'pending';
  const asked = approval ? parseWaveApprovalAction(approval.action) : null;
  const facts: { title: string; value: string }[] = [
    { title: 'Wave', value: v.waveName },
    { title: 'Status', value: STATUS_TEXT[v.status] + (v.updatedBy ? ` (${v.updatedBy})` : '') },
  ];
  // The values written or to be written, as AD wrote them (the agent's read), never as typed.
  const ous = approvedOus(approval?.evidence ?? v.evidence);
  for (const dn of ous) facts.push({ title: v.kind === 'scope' ? 'Scope value' : 'OU', value: dn });
  if (v.kind === 'scope') {
    const before = approval?.evidence as { scopeBefore?: unknown; jobId?: unknown; jobStatus?: unknown } | null;
    if (before?.jobId)
      facts.push({ title: 'Cloud Sync job (read)', value: `${String(before.jobId)}: ${String(before.jobStatus)}` });
    if (Array.isArray(before?.scopeBefore))
      facts.push({ title: 'Scope before (read)', value: listText(before.scopeBefore) });
    if (Array.isArray(e.scopeAfter)) facts.push({ title: 'Scope after (read back)', value: listText(e.scopeAfter) });
    if (typeof e.jobStatus === 'string' && e.scopeAfter) facts.push({ title: 'Job status after', value: e.jobStatus });
    if (typeof e.missingPermission === 'string')
      facts.push({ title: 'Missing permission', value: e.missingPermission });
  }
  const created = createdRuleIds(v.evidence);
  if (v.kind === 'rules' && created.length > 0) facts.push({ title: 'Rules created (ids)', value: created.join(', ') });
  if (approval) {
    const votes = approval.votes.map((x) => `${x.byName} ${x.decision === 'approve' ? 'approved' : 'rejected'}`);
    facts.push({
      title: asked?.undo ? 'Undo request' : 'Approval',
      value: `${approval.status}; asked by ${approval.requestedByName}${votes.length ? `; ${votes.join(', ')}` : ''}; ${approval.required} approval(s) needed, not by the requester`,
    });
  }
  const plan = (approval?.evidence as { plan?: unknown } | null)?.plan;
  const items =
    v.kind === 'rules' && Array.isArray(plan)
      ? (
          plan as {
            precedence?: unknown;
            name?: unknown;
            scope?: { attribute: string; operator: string; value: string }[];
          }[]
        ).map(
          (r) =>
            `${String(r.precedence)} ${String(r.name)}: ${(r.scope ?? []).map((c) => `${c.attribute} ${c.operator} ${c.value}`).join(' AND ')}`,
        )
      : [];
  const buttons: NonNullable<MessageCardInput['buttons']> = [];
  if (pending && approval) {
    const data = { migrationId: v.migrationId, actionId: v.actionId, approvalId: approval.id };
    buttons.push(
      { title: 'Approve', verb: WAVE_VERBS.approve, data },
      { title: 'Reject', verb: WAVE_VERBS.reject, data },
    );
  }
  if (v.kind === 'scope' && typeof e.byHand === 'string')
    buttons.push({
      title: 'Check the scope',
      verb: WAVE_VERBS.checkScope,
      data: { migrationId: v.migrationId, actionId: v.actionId },
    });
  if (v.canRollBack && !pending)
    buttons.push({
      title: 'Rollback',
      verb: WAVE_VERBS.rollback,
      data: { migrationId: v.migrationId, waveId: v.waveId },
    });
  const what = asked?.undo ? `Take back: ${KIND_TITLE[v.kind]}` : KIND_TITLE[v.kind];
  return renderMessageCard({
    title: `Wave ${v.waveName}: ${what}`,
    text: [v.notice, v.reason].filter(Boolean).join('\n\n') || describe(v.kind),
    hint: `Each part is approved by someone other than who asked. Sources: docs/cloud-sync-scope.md (Waves); ${PILOT_TUTORIAL}.`,
    tone: v.status === 'failed' ? 'attention' : v.status === 'done' || v.status === 'undone' ? 'good' : 'warning',
    facts,
    items,
    buttons,
  });
}

function describe(kind: WaveActionKind): string {
  switch (kind) {
    case 'rules':
      return "The pilot tutorial's cloudNoFlow/JoinNoFlow rules, one set per OU of the wave, scoped dn ENDSWITH the OU as AD wrote it.";
    case 'scope':
      return "The wave's OUs added to the Cloud Sync configuration's scope (containerFilter.includedContainers) through Microsoft Graph.";
    case 'cycle':
      return 'Start-ADSyncSyncCycle -PolicyType Initial on the Connect Sync server: changed rules are applied by a full cycle only.';
  }
}

function listText(lists: unknown[]): string {
  const flat = lists.map((l) =>
    Array.isArray(l) ? (l.length ? l.join('; ') : '(empty: the whole domain)') : String(l),
  );
  return flat.join(' | ');
}

const PART_WORDS: Record<WaveRollbackPartState, string> = {
  undone: 'undone already',
  'not-needed': 'nothing to take back',
  next: 'next: asked for on the card below',
  waiting: 'after the part before it',
  running: 'running or waiting for approval',
};

export function renderWaveRollbackCard(waveName: string, plan: WaveRollbackPlan): AdaptiveCardJson {
  const facts = plan.parts.map((p) => ({ title: KIND_TITLE[p.kind], value: PART_WORDS[p.state] }));
  const items = plan.parts.map((p) => `${KIND_TITLE[p.kind]}: ${p.does}`);
  const source = `Order: Microsoft's pilot tutorial, Troubleshooting (${PILOT_TUTORIAL}).`;
  if (!plan.ok)
    return renderMessageCard({
      title: `Rollback of wave ${waveName} refused`,
      text: plan.reason,
      hint: `Nothing was requested. ${source}`,
      tone: 'warning',
      facts,
      items,
    });
  if (plan.next === null)
    return renderMessageCard({
      title: `Rollback of wave ${waveName}: nothing to roll back`,
      text: `SyncShift holds no change of wave ${waveName} (rules, Cloud Sync scope, cycle) that it could take back.`,
      hint: source,
      tone: 'good',
      facts,
      items,
    });
  return renderMessageCard({
    title: `Rollback of wave ${waveName}`,
    text: `${KIND_TITLE[plan.next]}: its undo is asked for on the card below; another approver approves it there. Once it is done, send /rollback ${waveName} again (or press Rollback) for the next part.`,
    hint: source,
    tone: 'warning',
    facts,
    items,
  });
}
