import type { ServerResponse } from 'node:http';
import { OU } from '../../src/sandbox/forest-spec';
import { SimulatedDirectory } from '../../src/directory/simulated-directory';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';
import { buildTenantFromDirectory } from '../../src/sandbox/tenant-from-directory';
import { SCAN_STREAM_CONTENT_TYPE } from '../../src/relay/protocol';
import { startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { startRelayProxy, verifyThroughAgent, type RelayProxy } from '../helpers/relay-proxy';

/**
 * The real agent loop and the real bot, with a proxy between them that answers the streamed scan
 * itself the first time: as the bot does when a scan is over its limit (413), as a reverse proxy
 * with a smaller body limit does (413, HTML), and as a bot whose store failed does (500). A refusal
 * must end the job with the reason on the card, never as "agent lost" after the lease runs out;
 * a 500 must make the agent read and send the scan again.
 */
describe('the bot (or a proxy in front of it) refuses a streamed scan', () => {
  let h: BotHarness;
  let proxy: RelayProxy;
  let intercept: ((res: ServerResponse) => void) | null = null;
  let uploads = 0;

  beforeAll(async () => {
    const forest = buildSeededForest();
    h = await startBotHarness();
    h.graph.setUsers(
      (
        await buildTenantFromDirectory(new SimulatedDirectory(forest), {
          baseDn: OU.sales,
          missing: 0,
          extra: 0,
          mismatched: 0,
        })
      ).users,
    );
    proxy = await startRelayProxy(() => h.bot.url, {
      answer: (req) => {
        if (!(req.headers['content-type'] ?? '').startsWith(SCAN_STREAM_CONTENT_TYPE)) return null;
        uploads++;
        const own = intercept;
        intercept = null;
        return own;
      },
    });
  });
  afterAll(async () => {
    await proxy?.close();
    await h?.close();
  });

  const json = (status: number, body: unknown) => (res: ServerResponse) => {
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
  };

  async function verifyThroughProxy(): Promise<{ text: string; jobId: string; log: string }> {
    uploads = 0;
    const logLines: string[] = [];
    const { text, jobId } = await verifyThroughAgent(h, {
      relayUrl: proxy.url,
      agentVersion: '1.0.0',
      connectDirectory: async () => new SimulatedDirectory(buildSeededForest()),
      logLines,
    });
    return { text, jobId, log: logLines.join('\n') };
  }

  it("a scan the bot says is too large fails the job with the bot's reason and what to do", async () => {
    intercept = json(413, { code: 'RELAY.TOO_LARGE', message: 'The body is over 268435456 bytes.' });
    const { text, jobId, log } = await verifyThroughProxy();
    expect(await h.store.jobs.get(jobId)).toMatchObject({
      state: 'failed',
      attempts: 1,
      error: { code: 'RELAY.TOO_LARGE' },
    });
    expect(text).toContain("The bot did not accept this job's result: The body is over 268435456 bytes.");
    expect(text).toContain("Verify the OU's child OUs one at a time");
    expect(uploads).toBe(1);
    expect(log).toContain('the bot refused the scan; reporting the job as failed');
  });

  it("a proxy's own 413 page fails the job and says the answer did not come from SyncShift", async () => {
    intercept = (res) => {
      res.writeHead(413, { 'content-type': 'text/html' });
      res.end('<html><body><h1>413 Request Entity Too Large</h1></body></html>');
    };
    const { text, jobId } = await verifyThroughProxy();
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'failed', error: { code: 'RELAY.RESULT_REFUSED' } });
    expect(text).toContain('the answer was HTTP 413, not from SyncShift (a proxy between the agent and the bot?)');
    expect(text).toContain("raise the proxy's request body limit");
  });

  it('a 500 from the bot makes the agent read the OU again and send it again, and the verify completes', async () => {
    intercept = json(500, { code: 'INTERNAL', message: 'The bot could not store this scan; it has been logged.' });
    const { text, jobId, log } = await verifyThroughProxy();
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'succeeded', attempts: 1 });
    expect(uploads).toBe(2);
    expect(text).toContain('On-premises users:');
    expect(log).toContain('result not delivered yet; retrying');
  });
});
