import { CardProgress, DEFAULT_PROGRESS_INTERVAL_MS } from '../../src/services/card-progress';
import { RateLimitedCardSink } from '../../src/services/rate-limited-sink';
import type { CardSink } from '../../src/services/card-sink';
import { createLogger } from '../../src/shared/logger';
import { manualClock, type ManualClock } from '../helpers/virtual-clock';

const logger = createLogger('test', 'silent');

/** Teams as the bot sees it: every update takes `latencyMs` of virtual time, and the last card of each message stays. */
function slowTeams(
  clock: ManualClock,
  latencyMs: number,
  answer: (text: string, attempt: number) => Error | undefined = () => undefined,
  newestReported: () => unknown = () => undefined,
) {
  const sent: { text: string; t: number; newest?: unknown }[] = [];
  const shown = new Map<string, string>();
  const inner: CardSink = {
    post: async () => 'id',
    update: async (_conv, activityId, card) => {
      const text = String((card as { text: string }).text);
      const newest = newestReported();
      sent.push({ text, t: clock.t, ...(newest === undefined ? {} : { newest }) });
      await clock.sleep(latencyMs);
      const error = answer(text, sent.filter((s) => s.text === text).length);
      if (error) throw error;
      shown.set(activityId, text);
    },
  };
  return { inner, sent, shown };
}

/** A scan that reports every 500 ms of virtual time, as the agent and the Graph paging do, and never awaits the report. */
async function longScan(
  clock: ManualClock,
  seconds: number,
  report: (scanned: number) => unknown,
): Promise<{ returnedAt: number[] }> {
  const returnedAt: number[] = [];
  for (let i = 1; i <= seconds * 2; i++) {
    await clock.sleep(500);
    const result = report(i * 100);
    // progress() gives nothing to wait for.
    expect(result).toBeUndefined();
    returnedAt.push(clock.t);
  }
  return { returnedAt };
}

describe('progress cards during a long scan', () => {
  test(`reach the card at most every ${DEFAULT_PROGRESS_INTERVAL_MS / 1000} s, newest count first, while the scan runs at its own pace`, async () => {
    const clock = manualClock();
    let newest = 0;
    const teams = slowTeams(clock, 1500, undefined, () => newest);
    const progress = new CardProgress(new RateLimitedCardSink(teams.inner, { logger, clock }), { logger, clock });

    const scan = longScan(clock, 60, (scanned) => {
      newest = scanned;
      return progress.progress('conv', 'card', () => ({ text: `scanned ${scanned}` }));
    });
    await clock.advance(60_000);
    const { returnedAt } = await scan;

    // The scan's 120 reports happened every 500 ms: none waited for Teams' 1.5 s.
    expect(returnedAt).toEqual(Array.from({ length: 120 }, (_, i) => (i + 1) * 500));
    const gaps = teams.sent.slice(1).map((s, i) => s.t - teams.sent[i]!.t);
    expect(Math.min(...gaps)).toBeGreaterThanOrEqual(DEFAULT_PROGRESS_INTERVAL_MS);
    expect(teams.sent.length).toBeLessThanOrEqual(60_000 / DEFAULT_PROGRESS_INTERVAL_MS + 1);
    expect(teams.sent.length).toBeGreaterThanOrEqual(60_000 / DEFAULT_PROGRESS_INTERVAL_MS - 1);
    // Each card shows the newest count reported before it was sent: nothing queued up and went stale.
    for (const s of teams.sent) expect(s.text).toBe(`scanned ${String(s.newest)}`);

    const finished = progress.finish('conv', 'card', { text: 'done' });
    await clock.advance(10_000);
    await finished;
    expect(teams.shown.get('card')).toBe('done');
    expect(teams.sent.at(-1)!.text).toBe('done');
  });

  test('the final card stays: progress still waiting (for the interval, or for a retry after 429) is dropped, and later progress is ignored', async () => {
    const clock = manualClock();
    const tooMany = Object.assign(new Error('Too Many Requests'), {
      statusCode: 429,
      response: { headers: { get: () => '4' } },
    });
    const teams = slowTeams(clock, 100, (text, attempt) =>
      text === 'scanned 100' && attempt === 1 ? tooMany : undefined,
    );
    const progress = new CardProgress(new RateLimitedCardSink(teams.inner, { logger, clock }), {
      logger,
      clock,
      intervalMs: 2000,
    });

    progress.progress('conv', 'card', () => ({ text: 'scanned 100' }));
    await clock.advance(500);
    // Sent at once and refused with Retry-After: 4 s; a newer count waits for the 2 s interval.
    progress.progress('conv', 'card', () => ({ text: 'scanned 200' }));
    await clock.advance(500);
    const finished = progress.finish('conv', 'card', { text: 'done' });
    progress.progress('conv', 'card', () => ({ text: 'scanned 300' }));
    await clock.advance(30_000);
    await finished;

    expect(teams.shown.get('card')).toBe('done');
    expect(teams.sent.map((s) => s.text)).toEqual(['scanned 100', 'done']);
    // Teams' Retry-After held for the final card too.
    expect(teams.sent[1]!.t).toBeGreaterThanOrEqual(4000);
  });

  test('cards of different messages are paced separately', async () => {
    const clock = manualClock();
    const teams = slowTeams(clock, 0);
    const progress = new CardProgress(new RateLimitedCardSink(teams.inner, { logger, clock }), {
      logger,
      clock,
      intervalMs: 5000,
    });
    progress.progress('conv', 'card-a', () => ({ text: 'a 1' }));
    progress.progress('conv', 'card-b', () => ({ text: 'b 1' }));
    progress.progress('conv', 'card-a', () => ({ text: 'a 2' }));
    await clock.advance(6000);
    expect(teams.sent).toEqual([
      { text: 'a 1', t: 0 },
      { text: 'b 1', t: 0 },
      { text: 'a 2', t: 5000 },
    ]);
  });
});
