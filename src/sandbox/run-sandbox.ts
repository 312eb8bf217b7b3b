/**
 * `npm run sandbox`: the sandbox demo in one process (see start-sandbox.ts for what runs).
 * `scripts/sandbox.sh` does the machine set-up and then runs this.
 *
 *   --directory simulated|samba   where the agent reads users: the in-memory forest (default, no
 *                                 Samba needed) or the test Samba AD DC
 *   --no-playground               everything but the Playground (talk to /api/messages yourself)
 *   --check                       start everything, then through the Playground: /help, and
 *                                 /verify pilot OU=Sales, which goes bot → agent → directory →
 *                                 Graph simulator; print "sandbox check: OK" and exit. With
 *                                 --no-playground the same messages go straight to the bot over
 *                                 HTTP, answered to a local connector (headless machines, CI)
 *   --reset                       start from an empty sandbox database
 */
import { randomUUID } from 'node:crypto';
import { join, resolve } from 'node:path';
import { cardText } from '../cards/card-text';
import { EXPECTED, EXPECTED_SYNCED } from './forest-spec';
import { LocalConnector } from './local-connector';
import { PLAYGROUND_USERS } from './playground-users';
import { SIMULATED_CLOUD_SYNC_JOB_ID } from './simulated-cloud-sync';
import {
  killPlaygroundsNow,
  SandboxError,
  startSandbox,
  waitFor,
  type RunningSandbox,
  type SandboxDirectoryMode,
} from './start-sandbox';
import { asAppError } from '../shared/errors';

const REPO = resolve(__dirname, '..', '..');
/** SANDBOX_DATA_DIR lets a test (or a second sandbox) keep its own database and files. */
const DATA_DIR = process.env.SANDBOX_DATA_DIR ? resolve(process.env.SANDBOX_DATA_DIR) : join(REPO, '.data', 'sandbox');
const TRY_THESE = [
  '/help',
  '/migration start "Contoso pilot"',
  // The Connect Sync steps run only on the agent a migration names (an approver types this).
  '/server sandbox-agent',
  '/verify pilot OU=Sales',
  '/migration status',
  `/wave add Wave1 OU=SalesOps "OU=Legacy (2019)" on ${new Date().toISOString().slice(0, 10)}`,
  `/summary job ${SIMULATED_CLOUD_SYNC_JOB_ID}`,
  '/summary now',
];
const CHECK_TIMEOUT_MS = 30_000;

interface Options {
  directory: SandboxDirectoryMode;
  playground: boolean;
  check: boolean;
  reset: boolean;
}

const USAGE = `Usage: npm run sandbox [-- --directory simulated|samba] [-- --no-playground] [-- --check] [-- --reset]

  (no option)                  start the demo with the simulated directory and the Agents Playground
                               at http://localhost:56150
  --directory samba            read users from the test Samba AD DC instead (scripts/samba-up.sh)
  --no-playground              start everything except the Playground
  --check                      start everything, send /help and /verify pilot OU=Sales through the
                               Playground, check the cards that come back, exit; with
                               --no-playground, straight to the bot over HTTP instead
  --reset                      delete the sandbox database (.data/sandbox/pglite) first

Environment: PORT (bot, 3978), SANDBOX_GRAPH_PORT (5990), SANDBOX_PLAYGROUND_PORT (56150),
SANDBOX_PROVISIONING_DELAY_MS (60000: an OU in the running job's scope → its first Cloud Sync cycle;
  long enough to run step 12 first and see it fail with nothing confirmed by Cloud Sync),
SANDBOX_CLOUD_SYNC_INTERVAL_MS (30000: later cycles, which pick up new and changed users),
SANDBOX_DATA_DIR (.data/sandbox), LOG_LEVEL (info; logs go to sandbox.log in the data folder).

While it runs, npm run sandbox:add-user -- <OU> "<name>" adds a user to the simulated directory.`;

function parseOptions(argv: string[]): Options | 'help' {
  const options: Options = { directory: 'simulated', playground: true, check: false, reset: false };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i]!;
    if (arg === '--help' || arg === '-h') return 'help';
    else if (arg === '--no-playground') options.playground = false;
    else if (arg === '--check') options.check = true;
    else if (arg === '--reset') options.reset = true;
    else if (arg === '--directory' || arg.startsWith('--directory=')) {
      const value = arg.includes('=') ? arg.slice(arg.indexOf('=') + 1) : argv[++i];
      if (value !== 'simulated' && value !== 'samba')
        throw new SandboxError(
          `--directory takes "simulated" or "samba", not ${value === undefined ? 'nothing' : `"${value}"`}.\n\n${USAGE}`,
        );
      options.directory = value;
    } else throw new SandboxError(`Unknown option ${arg}.\n\n${USAGE}`);
  }
  return options;
}

