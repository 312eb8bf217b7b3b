import { canVote, evidenceHash, vote, type Approval, type ApprovalPolicy } from '../../src/runbook/approvals';

const now = new Date('2026-11-25T10:00:00Z');
const policy: ApprovalPolicy = { approvers: ['adele', 'megan', 'lynne'], required: 2, ttlMs: 3_600_000 };
const evidence = { scheduler: { syncCycleEnabled: true, syncCycleInProgress: false } };

function request(overrides: Partial<Approval> = {}): Approval {
  return {
    id: 'r1',
    migrationId: 'm',
    step: 8,
    action: 'schedulerStop',
    requestedBy: 'adele',
    requestedByName: 'Adele',
    requestedAt: now,
    expiresAt: new Date(now.getTime() + 3_600_000),
    required: 2,
    evidenceHash: evidenceHash(evidence),
    evidence,
    status: 'pending',
    votes: [],
    ...overrides,
  };
}

const v = (a: Approval, by: string, extra: Partial<Parameters<typeof vote>[1]> = {}) =>
  vote(a, { by, byName: by, decision: 'approve', now, currentEvidenceHash: evidenceHash(evidence), policy, ...extra });

describe('approvals', () => {
  it('needs N approvals from listed approvers other than the requester', () => {
    const first = v(request(), 'megan');
    expect(first).toMatchObject({ ok: true, outcome: 'recorded' });
    const second = v((first as { approval: Approval }).approval, 'lynne');
    expect(second).toMatchObject({ ok: true, outcome: 'approved', approval: { status: 'approved' } });
  });

  it('refuses self-approval, strangers, double votes, late votes and changed evidence', () => {
    expect(v(request(), 'adele')).toMatchObject({ ok: false, code: 'SELF_APPROVAL' });
    expect(v(request(), 'mallory')).toMatchObject({ ok: false, code: 'NOT_APPROVER' });
    const once = (v(request(), 'megan') as { approval: Approval }).approval;
    expect(v(once, 'megan')).toMatchObject({ ok: false, code: 'ALREADY_VOTED' });
    expect(v(request(), 'megan', { now: new Date(now.getTime() + 3_600_000) })).toMatchObject({
      ok: false,
      code: 'EXPIRED',
      approval: { status: 'expired' },
    });
    expect(
      v(request(), 'megan', {
        currentEvidenceHash: evidenceHash({
          ...evidence,
          scheduler: { syncCycleEnabled: true, syncCycleInProgress: true },
        }),
      }),
    ).toMatchObject({ ok: false, code: 'EVIDENCE_CHANGED', approval: { status: 'void' } });
    expect(v(request({ status: 'approved' }), 'megan')).toMatchObject({ ok: false, code: 'NOT_PENDING' });
  });

  it('a rejection ends the request; the requester may reject their own', () => {
    expect(v(request(), 'megan', { decision: 'reject' })).toMatchObject({ ok: true, outcome: 'rejected' });
    expect(v(request(), 'adele', { decision: 'reject' })).toMatchObject({ ok: true, outcome: 'rejected' });
  });

  it('canVote decides which viewers see the buttons', () => {
    expect(canVote(request(), 'megan', policy, now)).toBe(true);
    expect(canVote(request(), 'adele', policy, now)).toBe(false);
    expect(canVote(request(), 'mallory', policy, now)).toBe(false);
    expect(canVote(request(), 'megan', policy, new Date(now.getTime() + 4_000_000))).toBe(false);
  });

  it('evidence hashes ignore key order', () => {
    expect(evidenceHash({ a: 1, b: [1, { c: 2, d: 3 }] })).toBe(evidenceHash({ b: [1, { d: 3, c: 2 }], a: 1 }));
    expect(evidenceHash({ a: 1 })).not.toBe(evidenceHash({ a: 2 }));
  });
});
