import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runAgent } from '../../src/agent/agent';
import { RelayClient } from '../../src/agent/relay-client';
import { createLogger } from '../../src/shared/logger';
import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';

/**
 * A bot newer than its agent: the lease carries an action (or parameters) this agent does not
 * know. A proxy between the real agent loop and the real bot rewrites the lease answer, the way a
 * newer bot would send it. The agent must answer for that job, so the card says why, instead of
 * failing to parse the lease and retrying forever as if the bot were unreachable.
 */
describe('an agent leased a job it cannot read', () => {
  let h: BotHarness;
  let proxy: Server;
  let proxyUrl = '';
  let rewrite: (payload: Record<string, unknown>) => Record<string, unknown> = (p) => p;
  const logLines: string[] = [];

  beforeAll(async () => {
    h = await startBotHarness();
    proxy = createServer((req, res) => void forward(req, res));
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  });
  afterAll(async () => {
    proxy?.closeAllConnections();
    await new Promise((resolve) => proxy?.close(resolve));
    await h?.close();
  });

  async function forward(req: IncomingMessage, res: import('node:http').ServerResponse): Promise<void> {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (typeof v === 'string' && !['host', 'content-length', 'transfer-encoding', 'connection'].includes(k)) headers[k] = v;
    const upstream = await fetch(h.bot.url + (req.url ?? ''), { method: req.method ?? 'POST', headers, body: new Uint8Array(Buffer.concat(chunks)) });
    let text = await upstream.text();
    if (req.url === '/relay/v1/jobs/lease' && upstream.ok) {
      const body = JSON.parse(text) as { job: { payload: Record<string, unknown> } | null };
      if (body.job) body.job.payload = rewrite(body.job.payload);
      text = JSON.stringify(body);
    }
    res.writeHead(upstream.status, { 'content-type': 'application/json' });
    res.end(text);
  }

  async function verifyThroughOldAgent(): Promise<{ text: string; jobId: string }> {
    const replies = await h.say('/verify pilot OU=Sales');
    const cardId = replies[0]!.id;
    const from = h.connector.calls.indexOf(replies[0]!) + 1;
    const jobId = (await h.store.verifications.listByConversation(h.conversationId, 1))[0]!.jobId;
    const logger = createLogger('agent-test', 'silent');
    const log = (level: string) => (obj: unknown, msg?: string) => void logLines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
    Object.assign(logger, { error: log('error'), warn: log('warn'), info: log('info') });
    await runAgent({
      relay: new RelayClient({ url: proxyUrl, agentId: AGENT_ID, secret: AGENT_SECRET, agentVersion: '0.0.9' }),
      logger,
      waitMs: 0,
      maxJobs: 1,
      sleep: async () => undefined,
      connectDirectory: () => Promise.reject(new Error('the agent must not touch the directory for a job it cannot read')),
    });
    const final = await h.connector.waitFor((c) => c.method === 'PUT' && c.id === cardId && !cardText(c.activity.attachments![0]!.content).includes('Verifying…'), { from, timeoutMs: 10_000 });
    expect(cardProblems(final.activity.attachments![0]!.content)).toEqual([]);
    return { text: cardText(final.activity.attachments![0]!.content), jobId };
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