function numberFromEnv(name: string, fallback: number, max: number): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const value = Number(raw);
  if (!Number.isInteger(value) || value < 0 || value > max)
    throw new SandboxError(`${name}=${raw} is not a whole number from 0 to ${max}; fix it or leave it unset.`);
  return value;
}

const t0 = Date.now();
function say(text: string): void {
  console.log(`[sandbox ${((Date.now() - t0) / 1000).toFixed(1).padStart(5)}s] ${text}`);
}

interface CheckConversation {
  /** Where the messages go, for the check's report. */
  via: string;
  send(text: string): Promise<void>;
  /** The text of the newest card since the last send that `pick` accepts (cards are updated in place, so newest wins). */
  waitForCard(what: string, pick: (text: string) => boolean): Promise<string>;
  close(): Promise<void>;
}

/**
 * Talks to the Playground the way its own web client does: messages through its conversation API,
 * replies read from the WebSocket stream the web client renders from. A pass therefore means the
 * bot's cards reached the Playground, not just that the bot answered HTTP.
 */
async function openPlaygroundConversation(playgroundUrl: string): Promise<CheckConversation> {
  const WebSocketCtor = (globalThis as { WebSocket?: typeof WebSocket }).WebSocket;
  if (!WebSocketCtor) {
    throw new SandboxError(
      `This Node.js (${process.version}) has no WebSocket client; SyncShift runs on Node.js 24: start it with npm run sandbox, which brings Node.js 24 when this machine's is another.`,
    );
  }
  const configRes = await fetch(`${playgroundUrl}/_internal/v1/config`);
  if (!configRes.ok)
    throw new SandboxError(
      `The Playground's config API answered ${configRes.status}; see .data/sandbox/playground.log.`,
    );
  const { config } = (await configRes.json()) as {
    config: { currentUser: { id: string; aadObjectId?: string }; personalChat: { id: string } };
  };
  if (config.currentUser.aadObjectId !== PLAYGROUND_USERS.alex.aadObjectId) {
    throw new SandboxError(
      `The Playground did not load the sandbox's users (its current user has object id ${String(config.currentUser.aadObjectId)}); see .data/sandbox/.m365agentsplayground.yml and playground.log.`,
    );
  }
  const conversationId = config.personalChat.id;
  const ws = new WebSocketCtor(`${playgroundUrl.replace(/^http/, 'ws')}/_ws_conversation/v1/conversations/stream`);
  const frames: string[] = [];
  await new Promise<void>((resolveOpen, reject) => {
    ws.addEventListener('open', () => resolveOpen(), { once: true });
    ws.addEventListener(
      'error',
      () => reject(new SandboxError("Could not open the Playground's conversation WebSocket.")),
      { once: true },
    );
  });
  ws.addEventListener('message', (event: MessageEvent) =>
    frames.push(typeof event.data === 'string' ? event.data : String(event.data)),
  );
  let from = 0;
  return {
    via: 'the Playground',
    send: async (text) => {
      from = frames.length;
      const sent = await fetch(
        `${playgroundUrl}/_conversation/v1/conversations/${encodeURIComponent(conversationId)}/messages`,
        {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ from: { id: config.currentUser.id }, text, textFormat: 'plain' }),
        },
      );
      if (!sent.ok) throw new SandboxError(`The Playground refused "${text}": ${sent.status} ${await sent.text()}`);
    },
    waitForCard: (what, pick) =>
      waitFor(what, CHECK_TIMEOUT_MS, () => {
        const texts = frames
          .slice(from)
          .filter((f) => f.includes('application/vnd.microsoft.card.adaptive'))
          .map((f) => cardText(JSON.parse(f)));
        return Promise.resolve(texts.reverse().find(pick));
      }),
    close: async () => ws.close(),
  };
}

/**
 * Without the Playground: Alex's messages go to the bot's /api/messages as Teams would deliver them
 * in a personal chat, and the replies and card updates land at a local connector. The bot, agent,
 * directory and Graph simulator do exactly what they do behind the Playground.
 */
