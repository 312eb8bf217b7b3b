import * as restify from 'restify';
import type { AddressInfo } from 'node:net';
import type { CloudDirectory } from '../cloud/types';
import type { BotConfig } from '../config';
import { RelayServer } from '../relay/relay-server';
import { VerifyService } from '../services/verify-service';
import type { Logger } from '../shared/logger';
import type { Store } from '../store/types';
import { ProactiveCardSink } from './card-sink';
import { createAdapter, createTeamsApp } from './teams-app';

export interface RunningBot {
  url: string;
  server: restify.Server;
  verify: VerifyService;
  relay: RelayServer;
  stop(): Promise<void>;
}

/** Agent results can carry every user of a large OU; Bot Framework activities stay small. */
const MAX_BODY_BYTES = 256 * 1024 * 1024;

export async function startBot(options: { config: BotConfig; store: Store; cloud: CloudDirectory; logger: Logger }): Promise<RunningBot> {
  const { config, store, cloud, logger } = options;
  const adapter = createAdapter(config);
  const cards = new ProactiveCardSink(adapter, config.botAuth?.appId ?? '', store);
  const verify = new VerifyService({ store, cloud, cards, logger: logger.child({ part: 'verify' }), listLimit: config.cardListLimit });
  const relay = new RelayServer({ store, agentSecrets: config.agentSecrets, listener: verify, logger: logger.child({ part: 'relay' }) });
  const app = createTeamsApp(adapter, { store, verify, logger, jobQueued: () => relay.jobQueued() });

  const server = restify.createServer({ name: 'syncshift', handleUncaughtExceptions: false });
  server.use(restify.plugins.bodyParser({ maxBodySize: MAX_BODY_BYTES, mapParams: false }));
  server.post('/api/messages', async (req, res) => {
    await adapter.process(req, res, async (context) => {
      await app.run(context);
    });
  });
  server.get('/healthz', (_req, res, next) => {
    res.send(200, { ok: true, mode: config.botAuth ? 'production' : 'local' });
    next();
  });
  relay.register(server);

  await new Promise<void>((resolve) => server.listen(config.port, config.host, resolve));
  const address = server.address() as unknown as AddressInfo;
  const host = address.family === 'IPv6' ? `[${address.address}]` : address.address;
  // Jobs that finished while the bot was down still owe their card.
  void verify.resumeUnreported().catch((err: Error) => logger.error({ err: err.message }, 'resuming unreported verifications failed'));

  return {
    url: `http://${host}:${address.port}`,
    server,
    verify,
    relay,
    stop: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
      }),
  };
}
