/**
 * Starts the whole sandbox in this process: a directory (simulated, or the test Samba AD), the Graph
 * simulator with a tenant built from it, simulated Cloud Sync, the bot on PGlite, a relay agent with
 * a simulated Connect Sync server, and the Agents Playground as a child process. Used by the
 * `npm run sandbox` command (run-sandbox.ts) and by the browser test, so both run the same thing.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join } from 'node:path';
import pino from 'pino';
import { runAgent } from '../agent/agent';
import { loadAgentConfig } from '../agent/agent-config';
import { connectConfiguredDirectory } from '../agent/connect-directory';
import { RelayClient } from '../agent/relay-client';
import { startBot, type RunningBot } from '../bot/start-bot';
import { createGraphCloudDirectory } from '../cloud/graph-cloud-directory';
import { loadConfig } from '../config';
import { writeForestFile } from '../directory/simulated-directory';
import { asAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { openStore } from '../store/open-store';
import type { Store } from '../store/types';
import { OU } from './forest-spec';
import { startGraphSimulator, type GraphSimulator } from './graph-simulator';
import { SANDBOX_APPROVERS, writePlaygroundConfig } from './playground-users';
import { sambaEnvFile } from './samba-location';
import {
  DEFAULT_CYCLE_INTERVAL_MS,
  SIMULATED_CLOUD_SYNC_SP_ID,
  startSimulatedCloudSync,
  type SimulatedCloudSync,
} from './simulated-cloud-sync';
import { installFakePowerShell, type FakePowerShell } from './simulated-connect-sync';
import { buildSeededForest } from './seeded-forest';
import { buildTenantFromDirectory, type TenantDrift } from './tenant-from-directory';

export class SandboxError extends Error {}

export type SandboxDirectoryMode = 'simulated' | 'samba';

export interface SandboxOptions {
  directory: SandboxDirectoryMode;
  playground: boolean;
  /** Delete the sandbox database first. */
  reset: boolean;
  /** Database, forest file, Connect Sync state, Playground config and logs live here. */
  dataDir: string;
  ports: { bot: number; graph: number; playground: number };
  /** From step 11 being marked done to the pilot OU's users appearing in the tenant. */
  provisioningDelayMs: number;
  /** Between two simulated Cloud Sync cycles of a configured OU (the real service: about 2 minutes). */
  cloudSyncIntervalMs?: number;
  /** How often the bot looks for step 12's canary in Entra and the provisioning logs (the bot's default: 15 s). */
  canaryPollMs?: number;
  logLevel?: string;
  /** Progress lines for a person watching. */
  say?: (text: string) => void;
}

export interface RunningSandbox {
  botUrl: string;
  graphUrl: string;
  playgroundUrl: string | undefined;
  /** What the agent reads, for the banner. */
  directoryDescription: string;
  graph: GraphSimulator;
  store: Store;
  cloudSync: SimulatedCloudSync;
  connectSync: FakePowerShell;
  drift: TenantDrift;
  /** Rejects if the Playground exits while the sandbox runs. */
  playgroundExited: Promise<never>;
  stop(): Promise<void>;
}

export const SANDBOX_DRIFT: TenantDrift = { baseDn: OU.sales, missing: 3, extra: 2, mismatched: 2 };
const AGENT_ID = 'sandbox-agent';
const AGENT_VERSION = '0.1.0-sandbox';
const PLAYGROUND_START_TIMEOUT_MS = 30_000;
const liveChildren = new Set<ChildProcess>();

interface Parts {
  graph?: GraphSimulator;
  store?: Store;
  bot?: RunningBot;
  cloudSync?: SimulatedCloudSync;
  agentAbort?: AbortController;
  agentDone?: Promise<void>;
  playground?: ChildProcess;
  playgroundLog?: WriteStream;
}

