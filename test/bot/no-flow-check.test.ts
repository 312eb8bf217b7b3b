import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { createNoFlowRules, listRules, startScheduler } from '../../src/agent/actions/adsync';
import { planNoFlowRules } from '../../src/runbook/sync-rules';
import { planWaveRules } from '../../src/runbook/wave-engine';
import { finishSyncCycle, installFakePowerShell, type FakePowerShell } from '../../src/sandbox/simulated-connect-sync';
import { ADELE, MEGAN } from '../helpers/activities';
import { AGENT_ID, firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';
import {
  PILOT_OU,
  PILOT_USERS,
  SALES_OU,
  noFlowConnectorSpace,
  startNoFlowAgent,
  writeNoFlowForest,
} from '../fixtures/no-flow-forest';

/** The titles of a result card (the in-turn "Checking…" reply has none of them). */
const RESULT =
  /No Connect Sync cycle since|Every object read|do not carry cloudNoFlow|No object read|has no users, groups/;

/**
 * `/ou noflow pilot` over Bot Framework HTTP (issue 16): the check is queued for the migration's
 * Connect Sync server, run by the real agent loop against the stand-in PowerShell and a simulated
 * forest, and its card posted into the migration's conversation.
 */
describe('/ou noflow', () => {
  let h: BotHarness;
  let fake: FakePowerShell;
  let forestFile: string;
  let exportDir: string;
  let migrationId: string;
  let rulesAt: Date;
  const abort = new AbortController();
  let agentDone: Promise<void> | undefined;

  beforeAll(async () => {
    fake = installFakePowerShell({ connectorSpace: noFlowConnectorSpace() });
    forestFile = writeNoFlowForest();
    exportDir = mkdtempSync(path.join(tmpdir(), 'syncshift-noflow-export-'));
    h = await startBotHarness({
      env: { SYNCSHIFT_APPROVERS: `${ADELE.aadObjectId},${MEGAN.aadObjectId}`, SYNCSHIFT_REQUIRED_APPROVALS: '1' },
    });
    await h.say('/migration start "No flow"', ADELE);
    migrationId = (await h.store.migrations.findByConversation(h.conversationId))!.id;

    // Step 9's rules, made the way the approved step makes them; then the steps as the runbook stored them.
    rulesAt = new Date();
    const used = (await listRules({ env: fake.env })).rules.map((r) => r.precedence);
    await createNoFlowRules(planNoFlowRules({ ouDn: PILOT_OU, usedPrecedences: used }), { env: fake.env });
    for (const [n, evidence] of [
      [5, { pilotOu: PILOT_OU, users: 3, disabled: 0, job: 'test' }],
      [9, { created: [] }],
    ] as const) {
      const stored = (await h.store.runbook.listSteps(migrationId)).find((s) => s.n === n)!;
      expect(
        await h.store.runbook.saveStep(
          migrationId,
          { ...stored, status: 'done', evidence, updatedBy: 'Adele Vance', updatedAt: rulesAt },
          stored.version,
        ),
      ).toBe(true);
    }

    agentDone = (await startNoFlowAgent({ h, forestFile, exportDir, env: fake.env, signal: abort.signal })).done;
  }, 180_000);

  afterAll(async () => {
    abort.abort();
    await agentDone;
    await h?.close();
    fake?.cleanup();
    if (forestFile) rmSync(path.dirname(forestFile), { recursive: true, force: true });
    if (exportDir) rmSync(exportDir, { recursive: true, force: true });
  });

  const say = async (text: string): Promise<string> => {
    const card = firstCard(await h.say(text, ADELE));
    expect(cardProblems(card)).toEqual([]);
    return cardText(card);
  };

  /** The next card posted into the migration's conversation whose text matches. */
  const posted = async (from: number, pattern: RegExp): Promise<string> => {
    const call = await h.connector.waitFor(
      (c) =>
        c.method === 'POST' &&
        c.conversationId === h.conversationId &&
        pattern.test(cardText((c.activity.attachments?.[0]?.content ?? {}) as Record<string, unknown>)),
      { from, timeoutMs: 30_000 },
    );
    const card = call.activity.attachments![0]!.content as Record<string, unknown>;
    expect(cardProblems(card)).toEqual([]);
    return cardText(card);
  };

  it('needs the Connect Sync server named first', async () => {
    expect(await say('/ou noflow pilot')).toContain('No Connect Sync server named yet');
    expect(await say(`/server ${AGENT_ID}`)).toContain(`now runs on ${AGENT_ID}`);
  });

  it('before a cycle: no cycle since the rules; after one: every pilot object carries cloudNoFlow', async () => {
    let from = h.connector.calls.length;
    const queued = await say('/ou noflow pilot');
    expect(queued).toContain(`Checking cloudNoFlow for pilot on ${AGENT_ID}`);
    expect(queued).toContain(PILOT_OU);
    const before = await posted(from, RESULT);
    expect(before).toContain('No Connect Sync cycle since the rules were created: pilot');
    expect(before).toContain('Delta Synchronization ended 2026-07-01T12:01:30.000Z');
    expect(before).toContain(rulesAt.toISOString());

    await startScheduler('Initial', { env: fake.env });
    finishSyncCycle(fake);
    from = h.connector.calls.length;
    await say('/ou noflow pilot');
    const after = await posted(from, RESULT);
    expect(after).toContain('Every object read carries cloudNoFlow: pilot');
    expect(after).toContain(AGENT_ID);
    expect(after).toContain('Full Synchronization ended');
    expect(after).toContain('all 5 objects in the OU');
    expect(after).not.toContain(PILOT_USERS[1]);

    const audit = (await h.store.audit.latest(50)).filter((e) => e.action === 'job.queued');
    expect(audit.some((e) => e.target === PILOT_OU)).toBe(true);
  });

  it('refuses a wave that does not exist and says how to use the command', async () => {
    expect(await say('/ou noflow Wave9')).toContain('This migration has no wave called Wave9.');
    expect(await say('/ou noflow')).toContain('Say which OUs to check: the pilot or a wave.');
  });

  it('a wave OU without rules: none of its objects carries cloudNoFlow', async () => {
    await h.say(`/wave add Wave1 ${SALES_OU}`, ADELE);
    const from = h.connector.calls.length;
    expect(await say('/ou noflow Wave1')).toContain('Checking cloudNoFlow for wave Wave1');
    const card = await posted(from, RESULT);
    expect(card).toContain('No object read carries cloudNoFlow: wave Wave1');
    expect(card).toContain('Rules created');
    expect(card).toContain('not recorded by SyncShift');
  });

  it("a wave's rules: no cycle since they were created, then its objects carry cloudNoFlow", async () => {
    // The wave's rules, made as its approved action makes them, and the action as the engine stores it.
    const used = (await listRules({ env: fake.env })).rules.map((r) => r.precedence);
    const { created } = await createNoFlowRules(planWaveRules('Wave1', [SALES_OU], used), { env: fake.env });
    const wave = (await h.store.waves.listWaves(migrationId)).find((w) => w.name === 'Wave1')!;
    const waveRulesAt = new Date();
    const action = (await h.store.waveActions.create({
      migrationId,
      waveId: wave.id,
      kind: 'rules',
      status: 'done',
      by: 'Adele Vance',
      now: waveRulesAt,
    }))!;
    const evidence = { wave: 'Wave1', ous: [SALES_OU], result: { created } };
    expect(
      await h.store.waveActions.save(
        { id: action.id, status: 'done', reason: null, evidence, updatedBy: 'Adele Vance', updatedAt: waveRulesAt },
        action.version,
      ),
    ).toBe(true);

    let from = h.connector.calls.length;
    await say('/ou noflow Wave1');
    const before = await posted(from, RESULT);
    expect(before).toContain('No Connect Sync cycle since the rules were created: wave Wave1');
    expect(before).toContain(waveRulesAt.toISOString());
    expect(before).not.toContain('not recorded by SyncShift');

    await startScheduler('Initial', { env: fake.env });
    finishSyncCycle(fake);
    from = h.connector.calls.length;
    await say('/ou noflow Wave1');
    const after = await posted(from, RESULT);
    expect(after).toContain('Every object read carries cloudNoFlow: wave Wave1');
    expect(after).toContain(waveRulesAt.toISOString());
  });

  it('a server without an AD connector: the card says the check failed and why', async () => {
    fake.writeState({ connectors: fake.readState().connectors.filter((c) => c.ConnectorTypeName !== 'AD') });
    const from = h.connector.calls.length;
    await say('/ou noflow pilot');
    const call = await h.connector.waitFor(
      (c) =>
        c.method === 'POST' &&
        c.conversationId === h.conversationId &&
        /no-flow check of .* failed/.test(
          cardText((c.activity.attachments?.[0]?.content ?? {}) as Record<string, unknown>),
        ),
      { from, timeoutMs: 30_000 },
    );
    const text = cardText(call.activity.attachments![0]!.content as Record<string, unknown>);
    expect(text).toContain(`The no-flow check of ${PILOT_OU} failed`);
    expect(text).toContain('has no Active Directory connector');
    expect(text).toContain('ADSYNC.CONNECTOR_NOT_FOUND');
  });
});
