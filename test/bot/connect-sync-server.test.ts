import { RelayClient } from '../../src/agent/relay-client';
import { ADSYNC_ACTIONS } from '../../src/relay/protocol';
import { ADELE, MEGAN, type TestUser } from '../helpers/activities';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';
import { AGENT_ID, AGENT_SECRET, firstCard, startBotHarness, type BotHarness } from '../helpers/bot-harness';

const STAGING = 'aadc-staging';
const STAGING_SECRET = 'staging-secret-0123456789-abcdefghij';
const EVE: TestUser = { id: '29:eve', name: 'Eve Stranger', aadObjectId: '00000000-0000-0000-0000-0000000000ee' };

/** What an agent on a Connect Sync server declares in every lease request. */
const CONNECT_SYNC = { actions: ['directory.scanOu', ...ADSYNC_ACTIONS], readOnly: false };

/**
 * Issue 16, one Connect Sync server: `/server <agent>` over real Bot Framework HTTP, and the relay
 * offering a migration's Connect Sync jobs to that agent alone, even when a second agent (a
 * staging server) declares the same ADSync actions.
 */
describe('one Connect Sync server per migration', () => {
  let h: BotHarness;
  const active = (): RelayClient =>
    new RelayClient({ url: h.bot.url, agentId: AGENT_ID, secret: AGENT_SECRET, agentVersion: '9.9.9-test' });
  const staging = (): RelayClient =>
    new RelayClient({ url: h.bot.url, agentId: STAGING, secret: STAGING_SECRET, agentVersion: '9.9.9-test' });

  beforeAll(async () => {
    h = await startBotHarness({
      env: {
        SYNCSHIFT_APPROVERS: `${ADELE.aadObjectId},${MEGAN.aadObjectId}`,
        SYNCSHIFT_REQUIRED_APPROVALS: '1',
        SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET},${STAGING}:${STAGING_SECRET}`,
      },
    });
    await h.say('/migration start "Pinned"', ADELE);
  });
  afterAll(async () => {
    await h?.close();
  });

  const say = async (text: string, user: TestUser = ADELE): Promise<string> => {
    const card = firstCard(await h.say(text, user));
    expect(cardProblems(card)).toEqual([]);
    return cardText(card);
  };
  const migrationId = async (): Promise<string> => (await h.store.migrations.findByConversation(h.conversationId))!.id;

  it('refuses Connect Sync steps until the server is named, and only an approver names it', async () => {
    expect(await say('/server')).toContain('No Connect Sync server named yet');
    // Both agents call in once, so the bot knows what each runs.
    await expect(active().lease(0, undefined, CONNECT_SYNC)).resolves.toBeNull();
    await expect(staging().lease(0, undefined, CONNECT_SYNC)).resolves.toBeNull();

    expect(await say(`/server ${AGENT_ID}`, EVE)).toContain('Eve Stranger is not on the approver list');
    expect(await say('/server nobody-here')).toContain('No agent called nobody-here has enrolled or called in.');
    expect(await h.store.servers.get(await migrationId())).toBeNull();

    expect(await say(`/server ${AGENT_ID}`)).toContain(
      `Every Connect Sync job of this migration now runs on ${AGENT_ID}`,
    );
    const shown = await say('/server', MEGAN);
    expect(shown).toContain(AGENT_ID);
    expect(shown).toContain('Named by');
    const audit = (await h.store.audit.latest(50)).filter((e) => e.action === 'server.set').map((e) => e.outcome);
    expect(audit.sort()).toEqual(['refused', 'refused', 'set']);
  });

  it('an ADSync job offered to a second agent that declares ADSync actions is never run there', async () => {
    const id = await migrationId();
    const job = await h.bot.jobs.enqueue({
      purpose: 'step.check',
      payload: { action: 'adsync.getScheduler' },
      pinnedAgent: AGENT_ID,
      conversationId: h.conversationId,
      migrationId: id,
      requestedBy: { id: ADELE.aadObjectId!, name: ADELE.name },
    });
    // The staging server's agent asks again and again, declaring every ADSync action: nothing.
    for (let i = 0; i < 3; i++) await expect(staging().lease(0, undefined, CONNECT_SYNC)).resolves.toBeNull();
    expect(await h.store.jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 0, agentId: null });
    // Even a result it sends for the job is refused: the job was never leased to it.
    await expect(
      staging().result(job.id, { outcome: 'failed', error: { code: 'X', message: 'not mine' } }),
    ).rejects.toThrow();
    // The named server gets it.
    const leased = await active().lease(0, undefined, CONNECT_SYNC);
    expect(leased?.id).toBe(job.id);
    await active().result(job.id, { outcome: 'failed', error: { code: 'ADSYNC.NOT_AVAILABLE', message: 'test' } });
    expect(await h.store.jobs.get(job.id)).toMatchObject({ state: 'failed', agentId: AGENT_ID, pinnedAgent: AGENT_ID });
  });

  it('the step 3 backup is queued for the named server only', async () => {
    const id = await migrationId();
    for (const n of [1, 2]) {
      const s = (await h.store.runbook.listSteps(id)).find((x) => x.n === n)!;
      await h.store.runbook.saveStep(id, { ...s, status: 'done', updatedBy: 'test', updatedAt: new Date() }, s.version);
    }
    await h.bot.runbook.handleAction({
      verb: 'step.run',
      data: { migrationId: id, n: 3 },
      conversationId: h.conversationId,
      actor: { id: ADELE.aadObjectId!, name: ADELE.name },
    });
    const rows = await h.store.db.query<{ kind: string; pinned_agent: string }>(
      `SELECT kind, pinned_agent FROM jobs WHERE migration_id = $1::uuid AND kind = 'adsync.exportConfig'`,
      [id],
    );
    expect(rows).toEqual([{ kind: 'adsync.exportConfig', pinned_agent: AGENT_ID }]);
    await expect(staging().lease(0, undefined, CONNECT_SYNC)).resolves.toBeNull();
  });
});
