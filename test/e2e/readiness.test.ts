import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { writeForestFile } from '../../src/directory/simulated-directory';
import { isReadinessEvidence, openBlockers } from '../../src/runbook/readiness';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';
import {
  cleanReadinessState,
  installFakePowerShell,
  type FakePowerShell,
} from '../../src/sandbox/simulated-connect-sync';
import type { StoredStep } from '../../src/store/runbook-repo';
import { ADELE, cardActionActivity, MEGAN, postActivity, type TestUser } from '../helpers/activities';
import { spawnAgent, type AgentProcess } from '../helpers/agent-process';
import { AGENT_ID, firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { eventually } from '../helpers/eventually';
import { cardText } from '../helpers/fake-connector';

const MALLORY: TestUser = { id: '29:mallory', name: 'Mallory', aadObjectId: '00000000-0000-0000-0000-0000000000ff' };
const CLEAN_CONVERSATION = '19:clean-readiness@thread.tacv2';

/**
 * `/readiness` as the evidence of steps 1 and 2, through HTTP activities, the real agent process
 * on the simulated forest and the PowerShell stand-in: first on the sandbox's Connect Sync (a
 * custom rule blocks; refused, then accepted by an approver with a reason), then on a clean one
 * (steps 1 and 2 pass from the report alone).
 */
describe('/readiness: steps 1 and 2 from evidence', () => {
  let dir: string;
  let h: BotHarness;
  let ps: FakePowerShell;
  let agent: AgentProcess;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'syncshift-readiness-'));
    const forestFile = join(dir, 'forest.json');
    writeForestFile(forestFile, buildSeededForest());
    ps = installFakePowerShell();
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: [ADELE, MEGAN].map((u) => u.aadObjectId).join(','),
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
      },
    });
    const noLdap = { url: '', bindDn: '', password: '', caPath: '', baseDn: '' };
    agent = spawnAgent(h.bot.url, noLdap, {
      ...ps.env,
      SYNCSHIFT_DIRECTORY: 'simulated',
      SYNCSHIFT_SIMULATED_FOREST: forestFile,
      SYNCSHIFT_ADSYNC_EXPORT_DIR: dir,
      SYNCSHIFT_READ_ONLY: 'true',
    });
  });

  afterAll(async () => {
    agent?.stop();
    await h?.close();
    ps?.cleanup();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  async function steps(conversationId: string): Promise<StoredStep[]> {
    const migration = (await h.store.migrations.findByConversation(conversationId))!;
    return h.store.runbook.listSteps(migration.id);
  }

  async function waitForStep(conversationId: string, n: number, statuses: string[]): Promise<StoredStep> {
    return eventually(
      async () => {
        const s = (await steps(conversationId))[n - 1]!;
        return statuses.includes(s.status) ? s : null;
      },
      {
        what: `step ${n} to be ${statuses.join('/')}`,
        timeoutMs: 60_000,
        detail: async () => {
          const s = (await steps(conversationId))[n - 1]!;
          return `Step ${n} is ${s.status} (${s.reason ?? ''}).\nAgent log:\n${agent.log().slice(-3000)}`;
        },
      },
    );
  }

  async function click(
    user: TestUser,
    verb: string,
    n: number,
    extra: Record<string, unknown> = {},
    conversationId = h.conversationId,
  ): Promise<{ text: string; card: Record<string, unknown> }> {
    const migration = (await h.store.migrations.findByConversation(conversationId))!;
    const s = (await steps(conversationId))[n - 1]!;
    const res = await postActivity(
      h.bot.url,
      cardActionActivity({
        verb,
        data: { migrationId: migration.id, n, ...extra },
        from: user,
        conversationId,
        serviceUrl: h.connector.url,
        replyToId: s.cardActivityId,
      }),
    );
    expect(res.status).toBe(200);
    const body = (await res.json()) as { value: Record<string, unknown> };
    expect(cardProblems(body.value)).toEqual([]);
    return { text: cardText(body.value), card: body.value };
  }

  /** The shared copy of a step card, once it shows `expected`. */
  async function sharedCard(conversationId: string, n: number, expected: string): Promise<string> {
    return eventually(
      async () => {
        const id = (await steps(conversationId))[n - 1]!.cardActivityId;
        const card = id ? h.connector.cards(conversationId).get(id) : undefined;
        const text = card ? cardText(card) : '';
        if (card) expect(cardProblems(card)).toEqual([]);
        return text.includes(expected) ? text : null;
      },
      { what: `step ${n}'s card to show ${expected}`, timeoutMs: 30_000, intervalMs: 50 },
    );
  }

  async function nameServer(conversationId: string): Promise<void> {
    await eventually(
      async () => {
        const text = cardText(firstCard(await h.say(`/server ${AGENT_ID}`, ADELE, conversationId)));
        const migration = (await h.store.migrations.findByConversation(conversationId))!;
        return (await h.store.servers.get(migration.id))?.agent === AGENT_ID ? text : null;
      },
      { what: 'the Connect Sync server to be named', timeoutMs: 60_000, intervalMs: 1000 },
    );
  }

  it('blocks step 1 on a custom rule until an approver accepts it with a reason; step 2 follows', async () => {
    await h.say('/migration start "Readiness"', ADELE);
    // The report reads the migration's Connect Sync server, so it is named first (issue 16).
    expect(cardText(firstCard(await h.say('/readiness', ADELE)))).toContain('/server');
    await nameServer(h.conversationId);
    const replies = await h.say('/readiness', ADELE);
    expect(cardText(firstCard(replies))).toContain('In progress');

    const s1 = await waitForStep(h.conversationId, 1, ['failed']);
    expect(s1.reason).toContain('1 blocker(s): Custom sync rules that are not Microsoft defaults');
    expect(isReadinessEvidence(s1.evidence)).toBe(true);
    const card = await sharedCard(h.conversationId, 1, 'Blockers');
    expect(card).toContain('In from AD - User extensionAttribute10 (Contoso) (precedence 99)');
    expect(card).toContain('Warnings');
    expect(card).toContain('Directory extensions are synced');
    expect(card).toContain('Users without ms-DS-ConsistencyGuid');
    expect(card).toContain('Source: Cloud Sync decision guide');
    expect(ps.readState().scriptsRun).toEqual(['adsync.readiness']);

    // Refused: by hand, by someone who is no approver, and without a reason.
    expect((await click(ADELE, 'step.confirm', 1)).text).toContain('checked by SyncShift');
    const blocker = openBlockers(isReadinessEvidence(s1.evidence) ? s1.evidence : (null as never))[0]!;
    const refusedMallory = await click(MALLORY, 'step.acceptBlocker', 1, { findingId: blocker.id, reason: 'fine' });
    expect(refusedMallory.text).toContain('Only an approver');
    expect(JSON.stringify(refusedMallory.card)).not.toContain('step.acceptBlocker');
    expect((await click(MEGAN, 'step.acceptBlocker', 1, { findingId: blocker.id, reason: ' ' })).text).toContain(
      'Say why this blocker is accepted',
    );
    expect((await steps(h.conversationId))[0]!.status).toBe('failed');
    expect((await steps(h.conversationId))[1]!.status).toBe('pending');

    const reason = 'extensionAttribute10 moves to a Cloud Sync attribute mapping in wave 1';
    const accepted = await click(MEGAN, 'step.acceptBlocker', 1, { findingId: blocker.id, reason });
    expect(accepted.text).toContain(`Accepted by Megan Bowen at`);
    expect(accepted.text).toContain(reason);
    const done = await waitForStep(h.conversationId, 1, ['done']);
    expect(done.updatedBy).toBe('Megan Bowen');
    const s2 = await waitForStep(h.conversationId, 2, ['done']);
    expect(s2.evidence).toMatchObject({ job: (done.evidence as { job: string }).job });
    const card2 = await sharedCard(h.conversationId, 2, 'Prerequisites');
    expect(card2).toContain('Holds · Connect Sync 1.4.32.0 or later');
    expect(card2).toContain('Check by hand · TLS 1.2 on the agent host');

    const audit = await h.store.audit.forConversation(h.conversationId, 200);
    const accepts = audit.filter((a) => a.action === 'readiness.accept');
    expect(accepts.map((a) => a.outcome).sort()).toEqual(['done', 'refused', 'refused']);
    expect(accepts.find((a) => a.outcome === 'done')!.details).toMatchObject({ blocker: 'customRules', reason });
  });

  it('passes steps 1 and 2 from the report alone on a clean Connect Sync', async () => {
    ps.writeState({ ...cleanReadinessState(), scriptsRun: [], calls: [] });
    await h.say('/migration start "Clean"', ADELE, CLEAN_CONVERSATION);
    await nameServer(CLEAN_CONVERSATION);
    await h.say('/readiness', ADELE, CLEAN_CONVERSATION);
    const s1 = await waitForStep(CLEAN_CONVERSATION, 1, ['done', 'failed']);
    expect([s1.status, s1.reason]).toEqual(['done', null]);
    const s2 = await waitForStep(CLEAN_CONVERSATION, 2, ['done', 'failed']);
    expect([s2.status, s2.reason]).toEqual(['done', null]);
    const card = await sharedCard(CLEAN_CONVERSATION, 1, 'Facts');
    expect(card).not.toContain('Blockers');
    expect(card).toContain('Transition to Cloud Sync tool');
    // The warnings still show: a clean configuration passes with them.
    expect(card).toContain('Users without ms-DS-ConsistencyGuid');
    // Steps 1 and 2 are done: /readiness says so instead of reading again.
    const again = await h.say('/readiness', ADELE, CLEAN_CONVERSATION);
    expect(cardText(firstCard(again))).toContain('Steps 1 and 2 are done already.');
    expect(ps.readState().scriptsRun).toEqual(['adsync.readiness']);
  });
});
