import { ProactiveCardSink } from '../../src/bot/card-sink';
import { createAdapter } from '../../src/bot/teams-app';
import { loadConfig } from '../../src/config';
import { CardSendTimeout, RateLimitedCardSink } from '../../src/services/rate-limited-sink';
import { createLogger } from '../../src/shared/logger';
import { startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { eventually } from '../helpers/eventually';

const textOf = (activity: { attachments?: { content: Record<string, unknown> }[] }): unknown =>
  activity.attachments?.[0]?.content.text;

/**
 * The sink as the bot builds it (botbuilder's CloudAdapter, real HTTP) against a Teams stand-in
 * that never answers one update: the deadline must reach the HTTP request and free the card.
 */
describe('a card update Teams never answers, through botbuilder', () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBotHarness();
    // The bot keeps the conversation reference of a chat it has heard from.
    await h.say('/help');
  });
  afterAll(async () => {
    // A request still open would keep the stand-in from closing.
    for (const hung of h?.connector.hungUpdates ?? []) hung.answer();
    await h?.close();
  });

  it('is aborted at the deadline, fails with a timeout, and the next update of the card goes out', async () => {
    const sink = new RateLimitedCardSink(new ProactiveCardSink(createAdapter(loadConfig({ PORT: '0' })), '', h.store), {
      logger: createLogger('test', 'silent'),
      sendTimeoutMs: 1000,
    });
    const id = (await sink.post(h.conversationId, { type: 'AdaptiveCard', text: 'created' }))!;
    expect(id).toBeTruthy();
    h.connector.hangUpdate((a) => textOf(a) === 'waiting for Cloud Sync');
    const started = Date.now();
    const hung = sink.update(h.conversationId, id, { type: 'AdaptiveCard', text: 'waiting for Cloud Sync' });
    hung.catch(() => undefined);
    await eventually(() => h.connector.hungUpdates.length === 1, {
      timeoutMs: 5000,
      what: 'the update to reach the Teams stand-in',
    });
    const seen = sink.update(h.conversationId, id, { type: 'AdaptiveCard', text: 'seen in Entra' });

    await expect(hung).rejects.toBeInstanceOf(CardSendTimeout);
    await expect(seen).resolves.toBeUndefined();
    expect(Date.now() - started).toBeLessThan(10_000);
    // The bot closed the request it gave up on, rather than leaving it open.
    await eventually(() => h.connector.hungUpdates[0]!.closed, {
      timeoutMs: 5000,
      what: 'the bot to close the request it gave up on',
    });
    expect(h.connector.cards(h.conversationId).get(id)).toMatchObject({ text: 'seen in Entra' });
  });
});
