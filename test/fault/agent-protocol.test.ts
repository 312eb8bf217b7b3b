import { AGENT_ID, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { startRelayProxy, verifyThroughAgent, type RelayProxy } from '../helpers/relay-proxy';

/**
 * A bot newer than its agent: the lease carries an action (or parameters) this agent does not
 * know. A proxy between the real agent loop and the real bot rewrites the lease answer, the way a
 * newer bot would send it. The agent must answer for that job, so the card says why, instead of
 * failing to parse the lease and retrying forever as if the bot were unreachable.
 */
describe('an agent leased a job it cannot read', () => {
  let h: BotHarness;
  let proxy: RelayProxy;
  let rewrite: (payload: Record<string, unknown>) => Record<string, unknown> = (p) => p;
  const logLines: string[] = [];

  beforeAll(async () => {
    h = await startBotHarness();
    proxy = await startRelayProxy(() => h.bot.url, {
      rewrite: (path, status, text) => {
        if (path !== '/relay/v1/jobs/lease' || status !== 200) return text;
        const body = JSON.parse(text) as { job: { payload: Record<string, unknown> } | null };
        if (body.job) body.job.payload = rewrite(body.job.payload);
        return JSON.stringify(body);
      },
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await h?.close();
  });

  async function verifyThroughOldAgent(): Promise<{ text: string; jobId: string }> {
    const connectDirectory = (): Promise<never> => Promise.reject(new Error('the agent must not touch the directory for a job it cannot read'));
    const { card, text, jobId } = await verifyThroughAgent(h, { relayUrl: proxy.url, agentVersion: '0.0.9', connectDirectory, logLines });
    expect(cardProblems(card)).toEqual([]);
    return { text, jobId };
  }

  it('an unknown action is answered with AGENT.UNKNOWN_ACTION, and the card tells a person to update the agent', async () => {
    rewrite = (p) => ({ ...p, action: 'directory.scanOuV2' });
    const { text, jobId } = await verifyThroughOldAgent();
    expect(text).toContain('This agent (version 0.0.9) does not know the action directory.scanOuV2, so it did nothing.');
    expect(text).toContain('Update syncshift-agent on the agent host');
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'failed', agentId: AGENT_ID, attempts: 1, error: { code: 'AGENT.UNKNOWN_ACTION' } });
    expect(logLines.join('\n')).not.toContain('cannot reach the bot');
  });

  it('a known action with parameters this agent cannot read is answered with AGENT.BAD_PARAMETERS', async () => {
    rewrite = (p) => ({ ...p, pageSize: 5000 });
    const { text, jobId } = await verifyThroughOldAgent();
    expect(text).toMatch(/This agent \(version 0\.0\.9\) cannot read the parameters of directory\.scanOu \(pageSize: .+\), so it did nothing\./);
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'failed', error: { code: 'AGENT.BAD_PARAMETERS' } });
  });
});
