import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startBot, type RunningBot } from '../../src/bot/start-bot';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import { loadConfig } from '../../src/config';
import { startGraphSimulator, type GraphSimulator } from '../../src/sandbox/graph-simulator';
import { SIMULATED_CLOUD_SYNC_SP_ID } from '../../src/sandbox/sim-synchronization';
import { createLogger } from '../../src/shared/logger';
import { openStore } from '../../src/store/open-store';
import type { Store } from '../../src/store/types';
import { ADELE, messageActivity, postActivity, type TestUser } from './activities';
import { FakeConnector, type ConnectorCall } from './fake-connector';

export const AGENT_ID = 'agent-test';
export const AGENT_SECRET = 'test-secret-0123456789-abcdefghij';
export const GRAPH_TOKEN = 'sim-token';

export interface BotHarness {
  bot: RunningBot;
  store: Store;
  /**
   * Drops every connection and stops the bot and its store as a crash would, then starts a new
   * bot on the same port and data; `whileDown` runs in between.
   */
  restart(whileDown?: () => Promise<void>): Promise<void>;
  graph: GraphSimulator;
  connector: FakeConnector;
  conversationId: string;
  /** Sends a message as `from` and returns the bot's replies to it (in-turn POSTs to .../activities/{id}). */
  say(text: string, from?: TestUser, conversationId?: string): Promise<ConnectorCall[]>;
  close(): Promise<void>;
}

/** The bot as it runs in production, minus Teams: real HTTP, real store (PGlite), Graph simulator. */
export interface BotHarnessOptions {
  env?: Record<string, string>;
  dataDir?: string;
  /** Use this store (e.g. PostgreSQL shared by two bots) instead of a fresh PGlite. The harness closes it. */
  store?: Store;
  /** Share a Graph simulator or Teams stand-in with another harness; the owner closes them. */
  graph?: GraphSimulator;
  connector?: FakeConnector;
  now?: () => Date;
  instanceId?: string;
  /** 0 (the default here) leaves summary ticks to the test. */
  summaryIntervalMs?: number;
  summaryScanTimeoutMs?: number;
  /** Lease sweep period; 0 leaves sweeps to the test (bot.relay.sweep()). Default: the config's. */
  leaseSweepMs?: number;
  /** The relay's clock (lease expiry, result claims). */
  relayNow?: () => Date;
  timers?: import('../../src/jobs/result-applier').Timers;
  /** Graph client retry settings, e.g. a short backoff for tests that make Graph fail for good. */
  graphRetry?: { maxRetries?: number; baseBackoffMs?: number };
  bodyDeadlineMs?: number;
  bodyIdleMs?: number;
  streamIdleMs?: number;
  /** Step 12's canary: poll period and timeouts (the bot's defaults otherwise). */
  canary?: import('../../src/bot/start-bot').StartBotOptions['canary'];
  /** The no-flow check after a cycle: poll period (0: the test ticks), recheck interval, deadline. */
  noFlowFollowUp?: import('../../src/bot/start-bot').StartBotOptions['noFlowFollowUp'];
}

export async function startBotHarness(options: BotHarnessOptions = {}): Promise<BotHarness> {
  const dataDir = options.dataDir ?? mkdtempSync(join(tmpdir(), 'syncshift-bot-'));
  const ownsDir = options.dataDir === undefined && options.store === undefined;
  let store = options.store ?? (await openStore({ dataDir }));
  const graph = options.graph ?? (await startGraphSimulator({ token: GRAPH_TOKEN }));
  const connector = options.connector ?? (await new FakeConnector().start());
  const config = loadConfig({
    PORT: '0',
    SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET}`,
    GRAPH_BASE_URL: graph.url,
    GRAPH_STATIC_TOKEN: GRAPH_TOKEN,
    CLOUD_SYNC_SERVICE_PRINCIPAL_ID: SIMULATED_CLOUD_SYNC_SP_ID,
    ...options.env,
  });
  const logger = createLogger('test', process.env.LOG_LEVEL ?? 'silent');
  const cloud = createGraphCloudDirectory({
    baseUrl: graph.url,
    staticToken: GRAPH_TOKEN,
    logger,
    ...options.graphRetry,
  });
  const botOptions = {
    cloud,
    logger,
    summaryIntervalMs: options.summaryIntervalMs ?? 0,
    ...(options.now ? { now: options.now } : {}),
    ...(options.instanceId ? { instanceId: options.instanceId } : {}),
    ...(options.summaryScanTimeoutMs ? { summaryScanTimeoutMs: options.summaryScanTimeoutMs } : {}),
    ...(options.leaseSweepMs !== undefined ? { leaseSweepMs: options.leaseSweepMs } : {}),
    ...(options.relayNow ? { relayNow: options.relayNow } : {}),
    ...(options.timers ? { timers: options.timers } : {}),
    ...(options.bodyDeadlineMs ? { bodyDeadlineMs: options.bodyDeadlineMs } : {}),
    ...(options.bodyIdleMs ? { bodyIdleMs: options.bodyIdleMs } : {}),
    ...(options.streamIdleMs ? { streamIdleMs: options.streamIdleMs } : {}),
    ...(options.canary ? { canary: options.canary } : {}),
    ...(options.noFlowFollowUp ? { noFlowFollowUp: options.noFlowFollowUp } : {}),
  };
  let bot = await startBot({ ...botOptions, config, store });
  const conversationId = '19:migration-thread@thread.tacv2';
  return {
    get bot() {
      return bot;
    },
    get store() {
      return store;
    },
    async restart(whileDown) {
      const port = new URL(bot.url).port;
      (bot.server.server as { closeAllConnections?: () => void }).closeAllConnections?.();
      await bot.stop();
      await store.close();
      await whileDown?.();
      if (options.store) throw new Error("restart() needs the harness's own PGlite store; do not pass options.store");
      store = await openStore({ dataDir });
      bot = await startBot({ ...botOptions, config: { ...config, port: Number(port) }, store });
    },
    graph,
    connector,
    conversationId,
    async say(text, from = ADELE, conv = conversationId) {
      const before = connector.calls.length;
      const activity = messageActivity({ text, from, conversationId: conv, serviceUrl: connector.url });
      const res = await postActivity(bot.url, activity);
      if (res.status >= 300) throw new Error(`/api/messages answered ${res.status}: ${await res.text()}`);
      // Only the replies to this message: proactive updates from background work can land meanwhile.
      return connector.calls.slice(before).filter((c) => c.method === 'POST' && c.activityId === activity.id);
    },
    async close() {
      await bot.stop();
      await bot.summaries.idle();
      if (!options.connector) await connector.stop();
      if (!options.graph) await graph.close();
      await store.close();
      if (ownsDir) rmSync(dataDir, { recursive: true, force: true });
    },
  };
}

export function firstCard(calls: ConnectorCall[]): Record<string, unknown> {
  const card = calls
    .flatMap((c) => c.activity.attachments ?? [])
    .find((a) => a.contentType === 'application/vnd.microsoft.card.adaptive');
  if (!card)
    throw new Error(
      `No card among ${calls.length} calls: ${JSON.stringify(calls.map((c) => c.activity)).slice(0, 500)}`,
    );
  return card.content;
}
