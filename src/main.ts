import { startBot } from './bot/start-bot';
import { createCloudDirectoryFromConfig } from './cloud/create-cloud-directory';
import { loadConfig, startupWarnings } from './config';
import { asAppError } from './shared/errors';
import { createLogger } from './shared/logger';
import { openStore } from './store/open-store';

async function main(): Promise<void> {
  const logger = createLogger('syncshift');
  const config = loadConfig();
  const store = await openStore(config.databaseUrl ? { databaseUrl: config.databaseUrl } : { dataDir: config.dataDir });
  const cloud = createCloudDirectoryFromConfig(config.graph, logger.child({ part: 'cloud' }));
  const bot = await startBot({ config, store, cloud, logger });
  for (const warning of startupWarnings(config, bot.url)) logger.warn(warning);
  if (
    config.agentSecrets.size === 0 &&
    (await store.agents.list()).every((agent) => agent.status !== 'active' || agent.secretSha256 === null)
  ) {
    logger.warn(
      'No agent is enrolled or configured: /verify jobs will wait until one is. An approver types /agent enroll <name> to add one.',
    );
  }
  logger.info(
    {
      url: bot.url,
      store: store.db.kind,
      graph: config.graph.baseUrl,
      mode: config.botAuth ? `production (${config.botAuth.credential.kind})` : 'local',
    },
    'SyncShift bot listening',
  );
  const shutdown = async (): Promise<void> => {
    await bot.stop();
    await store.close();
    process.exit(0);
  };
  process.once('SIGINT', () => void shutdown());
  process.once('SIGTERM', () => void shutdown());
}

main().catch((err: unknown) => {
  const e = asAppError(err);
  console.error(`syncshift: ${e.message}${e.hint ? `\n${e.hint}` : ''}`);
  process.exit(1);
});
