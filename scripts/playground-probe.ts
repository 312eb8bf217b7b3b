/**
 * Drives the Agents Playground web UI of a running sandbox the way a person would: types
 * `/verify pilot OU=Sales` into the chat box, waits until the verify card has been updated with its
 * result, and saves a screenshot. Not a jest test yet; meant to become one.
 *
 *   npm run sandbox                       (another terminal; or: bash scripts/sandbox.sh)
 *   node --require ts-node/register/transpile-only scripts/playground-probe.ts
 *
 * Env: PLAYGROUND_URL (http://localhost:56150), PROBE_TEXT (/verify pilot OU=Sales),
 *      PROBE_EXPECT (text the finished card contains; "Missing in cloud"),
 *      PROBE_SCREENSHOT (test-artifacts/sandbox-verify.png), CHROMIUM_PATH (/usr/bin/chromium).
 *
 * What the Playground 0.2.28 UI needed (found by reading its DOM):
 *   - Chat input: a Lexical editor, not a <textarea>:
 *       div[contenteditable="true"][role="textbox"][data-lexical-editor="true"]
 *     `locator.fill()` does not work on it reliably; click it, then `keyboard.type()`.
 *   - Send button: button[aria-label="Send Message"] (Enter in the editor also sends).
 *   - Conversation list: buttons with aria-label "Personal Chat", "Group Chat",
 *     "My Team - General"; Personal Chat is selected on load.
 *   - Cards: rendered by the adaptivecards JS renderer, root element `.ac-adaptiveCard`; text blocks
 *     are `.ac-textBlock`, fact sets `.ac-factset`, buttons `.ac-pushButton`. A card the bot updates
 *     in place (PUT activity) is re-rendered in the same message, so wait on its text, not on a
 *     new element.
 *   - Log panel on the right: title="Hide log panel" / "Toggle Log Panel"; warnings about unsupported
 *     card features show up there.
 *   - No internet here: the UI's Segoe UI fonts from res-1.cdn.office.net fail to load (falls back to
 *     system fonts); harmless.
 */
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { chromium } from 'playwright-core';

const SELECTORS = {
  chatInput: 'div[contenteditable="true"][role="textbox"][data-lexical-editor="true"]',
  sendButton: 'button[aria-label="Send Message"]',
  personalChat: 'button[aria-label="Personal Chat"]',
  card: '.ac-adaptiveCard',
  hideLogPanel: '[title="Hide log panel"]',
} as const;

const REPO = resolve(__dirname, '..');
const url = process.env.PLAYGROUND_URL ?? 'http://localhost:56150';
const text = process.env.PROBE_TEXT ?? '/verify pilot OU=Sales';
const screenshot = resolve(REPO, process.env.PROBE_SCREENSHOT ?? 'test-artifacts/sandbox-verify.png');
const executablePath = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
/** The verify card first says "Verifying…"; it is done when that is gone and the counts are there. */
const DONE_MARKER = process.env.PROBE_EXPECT ?? 'Missing in cloud';
const TIMEOUT_MS = 60_000;

async function main(): Promise<void> {
  const ping = await fetch(`${url}/_debug/ping`).catch((err: Error) => err);
  if (ping instanceof Error || !ping.ok) {
    throw new Error(`No Agents Playground at ${url} (${ping instanceof Error ? ping.message : `HTTP ${ping.status}`}). Start the sandbox first: npm run sandbox`);
  }
  const userDataDir = mkdtempSync(join(tmpdir(), 'syncshift-probe-'));
  const context = await chromium.launchPersistentContext(userDataDir, {
    executablePath,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
    // Tall enough that a verify card with its three DN lists fits without scrolling the chat pane.
    viewport: { width: 1500, height: 1500 },
  });
  try {
    const page = context.pages()[0] ?? (await context.newPage());
    await page.goto(url, { waitUntil: 'domcontentloaded' });
    await page.locator(SELECTORS.personalChat).click({ timeout: 20_000 });
    const cardsBefore = await page.locator(SELECTORS.card).count();

    const input = page.locator(SELECTORS.chatInput);
    await input.click();
    await page.keyboard.type(text);
    await page.locator(SELECTORS.sendButton).click();
    const started = Date.now();

    // The card is posted once ("Verifying…") and later replaced in place with the result.
    await page.waitForFunction(
      ({ selector, from, marker }) => {
        const cards = Array.from(document.querySelectorAll<HTMLElement>(selector)).slice(from);
        return cards.some((c) => c.innerText.includes(marker) && !c.innerText.includes('Verifying…'));
      },
      { selector: SELECTORS.card, from: cardsBefore, marker: DONE_MARKER },
      { timeout: TIMEOUT_MS, polling: 250 },
    );
    const elapsed = Date.now() - started;
    const card = page.locator(SELECTORS.card).filter({ hasText: DONE_MARKER }).last();
    await card.scrollIntoViewIfNeeded();
    // Fonts and images in the re-rendered card settle a moment after the text appears.
    await page.waitForTimeout(500);

    mkdirSync(dirname(screenshot), { recursive: true });
    await page.screenshot({ path: screenshot });
    await card.screenshot({ path: screenshot.replace(/\.png$/, '-card.png') });
    const cardText = await card.innerText();
    console.log(`result card after ${(elapsed / 1000).toFixed(1)}s; screenshots: ${screenshot} and ${screenshot.replace(/\.png$/, '-card.png')}`);
    console.log('--- card text ---');
    console.log(cardText);
  } finally {
    await context.close();
    rmSync(userDataDir, { recursive: true, force: true });
  }
}

main().catch((err: unknown) => {
  console.error(`playground-probe: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
