#!/usr/bin/env node
import { asAppError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { runAgent } from './agent';
import { loadAgentConfig } from './agent-config';
import { connectConfiguredDirectory } from './connect-directory';
import { RelayClient } from './relay-client';

const USAGE = `syncshift-agent: the SyncShift on-premises relay agent.

Usage:
  syncshift-agent [run] [--once]   poll the bot for jobs and run them (outbound HTTPS only)
  syncshift-agent --help

Settings come from the environment: SYNCSHIFT_RELAY_URL, SYNCSHIFT_AGENT_ID,
SYNCSHIFT_AGENT_SECRET(_FILE), LDAP_URL, LDAP_BIND_DN, LDAP_PASSWORD(_FILE), LDAP_CA_PATH,
LDAP_PAGE_SIZE, SYNCSHIFT_ADSYNC_EXPORT_DIR (enables Connect Sync actions), SYNCSHIFT_POWERSHELL;
SYNCSHIFT_DIRECTORY=simulated with SYNCSHIFT_SIMULATED_FOREST is for the sandbox only.
See docs/deploy.md, "Install the agent on-premises".`;

export const AGENT_VERSION = '0.1.0';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  const unknown = argv.filter((a) => a !== 'run' && a !== '--once');
  if (unknown.length > 0) {
    console.error(`Unknown argument ${unknown[0]}.\n\n${USAGE}`);
    return 2;
  }
  const logger = createLogger('syncshift-agent');
  const config = loadAgentConfig();
  const relay = new RelayClient({ url: config.relayUrl, agentId: config.agentId, secret: config.secret, agentVersion: AGENT_VERSION });
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort());
  logger.info({ relay: config.relayUrl, agentId: config.agentId, directory: config.directory.kind }, 'agent started');
  await runAgent({
    relay,
    logger,
    signal: controller.signal,
    ...(argv.includes('--once') ? { maxJobs: 1 } : {}),
    ...(config.adsync ? { adsync: { exportDir: config.adsync.exportDir, ...(config.adsync.executable ? { executable: config.adsync.executable } : {}) } } : {}),
    connectDirectory: () => connectConfiguredDirectory(config.directory),
  });
  return 0;
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      const e = asAppError(err);
      console.error(`syncshift-agent: ${e.message}${e.hint ? `\n${e.hint}` : ''}`);
      process.exit(1);
    },
  );
}
