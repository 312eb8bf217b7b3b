import { randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { StepStatus } from '../../src/runbook/runbook';
import { STEP_VERBS, type StepVerb } from '../../src/runbook/step-actions';
import { installFakePowerShell, type FakePowerShell } from '../../src/sandbox/simulated-connect-sync';
import type { StoredStep } from '../../src/store/runbook-repo';
import { ADELE, cardActionActivity, MEGAN, postActivity, type TestUser } from '../helpers/activities';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { AGENT_ID, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';
import { sambaEnv } from '../helpers/samba';

const LYNNE: TestUser = { id: '29:lynne', name: 'Lynne Robbins', aadObjectId: '00000000-0000-0000-0000-00000000ad03' };
const PILOT_OU = 'OU=R\\,D,DC=contoso,DC=com';
const TAMPERED = 'Refused: this button does not match what SyncShift stored';

/** Where an invoke comes from: a conversation id and its Teams type. */
interface Origin {
  id: string;
  type: 'channel' | 'personal';
}

/** One altered click and what must come of it: a refusal as tampered (with the fields named), or a refusal by the stored state. */
interface Variant {
  name: string;
  verb?: string;
  data: unknown;
  from?: Origin;
  expected: { tampered: string[]; auditedIn: string[] } | { refusedAs: string };
}

/** A genuine click: the card's verb and data, and how to check afterwards that it did its job. */
interface Genuine {
  verb: StepVerb;
  user: TestUser;
  n: number;
  extra?: Record<string, unknown>;
}

/**
 * Every step card verb, with every field of its data altered: another step, another migration,
 * another approval, another conversation, fields missing, wrong types. A tampered click must run
 * nothing (the PowerShell stand-in's state and call log, the jobs, the steps and the approvals are
 * unchanged), must be on the audit log as a refusal, and the genuine click must still work after it.
 * The bot is real (HTTP), the agent is a real process on the PowerShell stand-in.
 */
describe('card tampering: a click is authorised by the stored records, never by the card', () => {
  let h: BotHarness;
  let ps: FakePowerShell;
  let agent: AgentProcess;
  let exportDir: string;
  const convA: Origin = { id: '19:tamper-a@thread.tacv2', type: 'channel' };
  const convB: Origin = { id: '19:tamper-b@thread.tacv2', type: 'channel' };
  const convC: Origin = { id: '19:tamper-undo@thread.tacv2', type: 'channel' };
  const personal: Origin = { id: 'a:1-megan-personal-chat', type: 'personal' };
  let migA: string;
  let migB: string;
  let migC: string;
  /** Migration B's step 8 request, pending for the whole suite: nothing here may vote on it. */
  let approvalB: string;
  const approvalsA: Record<number, string> = {};

  beforeAll(async () => {
    ps = installFakePowerShell();
    exportDir = mkdtempSync(join(tmpdir(), 'syncshift-tamper-export-'));
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: [ADELE, MEGAN, LYNNE].map((u) => u.aadObjectId).join(','),
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
      },
    });
    agent = spawnAgent(h.bot.url, sambaEnv(), { ...ps.env, SYNCSHIFT_ADSYNC_EXPORT_DIR: exportDir });
    migA = await startMigration('Tamper A', convA);
    migB = await startMigration('Tamper B', convB);
    migC = await startMigration('Tamper undo', convC);
    // Each migration's Connect Sync jobs run on the test agent (what /server <agent> records).
    for (const migrationId of [migA, migB, migC])
      await h.store.servers.set({ migrationId, agent: AGENT_ID, by: { id: 'test', name: 'test' }, now: new Date() });
    await setSteps(migB, { 1: 'done', 2: 'done', 3: 'done', 4: 'done', 5: 'done', 6: 'skipped', 7: 'done' });
    await click(ADELE, STEP_VERBS.requestApproval, { migrationId: migB, n: 8 }, convB);
    approvalB = await waitForApproval(migB, 8, 'pending');
    await settle();
  });

  afterAll(async () => {
    agent?.stop();
    await h?.close();
    ps?.cleanup();
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  async function startMigration(name: string, conv: Origin): Promise<string> {
    await h.say(`/migration start "${name}"`, ADELE, conv.id);
    return (await h.store.migrations.findByConversation(conv.id))!.id;
  }

  /** Arranges step states directly in the store (what earlier clicks would have left). */
  async function setSteps(
    migrationId: string,
    states: Record<number, StepStatus | { status: StepStatus; evidence: unknown }>,
  ): Promise<void> {
    for (const [key, value] of Object.entries(states)) {
      const s = (await h.store.runbook.listSteps(migrationId)).find((x) => x.n === Number(key))!;
      const { status, evidence } = typeof value === 'string' ? { status: value, evidence: s.evidence } : value;
      expect(
        await h.store.runbook.saveStep(
          migrationId,
          { ...s, status, evidence, reason: null, updatedBy: 'test', updatedAt: new Date() },
          s.version,
        ),
      ).toBe(true);
    }
  }

  async function step(migrationId: string, n: number): Promise<StoredStep> {
    return (await h.store.runbook.listSteps(migrationId)).find((s) => s.n === n)!;
  }

  /** An Action.Execute invoke as Teams sends it; the answer (the card this person sees) comes in the HTTP response. */
  async function click(user: TestUser, verb: string, data: unknown, from: Origin = convA): Promise<string> {
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({
        verb,
        data,
        from: user,
        conversationId: from.id,
        conversationType: from.type,
        serviceUrl: h.connector.url,
      }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { statusCode: number; type: string; value: Record<string, unknown> };
    expect(body).toMatchObject({ statusCode: 200, type: 'application/vnd.microsoft.card.adaptive' });
    expect(cardProblems(body.value)).toEqual([]);
    return cardText(body.value);
  }

  /** Everything a click could have changed or run. */
  async function snapshot(): Promise<unknown> {
    return {
      powershell: ps.readState(),
      jobs: await h.store.db.query(`SELECT id, kind, state FROM jobs ORDER BY seq`),
      steps: await h.store.db.query(
        `SELECT migration_id, n, status, version FROM runbook_steps ORDER BY migration_id, n`,
      ),
      approvals: await h.store.db.query(
        `SELECT a.id, a.status, (SELECT count(*)::int FROM approval_votes v WHERE v.approval_id = a.id) AS votes FROM approvals a ORDER BY a.id`,
      ),
    };
  }

  async function auditSeq(): Promise<number> {
    const rows = await h.store.db.query(`SELECT coalesce(max(seq), 0)::int AS seq FROM audit_log`);
    return Number(rows[0]!.seq);
  }

  async function auditSince(
    seq: number,
  ): Promise<{ action: string; outcome: string; details: Record<string, unknown>; conversation_id: string }[]> {
    return (await h.store.db.query(
      `SELECT action, outcome, details, conversation_id FROM audit_log WHERE seq > $1 ORDER BY seq`,
      [seq],
    )) as never;
  }

  /** Waits until every job has finished and its result has been applied, so a snapshot holds still. */
  async function settle(): Promise<void> {
    await waitFor(
      async () =>
        (await h.store.db.query(`SELECT id FROM jobs WHERE state NOT IN ('succeeded', 'failed') OR applied_at IS NULL`))
          .length === 0,
      'jobs to finish',
    );
  }

  async function waitForStep(migrationId: string, n: number, status: StepStatus): Promise<StoredStep> {
    await waitFor(async () => (await step(migrationId, n)).status === status, `step ${n} to be ${status}`);
    return step(migrationId, n);
  }

  async function waitForApproval(migrationId: string, n: number, status: string): Promise<string> {
    await waitFor(
      async () => (await h.store.runbook.latestApproval(migrationId, n))?.status === status,
      `step ${n}'s approval to be ${status}`,
    );
    return (await h.store.runbook.latestApproval(migrationId, n))!.id;
  }

  async function waitFor(predicate: () => Promise<boolean>, what: string): Promise<void> {
    await eventually(predicate, { what, timeoutMs: 30_000, detail: () => `Agent log:\n${agent.log().slice(-3000)}` });
  }

  /** Sends one altered click and checks: refused, nothing ran, on the audit log. */
  async function expectRefused(user: TestUser, genuine: Genuine, v: Variant): Promise<void> {
    await settle();
    const before = await snapshot();
    const seq = await auditSeq();
    const text = await click(user, v.verb ?? genuine.verb, v.data, v.from ?? convA);
    expect(await snapshot()).toEqual(before);
    const audit = await auditSince(seq);
    const expected = v.expected;
    if ('tampered' in expected) {
      expect(text).toContain(TAMPERED);
      expect(text).toContain('Nothing was done.');
      const entries = audit.filter((a) => a.action === 'card.tampered');
      expect(entries.map((a) => [a.outcome, a.details.fields, a.details.by])).toEqual(
        expected.auditedIn.map(() => ['refused', expected.tampered, user.name]),
      );
      expect(entries.map((a) => a.conversation_id).sort()).toEqual([...expected.auditedIn].sort());
    } else {
      expect(text).not.toContain(TAMPERED);
      expect(
        audit.filter(
          (a) => a.action === expected.refusedAs && a.outcome === 'refused' && a.conversation_id === convA.id,
        ),
      ).toHaveLength(1);
    }
  }

  /** What the card's button carries for the genuine click. */
  function genuineData(g: Genuine): Record<string, unknown> {
    const vote = g.verb === STEP_VERBS.approve || g.verb === STEP_VERBS.reject;
    return { migrationId: migA, n: g.n, ...g.extra, ...(vote ? { approvalId: approvalsA[g.n] } : {}) };
  }

  /** Every alteration of one genuine click's data. */
  function variantsOf(
    g: Genuine,
    otherSteps: { n: number; refusedAs?: string }[],
    otherApprovals: { name: string; id: () => string; fields: string[]; auditedIn: () => string[] }[] = [],
  ): Variant[] {
    const data = (): Record<string, unknown> => genuineData(g);
    const vote = g.verb === STEP_VERBS.approve || g.verb === STEP_VERBS.reject;
    const tampered = (fields: string[], auditedIn: string[] = [convA.id]) => ({ tampered: fields, auditedIn });
    const lazy: (() => Variant)[] = [
      ...otherSteps.map((o) => () => ({
        name: `another step (${o.n})`,
        data: { ...data(), n: o.n },
        expected: o.refusedAs ? { refusedAs: o.refusedAs } : tampered(['n']),
      })),
      () => ({
        name: "another migration's id",
        data: { ...data(), migrationId: migB },
        expected: tampered(['migrationId'], [convA.id, convB.id]),
      }),
      () => ({
        name: 'a migration id nobody has',
        data: { ...data(), migrationId: randomUUID() },
        expected: tampered(['migrationId']),
      }),
      () => ({
        name: "sent from another migration's conversation",
        data: data(),
        from: convB,
        expected: tampered(['migrationId'], [convB.id, convA.id]),
      }),
      () => ({
        name: "sent from the clicker's own 1:1 chat",
        data: data(),
        from: personal,
        expected: tampered(['conversation'], [personal.id, convA.id]),
      }),
      ...Object.keys(data()).map((key) => () => {
        const { [key]: _dropped, ...rest } = data();
        // A typed input left empty is the person's business, judged by the step's state.
        return {
          name: `without ${key}`,
          data: rest,
          expected: key === 'reason' ? { refusedAs: g.verb } : tampered([key]),
        };
      }),
      () => ({
        name: 'the migration id as a number',
        data: { ...data(), migrationId: 42 },
        expected: tampered(['migrationId']),
      }),
      () => ({
        name: 'a migration id that is no id',
        data: { ...data(), migrationId: `${migA}' OR '1'='1` },
        expected: tampered(['migrationId']),
      }),
      () => ({ name: 'the step as text', data: { ...data(), n: String(g.n) }, expected: tampered(['n']) }),
      () => ({ name: 'a step that is not whole', data: { ...data(), n: g.n + 0.5 }, expected: tampered(['n']) }),
      () => ({ name: 'a step past the end', data: { ...data(), n: 99 }, expected: tampered(['n']) }),
      () => ({ name: 'the step as null', data: { ...data(), n: null }, expected: tampered(['n']) }),
      () => ({ name: 'data that is text', data: JSON.stringify(data()), expected: tampered(['data']) }),
      () => ({ name: 'data that is a list', data: Object.values(data()), expected: tampered(['data']) }),
      () => ({ name: 'a verb no card has', verb: `${g.verb}Now`, data: data(), expected: tampered(['verb']) }),
      ...(vote
        ? [
            () => ({
              name: 'the approval id as an object',
              data: { ...data(), approvalId: { id: approvalsA[g.n] } },
              expected: tampered(['approvalId']),
            }),
            () => ({
              name: 'the approval id as a number',
              data: { ...data(), approvalId: 8 },
              expected: tampered(['approvalId']),
            }),
            () => ({
              name: 'an approval SyncShift never made',
              data: { ...data(), approvalId: randomUUID() },
              expected: tampered(['approvalId']),
            }),
            () => ({
              name: "another migration's approval",
              data: { ...data(), approvalId: approvalB },
              expected: tampered(['approvalId'], [convA.id, convB.id]),
            }),
            () => ({
              name: "another migration's approval and id, from the 1:1 chat",
              data: { migrationId: migB, n: 8, approvalId: approvalB },
              from: personal,
              expected: tampered(['conversation'], [personal.id, convB.id]),
            }),
            ...otherApprovals.map((o) => () => ({
              name: o.name,
              data: { ...data(), approvalId: o.id() },
              expected: tampered(o.fields, o.auditedIn()),
            })),
          ]
        : []),
    ];
    return lazy.map((make) => make());
  }

  /**
   * The table for one verb: the variants run against the state `arrange` leaves, then the genuine
   * click must do its job (`completes`).
   */
  function verbSuite(
    title: string,
    g: Genuine,
    spec: {
      arrange: () => Promise<void>;
      otherSteps: { n: number; refusedAs?: string }[];
      otherApprovals?: Parameters<typeof variantsOf>[2];
      completes: (text: string) => Promise<void>;
    },
  ): void {
    describe(`${g.verb}: ${title}`, () => {
      beforeAll(spec.arrange);
      // The table needs ids that exist only once the suite runs, so each row is built when it runs.
      const names = variantsOf(g, spec.otherSteps, spec.otherApprovals).map((v) => v.name);
      it.each(names)('%s: refused, nothing ran, audited', async (name) => {
        await expectRefused(
          g.user,
          g,
          variantsOf(g, spec.otherSteps, spec.otherApprovals).find((x) => x.name === name)!,
        );
      });
      it('the genuine click still does its job', async () => {
        await settle();
        await spec.completes(await click(g.user, g.verb, genuineData(g)));
        await settle();
      });
    });
  }

  verbSuite(
    'mark a person step done',
    { verb: STEP_VERBS.confirm, user: ADELE, n: 4 },
    {
      // Steps 1 and 2 are the readiness report (checked by SyncShift), so step 4 is the first person step.
      arrange: () => setSteps(migA, { 1: 'done', 2: 'done', 3: 'done' }),
      otherSteps: [
        { n: 3, refusedAs: 'step.confirm' },
        { n: 1, refusedAs: 'step.confirm' },
      ],
      completes: async (text) => {
        expect(text).toContain('done · last change by Adele Vance');
        expect((await step(migA, 4)).status).toBe('done');
      },
    },
  );

  // A refresh only reads, and any step card of the conversation's own migration may be shown to
  // anyone in it (as /step <n> does), so another step of the same migration is not a tampering.
  verbSuite(
    'show the card as it is now',
    { verb: STEP_VERBS.refresh, user: MEGAN, n: 1 },
    {
      arrange: async () => undefined,
      otherSteps: [],
      completes: async (text) => {
        expect(text).toContain('Step 1 of 18');
        expect(text).toContain('Done');
      },
    },
  );

  verbSuite(
    'run a check through the agent',
    { verb: STEP_VERBS.run, user: ADELE, n: 3 },
    {
      // Step 3 is run for real here: the confirm suite above left it done only as stored state.
      arrange: () => setSteps(migA, { 3: 'pending' }),
      otherSteps: [
        { n: 8, refusedAs: 'step.run' },
        { n: 16, refusedAs: 'step.run' },
        { n: 4, refusedAs: 'step.run' },
      ],
      completes: async (text) => {
        expect(text).toContain('In progress');
        await waitForStep(migA, 3, 'done');
        expect(ps.readState().calls.filter((c) => c.cmdlet === 'Get-ADSyncServerConfiguration')).toHaveLength(1);
      },
    },
  );

  verbSuite(
    'skip an optional step',
    { verb: STEP_VERBS.skip, user: ADELE, n: 6, extra: { reason: 'Pilot users already live in the OU' } },
    {
      arrange: () => setSteps(migA, { 4: 'done', 5: { status: 'done', evidence: { pilotOu: PILOT_OU, users: 7 } } }),
      otherSteps: [
        { n: 7, refusedAs: 'step.skip' },
        { n: 16, refusedAs: 'step.skip' },
      ],
      completes: async (text) => {
        expect(text).toContain('Skipped: Pilot users already live in the OU');
        expect((await step(migA, 6)).status).toBe('skipped');
      },
    },
  );

  verbSuite(
    'ask for approval of a change',
    { verb: STEP_VERBS.requestApproval, user: ADELE, n: 8 },
    {
      arrange: () => setSteps(migA, { 7: 'done' }),
      // 16 and 13 are changes whose earlier steps are open; 3 changes nothing.
      otherSteps: [
        { n: 16, refusedAs: 'approval.request' },
        { n: 13, refusedAs: 'approval.request' },
        { n: 3, refusedAs: 'approval.request' },
      ],
      completes: async (text) => {
        expect(text).toContain('Reading the current Connect Sync state');
        approvalsA[8] = await waitForApproval(migA, 8, 'pending');
        expect((await step(migA, 8)).status).toBe('waiting_approval');
        expect(await h.store.db.query(`SELECT id FROM approvals WHERE migration_id = $1`, [migA])).toHaveLength(1);
      },
    },
  );

  // The issue's case: step 8's approval with n = 16 would have stopped and disabled ADSync, with
  // n = 13 started the scheduler with a full cycle.
  verbSuite(
    'approve a change',
    { verb: STEP_VERBS.approve, user: MEGAN, n: 8 },
    {
      arrange: async () => undefined,
      otherSteps: [{ n: 16 }, { n: 13 }, { n: 9 }],
      completes: async (text) => {
        expect(text).toContain('Approved');
        await waitForStep(migA, 8, 'done');
        const state = ps.readState();
        expect(state.scheduler.SyncCycleEnabled).toBe(false);
        expect(state.service).toMatchObject({ Status: 'Running' });
        expect(state.calls.filter((c) => c.cmdlet === 'Set-ADSyncScheduler')).toEqual([
          { cmdlet: 'Set-ADSyncScheduler', args: { SyncCycleEnabled: false } },
        ]);
        expect(state.calls.filter((c) => c.cmdlet === 'Start-ADSyncSyncCycle' || c.cmdlet === 'Stop-Service')).toEqual(
          [],
        );
      },
    },
  );

  verbSuite(
    'reject (or withdraw) a request',
    { verb: STEP_VERBS.reject, user: MEGAN, n: 9 },
    {
      arrange: async () => {
        await click(ADELE, STEP_VERBS.requestApproval, { migrationId: migA, n: 9 });
        approvalsA[9] = await waitForApproval(migA, 9, 'pending');
        await settle();
      },
      otherSteps: [{ n: 8 }, { n: 16 }],
      otherApprovals: [
        {
          name: "this migration's approval of another step",
          id: () => approvalsA[8]!,
          fields: ['n'],
          auditedIn: () => [convA.id],
        },
      ],
      completes: async () => {
        expect(await h.store.runbook.getApproval(approvalsA[9]!)).toMatchObject({
          status: 'rejected',
          votes: [{ byName: 'Megan Bowen', decision: 'reject' }],
        });
        expect(await step(migA, 9)).toMatchObject({ status: 'pending', reason: 'rejected by Megan Bowen' });
      },
    },
  );

  verbSuite(
    'ask for an undo',
    { verb: STEP_VERBS.undo, user: ADELE, n: 8 },
    {
      arrange: async () => undefined,
      // 9 is not started, 16 not reached, 7 changed nothing.
      otherSteps: [
        { n: 9, refusedAs: 'undo.request' },
        { n: 16, refusedAs: 'undo.request' },
        { n: 7, refusedAs: 'undo.request' },
      ],
      completes: async (text) => {
        expect(text).toContain('Undo waiting for approval');
        const undo = await h.store.runbook.latestApproval(migA, 8);
        expect(undo).toMatchObject({
          action: 'undo:schedulerStart',
          status: 'pending',
          requestedByName: 'Adele Vance',
        });
        await click(MEGAN, STEP_VERBS.approve, { migrationId: migA, n: 8, approvalId: undo!.id });
        expect(await waitForStep(migA, 8, 'pending')).toMatchObject({ reason: 'undone' });
        expect(ps.readState().scheduler.SyncCycleEnabled).toBe(true);
        expect(ps.readState().lastStartedPolicy).toBe('Delta');
      },
    },
  );

  it("migration B's request was never voted on: its step still waits and its audit shows only refusals", async () => {
    expect(await h.store.runbook.getApproval(approvalB)).toMatchObject({ status: 'pending', votes: [] });
    expect((await step(migB, 8)).status).toBe('waiting_approval');
    const audit = await h.store.audit.forConversation(convB.id, 1000);
    expect(audit.filter((a) => a.action.startsWith('approval.') && a.action !== 'approval.request')).toEqual([]);
    expect(audit.filter((a) => a.action === 'card.tampered').length).toBeGreaterThan(0);
  });

  describe('undo in every step state (step 8 of a third migration)', () => {
    const undo = { migrationId: '', n: 8 };
    beforeAll(async () => {
      undo.migrationId = migC;
      await setSteps(migC, { 1: 'done', 2: 'done', 3: 'done', 4: 'done', 5: 'done', 6: 'skipped', 7: 'done' });
    });

    async function undoFromC(): Promise<{ text: string; audit: Awaited<ReturnType<typeof auditSince>> }> {
      await settle();
      const seq = await auditSeq();
      const text = await click(ADELE, STEP_VERBS.undo, undo, convC);
      return { text, audit: await auditSince(seq) };
    }

    it.each([
      ['not started', { 8: 'pending' }, 'Step 8 is not started; only a done or failed step can be undone.'],
      ['in progress', { 8: 'in_progress' }, 'Step 8 is in progress; only a done or failed step can be undone.'],
      [
        'waiting for approval',
        { 8: 'waiting_approval' },
        'Step 8 is waiting for approval; only a done or failed step can be undone.',
      ],
      [
        'done, and step 9 built on it',
        { 8: 'done', 9: 'done' },
        'Step 9 already builds on step 8; undo or reopen that first.',
      ],
      [
        'done, and step 9 waiting for approval on it',
        { 8: 'done', 9: 'waiting_approval' },
        'Step 9 is waiting for approval and builds on step 8; let it finish first.',
      ],
    ] as [string, Record<number, StepStatus>, string][])(
      '%s: refused with the reason, nothing ran, audited',
      async (_state, states, reason) => {
        await setSteps(migC, { 9: 'pending', ...states });
        const before = await snapshot();
        const { text, audit } = await undoFromC();
        expect(text).toContain(reason);
        expect(await snapshot()).toEqual(before);
        expect(audit.map((a) => [a.action, a.outcome, a.details.reason])).toEqual([
          ['undo.request', 'refused', reason],
        ]);
      },
    );

    it('failed: accepted as a request for approval, and nothing runs until it is approved', async () => {
      await setSteps(migC, { 8: 'failed', 9: 'pending' });
      const before = (await snapshot()) as { powershell: unknown; jobs: unknown };
      const { text, audit } = await undoFromC();
      expect(text).toContain('Undo waiting for approval');
      expect(audit.map((a) => [a.action, a.outcome])).toEqual([['undo.request', 'requested']]);
      const after = (await snapshot()) as { powershell: unknown; jobs: unknown };
      expect([after.powershell, after.jobs]).toEqual([before.powershell, before.jobs]);
      const request = (await h.store.runbook.liveApproval(migC, 8))!;
      expect(request).toMatchObject({ action: 'undo:schedulerStart', status: 'pending' });
      // Withdrawn by the requester, for the next case.
      await click(ADELE, STEP_VERBS.reject, { ...undo, approvalId: request.id }, convC);
      expect((await h.store.runbook.getApproval(request.id))!.status).toBe('rejected');
    });

    it('done with an undo already requested: the second is refused', async () => {
      await setSteps(migC, { 8: 'done' });
      expect((await undoFromC()).text).toContain('Undo waiting for approval');
      const before = await snapshot();
      const { text, audit } = await undoFromC();
      expect(text).toContain('An undo of step 8 is already requested.');
      expect(await snapshot()).toEqual(before);
      expect(audit.map((a) => [a.action, a.outcome])).toEqual([['undo.request', 'refused']]);
    });

    it('an undo approved after a later step built on the step runs nothing and is void', async () => {
      const request = (await h.store.runbook.liveApproval(migC, 8))!;
      await setSteps(migC, { 9: 'done' });
      const before = (await snapshot()) as { powershell: unknown; jobs: unknown };
      await click(MEGAN, STEP_VERBS.approve, { ...undo, approvalId: request.id }, convC);
      const after = (await snapshot()) as { powershell: unknown; jobs: unknown };
      expect([after.powershell, after.jobs]).toEqual([before.powershell, before.jobs]);
      expect((await h.store.runbook.getApproval(request.id))!.status).toBe('void');
      expect(await step(migC, 8)).toMatchObject({
        status: 'done',
        reason: 'Approval void, nothing ran: Step 9 already builds on step 8; undo or reopen that first.',
      });
    });

    it('done, nothing built on it: accepted, and once approved the agent undoes it', async () => {
      await setSteps(migC, { 8: 'done', 9: 'pending' });
      ps.writeState({
        scheduler: { ...ps.readState().scheduler, SyncCycleEnabled: false },
        syncCycleInProgress: false,
        runningConnector: null,
      });
      const calls = ps.readState().calls.length;
      const { text } = await undoFromC();
      expect(text).toContain('Undo waiting for approval');
      expect(ps.readState().calls).toHaveLength(calls);
      const request = (await h.store.runbook.liveApproval(migC, 8))!;
      await click(LYNNE, STEP_VERBS.approve, { ...undo, approvalId: request.id }, convC);
      expect(await waitForStep(migC, 8, 'pending')).toMatchObject({ reason: 'undone' });
      const state = ps.readState();
      expect(state.scheduler.SyncCycleEnabled).toBe(true);
      expect(state.calls.slice(calls).filter((c) => c.cmdlet === 'Set-ADSyncScheduler')).toEqual([
        { cmdlet: 'Set-ADSyncScheduler', args: { SyncCycleEnabled: true } },
      ]);
    });
  });
});
