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
  id: 'ap1',
  migrationId: 'm1',
  step: 8,
  action: 'schedulerStop',
  requestedBy: 'adele',
  requestedByName: 'Adele Vance',
  requestedAt: now,
  expiresAt: new Date(now.getTime() + 3_600_000),
  required: 1,
  evidenceHash: evidenceHash({}),
  evidence: {},
  status: 'pending',
  votes: [],
};

describe('step cards', () => {
  it('offers no Undo on step 13 while a wave holds a change, as the service would refuse it', () => {
    const steps = stepsUpTo(14);
    const render = (wavesHolding: string[]) =>
      actions(
        renderStepCard({
          migrationId: 'm1',
          migrationName: 'Contoso pilot',
          def: STEPS[12]!,
          step: steps[12]!,
          steps,
          approval: null,
          policy,
          viewer: null,
          now,
          wavesHolding,
        }),
      );
    expect(render([])).toContain('step.undo:Undo (needs approval)');
    expect(render(['Wave1']).some((a) => a.startsWith('step.undo'))).toBe(false);
  });

  it('every step in every ordinary state renders a valid Adaptive Card 1.5 with Action.Execute and refresh', () => {
    for (const def of STEPS) {
      for (const status of ['pending', 'in_progress', 'done', 'failed', 'skipped'] as const) {
        const steps = stepsUpTo(def.n).map((s) =>
          s.n === def.n
            ? {
                ...s,
                status,
                reason: status === 'failed' ? 'agent offline' : null,
                evidence: { onPrem: 1243, scheduler: { syncCycleEnabled: false } },
              }
            : s,
        );
        const card = renderStepCard({
          migrationId: 'm1',
          migrationName: 'Contoso pilot',
          def,
          step: steps[def.n - 1]!,
          steps,
          approval: null,
          policy,
          viewer: null,
          now,
        });
        expect(cardProblems(card)).toEqual([]);
        expect((card.refresh as { action: { verb: string } }).action.verb).toBe('step.refresh');
      }
    }
  });

  it('offers the buttons that fit the step and the viewer', () => {
    const steps = stepsUpTo(8).map((s) => (s.n === 8 ? { ...s, status: 'waiting_approval' as const } : s));
    const base = {
      migrationId: 'm1',
      migrationName: 'Contoso pilot',
      def: STEPS[7]!,
      step: steps[7]!,
      steps,
      approval,
      policy,
      now,
    };
    expect(actions(renderStepCard({ ...base, viewer: 'megan' }))).toEqual([
      'step.approve:Approve',
      'step.reject:Reject',
    ]);
    expect(actions(renderStepCard({ ...base, viewer: 'adele' }))).toEqual(['step.reject:Withdraw request']);
    expect(actions(renderStepCard({ ...base, viewer: 'mallory' }))).toEqual([]);
    const text = cardText(renderStepCard({ ...base, viewer: 'megan' }));
    expect(text).toContain('Waiting for approval: 0 of 1');
    expect(text).toContain('Requested by Adele Vance at 2026-11-25T10:00:00Z');
    const pending = stepsUpTo(1);
    expect(
      actions(
        renderStepCard({ ...base, def: STEPS[0]!, step: pending[0]!, steps: pending, approval: null, viewer: null }),
      ),
    ).toEqual(['step.run:Run check']);
    const at4 = stepsUpTo(4);
    expect(
      actions(renderStepCard({ ...base, def: STEPS[3]!, step: at4[3]!, steps: at4, approval: null, viewer: null })),
    ).toEqual(['step.confirm:Mark done']);
    const at6 = stepsUpTo(6);
    expect(
      actions(renderStepCard({ ...base, def: STEPS[5]!, step: at6[5]!, steps: at6, approval: null, viewer: null })),
    ).toEqual(['step.confirm:Mark done', 'step.skip:Skip']);
  });

  it('shows Undo exactly where the stored state allows an undo (the rule the bot applies to the click)', () => {
    const statuses: StepStatus[] = ['pending', 'in_progress', 'waiting_approval', 'done', 'skipped', 'failed'];
    let shown = 0;
    for (const def of STEPS.filter((d) => d.undo)) {
      const later = STEPS.find((d) => d.dependsOn.includes(def.n))!;
      for (const status of statuses) {
        for (const laterStatus of statuses) {
          for (const live of [
            null,
            { ...approval, step: def.n, action: `undo:${def.undo}` },
            { ...approval, step: def.n, status: 'approved' as const },
          ]) {
            // What the step's own undo needs from its evidence: the rules it created, the start type it read.
            const evidence =
              def.undo === 'disableRules'
                ? { result: { created: [{ identifier: '0b7e3c2a-5a4d-4b6e-9f10-0000000000a1' }] } }
                : def.undo === 'adsyncServiceStart'
                  ? { result: { previousStartType: 'Automatic' } }
                  : null;
            const steps = stepsUpTo(def.n).map((s) =>
              s.n === def.n ? { ...s, status, evidence } : s.n === later.n ? { ...s, status: laterStatus } : s,
            );
            const card = renderStepCard({
              migrationId: 'm1',
              migrationName: 'Contoso pilot',
              def,
              step: steps[def.n - 1]!,
              steps,
              approval: live,
              policy,
              viewer: 'megan',
              now,
            });
            const hasUndo = actions(card).includes('step.undo:Undo (needs approval)');
            expect([def.n, status, laterStatus, live?.status, hasUndo]).toEqual([
              def.n,
              status,
              laterStatus,
              live?.status,
              undoAllowed(steps, def.n, live, []).ok,
            ]);
            if (hasUndo) shown++;
          }
        }
      }
    }
    // done or failed, no open request, the later step pending or failed: 2 x 2 per undoable step;
    // step 9's later step (10, installing the provisioning agent) does not rest on its rules, so any of its 6 statuses.
    expect(shown).toBe((STEPS.filter((s) => s.undo).length - 1) * 2 * 2 + 2 * 6);
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

/** Text on the card before anyone clicks anything: elements with isVisible false are left out. */
function visibleText(card: unknown): string {
  const strip = (node: unknown): unknown => {
    if (Array.isArray(node))
      return node.filter((n) => (n as { isVisible?: boolean } | null)?.isVisible !== false).map(strip);
    if (node && typeof node === 'object')
      return Object.fromEntries(Object.entries(node).map(([k, v]) => [k, strip(v)]));
    return node;
  };
  return cardText(strip(card));
}

/** The card elements with the given id. */
function byId(node: unknown, id: string): Record<string, unknown>[] {
  if (Array.isArray(node)) return node.flatMap((n) => byId(n, id));
  if (!node || typeof node !== 'object') return [];
  const o = node as Record<string, unknown>;
  return [...(o.id === id ? [o] : []), ...Object.values(o).flatMap((v) => byId(v, id))];
}

describe('evidence on step cards', () => {
  const scheduler = { syncCycleEnabled: true, syncCycleInProgress: false, stagingModeEnabled: false };
  const waiting = stepsUpTo(8).map((s) =>
    s.n === 8 ? { ...s, status: 'waiting_approval' as const, evidence: { scheduler } } : s,
  );

  it('an approval card shows the scheduler state as a person reads it, not as raw keys', () => {
    const card = renderStepCard({
      migrationId: 'm1',
      migrationName: 'Contoso pilot',
      def: STEPS[7]!,
      step: waiting[7]!,
      steps: waiting,
      approval,
      policy,
      viewer: 'megan',
      now,
    });
    expect(cardProblems(card)).toEqual([]);
    const shown = visibleText(card);
    expect(shown).toContain('Connect Sync scheduler: Scheduler: on · Staging mode: off · Sync cycle running: no');
    expect(shown).not.toContain('syncCycleEnabled');
    expect(shown).not.toContain('true');
  });

  it('the raw values stay on the card, behind a button that shows them', () => {
    const card = renderStepCard({
      migrationId: 'm1',
      migrationName: 'Contoso pilot',
      def: STEPS[7]!,
      step: waiting[7]!,
      steps: waiting,
      approval,
      policy,
      viewer: 'megan',
      now,
    });
    const [raw] = byId(card, 'rawEvidence');
    expect(raw).toMatchObject({ type: 'Container', isVisible: false });
    expect(cardText(raw)).toContain(
      'scheduler.syncCycleEnabled: true\nscheduler.syncCycleInProgress: false\nscheduler.stagingModeEnabled: false',
    );
    expect(JSON.stringify(card.body)).toContain(
      '{"type":"Action.ToggleVisibility","title":"Show raw values","targetElements":["rawEvidence"]}',
    );
  });

  it('a finished scheduler step reads before and after, who approved and which agent ran it', async () => {
    const { readableEvidence } = await import('../../src/cards/evidence-text');
    const after = {
      ...scheduler,
      syncCycleEnabled: false,
      schedulerSuspended: false,
      maintenanceEnabled: true,
      nextSyncCyclePolicyType: 'Delta',
      nextSyncCycleStartTimeInUTC: null,
      currentlyEffectiveSyncCycleInterval: '00:30:00',
      runningConnector: null,
    };
    expect(
      readableEvidence({
        before: { scheduler },
        result: { stopped: true, scheduler: after },
        job: 'ab12cd34',
        agent: 'dc-agent-1',
        approvedBy: 'Alex Wilber',
      }),
    ).toEqual([
      { title: 'Agent job', value: 'ab12cd34' },
      { title: 'Agent', value: 'dc-agent-1' },
      { title: 'Approved by', value: 'Alex Wilber' },
      { title: 'Before · Connect Sync scheduler', value: 'Scheduler: on · Staging mode: off · Sync cycle running: no' },
      { title: 'Result', value: 'Stopped: yes' },
      {
        title: 'Result · Connect Sync scheduler',
        value:
          'Scheduler: off · Staging mode: off · Sync cycle running: no · Scheduler suspended: no · Maintenance: on · Next cycle type: Delta · Next cycle starts (UTC): not reported · Cycle interval: 00:30:00 · Running connector: none',
      },
    ]);
  });

  it('verify evidence: counts with separators, DN lists set apart with semicolons, unknown keys spelled out', async () => {
    const { readableEvidence } = await import('../../src/cards/evidence-text');
    expect(
      readableEvidence({
        ou: 'OU=R\\,D,DC=contoso,DC=com',
        onPremUsers: 1243,
        missingSample: ['CN=Doe\\, Jane,OU=Sales', 'CN=B,OU=Sales'],
        baseline: null,
        someNewFlag: true,
        script: 'hidden',
        inetOrgPersons: 2,
        inetOrgPersonSample: ['CN=Inet 1,OU=Sales', 'CN=Inet 2,OU=Sales'],
      }),
    ).toEqual([
      { title: 'OU', value: 'OU=R\\,D,DC=contoso,DC=com' },
      { title: 'On-premises users', value: '1,243' },
      { title: 'Missing, first few', value: 'CN=Doe\\, Jane,OU=Sales; CN=B,OU=Sales' },
      { title: 'Counted in step 7', value: 'not counted' },
      { title: 'Some new flag', value: 'yes' },
      { title: 'inetOrgPerson objects (not covered by the no-flow rules; step 12 refuses them)', value: '2' },
      { title: 'inetOrgPerson, first few', value: 'CN=Inet 1,OU=Sales; CN=Inet 2,OU=Sales' },
    ]);
  });
});

describe('evidenceFacts', () => {
  it('shows primitives, two levels of nesting, and summarises lists', async () => {
    const { evidenceFacts } = await import('../../src/cards/step-card');
    expect(
      evidenceFacts({
        onPremUsers: 1243,
        ou: 'OU=Sales',
        export: { path: '/x', files: 3, nested: { deep: 1, deeper: { no: 1 } } },
        plan: [{ a: 1 }, { a: 2 }],
        tags: ['a', 'b'],
        none: null,
        script: 'hidden',
        before: { script: 'hidden' },
      }),
    ).toEqual([
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

describe('step 7 pre-flight on the card', () => {
  const preflight = {
    ou: 'OU=Pilot,DC=contoso,DC=com',
    onPremUsers: 7,
    preflight: {
      notInEntra: 1,
      differentAnchor: 1,
      findingsHash: 'f'.repeat(64),
      sample: ['CN=Ann,OU=Pilot,DC=contoso,DC=com (not in Entra)'],
    },
  };
  const render = (evidence: unknown, viewer: string | null, status: StepStatus = 'failed') => {
    const steps = stepsUpTo(7).map((s) => (s.n === 7 ? { ...s, status, reason: 'hard match', evidence } : s));
    return renderStepCard({
      migrationId: 'm1',
      migrationName: 'Contoso pilot',
      def: STEPS[6]!,
      step: steps[6]!,
      steps,
      approval: null,
      policy,
      viewer,
      now,
    });
  };

  it('offers approvers (and the shared copy) to acknowledge the findings with a reason, and nobody else', () => {
    for (const viewer of [null, 'megan']) {
      const card = render(preflight, viewer);
      expect(cardProblems(card)).toEqual([]);
      expect(actions(card)).toContain('step.acknowledge:Acknowledge and count again');
      expect(JSON.stringify(card)).toContain('Reason (to acknowledge the users above)');
      expect(cardText(card)).toContain('Pre-flight: hard match predicted to fail');
    }
    expect(actions(render(preflight, 'mallory'))).not.toContain('step.acknowledge:Acknowledge and count again');
  });

  it('offers nothing to acknowledge once acknowledged, on a clean count, or while it runs', () => {
    const acknowledged = { ...preflight, preflight: { ...preflight.preflight, acknowledgedBy: 'Megan Bowen' } };
    expect(actions(render(acknowledged, null, 'done')).join()).not.toContain('acknowledge');
    expect(actions(render({ onPremUsers: 7 }, null)).join()).not.toContain('acknowledge');
    expect(actions(render(preflight, null, 'in_progress')).join()).not.toContain('acknowledge');
  });
});