async function openDirectConversation(botUrl: string): Promise<CheckConversation> {
  const connector = await new LocalConnector().start();
  const conversationId = 'a:sandbox-check-personal-chat';
  const alex = PLAYGROUND_USERS.alex;
  let from = 0;
  return {
    via: "the bot's HTTP endpoint (no Playground)",
    send: async (text) => {
      from = connector.versions.length;
      const activity = {
        type: 'message',
        id: randomUUID(),
        timestamp: new Date().toISOString(),
        channelId: 'msteams',
        serviceUrl: connector.url,
        from: { id: alex.id, name: alex.name, aadObjectId: alex.aadObjectId },
        recipient: { id: 'sandbox-bot', name: 'SyncShift' },
        conversation: { id: conversationId, conversationType: 'personal', tenantId: 'sandbox-tenant' },
        channelData: { tenant: { id: 'sandbox-tenant' } },
        text,
        textFormat: 'plain',
        locale: 'en-US',
      };
      const res = await fetch(`${botUrl}/api/messages`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify(activity),
      });
      if (res.status >= 300) throw new SandboxError(`The bot refused "${text}": ${res.status} ${await res.text()}`);
    },
    waitForCard: (what, pick) =>
      waitFor(what, CHECK_TIMEOUT_MS, () =>
        Promise.resolve(
          connector.versions
            .slice(from)
            .flatMap((v) => v.cards.map((c) => cardText(c)))
            .reverse()
            .find(pick),
        ),
      ),
    close: () => connector.stop(),
  };
}

/** What --check proves: the chat reaches the bot, a verify goes through agent, directory and Graph, and a wave is counted and summarised. */
async function check(sandbox: RunningSandbox): Promise<string[]> {
  const chat = sandbox.playgroundUrl
    ? await openPlaygroundConversation(sandbox.playgroundUrl)
    : await openDirectConversation(sandbox.botUrl);
  try {
    await chat.send('/help');
    const help = await chat.waitForCard("The bot's reply to /help reaching the Playground", (f) =>
      f.includes('/migration start'),
    );
    if (!help.includes('/verify pilot'))
      throw new SandboxError(`The help card does not list /verify pilot: ${help.slice(0, 400)}`);

    await chat.send('/verify pilot OU=Sales');
    const onPrem = `On-premises users: ${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`;
    const verify = await chat.waitForCard(
      'The finished verify card for OU=Sales reaching the Playground',
      (f) => f.includes('Verify pilot') && f.includes('Missing in cloud'),
    );
    if (!verify.includes(onPrem))
      throw new SandboxError(`The verify card does not say "${onPrem}": ${verify.slice(0, 600)}`);

    // A migration (new, or the one this Playground chat already has), a wave counted by the agent, and a summary.
    await chat.send('/migration start "Sandbox check"');
    await chat.waitForCard(
      'The reply to /migration start',
      (f) => f.includes('Migration "Sandbox check" started') || f.includes('already has a migration'),
    );
    const wave = `Check${Date.now().toString(36)}`;
    await chat.send(`/wave add ${wave} OU=SalesOps`);
    const counted = await chat.waitForCard(`The card saying wave ${wave} was counted`, (f) =>
      f.includes(`Wave ${wave} counted`),
    );
    const salesOps = `${EXPECTED.salesOps.users} users`;
    if (!counted.includes(salesOps))
      throw new SandboxError(`The wave card does not say "${salesOps}": ${counted.slice(0, 600)}`);
    await chat.send('/summary now');
    const summary = await chat.waitForCard(
      'The wave summary',
      (f) => f.startsWith('Wave summary for') && f.includes(wave),
    );
    // The wave's bar reads confirmed/expected: the agent counted the wave's OU.
    if (!summary.includes(`/${EXPECTED.salesOps.users}`))
      throw new SandboxError(`The summary does not count wave ${wave}: ${summary.slice(0, 600)}`);
    // The check's wave must not stay in the rehearsal someone runs later on the same data.
    await chat.send(`/wave remove ${wave}`);
    await chat.waitForCard(`The card saying wave ${wave} was removed`, (f) => f.includes(`Wave ${wave} removed`));
    return [
      `help card with every command arrived through ${chat.via}`,
      `verify of OU=Sales came back through the agent and ${sandbox.directoryDescription}: ${onPrem}`,
      `wave ${wave} counted by the agent (${salesOps}) and the wave summary posted`,
    ];
  } finally {
    await chat.close();
  }
}

