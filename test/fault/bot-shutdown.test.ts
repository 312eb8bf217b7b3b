import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { RelayClient } from '../../src/agent/relay-client';

/**
 * The bot as it is deployed: `main.ts` in its own process (PGlite store, loopback), stopped with
 * SIGTERM the way App Service or a rolling restart stops it.
 */
const MAIN = join(__dirname, '../../src/main.ts');
const AGENT = 'agent-shutdown';
const CAPS = { actions: ['directory.scanOu'] as const, readOnly: true };
const SECRET = 'shutdown-agent-secret-0123456789-abcdef';

interface BotProcess {
  child: ChildProcess;
  url: string;
  stderr(): string;
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>;
}

async function startMain(dataDir: string): Promise<BotProcess> {
  const child = spawn(process.execPath, ['--require', 'ts-node/register/transpile-only', MAIN], {
    env: {
      ...process.env,
      PORT: '0',
      DATA_DIR: dataDir,
      GRAPH_BASE_URL: 'http://127.0.0.1:9',
      GRAPH_STATIC_TOKEN: 'unused',
      SYNCSHIFT_AGENT_SECRETS: `${AGENT}:${SECRET}`,
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let stdout = '';
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((resolve) =>
    child.once('exit', (code, signal) => resolve({ code, signal, at: Date.now() })),
  );
  const url = await new Promise<string>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => {
      stdout += d.toString();
      const listening = stdout.split('\n').find((line) => line.includes('SyncShift bot listening'));
      if (listening) resolve((JSON.parse(listening) as { url: string }).url);
    });
    void exited.then(({ code }) =>
      reject(new Error(`the bot exited (${code}) before listening:\n${stdout}\n${stderr}`)),
    );
  });
  return { child, url, stderr: () => stderr, exited };
}

describe('the bot process starting and stopping', () => {
  let dataDir = '';
  let bot: BotProcess | undefined;

  beforeAll(() => {
    dataDir = mkdtempSync(join(tmpdir(), 'syncshift-shutdown-'));
  });
  afterAll(() => {
    if (bot && bot.child.exitCode === null) bot.child.kill('SIGKILL');
    rmSync(dataDir, { recursive: true, force: true });
  });

  it('starts without a deprecation warning, and SIGTERM answers an open long poll at once and exits', async () => {
    bot = await startMain(join(dataDir, 'store'));
    // restify 11's spdy dependency (http-deceiver) used to call process.binding as it loaded.
    expect(bot.stderr()).not.toMatch(/DEP0111|process\.binding|DeprecationWarning/);

    const agent = new RelayClient({ url: bot.url, agentId: AGENT, secret: SECRET, agentVersion: '1.0.0' });
    // A first poll that returns at once proves the credential and the route; then the long one.
    await expect(agent.lease(0, undefined, CAPS)).resolves.toBeNull();
    let answeredAt: number | undefined;
    const longPoll = agent.lease(30_000, undefined, CAPS).then((job) => {
      answeredAt = Date.now();
      return job;
    });
    await new Promise((resolve) => setTimeout(resolve, 1000));
    expect(answeredAt).toBeUndefined();

    const signalledAt = Date.now();
    bot.child.kill('SIGTERM');
    // "No job": what an agent reads as "poll again later", rather than an error it backs off from.
    await expect(longPoll).resolves.toBeNull();
    const exit = await bot.exited;
    expect(exit).toMatchObject({ code: 0, signal: null });
    expect(answeredAt).toBeLessThanOrEqual(exit.at);
    // A correctness bound, not a speed target: without the fix the poll holds the bot for its 30 s.
    expect(exit.at - signalledAt).toBeLessThan(10_000);
    expect(bot.stderr()).not.toMatch(/DEP0111|DeprecationWarning/);
  });
});