export async function startSandbox(options: SandboxOptions): Promise<RunningSandbox> {
  const say = options.say ?? (() => undefined);
  const dataDir = options.dataDir;
  const storeDir = join(dataDir, 'pglite');
  mkdirSync(dataDir, { recursive: true });
  const logger = fileLogger(join(dataDir, 'sandbox.log'), options.logLevel ?? 'info');
  const parts: Parts = {};
  let stopping = false;
  const stop = async (): Promise<void> => {
    stopping = true;
    await stopAll(parts);
  };

  try {
    await assertPortFree(options.ports.bot, 'bot', 'PORT');
    await assertPortFree(options.ports.graph, 'Graph simulator', 'SANDBOX_GRAPH_PORT');
    if (options.playground)
      await assertPortFree(options.ports.playground, 'Agents Playground', 'SANDBOX_PLAYGROUND_PORT');

    if (options.reset) {
      rmSync(storeDir, { recursive: true, force: true });
      say('deleted the sandbox database (--reset)');
    }
    // PGlite's first start (initdb in WASM) takes seconds; let it overlap with the directory read.
    const storeReady = openStore({ dataDir: storeDir }).then(
      // Recorded as soon as it opens, so a failure further on still closes it.
      (store) => (parts.store = store),
      (err: unknown) => {
        const e = asAppError(err);
        // The store's own hint is written for production databases; here the data is disposable.
        throw new SandboxError(
          `The sandbox database in ${storeDir} could not be opened: ${e.message} Its data is disposable: run npm run sandbox -- --reset to start from an empty one.`,
        );
      },
    );
    storeReady.catch(() => undefined);

    const botUrl = `http://127.0.0.1:${options.ports.bot}`;
    const agentSecret = randomBytes(32).toString('base64url');
    const { env: directoryEnv, description } = directoryEnvFor(options.directory, dataDir);
    // The agent is configured through the same validated settings a real agent reads, so the
    // sandbox exercises the agent's own directory selection.
    const agentConfig = loadAgentConfig({
      SYNCSHIFT_RELAY_URL: botUrl,
      SYNCSHIFT_AGENT_ID: AGENT_ID,
      SYNCSHIFT_AGENT_SECRET: agentSecret,
      ...directoryEnv,
    });
    const connectDirectory = (): ReturnType<typeof connectConfiguredDirectory> =>
      connectConfiguredDirectory(agentConfig.directory).catch((err: unknown) => {
        const e = asAppError(err);
        throw new SandboxError(
          `Cannot read ${description}: ${e.message}${e.hint ? ` ${e.hint}` : ''}${options.directory === 'samba' ? ' Is it running? bash scripts/samba-up.sh starts it.' : ''}`,
        );
      });

    say(`reading ${description} to build the simulated tenant`);
    const directory = await connectDirectory();
    const tenant = await buildTenantFromDirectory(directory, SANDBOX_DRIFT).finally(() =>
      directory.close().catch(() => undefined),
    );

    const graphToken = randomBytes(18).toString('base64url');
    parts.graph = await startGraphSimulator({
      port: options.ports.graph,
      token: graphToken,
      users: tenant.users,
      groups: tenant.groups,
      contacts: tenant.contacts,
      logger: logger.child({ part: 'graph-simulator' }),
    });
    // The tutorial's configuration syncs password hashes: its AD2AADPasswordHash job runs, so step 16 reads it as on.
    parts.graph.setCloudSync({ passwordHashJob: 'Active' });
    say(
      `Graph simulator on ${parts.graph.url} with ${tenant.users.length} users, ${tenant.groups.length} groups and ${tenant.contacts.length} contacts`,
    );

    const store = await storeReady;
    // Built from scratch rather than process.env: Bot Framework credentials or a DATABASE_URL from
    // the developer's shell would turn the sandbox into something it is not.
    const config = loadConfig({
      PORT: String(options.ports.bot),
      HOST: '127.0.0.1',
      DATA_DIR: dataDir,
      GRAPH_BASE_URL: parts.graph.url,
      GRAPH_STATIC_TOKEN: graphToken,
      CLOUD_SYNC_SERVICE_PRINCIPAL_ID: SIMULATED_CLOUD_SYNC_SP_ID,
      SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${agentSecret}`,
      SYNCSHIFT_APPROVERS: SANDBOX_APPROVERS.join(','),
      SYNCSHIFT_REQUIRED_APPROVALS: '1',
    });
    const cloud = createGraphCloudDirectory({
      baseUrl: parts.graph.url,
      staticToken: graphToken,
      logger: logger.child({ part: 'graph' }),
    });
    // No child binding here: the bot adds its own `part` to its loggers.
    parts.bot = await startBot({
      config,
      store,
      cloud,
      logger,
      ...(options.canaryPollMs !== undefined ? { canary: { pollMs: options.canaryPollMs } } : {}),
    });
    say(`bot on ${parts.bot.url}/api/messages (PGlite in ${storeDir})`);

    parts.cloudSync = startSimulatedCloudSync({
      graph: parts.graph,
      connectDirectory,
      delayMs: options.provisioningDelayMs,
      ...(options.cloudSyncIntervalMs !== undefined ? { cycleIntervalMs: options.cloudSyncIntervalMs } : {}),
      logger: logger.child({ part: 'cloud-sync' }),
    });
    say(
      `simulated Cloud Sync: provisions an OU ${options.provisioningDelayMs / 1000}s after it enters the running job's scope (step 11 writes it), then runs a cycle every ${(options.cloudSyncIntervalMs ?? DEFAULT_CYCLE_INTERVAL_MS) / 1000}s`,
    );

    // A started sync cycle ends 10 s later, so `/ou noflow pilot` after step 13 has a cycle to read.
    const connectSync = installFakePowerShell({ cycleDurationMs: 10_000 }, join(dataDir, 'connect-sync'));
    // Step 3 refuses a backup folder that does not exist, as it would on a real server.
    const exportDir = join(dataDir, 'adsync-exports');
    mkdirSync(exportDir, { recursive: true });
    parts.agentAbort = new AbortController();
    const agentLogger = logger.child({ part: 'agent' });
    parts.agentDone = runAgent({
      relay: new RelayClient({
        url: agentConfig.relayUrl,
        agentId: agentConfig.agentId,
        secret: agentConfig.secret,
        agentVersion: AGENT_VERSION,
      }),
      logger: agentLogger,
      signal: parts.agentAbort.signal,
      connectDirectory,
      // A simulated Connect Sync server: the PowerShell stand-in with its state under the data folder.
      adsync: { exportDir, env: connectSync.env },
    }).catch((err: Error) => agentLogger.error({ err: err.message }, 'agent loop stopped'));
    say(`relay agent ${AGENT_ID} polling the bot, reading ${description}`);

    let playgroundUrl: string | undefined;
    let playgroundExited: Promise<never> = new Promise<never>(() => undefined);
    if (options.playground) {
      const child = startPlayground(`${parts.bot.url}/api/messages`, options.ports.playground, dataDir, parts);
      parts.playground = child;
      playgroundExited = new Promise<never>((_, reject) =>
        child.once('exit', (code, signal) => {
          if (!stopping)
            reject(
              new SandboxError(
                `The Agents Playground exited (${signal ?? `code ${code}`}); see ${join(dataDir, 'playground.log')}.`,
              ),
            );
        }),
      );
      playgroundExited.catch(() => undefined);
      const url = `http://localhost:${options.ports.playground}`;
      await Promise.race([
        playgroundExited,
        waitFor('The Agents Playground answering on its port', PLAYGROUND_START_TIMEOUT_MS, async () =>
          (await fetch(`${url}/_debug/ping`)).ok ? true : undefined,
        ),
      ]);
      playgroundUrl = url;
      say(`Agents Playground on ${playgroundUrl}`);
    }

    return {
      botUrl: parts.bot.url,
      graphUrl: parts.graph.url,
      playgroundUrl,
      directoryDescription: description,
      graph: parts.graph,
      store,
      cloudSync: parts.cloudSync,
      connectSync,
      drift: SANDBOX_DRIFT,
      playgroundExited,
      stop,
    };
  } catch (err) {
    await stop();
    throw err;
  }
}

/** The agent settings that select the directory; the simulated forest is written for it first. */
function directoryEnvFor(
  mode: SandboxDirectoryMode,
  dataDir: string,
): { env: Record<string, string>; description: string } {
  if (mode === 'simulated') {
    const forestFile = join(dataDir, 'forest.json');
    const forest = buildSeededForest();
    writeForestFile(forestFile, forest);
    return {
      env: { SYNCSHIFT_DIRECTORY: 'simulated', SYNCSHIFT_SIMULATED_FOREST: forestFile },
      description: `the simulated directory (${forest.users.length} users, ${forestFile})`,
    };
  }
  const envFile = sambaEnvFile();
  let samba: Record<string, unknown>;
  try {
    samba = JSON.parse(readFileSync(envFile, 'utf8')) as Record<string, unknown>;
  } catch (err) {
    throw new SandboxError(
      `${envFile} is missing or unreadable (${(err as Error).message}). Run bash scripts/samba-up.sh first, or start the sandbox with npm run sandbox -- --directory samba, which does.`,
    );
  }
  for (const key of ['url', 'bindDn', 'password', 'caPath'] as const) {
    if (typeof samba[key] !== 'string' || samba[key] === '')
      throw new SandboxError(`${envFile} has no "${key}". Re-run bash scripts/samba-up.sh.`);
  }
  const caPath = samba.caPath as string;
  if (!existsSync(caPath))
    throw new SandboxError(`The Samba CA ${caPath} is missing. Re-run bash scripts/samba-up.sh.`);
  return {
    env: {
      SYNCSHIFT_DIRECTORY: 'ldap',
      LDAP_URL: samba.url as string,
      LDAP_BIND_DN: samba.bindDn as string,
      LDAP_PASSWORD: samba.password as string,
      LDAP_CA_PATH: caPath,
    },
    description: `Samba AD at ${samba.url as string}`,
  };
}

// The Playground silently moves to a random port when its own is taken, and a second sandbox would
// fight the first over PGlite's directory; a clear refusal up front beats either.
async function assertPortFree(port: number, what: string, envName: string): Promise<void> {
  await new Promise<void>((resolvePort, reject) => {
    const probe = createServer();
    probe.once('error', (err: NodeJS.ErrnoException) => {
      reject(
        new SandboxError(
          err.code === 'EADDRINUSE'
            ? `Port ${port} (${what}) is already in use, probably by a sandbox that is still running. Stop it (Ctrl-C in its terminal), or set ${envName} to another port.`
            : `Cannot listen on port ${port} (${what}): ${err.message}.`,
        ),
      );
    });
    probe.listen(port, '127.0.0.1', () => probe.close(() => resolvePort()));
  });
}

/** Logs go to a file: the terminal is for the banner and progress lines. */
function fileLogger(path: string, level: string): Logger {
  return pino(
    {
      name: 'sandbox',
      level,
      redact: ['password', 'secret', 'token', '*.password', '*.secret', '*.token', 'headers.authorization'],
    },
    pino.destination({ dest: path, sync: true, mkdir: true }),
  );
}

export async function waitFor<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      if (err instanceof SandboxError) throw err;
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new SandboxError(
    `${what} did not happen within ${timeoutMs / 1000}s${lastError ? ` (last error: ${lastError})` : ''}.`,
  );
}