function banner(sandbox: RunningSandbox, delayMs: number, cycleMs: number): void {
  const d = sandbox.drift;
  const lines = [
    '',
    'SyncShift sandbox is running.',
    '',
    ...(sandbox.playgroundUrl
      ? [`  Playground (open this):  ${sandbox.playgroundUrl}`]
      : ['  Playground:              off (--no-playground)']),
    `  Bot endpoint:            ${sandbox.botUrl}/api/messages`,
    `  Graph simulator:         ${sandbox.graphUrl}  (${sandbox.graph.users().length} users; drift on ${d.baseDn}: ${d.missing} missing, ${d.extra} extra, ${d.mismatched} mismatched)`,
    `  Active Directory:        ${sandbox.directoryDescription}`,
    `  Cloud Sync:              simulated; provisions the OUs of its Graph job's scope (step 11 writes the pilot OU there after approval), after ${delayMs / 1000}s`,
    `                           then a cycle every ${cycleMs / 1000}s picks up new and changed users; provisioning logs under job ${SIMULATED_CLOUD_SYNC_JOB_ID}`,
    `  Step 12:                 run it within ${delayMs / 1000}s of step 11's approval: it fails, nothing confirmed by Cloud Sync;`,
    `                           after the first cycle and a canary it passes (docs/sandbox.md, "Walking step 12")`,
    ...(sandbox.directoryDescription.startsWith('the simulated directory')
      ? [`  Add a user (step 12):    npm run sandbox:add-user -- OU=SalesOps "Pat Newhire"`]
      : []),
    `  Connect Sync:            simulated (.data/sandbox/connect-sync/state.json)`,
    `  Approvers:               ${PLAYGROUND_USERS.alex.name} (you, in the Playground) and ${PLAYGROUND_USERS.megan.name}; nobody approves their own request`,
    `  Logs:                    .data/sandbox/sandbox.log, .data/sandbox/playground.log`,
    '',
    sandbox.playgroundUrl
      ? '  Type these in the Playground chat:'
      : '  Send these as Bot Framework message activities to the bot endpoint:',
    ...TRY_THESE.map((t) => `    ${t}`),
    '',
    '  Ctrl-C stops everything.',
    '',
  ];
  console.log(lines.join('\n'));
}

async function main(argv: string[]): Promise<number> {
  const options = parseOptions(argv);
  if (options === 'help') {
    console.log(USAGE);
    return 0;
  }
  // A minute: a person who approves step 11 can run step 12 before the first cycle and see it fail
  // with nothing confirmed by Cloud Sync, then pass after the cycle and a canary (docs/sandbox.md).
  const delayMs = numberFromEnv('SANDBOX_PROVISIONING_DELAY_MS', 60_000, 600_000);
  const cycleMs = numberFromEnv('SANDBOX_CLOUD_SYNC_INTERVAL_MS', 30_000, 3_600_000);
  let sandbox: RunningSandbox | undefined;
  let stopping: Promise<void> | undefined;
  const shutdown = (why: string): Promise<void> => {
    if (!stopping) {
      say(`${why}; stopping…`);
      stopping = (sandbox?.stop() ?? Promise.resolve()).then(() => say('stopped'));
    }
    return stopping;
  };
  let interrupted = false;
  const onSignal = (signal: NodeJS.Signals): void => {
    if (interrupted) {
      // A second Ctrl-C means "now": the Playground still gets a SIGKILL on the way out.
      killPlaygroundsNow();
      process.exit(130);
    }
    interrupted = true;
    void shutdown(signal).then(() => process.exit(signal === 'SIGINT' ? 130 : 143));
  };
  process.on('SIGINT', onSignal);
  process.on('SIGTERM', onSignal);
  process.on('SIGHUP', onSignal);

  try {
    sandbox = await startSandbox({
      directory: options.directory,
      playground: options.playground,
      reset: options.reset,
      dataDir: DATA_DIR,
      ports: {
        bot: numberFromEnv('PORT', 3978, 65535),
        graph: numberFromEnv('SANDBOX_GRAPH_PORT', 5990, 65535),
        playground: numberFromEnv('SANDBOX_PLAYGROUND_PORT', 56150, 65535),
      },
      provisioningDelayMs: delayMs,
      cloudSyncIntervalMs: cycleMs,
      // The bot's 15 s default suits the real service's 2-minute cycles; the sandbox's run every 30 s.
      canaryPollMs: 5000,
      say,
      ...(process.env.LOG_LEVEL ? { logLevel: process.env.LOG_LEVEL } : {}),
    });
    const running = sandbox;

    if (options.check) {
      const results = await Promise.race([check(running), running.playgroundExited]);
      for (const line of results) say(line);
      await shutdown('check finished');
      console.log(`sandbox check: OK (${options.directory} directory, ${((Date.now() - t0) / 1000).toFixed(1)}s)`);
      return 0;
    }

    running.playgroundExited.catch((err: Error) => {
      if (stopping) return;
      say(err.message);
      void shutdown('Playground gone').then(() => process.exit(1));
    });
    banner(running, delayMs, cycleMs);
    await new Promise<never>(() => undefined);
    return 0;
  } catch (err) {
    const message =
      err instanceof SandboxError
        ? err.message
        : `${asAppError(err).message}${asAppError(err).hint ? `\n${asAppError(err).hint}` : ''}`;
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
