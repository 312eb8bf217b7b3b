#!/usr/bin/env node
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { asAppError } from '../shared/errors';
import { createLogger } from '../shared/logger';
import { runAgent } from './agent';
import { loadAgentConfig } from './agent-config';
import { connectConfiguredDirectory } from './connect-directory';
import { enrollAgent } from './enroll';
import { RelayClient } from './relay-client';

const USAGE = `syncshift-agent: the SyncShift on-premises relay agent.

Usage:
  syncshift-agent enroll --url <bot url> --code <code> [--out <file>]
                                   exchange a one-time code from "/agent enroll <name>" for this
                                   agent's credential, written to <file> (default
                                   syncshift-agent.credential.json) readable by its owner only
  syncshift-agent [run] [--once]   poll the bot for jobs and run them (outbound HTTPS only)
  syncshift-agent --help

Settings come from the environment: SYNCSHIFT_AGENT_CREDENTIAL_FILE (from enroll) or
SYNCSHIFT_AGENT_ID + SYNCSHIFT_AGENT_SECRET(_FILE), SYNCSHIFT_RELAY_URL, LDAP_URL, LDAP_BIND_DN,
LDAP_PASSWORD(_FILE), LDAP_CA_PATH, LDAP_PAGE_SIZE, SYNCSHIFT_ALLOWED_BASE_DNS (DNs separated by ";"),
SYNCSHIFT_READ_ONLY, SYNCSHIFT_ADSYNC_EXPORT_DIR (enables Connect Sync actions), SYNCSHIFT_POWERSHELL,
SYNCSHIFT_PROGRESS_INTERVAL_MS;
SYNCSHIFT_DIRECTORY=simulated with SYNCSHIFT_SIMULATED_FOREST is for the sandbox only.
See docs/deploy.md, "Install the agent on-premises".`;

export const AGENT_VERSION = '0.1.0';

async function main(argv: string[]): Promise<number> {
  if (argv.includes('--help') || argv.includes('-h')) {
    console.log(USAGE);
    return 0;
  }
  if (argv[0] === 'enroll') return enroll(argv.slice(1));
  const unknown = argv.filter((a) => a !== 'run' && a !== '--once');
  if (unknown.length > 0) {
    console.error(`Unknown argument ${unknown[0]}.\n\n${USAGE}`);
    return 2;
  }
  const logger = createLogger('syncshift-agent');
  const config = loadAgentConfig();
  const relay = new RelayClient({
    url: config.relayUrl,
    agentId: config.agentId,
    secret: config.secret,
    agentVersion: AGENT_VERSION,
  });
  const controller = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => controller.abort());
  logger.info(
    {
      relay: config.relayUrl,
      agentId: config.agentId,
      directory: config.directory.kind,
      allowedBaseDns: config.policy.allowedBaseDns,
      readOnly: config.policy.readOnly,
    },
    'agent started',
  );
  if (config.policy.allowedBaseDns.length === 0)
    logger.warn(
      'SYNCSHIFT_ALLOWED_BASE_DNS is empty: this agent accepts jobs for any OU its LDAP account can read. Set it to limit the agent.',
    );
  await runAgent({
    relay,
    logger,
    signal: controller.signal,
    ...(argv.includes('--once') ? { maxJobs: 1 } : {}),
    policy: config.policy,
    progressIntervalMs: config.progressIntervalMs,
    ...(config.adsync
      ? {
          adsync: {
            exportDir: config.adsync.exportDir,
            ...(config.adsync.executable ? { executable: config.adsync.executable } : {}),
          },
        }
      : {}),
    connectDirectory: () => connectConfiguredDirectory(config.directory),
  });
  return 0;
}

async function enroll(args: string[]): Promise<number> {
  let values: { url?: string; code?: string; out?: string };
  try {
    ({ values } = parseArgs({
      args,
      options: { url: { type: 'string' }, code: { type: 'string' }, out: { type: 'string' } },
      strict: true,
    }));
  } catch (err) {
    console.error(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  if (!values.url || !values.code) {
    console.error(`enroll needs --url and --code.\n\n${USAGE}`);
    return 2;
  }
  const out = resolve(values.out ?? 'syncshift-agent.credential.json');
  const credential = await enrollAgent({ url: values.url, code: values.code, out, agentVersion: AGENT_VERSION });
  console.log(
    `Enrolled as agent "${credential.agentId}". Credential written to ${out} (owner read/write only).\nStart the agent with SYNCSHIFT_AGENT_CREDENTIAL_FILE=${out}.`,
  );
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
