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
import { OU, UPN_SUFFIX, EXPECTED_SYNCED } from '../../src/sandbox/forest-spec';
import { PLAYGROUND_GROUP_CHAT, PLAYGROUND_USERS } from '../../src/sandbox/playground-users';
import { startSandbox, type RunningSandbox } from '../../src/sandbox/start-sandbox';
import { serviceMissing } from '../helpers/require-service';

/**
 * A person in a real browser: headless Debian Chromium opens the Agents Playground connected to the
 * sandbox (bot, relay agent, simulated directory, Graph simulator, simulated Connect Sync), types
 * commands in the group chat and clicks card buttons, and the test reads what the page shows.
 *
 * The sandbox runs on the simulated directory: the point here is what the Playground renders, and
 * the simulated forest has the same OUs and counts as the Samba seed without tying the browser
 * test to the shared DC (test/e2e covers Samba). Screenshots go to test-artifacts/browser/.
 *
 * What the Playground 0.2.28 UI needs (found by reading its DOM):
 *   - The chat input is a Lexical editor, not a <textarea>: click it, then keyboard.type().
 *   - Conversations are buttons labelled with their names ("Personal Chat", the group chat's name).
 *   - In a group chat the Playground forwards only messages that @mention the bot, as Teams does:
 *     type "@Sync" and pick the bot from the suggestion list.
 *   - Cards are rendered by the adaptivecards JS renderer (.ac-adaptiveCard); a card the bot
 *     updates in place is re-rendered in the same message, so wait on its text.
 *   - There is no internet here: the UI's web fonts fail to load and it falls back; harmless.
 */
