import {
  readForestFile,
  SimulatedDirectory,
  simulatedObjectGuid,
  writeForestFile,
} from '../../src/directory/simulated-directory';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { chromium, type BrowserContext, type Locator, type Page } from 'playwright-core';
import { STEP_VERBS } from '../../src/cards/step-card';
import { EXPECTED, OU, UPN_SUFFIX, EXPECTED_SYNCED } from '../../src/sandbox/forest-spec';
import { PLAYGROUND_GROUP_CHAT, PLAYGROUND_USERS } from '../../src/sandbox/playground-users';
import { addUserToForest } from '../../src/sandbox/seeded-forest';
import { SIMULATED_CLOUD_SYNC_JOB_ID } from '../../src/sandbox/simulated-cloud-sync';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/start-sandbox';
import { serviceMissing } from '../helpers/require-service';

/**
 * A person in a real browser: headless Debian Chromium opens the Agents Playground connected to the
 * sandbox (bot, relay agent, simulated directory, Graph simulator, simulated Connect Sync), types
 * commands in the group chat and clicks card buttons, and the test reads what the page shows.
 *
 * The runbook walk uses OU=SalesOps as the pilot with one new hire added to it (OU=Sales cannot get
 * through step 12 in the sandbox: docs/sandbox.md, "Walking step 12"): step 7 holds on that user,
 * step 12 fails before Cloud Sync's first cycle with nothing confirmed, and passes after that cycle
 * and a canary. Simulated Cloud Sync runs on its own timers, as in `npm run sandbox`: the test
 * waits for them and never starts a cycle itself.
 *
 * The sandbox runs on the simulated directory: the point here is what the Playground renders, and
 * the simulated forest has the same OUs and counts as the Samba seed without tying the browser
 * test to the shared DC (test/e2e covers Samba). Screenshots go to test-artifacts/browser/.
 *
 * What the Playground 0.2.28 UI needs (found by reading its DOM):
 *   - The chat input is a Lexical editor, not a <textarea>: click it, then keyboard.type().
 *   - Conversations are buttons labelled with their names ("Personal Chat", the group chat's name).
 *   - In a group chat the Playground forwards only messages that @mention the bot, as Teams does:
 *     type "@Sync" and pick the bot from the suggestion list (a Fluent UI menu item, .fui-MenuItem).
 *   - Cards are rendered by the adaptivecards JS renderer (.ac-adaptiveCard); a card the bot
 *     updates in place is re-rendered in the same message, so wait on its text.
 *   - There is no internet here: the UI's web fonts fail to load and it falls back; harmless.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts', 'browser');
const UI_TIMEOUT_MS = 45_000;
/**
 * Step 11 to Cloud Sync's first cycle: long enough for step 12's check to run (and fail) before it on
 * a busy machine. The cycles after it come every 2 s, and the bot looks for the canary every second.
 */
const FIRST_CYCLE_DELAY_MS = 30_000;
/**
 * How long step 12's card may take to show what happened to the canary: a Cloud Sync cycle (2 s), the
 * bot's look (1 s), and a card update that shares Teams' per-conversation budget (60 in 30 s,
 * rate-limited-sink.ts) with everything else this walk updates.
 */
const CANARY_CARD_TIMEOUT_MS = 120_000;
const PILOT_OU = OU.salesOps;
const NEW_HIRE = 'Pat Newhire';
/** The pilot OU's users once the new hire is added: what steps 7 and 12 count. */
const PILOT_USERS = EXPECTED.salesOps.users + 1;
const SELECTORS = {
  chatInput: 'div[contenteditable="true"][role="textbox"][data-lexical-editor="true"]',
  sendButton: 'button[aria-label="Send Message"]',
  card: '.ac-adaptiveCard',
  /**
   * An entry of the mention picker (a Fluent UI menu item). Not "the lowest SyncShift text on the
   * page": every bot message's author label reads SyncShift too, and the chat keeps some of them
   * below the visible part of the page once it is long.
   */
  mentionEntry: '.fui-MenuItem',
} as const;

