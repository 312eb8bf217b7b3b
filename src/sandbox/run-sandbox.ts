/**
 * The sandbox demo in one process: Graph simulator (tenant built from the Samba directory, with
 * drift on OU=Sales), the bot on PGlite, the relay agent against Samba, and Microsoft 365 Agents
 * Playground as a child process. `scripts/sandbox.sh` does the machine set-up and then runs this.
 *
 *   --no-playground   everything but the Playground (headless use; talk to /api/messages yourself)
 *   --check           start everything, send /help through the Playground, wait for the bot's card,
 *                     print "sandbox check: OK" and exit (non-zero with the reason otherwise)
 *   --reset           start from an empty sandbox database
 */
import { sambaEnvFile } from './samba-location';
import { installFakePowerShell } from './simulated-connect-sync';
import { spawn, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createWriteStream, existsSync, mkdirSync, readFileSync, rmSync, type WriteStream } from 'node:fs';
import { createServer } from 'node:net';
import { join, relative, resolve } from 'node:path';
import pino from 'pino';
import { runAgent } from '../agent/agent';
import { RelayClient } from '../agent/relay-client';
import { startBot, type RunningBot } from '../bot/start-bot';
import { createGraphCloudDirectory } from '../cloud/graph-cloud-directory';
import { loadConfig } from '../config';
import { connectLdapDirectory } from '../directory/ldap-directory';
import { asAppError } from '../shared/errors';
import type { Logger } from '../shared/logger';
import { openStore } from '../store/open-store';
import type { Store } from '../store/types';
import { startGraphSimulator, type GraphSimulator } from './graph-simulator';
import { buildTenantFromDirectory } from './tenant-from-directory';

const REPO = resolve(__dirname, '..', '..');
const DATA_DIR = join(REPO, '.data', 'sandbox');
const STORE_DIR = join(DATA_DIR, 'pglite');
const SAMBA_ENV_FILE = sambaEnvFile();
const DRIFT = { baseDn: 'OU=Sales,DC=contoso,DC=com', missing: 3, extra: 2, mismatched: 2 };
const AGENT_ID = 'sandbox-agent';
const AGENT_VERSION = '0.1.0-sandbox';
const TRY_THESE = ['/help', '/migration start "Contoso pilot"', '/verify pilot OU=Sales'];
const CHECK_TIMEOUT_MS = 30_000;
const PLAYGROUND_START_TIMEOUT_MS = 30_000;

class SandboxError extends Error {}

interface Options {
  playground: boolean;
  check: boolean;
  reset: boolean;
}

interface SambaEnv {
  url: string;
  bindDn: string;
  password: string;
  caPath: string;
}

interface Running {
  graph?: GraphSimulator;
  store?: Store;
  bot?: RunningBot;
  agentAbort?: AbortController;
  agentDone?: Promise<void>;
  playground?: ChildProcess;
  playgroundLog?: WriteStream;
}

const USAGE = `Usage: npm run sandbox [-- --no-playground] [-- --check] [-- --reset]

  (no option)       start Samba-backed demo and the Agents Playground at http://localhost:56150
  --no-playground   start everything except the Playground
  --check           start everything, send /help through the Playground, wait for the reply, exit
  --reset           delete the sandbox database (.data/sandbox/pglite) first

Environment: PORT (bot, 3978), SANDBOX_GRAPH_PORT (5990), SANDBOX_PLAYGROUND_PORT (56150),
LOG_LEVEL (info; logs go to .data/sandbox/sandbox.log).`;

function parseOptions(argv: string[]): Options | 'help' {
  const options: Options = { playground: true, check: false, reset: false };
  for (const arg of argv) {
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--no-playground') options.playground = false;
    else if (arg === '--check') options.check = true;
    else if (arg === '--reset') options.reset = true;
    else throw new SandboxError(`Unknown option ${arg}.\n\n${USAGE}`);
  }
  if (options.check && !options.playground) {
    throw new SandboxError('--check proves the round trip through the Playground, so it cannot be combined with --no-playground.');
  }
  return options;
}

function portFromEnv(name: string, fallback: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const port = Number(raw);
  if (!Number.isInteger(port) || port < 1 || port > 65535) throw new SandboxError(`${name}=${raw} is not a TCP port; use a number from 1 to 65535 or leave it unset.`);
  return port;
}

const t0 = Date.now();
function say(text: string): void {
  console.log(`[sandbox ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${text}`);
}

