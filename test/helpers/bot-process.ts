/**
 * A SyncShift bot as its own OS process for tests: PostgreSQL store on a given schema, the Graph
 * simulator, and a clock read from a file so the test can move time for every process at once.
 * Prints one JSON line {"ready": url} when it listens.
 */
import { readFileSync } from 'node:fs';
import { startBot } from '../../src/bot/start-bot';
import { createGraphCloudDirectory } from '../../src/cloud/graph-cloud-directory';
import { loadConfig } from '../../src/config';
import { createLogger } from '../../src/shared/logger';
import { openStore } from '../../src/store/open-store';

async function main(): Promise<void> {
  const env = (name: string): string => {
    const value = process.env[name];
    if (!value) throw new Error(`bot-process needs ${name}`);
    return value;
  };
  const clockFile = env('TEST_CLOCK_FILE');
  const now = (): Date => new Date(readFileSync(clockFile, 'utf8').trim());
  const logger = createLogger('bot-process', process.env.LOG_LEVEL ?? 'warn');
  const store = await openStore({ databaseUrl: env('TEST_DATABASE_URL'), schema: env('TEST_SCHEMA') });
  const config = loadConfig({
    PORT: '0',
    SYNCSHIFT_AGENT_SECRETS: env('TEST_AGENT_SECRETS'),
    GRAPH_BASE_URL: env('TEST_GRAPH_URL'),
    GRAPH_STATIC_TOKEN: env('TEST_GRAPH_TOKEN'),
  });
  const cloud = createGraphCloudDirectory({
    baseUrl: config.graph.baseUrl,
    staticToken: env('TEST_GRAPH_TOKEN'),
    logger,
  });
  const bot = await startBot({
    config,
    store,
    cloud,
    logger,
    now,
    instanceId: env('TEST_INSTANCE_ID'),
    summaryIntervalMs: Number(process.env.TEST_SUMMARY_INTERVAL_MS ?? 100),
  });
  process.stdout.write(`${JSON.stringify({ ready: bot.url })}\n`);
  process.once('SIGTERM', () => {
    void bot
      .stop()
      .then(() => store.close())
      .finally(() => process.exit(0));
  });
}

main().catch((err: Error) => {
  process.stderr.write(`bot-process failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