jest.setTimeout(240_000);

async function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

describe('Agents Playground in headless Chromium', () => {
  let dataDir: string;
  let sandbox: RunningSandbox;
  let context: BrowserContext;
  let page: Page;
  /** Every chat frame the page received over its WebSocket, for ids the UI does not show. */
  const frames: string[] = [];

  beforeAll(async () => {
    if (!existsSync(CHROMIUM))
      serviceMissing(
        'Chromium',
        `${CHROMIUM} does not exist. Install it with apt-get install -y chromium (scripts/test-all.sh does), or set CHROMIUM_PATH.`,
      );
    mkdirSync(ARTIFACTS, { recursive: true });
    dataDir = mkdtempSync(join(tmpdir(), 'syncshift-browser-'));
    sandbox = await startSandbox({
      directory: 'simulated',
      playground: true,
      reset: false,
      dataDir,
      ports: { bot: await freePort(), graph: await freePort(), playground: await freePort() },
      provisioningDelayMs: FIRST_CYCLE_DELAY_MS,
      cloudSyncIntervalMs: 2_000,
      canaryPollMs: 1_000,
      // Not LOG_LEVEL (jest's global set-up silences it): the log copied next to the screenshots must
      // say what the bot, the agent and simulated Cloud Sync did.
      logLevel: process.env.SANDBOX_LOG_LEVEL ?? 'info',
    });
    try {
      context = await chromium.launchPersistentContext(join(dataDir, 'chromium-profile'), {
        executablePath: CHROMIUM,
        headless: true,
        args: [
          '--no-sandbox',
          '--disable-gpu',
          '--disable-quic',
          '--no-first-run',
          '--disable-background-networking',
          '--disable-component-update',
          '--disable-sync',
        ],
        // Tall enough that a verify card with its DN lists fits in one screenshot.
        viewport: { width: 1400, height: 1600 },
      });
    } catch (err) {
      serviceMissing(
        'Chromium',
        `${CHROMIUM} could not be launched by playwright-core. Reinstall it with apt-get install -y chromium.`,
        err,
      );
    }
    page = context.pages()[0] ?? (await context.newPage());
    page.on('websocket', (ws) => ws.on('framereceived', (f) => void frames.push(String(f.payload))));
    await page.goto(sandbox.playgroundUrl!, { waitUntil: 'domcontentloaded' });
    // A group chat, so that a second person (Megan) can act in the same conversation.
    await page.locator(`button[aria-label="${PLAYGROUND_GROUP_CHAT.name}"]`).click({ timeout: UI_TIMEOUT_MS });
  });

  afterAll(async () => {
    await context?.close();
    await sandbox?.stop();
    // The sandbox's own logs sit next to the screenshots, for reading a failure afterwards.
    for (const log of ['sandbox.log', 'playground.log'])
      if (dataDir && existsSync(join(dataDir, log))) copyFileSync(join(dataDir, log), join(ARTIFACTS, log));
    if (dataDir) rmSync(dataDir, { recursive: true, force: true });
  });

  /** Types a command to the bot: in a group chat the bot only hears messages that @mention it. */
  async function type(command: string): Promise<void> {
    await page.locator(SELECTORS.chatInput).click();
    await page.keyboard.type('@Sync');
    const picker = page.locator(SELECTORS.mentionEntry, { hasText: 'SyncShift' }).first();
    await picker.click({ timeout: UI_TIMEOUT_MS });
    await page.keyboard.type(` ${command}`);
    // The mention must have become a mention (not plain text) before the message goes out.
    expect(await page.locator(SELECTORS.chatInput).innerText()).toBe(`SyncShift ${command}`);
    await page.locator(SELECTORS.sendButton).click();
  }

  /** The newest card showing all of `texts`, once it is visible. */
  function card(...texts: string[]): Promise<Locator> {
    return cardWithin(UI_TIMEOUT_MS, texts);
  }

  async function cardWithin(timeoutMs: number, texts: string[]): Promise<Locator> {
    let locator = page.locator(SELECTORS.card);
    for (const t of texts) locator = locator.filter({ hasText: t });
    const last = locator.last();
    try {
      await last.waitFor({ state: 'visible', timeout: timeoutMs });
    } catch (err) {
      // Say what the person would have seen instead.
      await page.screenshot({
        path: join(ARTIFACTS, `failed-${texts[0]!.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40)}.png`),
      });
      const shown = await page.locator(SELECTORS.card).allInnerTexts();
      throw new Error(
        `No card showing ${texts.map((t) => `"${t}"`).join(' and ')}. The last cards on the page:\n${shown.slice(-3).join('\n---\n')}\n${(err as Error).message}`,
      );
    }
    return last;
  }

  /**
   * The newest card showing all of `texts` once its lines satisfy `ok`: a card updated in place
   * keeps the texts it matched on, so this waits for the update, not just the card.
   */
  async function cardWhen(texts: string[], what: string, ok: (lines: string[]) => boolean): Promise<Locator> {
    const found = await card(...texts);
    const deadline = Date.now() + UI_TIMEOUT_MS;
    let lines: string[] = [];
    while (Date.now() < deadline) {
      lines = linesOf(await found.innerText());
      if (ok(lines)) return found;
      await new Promise((r) => setTimeout(r, 500));
    }
    await page.screenshot({ path: join(ARTIFACTS, `failed-${what.replace(/[^A-Za-z0-9]+/g, '-').slice(0, 40)}.png`) });
    throw new Error(`The card showing ${texts.join(' and ')} never got to ${what}. It shows:\n${lines.join('\n')}`);
  }

  async function shoot(name: string, focus?: Locator): Promise<void> {
    await page.screenshot({ path: join(ARTIFACTS, `${name}.png`) });
    if (focus) {
      await focus.scrollIntoViewIfNeeded();
      await focus.screenshot({ path: join(ARTIFACTS, `${name}-card.png`) });
    }
  }

  async function click(stepTitle: string, button: string): Promise<void> {
    await (await card(stepTitle)).getByRole('button', { name: button }).click({ timeout: UI_TIMEOUT_MS });
  }

  it('starts a migration: the overview and the first step card appear', async () => {
    await type('/migration start "Browser demo"');
    const started = await card('Migration "Browser demo" started');
    expect(await started.innerText()).toContain(`Started by ${PLAYGROUND_USERS.alex.name}`);
    const overview = await card('Migration "Browser demo"', '0 of 18 steps finished');
    expect(await overview.innerText()).toContain('current: step 1, Choose the sync tool');
    const step1 = await card('Step 1 of 18');
    expect(await step1.getByRole('button', { name: 'Run check' }).isVisible()).toBe(true);
    await shoot('01-migration-start', overview);
  });

  it('verifies OU=Sales: the card fills in with the counts and the names a person must act on', async () => {
    await type('/verify pilot OU=Sales');
    const result = await card(`Verify pilot: ${OU.sales}`, 'Missing in cloud');
    const text = await result.innerText();
    expect(text).not.toContain('Verifying…');
    const facts = text
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const after = (title: string): string | undefined => facts[facts.indexOf(title) + 1];
    expect(after('On-premises users')).toBe(
      `${EXPECTED_SYNCED.sales.users.toLocaleString('en-US')} (${EXPECTED_SYNCED.sales.disabled} disabled)`,
    );
    expect(after('Missing in cloud')).toBe('3');
    expect(after('Extra in cloud')).toBe('2');
    expect(after('ImmutableId differs')).toBe('2');
    expect(text).toContain(`CN=Departed User 1,${OU.sales}`);
    await shoot('02-verify-sales', result);
  });

  it('walks to step 8, where Megan asks for approval and Alex approves: the scheduler stops once', async () => {
    // Every Connect Sync job, the readiness read included, runs on the server an approver names (Alex is one).
    await type('/server sandbox-agent');
    await card('now runs on sandbox-agent');
    // Steps 1 and 2: the readiness report. The sandbox's Connect Sync has a custom rule (a blocker);
    // Alex, an approver, accepts it with a reason, and step 2 passes from the same report.
    await click('Step 1 of 18', 'Run check');
    const blocked = await card('Step 1 of 18', 'Blockers');
    await blocked
      .getByPlaceholder('Why Cloud Sync can go ahead despite this blocker')
      .fill('extensionAttribute10 becomes a Cloud Sync mapping');
    await blocked.getByRole('button', { name: 'Accept this blocker' }).click({ timeout: UI_TIMEOUT_MS });
    await card('Step 2 of 18', 'Holds');
    await click('Step 3 of 18', 'Run check');
    await click('Step 4 of 18', 'Mark done');
    const step5 = await card('Step 5 of 18');
    await step5.getByPlaceholder('OU=Pilot or OU=Pilot,DC=contoso,DC=com').fill('OU=SalesOps');
    await step5.getByRole('button', { name: 'Set pilot OU' }).click();
    // A new hire joins the pilot OU, as npm run sandbox:add-user does it: not in Entra yet.
    const forestFile = join(dataDir, 'forest.json');
    writeForestFile(forestFile, addUserToForest(readForestFile(forestFile), PILOT_OU, NEW_HIRE).forest);
    await click('Step 7 of 18', 'Run check');
    // Pre-flight: the new hire is not in Entra, so Cloud Sync's hard match cannot take it over; step 7
    // holds until an approver (Alex) acknowledges exactly that finding with a reason.
    const held = await card('Step 7 of 18', 'Pre-flight: hard match predicted to fail');
    const heldText = await held.innerText();
    expect(heldText).toContain(`CN=${NEW_HIRE},${PILOT_OU} (not in Entra)`);
    expect(heldText).toContain(
      'predicted to fail for 1 user(s): 1 not in Entra, 0 with a different onPremisesImmutableId',
    );
    await held
      .getByPlaceholder('Why these users may go ahead although their hard match is predicted to fail')
      .fill('A new hire: Cloud Sync creates the account');
    await held.getByRole('button', { name: 'Acknowledge and count again' }).click({ timeout: UI_TIMEOUT_MS });
    await card('Step 8 of 18', 'Stop the Connect Sync scheduler');
    const waiting = await requestedByMegan(8);
    const waitingText = await waiting.innerText();
    expect(waitingText).toContain('Waiting for approval: 0 of 1');
    expect(waitingText).toContain(`Requested by ${PLAYGROUND_USERS.megan.name}`);
    // What Megan asks to be approved, in words; the raw values wait behind a button.
    expect(waitingText).toContain('Scheduler: on · Staging mode: off · Sync cycle running: no');
    expect(waitingText).not.toContain('syncCycleEnabled');
    await shoot('03-approval-requested', waiting);
    await waiting.getByRole('button', { name: 'Approve' }).click({ timeout: UI_TIMEOUT_MS });

    const done = await card('Step 8 of 18', 'Done');
    const text = await done.innerText();
    expect(text).toContain(`Requested by ${PLAYGROUND_USERS.megan.name}`);
    expect(text).toContain(`approved by ${PLAYGROUND_USERS.alex.name}`);
    expect(text).toMatch(
      /Result · Connect Sync scheduler\s+Scheduler: off · Staging mode: off · Sync cycle running: no/,
    );
    expect(text).not.toContain('result.scheduler.syncCycleEnabled');
    expect(await done.getByRole('button', { name: 'Approve' }).count()).toBe(0);
    await done.getByRole('button', { name: 'Show raw values' }).click({ timeout: UI_TIMEOUT_MS });
    await done
      .getByText('result.scheduler.syncCycleEnabled: false', { exact: true })
      .waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    expect(await done.innerText()).toContain('result.scheduler.stagingModeEnabled: false');
    await shoot('04-approved-and-done', done);

    const connectSync = sandbox.connectSync.readState();
    expect(connectSync.scheduler.SyncCycleEnabled).toBe(false);
    expect(connectSync.calls.filter((c) => c.cmdlet === 'Set-ADSyncScheduler')).toHaveLength(1);
  });

  it("step 12 run before Cloud Sync's first cycle fails: users in Entra with the right anchor, none confirmed by Cloud Sync", async () => {
    const rules = await requestedByMegan(9);
    expect(await rules.innerText()).toContain('cloudNoFlow');
    await rules.getByRole('button', { name: 'Approve' }).click({ timeout: UI_TIMEOUT_MS });
    // Step 10 asks whether Connect Sync's password hash sync is on (an expanded On/Off choice).
    const step10 = await card('Step 10 of 18');
    await step10.getByRole('radio', { name: 'Off' }).check({ timeout: UI_TIMEOUT_MS });
    await step10.getByRole('button', { name: 'Mark done' }).click({ timeout: UI_TIMEOUT_MS });
    // Step 12 reads the provisioning logs of this job.
    await type(`/summary job ${SIMULATED_CLOUD_SYNC_JOB_ID}`);
    await card('Cloud Sync job set');
    // Step 11 writes the pilot OU into Cloud Sync's scope through Graph after approval; simulated
    // Cloud Sync's first cycle on it is due FIRST_CYCLE_DELAY_MS later.
    const scope = await requestedByMegan(11);
    expect(await scope.innerText()).toContain(PILOT_OU);
    await scope.getByRole('button', { name: 'Approve' }).click({ timeout: UI_TIMEOUT_MS });
    await card('Step 11 of 18', 'Done');

    await click('Step 12 of 18', 'Run check');
    const failed = await cardWhen(['Step 12 of 18'], 'step 12 failed', (lines) =>
      lines.some((l) => l.startsWith('Failed: ')),
    );
    const text = await failed.innerText();
    const after = factAfter(text);
    expect(after('On-premises users')).toBe(String(PILOT_USERS));
    expect(after('Missing in cloud')).toBe('1');
    expect(after('ImmutableId differs')).toBe('0');
    // Connect Sync put every other user there with the right anchor, but Cloud Sync has logged nothing yet.
    expect(after('In Entra with the right anchor')).toBe(String(PILOT_USERS - 1));
    expect(after('Confirmed by Cloud Sync (provisioning logs)')).toBe('0');
    // The status line names why: nothing in the job's logs, no canary.
    const status = linesOf(text).find((l) => l.startsWith('Failed: '))!;
    expect(status).toContain(`0 of ${PILOT_USERS} in-scope objects are confirmed by Cloud Sync`);
    expect(status).toContain('no canary has come through Cloud Sync yet');
    await shoot('05-step12-failed-before-cloud-sync', failed);
  });

  it("after Cloud Sync's first cycle and a canary that a second person approved, step 12 passes", async () => {
    // Cloud Sync runs on its own timer, as in npm run sandbox: the walk waits for that run.
    await sandbox.cloudSync.cycleFor(PILOT_OU);

    const finished = page
      .locator(SELECTORS.card)
      .filter({ hasText: `Verify pilot: ${PILOT_OU}` })
      .filter({ hasText: 'Missing in cloud' });
    const earlier = await finished.count();
    await type(`/verify pilot ${PILOT_OU}`);
    const verified = finished.nth(earlier);
    await verified.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const after = factAfter(await verified.innerText());
    expect(after('Missing in cloud')).toBe('0');
    expect(after('Matched')).toBe(String(PILOT_USERS));
    expect(after('Confirmed by Cloud Sync')).toBe(
      `${PILOT_USERS} of ${PILOT_USERS} (provisioning logs of ${SIMULATED_CLOUD_SYNC_JOB_ID})`,
    );
    await shoot('06-verify-after-first-cycle', verified);

    // The canary: Megan asks, Alex approves; the agent writes it, Cloud Sync's next cycle provisions it.
    const create = await requestedByMegan(12, {
      verb: STEP_VERBS.canaryCreate,
      button: 'Create canary (needs approval)',
      waiting: 'Canary creation waiting for approval: 0 of 1',
    });
    // Exact: "Waive canary (approvers)" sits beside it.
    await create.getByRole('button', { name: 'Approve', exact: true }).click({ timeout: UI_TIMEOUT_MS });
    const provisioned = await canaryCard('provisioned by Cloud Sync');
    const provisionedText = await provisioned.innerText();
    expect(provisionedText).toMatch(
      new RegExp(
        `Canary CN=syncshift-canary-[0-9a-f]{8},${escapeRegExp(PILOT_OU)}: provisioned by Cloud Sync [\\d.]+ s after it was created`,
      ),
    );
    expect(provisionedText).toContain('so Cloud Sync alone provisioned it');
    await shoot('07-canary-provisioned', provisioned);

    const del = await requestedByMegan(12, {
      verb: STEP_VERBS.canaryDelete,
      button: 'Delete canary (needs approval)',
      waiting: 'Canary deletion waiting for approval: 0 of 1',
    });
    // Exact: "Waive canary (approvers)" sits beside it.
    await del.getByRole('button', { name: 'Approve', exact: true }).click({ timeout: UI_TIMEOUT_MS });
    const gone = await canaryCard('Nothing is left behind');
    expect(await gone.innerText()).toMatch(/gone from Entra [\d.]+ s later \(Delete log entry at /);

    await click('Step 12 of 18', 'Run check');
    const done = await cardWhen(['Step 12 of 18'], 'step 12 done', (lines) => lines.includes('Done'));
    const passed = factAfter(await done.innerText());
    expect(passed('On-premises users')).toBe(String(PILOT_USERS));
    expect(passed('Missing in cloud')).toBe('0');
    expect(passed('In Entra with the right anchor')).toBe(String(PILOT_USERS));
    expect(passed('Confirmed by Cloud Sync (provisioning logs)')).toBe(String(PILOT_USERS));
    await shoot('08-step12-done', done);
  }, 420_000);

  /** Step 12's card once it shows `text` about the canary; on a timeout, also what the bot has stored. */
  async function canaryCard(text: string): Promise<Locator> {
    try {
      return await cardWithin(CANARY_CARD_TIMEOUT_MS, ['Step 12 of 18', text]);
    } catch (err) {
      const [latest] = await sandbox.store.canaries.list(stepCardMessage(12).migrationId, 1);
      throw new Error(
        `${(err as Error).message}\nThe canary as the bot stored it: ${JSON.stringify(latest ?? null)}\nSee test-artifacts/browser/sandbox.log.`,
      );
    }
  }

  it('a verify card shows DNs exactly as the directory spells them: escaped commas, backslashes, parentheses, non-ASCII', async () => {
    // Users only this test has, added to the sandbox's own simulated directory (the shared Samba
    // seed is left alone). The tenant was built at start, so the verify lists them as missing.
    const forestFile = join(dataDir, 'forest.json');
    const forest = readForestFile(forestFile);
    const added = [
      String.raw`CN=Doe\, Jane,${OU.legacy}`,
      String.raw`CN=Weird (Temp*) \\ Contractor,${OU.legacy}`,
      `CN=Zoë Łukasiewicz-Ærøskøbing,${OU.legacy}`,
    ].map((dn, i) => ({
      dn,
      objectGuid: simulatedObjectGuid(dn).toString('base64'),
      consistencyGuid: null,
      samAccountName: `browser.dn${i}`,
      userPrincipalName: `browser.dn${i}@${UPN_SUFFIX}`,
      disabled: false,
    }));
    writeForestFile(forestFile, { ...forest, users: [...forest.users, ...added] });
    // The DNs as the directory reports them to the agent: what a person must see and copy.
    const reported: string[] = [];
    await new SimulatedDirectory(readForestFile(forestFile)).scanUsers(OU.legacy, {
      onPage: (users) => void reported.push(...users.map((u) => u.dn)),
    });
    const expected = reported.filter((dn) => added.some((u) => u.dn === dn));
    expect(expected).toEqual(added.map((u) => u.dn));

    await type(`/verify pilot ${OU.legacy}`);
    const result = await card(`Verify pilot: ${OU.legacy}`, 'Missing in the cloud (3)');
    const lines = (await result.innerText()).split('\n').map((l) => l.trim());
    expect(lines[0]).toBe(`Verify pilot: ${OU.legacy}`);
    const missing = lines.slice(
      lines.indexOf('Missing in the cloud (3)') + 1,
      lines.indexOf('Missing in the cloud (3)') + 4,
    );
    expect([...missing].sort()).toEqual([...expected].sort());
    await shoot('06-verify-literal-dns', result);
  });

  it('a migration name that looks like markdown shows as typed, with no link on its cards', async () => {
    const name = String.raw`[Approve here](https://example.invalid/login) **now** _u_ CN=Doe\, Jane \\ Ünïcødé`;
    await page.locator('button[aria-label="Personal Chat"]').click({ timeout: UI_TIMEOUT_MS });
    // A one-to-one chat: no mention needed.
    await page.locator(SELECTORS.chatInput).click();
    await page.keyboard.type(`/migration start "${name}"`);
    expect(await page.locator(SELECTORS.chatInput).innerText()).toBe(`/migration start "${name}"`);
    await page.locator(SELECTORS.sendButton).click();
    const started = await card('Started by', 'Ünïcødé');
    const overview = await card('0 of 18 steps finished', 'Ünïcødé');
    const step1 = await card('Step 1 of 18', 'Ünïcødé');
    for (const [shown, line] of [
      [started, `Migration "${name}" started`],
      [overview, `Migration "${name}"`],
      [step1, name],
    ] as const) {
      expect((await shown.innerText()).split('\n').map((l) => l.trim())).toContain(line);
      expect(await shown.locator('a').count()).toBe(0);
    }
    await shoot('07-markdown-name-literal', started);
  });

  /**
   * Megan is the second member of the group chat. The Playground's UI always acts as Alex, so she
   * clicks "Request approval" (or a canary's request button) through the Playground's own invoke
   * API, as its web client would.
   * Returns the step's card once it waits for approval, as Alex sees it.
   */
  async function requestedByMegan(
    n: number,
    ask: { verb: string; button: string; waiting: string } = {
      verb: STEP_VERBS.requestApproval,
      button: 'Request approval',
      waiting: 'Waiting for approval',
    },
  ): Promise<Locator> {
    const step = await card(`Step ${n} of 18`);
    await step.getByRole('button', { name: ask.button }).waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const posted = stepCardMessage(n);
    const requested = await fetch(`${sandbox.playgroundUrl!}/_conversation/v1/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'adaptiveCard/action',
        value: {
          action: {
            type: 'Action.Execute',
            title: ask.button,
            verb: ask.verb,
            data: { migrationId: posted.migrationId, n },
          },
        },
        from: { id: PLAYGROUND_USERS.megan.id },
        conversation: { id: posted.conversationId },
        replyToId: posted.messageId,
      }),
    });
    expect(requested.status).toBe(200);
    return card(`Step ${n} of 18`, ask.waiting);
  }

  /** Where the bot's card for step n sits in the Playground: its message id and the migration. */
  function stepCardMessage(n: number): { messageId: string; conversationId: string; migrationId: string } {
    for (const frame of [...frames].reverse()) {
      if (!frame.includes('"createMessage"') || !frame.includes(`Step ${n} of 18`)) continue;
      const parsed = JSON.parse(frame) as { actionConversationId: string; message: { messageId: string } };
      const migrationId = /"migrationId":"([0-9a-f-]{36})"/.exec(frame)?.[1];
      if (migrationId)
        return { messageId: parsed.message.messageId, conversationId: parsed.actionConversationId, migrationId };
    }
    throw new Error(`The Playground never received the card of step ${n}; frames seen: ${frames.length}.`);
  }
});

function linesOf(text: string): string[] {
  return text
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean);
}

/** A card's facts as a person reads them: the value shown under a title. */
function factAfter(text: string): (title: string) => string | undefined {
  const lines = linesOf(text);
  return (title) => (lines.includes(title) ? lines[lines.indexOf(title) + 1] : undefined);
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