const CHROMIUM = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const ARTIFACTS = resolve(__dirname, '..', '..', 'test-artifacts', 'browser');
const UI_TIMEOUT_MS = 45_000;
const SELECTORS = {
  chatInput: 'div[contenteditable="true"][role="textbox"][data-lexical-editor="true"]',
  sendButton: 'button[aria-label="Send Message"]',
  card: '.ac-adaptiveCard',
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
      provisioningDelayMs: 500,
      logLevel: process.env.LOG_LEVEL ?? 'warn',
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
    await (await mentionSuggestion()).click();
    await page.keyboard.type(` ${command}`);
    // The mention must have become a mention (not plain text) before the message goes out.
    expect(await page.locator(SELECTORS.chatInput).innerText()).toBe(`SyncShift ${command}`);
    await page.locator(SELECTORS.sendButton).click();
  }

  /**
   * The "SyncShift" entry of the mention picker. The sender label above each bot message reads
   * "SyncShift" too; the picker is the one that sits lowest on the page, right above the input.
   */
  async function mentionSuggestion(): Promise<Locator> {
    const candidates = page.getByText('SyncShift', { exact: true }).filter({ visible: true });
    const inputBox = await page.locator(SELECTORS.chatInput).boundingBox();
    await page.waitForFunction(
      ({ inputTop }) =>
        Array.from(document.querySelectorAll('span')).some(
          (s) => s.textContent === 'SyncShift' && Math.abs(s.getBoundingClientRect().bottom - inputTop) < 80,
        ),
      { inputTop: inputBox!.y },
      { timeout: UI_TIMEOUT_MS },
    );
    let best = candidates.first();
    let bestY = -Infinity;
    for (let i = 0; i < (await candidates.count()); i++) {
      const box = await candidates.nth(i).boundingBox();
      if (box && box.y > bestY) [best, bestY] = [candidates.nth(i), box.y];
    }
    return best;
  }

  /** The newest card showing all of `texts`, once it is visible. */
  async function card(...texts: string[]): Promise<Locator> {
    let locator = page.locator(SELECTORS.card);
    for (const t of texts) locator = locator.filter({ hasText: t });
    const last = locator.last();
    try {
      await last.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
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
    await step5.getByPlaceholder('OU=Pilot or OU=Pilot,DC=contoso,DC=com').fill('OU=Sales');
    await step5.getByRole('button', { name: 'Set pilot OU' }).click();
    await click('Step 7 of 18', 'Run check');
    // Pre-flight: OU=Sales holds the simulator's drift (3 users missing, 2 with another anchor), so step 7
    // holds until an approver (Alex) acknowledges exactly those findings with a reason.
    const held = await card('Step 7 of 18', 'Pre-flight: hard match predicted to fail');
    await held
      .getByPlaceholder('Why these users may go ahead although their hard match is predicted to fail')
      .fill('Known drift in the sandbox tenant');
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

  it("after step 11 (the pilot OU in Cloud Sync's scope), simulated Cloud Sync provisions it: a new verify finds nobody missing", async () => {
    const rules = await requestedByMegan(9);
    expect(await rules.innerText()).toContain('cloudNoFlow');
    await rules.getByRole('button', { name: 'Approve' }).click({ timeout: UI_TIMEOUT_MS });
    // Step 10 asks whether Connect Sync's password hash sync is on (an expanded On/Off choice).
    const step10 = await card('Step 10 of 18');
    await step10.getByRole('radio', { name: 'Off' }).check({ timeout: UI_TIMEOUT_MS });
    await step10.getByRole('button', { name: 'Mark done' }).click({ timeout: UI_TIMEOUT_MS });
    // Step 11 writes the pilot OU into Cloud Sync's scope through Graph after approval.
    const scope = await requestedByMegan(11);
    expect(await scope.innerText()).toContain(OU.sales);
    await scope.getByRole('button', { name: 'Approve' }).click({ timeout: UI_TIMEOUT_MS });
    await card('Step 11 of 18', 'Done');
    // Cloud Sync runs on its own schedule; the test waits for that run, not for a fixed time.
    await sandbox.cloudSync.pollNow();
    const cycle = await sandbox.cloudSync.cycleFor(OU.sales);
    expect(cycle.created).toHaveLength(3);

    // Finished verify cards so far, so the wait below is for a new one, not the one from before.
    const finished = page
      .locator(SELECTORS.card)
      .filter({ hasText: `Verify pilot: ${OU.sales}` })
      .filter({ hasText: 'Missing in cloud' });
    const earlier = await finished.count();
    await type('/verify pilot OU=Sales');
    const result = finished.nth(earlier);
    await result.waitFor({ state: 'visible', timeout: UI_TIMEOUT_MS });
    const facts = (await result.innerText())
      .split('\n')
      .map((l) => l.trim())
      .filter(Boolean);
    const after = (title: string): string | undefined => facts[facts.indexOf(title) + 1];
    expect(after('Missing in cloud')).toBe('0');
    expect(after('Matched')).toBe(EXPECTED_SYNCED.sales.users.toLocaleString('en-US'));
    // Cloud Sync cannot hard-match a cloud object with another anchor; those stay for a person to fix.
    expect(after('ImmutableId differs')).toBe('2');
    await shoot('05-verify-after-cloud-sync', result);
  });

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
   * clicks "Request approval" through the Playground's own invoke API, as its web client would.
   * Returns the step's card once it waits for approval, as Alex sees it.
   */
  async function requestedByMegan(n: number): Promise<Locator> {
    const step = await card(`Step ${n} of 18`);
    expect(await step.getByRole('button', { name: 'Request approval' }).isVisible()).toBe(true);
    const posted = stepCardMessage(n);
    const requested = await fetch(`${sandbox.playgroundUrl!}/_conversation/v1/invoke`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        name: 'adaptiveCard/action',
        value: {
          action: {
            type: 'Action.Execute',
            title: 'Request approval',
            verb: STEP_VERBS.requestApproval,
            data: { migrationId: posted.migrationId, n },
          },
        },
        from: { id: PLAYGROUND_USERS.megan.id },
        conversation: { id: posted.conversationId },
        replyToId: posted.messageId,
      }),
    });
    expect(requested.status).toBe(200);
    return card(`Step ${n} of 18`, 'Waiting for approval');
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
