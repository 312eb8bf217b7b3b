import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createNoFlowRules, listRules } from '../../src/agent/actions/adsync';
import { planNoFlowRules } from '../../src/runbook/sync-rules';
import { finishSyncCycle, installFakePowerShell, type FakePowerShell } from '../../src/sandbox/simulated-connect-sync';
import type { NoFlowFollowUp } from '../../src/store/no-flow-follow-up-repo';
import { ADELE, cardActionActivity, MEGAN, postActivity } from '../helpers/activities';
import { AGENT_ID, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText, type ConnectorCall } from '../helpers/fake-connector';
import { PILOT_OU, noFlowConnectorSpace, startNoFlowAgent, writeNoFlowForest } from '../fixtures/no-flow-forest';

/** The titles of a no-flow result card, and of the follow-up's own cards. */
const RESULT =
  /No Connect Sync cycle since|Every object read|do not carry cloudNoFlow|No object read|has no users, groups|No Connect Sync cycle completed/;
const SCHEDULED = /SyncShift checks cloudNoFlow for pilot when the cycle has completed/;

/**
 * Issue 16: step 13 done → the bot queues the no-flow check by itself, reads again while no cycle
 * has completed since it was started (across a bot restart), and posts the result card once after
 * the cycle. The real agent loop runs the checks against the stand-in PowerShell and a simulated
 * forest; the cycle ends when the test calls finishSyncCycle.
 */