function readSambaEnv(): SambaEnv {
  let parsed: Partial<Record<keyof SambaEnv, unknown>>;
  try {
    parsed = JSON.parse(readFileSync(SAMBA_ENV_FILE, 'utf8')) as typeof parsed;
  } catch (err) {
    throw new SandboxError(`${relative(REPO, SAMBA_ENV_FILE)} is missing or unreadable (${(err as Error).message}). Run bash scripts/samba-up.sh first, or start the sandbox with npm run sandbox, which does.`);
  }
  for (const key of ['url', 'bindDn', 'password', 'caPath'] as const) {
    if (typeof parsed[key] !== 'string' || parsed[key] === '') throw new SandboxError(`${relative(REPO, SAMBA_ENV_FILE)} has no "${key}". Re-run bash scripts/samba-up.sh.`);
  }
  return parsed as SambaEnv;
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
function fileLogger(path: string): Logger {
  return pino(
    { name: 'sandbox', level: process.env.LOG_LEVEL ?? 'info', redact: ['password', 'secret', 'token', '*.password', '*.secret', '*.token', 'headers.authorization'] },
    pino.destination({ dest: path, sync: true, mkdir: true }),
  );
}

async function waitFor<T>(what: string, timeoutMs: number, attempt: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  let lastError = '';
  while (Date.now() < deadline) {
    try {
      const value = await attempt();
      if (value !== undefined) return value;
    } catch (err) {
      lastError = (err as Error).message;
    }
    await new Promise((r) => setTimeout(r, 250));
  }
  throw new SandboxError(`${what} did not happen within ${timeoutMs / 1000}s${lastError ? ` (last error: ${lastError})` : ''}.`);
}

function startPlayground(botEndpoint: string, port: number, running: Running): ChildProcess {
  const cli = require.resolve('@microsoft/m365agentsplayground/cli.js');
  const log = createWriteStream(join(DATA_DIR, 'playground.log'), { flags: 'a' });
  running.playgroundLog = log;
  const child = spawn(process.execPath, [cli, '-e', botEndpoint, '-c', 'msteams', '-p', String(port), '--disable-telemetry'], {
    // Its cwd is where it looks for .m365agentsplayground.yml and writes devTools/; keep both out of the repo.
    cwd: DATA_DIR,
    env: {
      ...process.env,
      // Otherwise it tries to open a desktop browser, which on a server fails or hangs.
      TEAMSAPPTESTER_BROWSER: 'none',
      M365_AGENTS_PLAYGROUND_LOGFILE: join(DATA_DIR, 'playground-internal.log'),
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(log, { end: false });
  child.stderr!.pipe(log, { end: false });
  return child;
}

/**
 * Sends one message the way the Playground's own web client does (its conversation API) and waits
 * on the same WebSocket stream the web client renders from, so a pass means the bot's reply reached
 * the Playground, not just that the bot answered HTTP.
 */
async function checkRoundTrip(playgroundUrl: string): Promise<string> {
  const WebSocketCtor = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WebSocketCtor) {
    throw new SandboxError('This Node.js has no WebSocket client; run through scripts/sandbox.sh (it adds --experimental-websocket on Node 20) or use Node.js 22+.');
  }
  const configRes = await fetch(`${playgroundUrl}/_internal/v1/config`);
  if (!configRes.ok) throw new SandboxError(`The Playground's config API answered ${configRes.status}; see .data/sandbox/playground.log.`);
  const { config } = (await configRes.json()) as { config: { currentUser: { id: string }; personalChat: { id: string } } };
  const conversationId = config.personalChat.id;

  const ws = new WebSocketCtor(`${playgroundUrl.replace(/^http/, 'ws')}/_ws_conversation/v1/conversations/stream`);
  const frames: string[] = [];
  try {
    await new Promise<void>((resolveOpen, reject) => {
      ws.addEventListener('open', () => resolveOpen(), { once: true });
      ws.addEventListener('error', () => reject(new SandboxError('Could not open the Playground\'s conversation WebSocket.')), { once: true });
    });
    ws.addEventListener('message', (event: MessageEvent) => frames.push(typeof event.data === 'string' ? event.data : String(event.data)));

    const sent = await fetch(`${playgroundUrl}/_conversation/v1/conversations/${encodeURIComponent(conversationId)}/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: { id: config.currentUser.id }, text: '/help', textFormat: 'plain' }),
    });
    if (!sent.ok) throw new SandboxError(`The Playground refused the test message: ${sent.status} ${await sent.text()}`);

    return await waitFor('The bot\'s reply to /help reaching the Playground', CHECK_TIMEOUT_MS, async () => {
      for (const frame of frames) {
        if (!frame.includes('application/vnd.microsoft.card.adaptive')) continue;
        if (frame.includes('/migration start')) return 'help card with every command arrived in the Playground';
        // Any card but the help card (e.g. "Something went wrong") is a failure worth reporting as such.
        throw new SandboxError(`The bot answered /help with an unexpected card: ${frame.slice(0, 400)}`);
      }
      return undefined;
    });
  } finally {
    ws.close();
  }
}

function banner(urls: { playground?: string; bot: string; graph: string; samba: string; users: number }): void {
  const lines = [
    '',
    'SyncShift sandbox is running.',
    '',
    ...(urls.playground ? [`  Playground (open this):  ${urls.playground}`] : ['  Playground:              off (--no-playground)']),
    `  Bot endpoint:            ${urls.bot}/api/messages`,
    `  Graph simulator:         ${urls.graph}  (${urls.users} users; drift on ${DRIFT.baseDn}: ${DRIFT.missing} missing, ${DRIFT.extra} extra, ${DRIFT.mismatched} mismatched)`,
    `  Active Directory:        ${urls.samba}  (Samba AD, read by the relay agent)`,
    `  Logs:                    .data/sandbox/sandbox.log, .data/sandbox/playground.log`,
    '',
    urls.playground ? '  Type these in the Playground chat:' : '  Send these as Bot Framework message activities to the bot endpoint:',
    ...TRY_THESE.map((t) => `    ${t}`),
    '',
    '  Ctrl-C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));
}

async function stopAll(running: Running): Promise<void> {
  const child = running.playground;
  if (child && child.exitCode === null && child.signalCode === null) {
    const exited = new Promise<void>((r) => child.once('exit', () => r()));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 3000);
    await exited;
    clearTimeout(timer);
  }
  running.playgroundLog?.end();
  // The agent's long-poll would otherwise hold the bot's server open until the poll ends.
  running.agentAbort?.abort();
  await running.agentDone?.catch(() => undefined);
  await running.bot?.stop().catch(() => undefined);
  await running.graph?.close().catch(() => undefined);
  await running.store?.close().catch(() => undefined);
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  const botPort = portFromEnv('PORT', 3978);
  const graphPort = portFromEnv('SANDBOX_GRAPH_PORT', 5990);
  const playgroundPort = portFromEnv('SANDBOX_PLAYGROUND_PORT', 56150);
  mkdirSync(DATA_DIR, { recursive: true });
  const logger = fileLogger(join(DATA_DIR, 'sandbox.log'));
  const running: Running = {};

  let stopping: Promise<void> | undefined;
  const shutdown = (why: string): Promise<void> => {
    if (!stopping) {
      say(`${why}; stopping…`);
      stopping = stopAll(running).then(() => say('stopped'));
    }
    return stopping;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      // A second Ctrl-C means "now": the children still get a SIGKILL on the way out.
      running.playground?.kill('SIGKILL');
      process.exit(130);
    }
    interrupted = true;
    void shutdown(signal).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    await assertPortFree(botPort, 'bot', 'PORT');
    await assertPortFree(graphPort, 'Graph simulator', 'SANDBOX_GRAPH_PORT');
    if (options.playground) await assertPortFree(playgroundPort, 'Agents Playground', 'SANDBOX_PLAYGROUND_PORT');

    if (options.reset) {
      rmSync(STORE_DIR, { recursive: true, force: true });
      say('deleted the sandbox database (--reset)');
    }
    // PGlite's first start (initdb in WASM) takes seconds; let it overlap with the directory read.
    const storeReady = openStore({ dataDir: STORE_DIR }).then(
      // Recorded as soon as it opens, so a failure further on still closes it.
      (store) => (running.store = store),
      (err: unknown) => {
        const e = asAppError(err);
        // The store's own hint is written for production databases; here the data is disposable.
        throw new SandboxError(`The sandbox database in .data/sandbox/pglite could not be opened: ${e.message} Its data is disposable: run npm run sandbox -- --reset to start from an empty one.`);
      },
    );
    storeReady.catch(() => undefined);
    const samba = readSambaEnv();
    if (!existsSync(samba.caPath)) throw new SandboxError(`The Samba CA ${samba.caPath} is missing. Re-run bash scripts/samba-up.sh.`);
    say(`reading the directory at ${samba.url} to build the simulated tenant`);
    const directory = await connectLdapDirectory({ url: samba.url, bindDn: samba.bindDn, password: samba.password, caPath: samba.caPath }).catch((err: unknown) => {
      const e = asAppError(err);
      throw new SandboxError(`Cannot read Samba AD at ${samba.url}: ${e.message}${e.hint ? ` ${e.hint}` : ''} Is it running? bash scripts/samba-up.sh starts it.`);
    });
    const tenant = await buildTenantFromDirectory(directory, DRIFT).finally(() => directory.close().catch(() => undefined));

    const graphToken = randomBytes(18).toString('base64url');
    running.graph = await startGraphSimulator({ port: graphPort, token: graphToken, users: tenant.users, logger: logger.child({ part: 'graph-simulator' }) });
    say(`Graph simulator on ${running.graph.url} with ${tenant.users.length} users`);

    const store = await storeReady;
    const agentSecret = randomBytes(32).toString('base64url');
    // Built from scratch rather than process.env: Bot Framework credentials or a DATABASE_URL from
    // the developer's shell would turn the sandbox into something it is not.
    const config = loadConfig({
      PORT: String(botPort),
      HOST: '127.0.0.1',
      DATA_DIR: DATA_DIR,
      GRAPH_BASE_URL: running.graph.url,
      GRAPH_STATIC_TOKEN: graphToken,
      SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${agentSecret}`,
    });
    const cloud = createGraphCloudDirectory({ baseUrl: running.graph.url, staticToken: graphToken, logger: logger.child({ part: 'graph' }) });
    // No child binding here: the bot adds its own `part` to its loggers.
    running.bot = await startBot({ config, store, cloud, logger });
    say(`bot on ${running.bot.url}/api/messages (PGlite in .data/sandbox/pglite)`);

    const connectSync = installFakePowerShell({}, join(DATA_DIR, 'connect-sync'));
    running.agentAbort = new AbortController();
    const agentLogger = logger.child({ part: 'agent' });
    const ldap = samba;
    running.agentDone = runAgent({
      relay: new RelayClient({ url: running.bot.url, agentId: AGENT_ID, secret: agentSecret, agentVersion: AGENT_VERSION }),
      logger: agentLogger,
      signal: running.agentAbort.signal,
      connectDirectory: () => connectLdapDirectory({ url: ldap.url, bindDn: ldap.bindDn, password: ldap.password, caPath: ldap.caPath }),
      // A simulated Connect Sync server: the PowerShell stand-in with its state under .data/sandbox.
      adsync: { exportDir: join(DATA_DIR, 'adsync-exports'), env: connectSync.env },
    }).catch((err: Error) => agentLogger.error({ err: err.message }, 'agent loop stopped'));
    say(`relay agent ${AGENT_ID} polling the bot, reading ${samba.url}`);

    let playgroundUrl: string | undefined;
    if (options.playground) {
      const child = startPlayground(`${running.bot.url}/api/messages`, playgroundPort, running);
      running.playground = child;
      const exitedEarly = new Promise<never>((_, reject) =>
        child.once('exit', (code, signal) => {
          if (!stopping) reject(new SandboxError(`The Agents Playground exited (${signal ?? `code ${code}`}); see .data/sandbox/playground.log.`));
        }),
      );
      exitedEarly.catch(() => undefined);
      playgroundUrl = `http://localhost:${playgroundPort}`;
      const url = playgroundUrl;
      await Promise.race([
        exitedEarly,
        waitFor('The Agents Playground answering on its port', PLAYGROUND_START_TIMEOUT_MS, async () => ((await fetch(`${url}/_debug/ping`)).ok ? true : undefined)),
      ]);
      say(`Agents Playground on ${playgroundUrl}`);
      if (!options.check) {
        child.once('exit', (code, signal) => {
          if (!stopping) {
            say(`the Agents Playground exited (${signal ?? `code ${code}`}); see .data/sandbox/playground.log`);
            void shutdown('Playground gone').then(() => process.exit(1));
          }
        });
      }
    }

    if (options.check) {
      const what = await Promise.race([
        checkRoundTrip(playgroundUrl!),
        new Promise<never>((_, reject) => running.playground!.once('exit', () => reject(new SandboxError('The Agents Playground exited during the check; see .data/sandbox/playground.log.')))),
      ]);
      say(what);
      await shutdown('check finished');
      console.log(`sandbox check: OK (${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      return 0;
    }

    banner({ playground: playgroundUrl, bot: running.bot.url, graph: running.graph.url, samba: samba.url, users: tenant.users.length });
    await new Promise<never>(() => undefined);
    return 0;
  } catch (err) {
    const message = err instanceof SandboxError ? err.message : `${asAppError(err).message}${asAppError(err).hint ? `\n${asAppError(err).hint}` : ''}`;
    await shutdown('failed');
    // Last, so the reason is what stays on screen.
    console.error(`\n${options.check ? 'sandbox check: FAILED' : 'sandbox: FAILED'}: ${message}`);
    console.error('Details are in .data/sandbox/sandbox.log and .data/sandbox/playground.log.');
    return 1;
  }
}

if (require.main === module) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (err: unknown) => {
      console.error(`sandbox: ${err instanceof Error ? err.message : String(err)}`);
      process.exit(1);
    },
  );
}
