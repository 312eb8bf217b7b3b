import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { runAgent } from '../../src/agent/agent';
import { RelayClient } from '../../src/agent/relay-client';
import type { Directory } from '../../src/directory/types';
import { createLogger, type Logger } from '../../src/shared/logger';
import { AGENT_ID, AGENT_SECRET, type BotHarness } from './bot-harness';
import { cardText } from './fake-connector';

export interface RelayProxyHooks {
  /** Answer this request here instead of forwarding it (the body has been read); null forwards it. */
  answer?(req: IncomingMessage): ((res: ServerResponse) => void) | null;
  /** Rewrite a forwarded answer's text, as a bot of another version would send it. */
  rewrite?(path: string, status: number, text: string): string;
}

export interface RelayProxy {
  url: string;
  close(): Promise<void>;
}

/**
 * Sits between a real agent and a real bot and forwards every request, so a test can make one
 * answer look like a newer bot's, a failing bot's or a reverse proxy's. Bodies are buffered: fine
 * for test-sized scans, never used for the streaming behaviour itself.
 */
export async function startRelayProxy(botUrl: () => string, hooks: RelayProxyHooks): Promise<RelayProxy> {
  const forward = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const own = hooks.answer?.(req);
    if (own) return own(res);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers))
      if (typeof v === 'string' && !['host', 'content-length', 'transfer-encoding', 'connection'].includes(k))
        headers[k] = v;
    const upstream = await fetch(botUrl() + (req.url ?? ''), {
      method: req.method ?? 'POST',
      headers,
      body: new Uint8Array(Buffer.concat(chunks)),
    });
    const text = await upstream.text();
    res.writeHead(upstream.status, { 'content-type': upstream.headers.get('content-type') ?? 'application/json' });
    res.end(hooks.rewrite ? hooks.rewrite(req.url ?? '', upstream.status, text) : text);
  };
  const server = createServer((req, res) => void forward(req, res));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    close: async () => {
      server.closeAllConnections();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}

/** A silent logger whose error, warn and info lines are pushed onto `lines`, for tests to read. */
export function capturingLogger(lines: string[]): Logger {
  const logger = createLogger('agent-test', 'silent');
  const log = (level: string) => (obj: unknown, msg?: string) =>
    void lines.push(`${level} ${msg ?? ''} ${JSON.stringify(obj)}`);
  Object.assign(logger, { error: log('error'), warn: log('warn'), info: log('info') });
  return logger;
}

/**
 * `/verify pilot OU=Sales` in the harness's channel, answered by one run of the real agent loop
 * through `relayUrl`; returns the final card once it is no longer in progress.
 */
export async function verifyThroughAgent(
  h: BotHarness,
  agent: { relayUrl: string; agentVersion: string; connectDirectory: () => Promise<Directory>; logLines: string[] },
): Promise<{ jobId: string; card: Record<string, unknown>; text: string }> {
  const replies = await h.say('/verify pilot OU=Sales');
  const cardId = replies[0]!.id;
  const from = h.connector.calls.indexOf(replies[0]!) + 1;
  const jobId = (await h.store.verifications.listByConversation(h.conversationId, 1))[0]!.jobId;
  await runAgent({
    relay: new RelayClient({
      url: agent.relayUrl,
      agentId: AGENT_ID,
      secret: AGENT_SECRET,
      agentVersion: agent.agentVersion,
    }),
    logger: capturingLogger(agent.logLines),
    waitMs: 0,
    maxJobs: 1,
    sleep: async () => undefined,
    connectDirectory: agent.connectDirectory,
  });
  const final = await h.connector.waitFor(
    (c) =>
      c.method === 'PUT' &&
      c.id === cardId &&
      !/Verifying…|Comparing/.test(cardText(c.activity.attachments![0]!.content)),
    { from, timeoutMs: 20_000 },
  );
  const card = final.activity.attachments![0]!.content as Record<string, unknown>;
  return { jobId, card, text: cardText(card) };
}
