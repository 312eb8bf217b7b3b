import { renderOverviewCard } from '../../src/cards/overview-card';
import { renderStepCard } from '../../src/cards/step-card';
import { evidenceHash, type Approval, type ApprovalPolicy } from '../../src/runbook/approvals';
import { initialSteps, undoAllowed, type StepState, type StepStatus } from '../../src/runbook/runbook';
import { STEPS } from '../../src/runbook/steps';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';

const now = new Date('2026-11-25T10:00:00Z');
const policy: ApprovalPolicy = { approvers: ['adele', 'megan'], required: 1, ttlMs: 3_600_000 };

function stepsUpTo(n: number): StepState[] {
  return initialSteps().map((s) => (s.n < n ? { ...s, status: 'done' as const } : s));
}

function actions(card: Record<string, unknown>): string[] {
  return ((card.actions as { title: string; verb: string }[] | undefined) ?? []).map((a) => `${a.verb}:${a.title}`);
}

const approval: Approval = {
  id: 'ap1', migrationId: 'm1', step: 8, action: 'schedulerStop', requestedBy: 'adele', requestedByName: 'Adele Vance', requestedAt: now,
  expiresAt: new Date(now.getTime() + 3_600_000), required: 1, evidenceHash: evidenceHash({}), evidence: {}, status: 'pending', votes: [],
};

describe('step cards', () => {
  it('every step in every ordinary state renders a valid Adaptive Card 1.5 with Action.Execute and refresh', () => {
    for (const def of STEPS) {
      for (const status of ['pending', 'in_progress', 'done', 'failed', 'skipped'] as const) {
        const steps = stepsUpTo(def.n).map((s) => (s.n === def.n ? { ...s, status, reason: status === 'failed' ? 'agent offline' : null, evidence: { onPrem: 1243, scheduler: { syncCycleEnabled: false } } } : s));
        const card = renderStepCard({ migrationId: 'm1', migrationName: 'Contoso pilot', def, step: steps[def.n - 1]!, steps, approval: null, policy, viewer: null, now });
        expect(cardProblems(card)).toEqual([]);
        expect((card.refresh as { action: { verb: string } }).action.verb).toBe('step.refresh');
      }
    }
  });

  it('offers the buttons that fit the step and the viewer', () => {
    const steps = stepsUpTo(8).map((s) => (s.n === 8 ? { ...s, status: 'waiting_approval' as const } : s));
    const base = { migrationId: 'm1', migrationName: 'Contoso pilot', def: STEPS[7]!, step: steps[7]!, steps, approval, policy, now };
    expect(actions(renderStepCard({ ...base, viewer: 'megan' }))).toEqual(['step.approve:Approve', 'step.reject:Reject']);
    expect(actions(renderStepCard({ ...base, viewer: 'adele' }))).toEqual(['step.reject:Withdraw request']);
    expect(actions(renderStepCard({ ...base, viewer: 'mallory' }))).toEqual([]);
    const text = cardText(renderStepCard({ ...base, viewer: 'megan' }));
    expect(text).toContain('Waiting for approval: 0 of 1');
    expect(text).toContain('Requested by Adele Vance at 2026-11-25T10:00:00Z');
    const pending = stepsUpTo(1);
    expect(actions(renderStepCard({ ...base, def: STEPS[0]!, step: pending[0]!, steps: pending, approval: null, viewer: null }))).toEqual(['step.confirm:Mark done']);
    const at6 = stepsUpTo(6);
    expect(actions(renderStepCard({ ...base, def: STEPS[5]!, step: at6[5]!, steps: at6, approval: null, viewer: null }))).toEqual(['step.confirm:Mark done', 'step.skip:Skip']);
  });

  it('shows Undo exactly where the stored state allows an undo (the rule the bot applies to the click)', () => {
    const statuses: StepStatus[] = ['pending', 'in_progress', 'waiting_approval', 'done', 'skipped', 'failed'];
    let shown = 0;
    for (const def of STEPS.filter((d) => d.undo)) {
      const later = STEPS.find((d) => d.dependsOn.includes(def.n))!;
      for (const status of statuses) {
        for (const laterStatus of statuses) {
          for (const live of [null, { ...approval, step: def.n, action: `undo:${def.undo}` }, { ...approval, step: def.n, status: 'approved' as const }]) {
            const steps = stepsUpTo(def.n).map((s) => (s.n === def.n ? { ...s, status } : s.n === later.n ? { ...s, status: laterStatus } : s));
            const card = renderStepCard({ migrationId: 'm1', migrationName: 'Contoso pilot', def, step: steps[def.n - 1]!, steps, approval: live, policy, viewer: 'megan', now });
            const hasUndo = actions(card).includes('step.undo:Undo (needs approval)');
            expect([def.n, status, laterStatus, live?.status, hasUndo]).toEqual([def.n, status, laterStatus, live?.status, undoAllowed(steps, def.n, live).ok]);
            if (hasUndo) shown++;
          }
        }
      }
    }
    // done or failed, no open request, the later step pending or failed: 2 x 2 per undoable step
    expect(shown).toBe(4 * 2 * 2);
  });

  it('the overview shows every step and the current one', () => {
    const card = renderOverviewCard({ name: 'Contoso pilot', steps: stepsUpTo(4) });
    expect(cardProblems(card)).toEqual([]);
    const text = cardText(card);
    expect(text).toContain('3 of 18 steps finished · current: step 4, Review the pilot tutorial.');
    expect(text).toContain('▶ 4. Review the pilot tutorial: not started');
    expect(text).toContain('18. Decommission Connect Sync: not started');
  });
});

describe('evidenceFacts', () => {
  it('shows primitives, two levels of nesting, and summarises lists', async () => {
    const { evidenceFacts } = await import('../../src/cards/step-card');
    expect(evidenceFacts({ onPremUsers: 1243, ou: 'OU=Sales', export: { path: '/x', files: 3, nested: { deep: 1, deeper: { no: 1 } } }, plan: [{ a: 1 }, { a: 2 }], tags: ['a', 'b'], none: null, script: 'hidden', before: { script: 'hidden' } })).toEqual([
      { title: 'onPremUsers', value: '1,243' },
      { title: 'ou', value: 'OU=Sales' },
      { title: 'export.path', value: '/x' },
      { title: 'export.files', value: '3' },
      { title: 'export.nested.deep', value: '1' },
      { title: 'plan', value: '2 items' },
      { title: 'tags', value: 'a, b' },
      { title: 'none', value: '—' },
    ]);
  });
});