function startPlayground(botEndpoint: string, port: number, dataDir: string, parts: Parts): ChildProcess {
  const cli = require.resolve('@microsoft/m365agentsplayground/cli.js');
  writePlaygroundConfig(dataDir);
  const log = createWriteStream(join(dataDir, 'playground.log'), { flags: 'a' });
  parts.playgroundLog = log;
  const child = spawn(
    process.execPath,
    [cli, '-e', botEndpoint, '-c', 'msteams', '-p', String(port), '--disable-telemetry'],
    {
      // Its cwd is where it reads .m365agentsplayground.yml (written above) and writes devTools/.
      cwd: dataDir,
      env: {
        ...process.env,
        // Otherwise it tries to open a desktop browser, which on a server fails or hangs.
        TEAMSAPPTESTER_BROWSER: 'none',
        M365_AGENTS_PLAYGROUND_LOGFILE: join(dataDir, 'playground-internal.log'),
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  liveChildren.add(child);
  child.once('exit', () => liveChildren.delete(child));
  return child;
}

async function stopAll(parts: Parts): Promise<void> {
  const child = parts.playground;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  parts.playgroundLog?.end();
  await parts.cloudSync?.stop().catch(() => undefined);
  // The agent's long-poll would otherwise hold the bot's server open until the poll ends.
  parts.agentAbort?.abort();
  await parts.agentDone?.catch(() => undefined);
  await parts.bot?.stop().catch(() => undefined);
  await parts.graph?.close().catch(() => undefined);
  await parts.store?.close().catch(() => undefined);
}

/** Kills every Playground this process started, at once; for a second Ctrl-C. */
export function killPlaygroundsNow(): void {
  for (const child of liveChildren) child.kill('SIGKILL');
}
