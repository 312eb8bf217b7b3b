import { RateLimitedCardSink, SlidingWindowLimiter, TEAMS_CONVERSATION_RULES, type LimiterClock } from '../../src/services/rate-limited-sink';
import type { CardSink } from '../../src/services/verify-service';
import { createLogger } from '../../src/shared/logger';

/** Virtual time: sleeping advances the clock instantly, so windows are exact and the test is fast. */
function virtualClock(): LimiterClock & { t: number } {
  const clock = {
    t: 0,
    now: () => clock.t,
    sleep: async (ms: number) => {
      clock.t += ms;
    },
  };
  return clock;
}

describe('rate limits for proactive cards', () => {
  test('one conversation never exceeds 7 per second or 60 per 30 seconds', async () => {
    const clock = virtualClock();
    const limiter = new SlidingWindowLimiter(TEAMS_CONVERSATION_RULES, clock);
    const times: number[] = [];
    for (let i = 0; i < 130; i++) {
      await limiter.acquire('conv');
      times.push(clock.t);
    }
    for (let i = 0; i < times.length; i++) {
      expect(times.filter((t) => t > times[i]! - 1000 && t <= times[i]!).length).toBeLessThanOrEqual(7);
      expect(times.filter((t) => t > times[i]! - 2000 && t <= times[i]!).length).toBeLessThanOrEqual(8);
      expect(times.filter((t) => t > times[i]! - 30_000 && t <= times[i]!).length).toBeLessThanOrEqual(60);
    }
    // Waits only as long as needed: the 61st message goes out as the 30 s window opens again.
    expect(times[60]).toBe(30_000);
  });

  test('different conversations do not wait for each other; the app-wide limit still holds', async () => {
    const clock = virtualClock();
    const sent: { conv: string; t: number }[] = [];
    const inner: CardSink = {
      post: async (conv) => {
        sent.push({ conv, t: clock.t });
        return 'id';
      },
      update: async () => undefined,
    };
    const sink = new RateLimitedCardSink(inner, { logger: createLogger('test', 'silent'), clock, appRules: [{ limit: 10, windowMs: 1000 }] });
    await Promise.all(Array.from({ length: 20 }, (_, i) => sink.post(`conv-${i}`, {})));
    expect(sent).toHaveLength(20);
    expect(sent.filter((s) => s.t === 0)).toHaveLength(10);
    expect(Math.max(...sent.map((s) => s.t))).toBe(1000);
  });

  test('429 from Teams is retried after Retry-After; other errors are not', async () => {
    const clock = virtualClock();
    let calls = 0;
    const inner: CardSink = {
      post: async () => {
        calls++;
        if (calls === 1) throw Object.assign(new Error('Too Many Requests'), { statusCode: 429, response: { headers: { get: () => '3' } } });
        return 'ok';
      },
      update: async () => {
        throw Object.assign(new Error('Forbidden'), { statusCode: 403 });
      },
    };
    const sink = new RateLimitedCardSink(inner, { logger: createLogger('test', 'silent'), clock });
    await expect(sink.post('c', {})).resolves.toBe('ok');
    expect(calls).toBe(2);
    expect(clock.t).toBeGreaterThanOrEqual(3000);
    await expect(sink.update('c', 'a', {})).rejects.toThrow('Forbidden');
  });

  test('a new post is not retried after 502/504 (it may already be in the chat); an update is', async () => {
    const clock = virtualClock();
    let posts = 0;
    let updates = 0;
    const gateway = () => Object.assign(new Error('Bad Gateway'), { statusCode: 502 });
    const inner: CardSink = {
      post: async () => {
        posts++;
        throw gateway();
      },
      update: async () => {
        updates++;
        if (updates === 1) throw gateway();
      },
    };
    const sink = new RateLimitedCardSink(inner, { logger: createLogger('test', 'silent'), clock });
    await expect(sink.post('c', {})).rejects.toThrow('Bad Gateway');
    expect(posts).toBe(1);
    await expect(sink.update('c', 'a', {})).resolves.toBeUndefined();
    expect(updates).toBe(2);
  });
});
