import { createHash } from 'node:crypto';

/**
 * Four-eyes approvals for actions that change Connect Sync. Pure decisions; the store makes them
 * atomic (one vote per person, one execution per approval).
 */

export type ApprovalStatus = 'pending' | 'approved' | 'rejected' | 'expired' | 'void' | 'executing' | 'executed';

export interface ApprovalVote {
  by: string;
  byName: string;
  decision: 'approve' | 'reject';
  at: Date;
}

export interface Approval {
  id: string;
  migrationId: string;
  step: number;
  action: string;
  requestedBy: string;
  requestedByName: string;
  requestedAt: Date;
  expiresAt: Date;
  required: number;
  /** Hash of the evidence the approvers were shown; the action runs only if it still holds. */
  evidenceHash: string;
  evidence: unknown;
  status: ApprovalStatus;
  votes: ApprovalVote[];
}

export interface ApprovalPolicy {
  /** Entra object ids of the people who may approve. */
  approvers: readonly string[];
  required: number;
  ttlMs: number;
}

export type VoteRefusal =
  'SELF_APPROVAL' | 'NOT_APPROVER' | 'EXPIRED' | 'ALREADY_VOTED' | 'NOT_PENDING' | 'EVIDENCE_CHANGED';

export type VoteResult =
  | { ok: true; approval: Approval; outcome: 'recorded' | 'approved' | 'rejected' }
  | { ok: false; code: VoteRefusal; message: string; approval: Approval };

export function vote(
  approval: Approval,
  input: {
    by: string;
    byName: string;
    decision: 'approve' | 'reject';
    now: Date;
    currentEvidenceHash: string;
    policy: ApprovalPolicy;
  },
): VoteResult {
  const refuse = (code: VoteRefusal, message: string, changed?: Partial<Approval>): VoteResult => ({
    ok: false,
    code,
    message,
    approval: { ...approval, ...changed },
  });
  if (approval.status !== 'pending')
    return refuse('NOT_PENDING', `This request is already ${approval.status}; nothing was changed.`);
  if (input.now.getTime() >= approval.expiresAt.getTime()) {
    return refuse('EXPIRED', `This request expired at ${approval.expiresAt.toISOString()}. Ask for approval again.`, {
      status: 'expired',
    });
  }
  if (input.currentEvidenceHash !== approval.evidenceHash) {
    return refuse(
      'EVIDENCE_CHANGED',
      'What this request was based on has changed since it was made, so it is void. Review the new state and ask again.',
      { status: 'void' },
    );
  }
  if (input.by === approval.requestedBy && input.decision === 'approve') {
    return refuse('SELF_APPROVAL', 'You asked for this change, so someone else has to approve it.');
  }
  if (!input.policy.approvers.includes(input.by)) {
    return refuse(
      'NOT_APPROVER',
      'You are not on the approver list for this migration. Ask an approver, or an administrator to add you (SYNCSHIFT_APPROVERS).',
    );
  }
  if (approval.votes.some((v) => v.by === input.by))
    return refuse('ALREADY_VOTED', 'You have already answered this request.');
  const votes = [...approval.votes, { by: input.by, byName: input.byName, decision: input.decision, at: input.now }];
  if (input.decision === 'reject')
    return { ok: true, approval: { ...approval, votes, status: 'rejected' }, outcome: 'rejected' };
  const approvals = votes.filter((v) => v.decision === 'approve').length;
  if (approvals >= approval.required)
    return { ok: true, approval: { ...approval, votes, status: 'approved' }, outcome: 'approved' };
  return { ok: true, approval: { ...approval, votes }, outcome: 'recorded' };
}

/** May this person press Approve? Drives which buttons each viewer's card shows. */
export function canVote(approval: Approval, viewer: string, policy: ApprovalPolicy, now: Date): boolean {
  return (
    approval.status === 'pending' &&
    now.getTime() < approval.expiresAt.getTime() &&
    viewer !== approval.requestedBy &&
    policy.approvers.includes(viewer) &&
    !approval.votes.some((v) => v.by === viewer)
  );
}

/** Stable hash of evidence: key order does not matter, values do. */
export function evidenceHash(evidence: unknown): string {
  return createHash('sha256').update(stableJson(evidence)).digest('hex');
}

function stableJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value ?? null);
  if (value instanceof Date) return JSON.stringify(value.toISOString());
  if (Array.isArray(value)) return `[${value.map(stableJson).join(',')}]`;
  const entries = Object.entries(value as Record<string, unknown>)
    .filter(([, v]) => v !== undefined)
    .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${stableJson(v)}`).join(',')}}`;
}