describe('the no-flow check after step 13', () => {
  let h: BotHarness;
  let fake: FakePowerShell;
  let forestFile: string;
  let exportDir: string;
  let migrationId: string;
  const abort = new AbortController();
  let agentDone: Promise<void> | undefined;

  beforeAll(async () => {
    fake = installFakePowerShell({ connectorSpace: noFlowConnectorSpace() });
    forestFile = writeNoFlowForest();
    exportDir = mkdtempSync(path.join(tmpdir(), 'syncshift-noflow-followup-'));
    h = await startBotHarness({
      env: { SYNCSHIFT_APPROVERS: `${ADELE.aadObjectId},${MEGAN.aadObjectId}`, SYNCSHIFT_REQUIRED_APPROVALS: '1' },
      // Read again every 300 ms; the timer looks every 100 ms (the bot's defaults: 5 minutes, 15 s).
      noFlowFollowUp: { pollMs: 100, intervalMs: 300, deadlineMs: 10 * 60_000 },
    });
    await h.say('/migration start "No flow after the cycle"', ADELE);
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;

    // Step 9's rules, made the way the approved step makes them; steps 1 to 12 as the runbook stores them done.
    const used = (await listRules({ env: fake.env })).rules.map((r) => r.precedence);
    await createNoFlowRules(planNoFlowRules({ ouDn: PILOT_OU, usedPrecedences: used }), { env: fake.env });
    for (const stored of (await h.store.runbook.listSteps(migrationId)).filter((s) => s.n <= 12)) {
      const evidence =
        stored.n === 5 ? { pilotOu: PILOT_OU, users: 3, disabled: 0, job: 'test' } : { created: [], job: 'test' };
      expect(
        await h.store.runbook.saveStep(
          migrationId,
          { ...stored, status: 'done', evidence, updatedBy: 'Adele Vance', updatedAt: new Date() },
          stored.version,
        ),
      ).toBe(true);
    }

    agentDone = (await startNoFlowAgent({ h, forestFile, exportDir, env: fake.env, signal: abort.signal })).done;
    await h.say(`/server ${AGENT_ID}`, ADELE);
  }, 180_000);

  afterAll(async () => {
    abort.abort();
    await agentDone;
    await h?.close();
    fake?.cleanup();
    if (forestFile) rmSync(path.dirname(forestFile), { recursive: true, force: true });
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  const cardsPosted = (from: number, pattern: RegExp): ConnectorCall[] =>
    h.connector.calls
      .slice(from)
      .filter(
        (c) =>
          c.method === 'POST' &&
          c.conversationId === h.conversationId &&
          pattern.test(cardText((c.activity.attachments?.[0]?.content ?? {}) as Record<string, unknown>)),
      );

  const textOf = (call: ConnectorCall): string => {
    const card = call.activity.attachments![0]!.content as Record<string, unknown>;
    expect(cardProblems(card)).toEqual([]);
    return cardText(card);
  };

  async function click(user: typeof ADELE, verb: string, extra: Record<string, unknown> = {}): Promise<void> {
    const step = (await h.store.runbook.listSteps(migrationId)).find((s) => s.n === 13)!;
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({
        verb,
        data: { migrationId, n: 13, ...extra },
        from: user,
        conversationId: h.conversationId,
        serviceUrl: h.connector.url,
        replyToId: step.cardActivityId,
      }),
    );
    expect(res.status).toBe(200);
  }

  const followUps = (): Promise<NoFlowFollowUp[]> => h.bot.noFlowFollowUp.list(migrationId);

  it('queues the check itself, reads again until the cycle completed (across a restart), and posts the card once', async () => {
    const from = h.connector.calls.length;
    await h.say('/step 13', ADELE);
    await click(ADELE, 'step.requestApproval');
    const approval = await eventually(
      async () => {
        const a = await h.store.runbook.latestApproval(migrationId, 13);
        return a?.status === 'pending' ? a.id : null;
      },
      { what: "step 13's approval to be pending", timeoutMs: 30_000 },
    );
    await click(MEGAN, 'step.approve', { approvalId: approval });
    await eventually(
      async () => (await h.store.runbook.listSteps(migrationId)).find((s) => s.n === 13)?.status === 'done',
      { what: 'step 13 to be done', timeoutMs: 30_000 },
    );

    // Queued by itself, for the pilot OU, and said so once.
    await eventually(async () => cardsPosted(from, SCHEDULED).length === 1, {
      what: 'the card saying the check follows',
      timeoutMs: 10_000,
    });
    expect(textOf(cardsPosted(from, SCHEDULED)[0]!)).toContain(`OU: ${PILOT_OU}`);
    // The cycle step 13 started is still running: read, no cycle yet, asked again — and no result card.
    const asked = await eventually(
      async () => {
        const [f] = await followUps();
        return f && f.checks >= 2 && f.lastOutcome === 'noCycleSinceRules' ? f : null;
      },
      { what: 'the check to have been read twice without a completed cycle', timeoutMs: 30_000 },
    );
    expect(asked).toMatchObject({ ou: PILOT_OU, label: 'pilot' });
    expect(['waiting', 'checking']).toContain(asked.status);
    expect((await followUps()).length).toBe(1);
    expect(cardsPosted(from, RESULT)).toEqual([]);
    const queued = (await h.store.audit.latest(100)).filter(
      (e) =>
        e.action === 'job.queued' &&
        e.target === PILOT_OU &&
        (e.details as { after?: unknown } | null)?.after === 'cycle',
    );
    expect(queued.length).toBeGreaterThanOrEqual(2);
    expect(queued[0]!.actorName).toBe('SyncShift');

    // A crash in between: the new bot resumes from the stored follow-up.
    await h.restart();
    const before = (await followUps())[0]!.checks;
    await eventually(async () => ((await followUps())[0]?.checks ?? 0) > before, {
      what: 'the restarted bot to read again',
      timeoutMs: 30_000,
    });
    expect(cardsPosted(from, RESULT)).toEqual([]);

    finishSyncCycle(fake);
    const done = await eventually(
      async () => {
        const [f] = await followUps();
        return f?.status === 'posted' ? f : null;
      },
      { what: 'the follow-up to post its card', timeoutMs: 30_000 },
    );
    expect(done.lastOutcome).toBe('allCarry');
    const results = await eventually(
      async () => {
        const r = cardsPosted(from, RESULT);
        return r.length > 0 ? r : null;
      },
      { what: 'the result card', timeoutMs: 10_000 },
    );
    const card = textOf(results[0]!);
    expect(card).toContain('Every object read carries cloudNoFlow: pilot');
    expect(card).toContain('Full Synchronization ended');
    expect(card).toContain('all 5 objects in the OU');

    // Posted once: more timer rounds add nothing.
    const checks = done.checks;
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(cardsPosted(from, RESULT).length).toBe(1);
    expect((await followUps())[0]).toMatchObject({ status: 'posted', checks });
  }, 120_000);
});
