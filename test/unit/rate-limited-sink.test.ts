import pino from 'pino';
import { classifyPostFailure } from '../../src/services/post-outcome';
import {
  CardSendTimeout,
  RateLimitedCardSink,
  SlidingWindowLimiter,
  TEAMS_CONVERSATION_RULES,
  type LimiterClock,
} from '../../src/services/rate-limited-sink';
import type { CardSink } from '../../src/services/card-sink';
import { createLogger } from '../../src/shared/logger';
import { manualClock } from '../helpers/virtual-clock';

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
    const sink = new RateLimitedCardSink(inner, {
      logger: createLogger('test', 'silent'),
      clock,
      appRules: [{ limit: 10, windowMs: 1000 }],
    });
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
        if (calls === 1)
          throw Object.assign(new Error('Too Many Requests'), {
            statusCode: 429,
            response: { headers: { get: () => '3' } },
          });
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

function tooManyRequests(retryAfterSeconds: number): Error {
  return Object.assign(new Error('Too Many Requests'), {
    statusCode: 429,
    response: { headers: { get: (n: string) => (n === 'retry-after' ? String(retryAfterSeconds) : null) } },
  });
}

/** What Teams shows per message: the last card each successful update put there, and every attempt in order. */
function recordingTeams(
  clock: { t: number },
  failFirst: (card: { text?: string }) => Error | undefined = () => undefined,
) {
  const shown = new Map<string, string>();
  const attempts: { activityId: string; text: string; t: number; ok: boolean }[] = [];
  const inner: CardSink = {
    post: async () => 'new-id',
    update: async (_conv, activityId, card) => {
      const text = String((card as { text?: string }).text);
      const error = attempts.some((a) => a.text === text) ? undefined : failFirst(card as { text?: string });
      attempts.push({ activityId, text, t: clock.t, ok: !error });
      if (error) throw error;
      shown.set(activityId, text);
    },
  };
  return { inner, shown, attempts };
}

describe('updates of one message: the newest card wins', () => {
  test('a progress update answered with 429 and then overtaken by the final card: the final card is what stays', async () => {
    const clock = manualClock();
    const teams = recordingTeams(clock, (card) =>
      card.text === 'Verifying… 500 scanned' ? tooManyRequests(3) : undefined,
    );
    const sink = new RateLimitedCardSink(teams.inner, { logger: createLogger('test', 'silent'), clock });

    const progress = sink.update('conv', 'card-1', { text: 'Verifying… 500 scanned' });
    await clock.advance(1000);
    // Teams refused the progress card and asked for 3 s; the verify finishes meanwhile.
    expect(teams.attempts).toEqual([{ activityId: 'card-1', text: 'Verifying… 500 scanned', t: 0, ok: false }]);
    const final = sink.update('conv', 'card-1', { text: 'Differences found' });
    await clock.advance(5000);
    await expect(progress).resolves.toBeUndefined();
    await expect(final).resolves.toBeUndefined();

    expect(teams.shown.get('card-1')).toBe('Differences found');
    // The stale card was never sent again, and the final one waited out Teams' Retry-After.
    expect(teams.attempts.map((a) => a.text)).toEqual(['Verifying… 500 scanned', 'Differences found']);
    expect(teams.attempts[1]!.t).toBeGreaterThanOrEqual(3000);
  });

  test('an update still in flight is not overtaken: the next one for that message starts after it', async () => {
    const clock = manualClock();
    const order: string[] = [];
    let releaseFirst: () => void = () => undefined;
    const inner: CardSink = {
      post: async () => 'id',
      update: (_conv, _id, card) => {
        const text = String((card as { text?: string }).text);
        order.push(`start ${text}`);
        return text === 'progress'
          ? new Promise<void>((resolve) => (releaseFirst = () => (order.push('end progress'), resolve())))
          : Promise.resolve(void order.push(`end ${text}`));
      },
    };
    const sink = new RateLimitedCardSink(inner, { logger: createLogger('test', 'silent'), clock });
    const first = sink.update('conv', 'card-1', { text: 'progress' });
    await clock.advance(0);
    const final = sink.update('conv', 'card-1', { text: 'final' });
    await clock.advance(0);
    expect(order).toEqual(['start progress']);
    releaseFirst();
    await Promise.all([first, final]);
    expect(order).toEqual(['start progress', 'end progress', 'start final', 'end final']);
  });

  test("of several updates queued behind Teams' limits, only the newest of each message is sent; other messages keep theirs", async () => {
    const clock = manualClock();
    const teams = recordingTeams(clock);
    const sink = new RateLimitedCardSink(teams.inner, {
      logger: createLogger('test', 'silent'),
      clock,
      conversationRules: [{ limit: 1, windowMs: 1000 }],
    });
    const first = sink.update('conv', 'card-1', { text: 'a1' });
    await clock.advance(0);
    // a1 went out and used the conversation's one slot per second; these wait.
    const calls = [
      first,
      sink.update('conv', 'card-1', { text: 'a2' }),
      sink.update('conv', 'card-2', { text: 'b1' }),
      sink.update('conv', 'card-1', { text: 'a3' }),
    ];
    await clock.advance(10_000);
    await Promise.all(calls);
    expect(teams.attempts.map((a) => a.text)).toEqual(['a1', 'b1', 'a3']);
    expect(teams.shown).toEqual(
      new Map([
        ['card-1', 'a3'],
        ['card-2', 'b1'],
      ]),
    );
    // a2 took no slot under the limit: three sends, one per second.
    expect(teams.attempts.map((a) => a.t)).toEqual([0, 1000, 2000]);
  });

  test('a card replaced while it waited for the app-wide limit gives its conversation slot back', async () => {
    const clock = manualClock();
    const teams = recordingTeams(clock);
    const sink = new RateLimitedCardSink(teams.inner, {
      logger: createLogger('test', 'silent'),
      clock,
      conversationRules: [{ limit: 1, windowMs: 1000 }],
      appRules: [{ limit: 1, windowMs: 500 }],
    });
    const a = sink.update('conv-a', 'card-a', { text: 'a1' });
    await clock.advance(0);
    // conv-b's slot is free, the app's is not (a1 took it): b1 holds conv-b's slot while it waits.
    const b1 = sink.update('conv-b', 'card-b', { text: 'b1' });
    await clock.advance(100);
    const b2 = sink.update('conv-b', 'card-b', { text: 'b2' });
    await clock.advance(5_000);
    await Promise.all([a, b1, b2]);
    expect(teams.attempts.map((x) => x.text)).toEqual(['a1', 'b2']);
    // As soon as the app slot opens, not a second later when b1's unused conversation slot would have run out.
    expect(teams.attempts.map((x) => x.t)).toEqual([0, 500]);
  });

  test('a failure that is not retried reaches the caller of that card only', async () => {
    const clock = manualClock();
    const teams = recordingTeams(clock, (card) =>
      card.text === 'bad' ? Object.assign(new Error('Forbidden'), { statusCode: 403 }) : undefined,
    );
    const sink = new RateLimitedCardSink(teams.inner, { logger: createLogger('test', 'silent'), clock });
    const bad = sink.update('conv', 'card-1', { text: 'bad' });
    const good = sink.update('conv', 'card-2', { text: 'good' });
    await clock.advance(0);
    await expect(bad).rejects.toThrow('Forbidden');
    await expect(good).resolves.toBeUndefined();
  });
});

/**
 * An update Teams never answers (seen with the Agents Playground): without a deadline the card's
 * queue waits on it for ever, and every later update of that card, the canary's included, with it.
 */
describe('a card update that never gets an answer', () => {
  /** Teams that hangs on the cards named in `hang` (their promises settle only when the test says). */
  function hangingTeams(clock: { t: number }, hang: readonly string[]) {
    const shown = new Map<string, string>();
    const attempts: { text: string; t: number }[] = [];
    const hung = new Map<string, { resolve: () => void; reject: (e: Error) => void; signal?: AbortSignal }>();
    const inner: CardSink = {
      post: async () => 'new-id',
      update: (_conv, activityId, card, options) => {
        const text = String((card as { text?: string }).text);
        attempts.push({ text, t: clock.t });
        if (hang.includes(text) && !hung.has(text))
          return new Promise<void>((resolve, reject) =>
            hung.set(text, {
              resolve: () => (shown.set(activityId, text), resolve()),
              reject,
              ...(options?.signal ? { signal: options.signal } : {}),
            }),
          );
        shown.set(activityId, text);
        return Promise.resolve();
      },
    };
    return { inner, shown, attempts, hung };
  }

  function sinkOver(inner: CardSink, clock: ReturnType<typeof manualClock>, logger = createLogger('test', 'silent')) {
    // Passed through a variable so that the file still compiles against a sink without these options.
    const options = { logger, clock, sendTimeoutMs: 30_000, timer: (ms: number) => clock.sleep(ms) };
    return new RateLimitedCardSink(inner, options);
  }

  test('a later update of the same card is sent once the hung one passes its deadline', async () => {
    const clock = manualClock();
    const teams = hangingTeams(clock, ['waiting for Cloud Sync']);
    const sink = sinkOver(teams.inner, clock);
    const hung = sink.update('conv', 'card-12', { text: 'waiting for Cloud Sync' });
    hung.catch(() => undefined);
    await clock.advance(1_600);
    const seen = sink.update('conv', 'card-12', { text: 'seen in Entra' });
    await clock.advance(45_000);
    expect(teams.attempts.map((a) => a.text)).toEqual(['waiting for Cloud Sync', 'seen in Entra']);
    // Sent as soon as the hung update's 30 s ran out, not later.
    expect(teams.attempts[1]!.t).toBe(30_000);
    await expect(seen).resolves.toBeUndefined();
    await expect(hung).rejects.toThrow(/did not answer the card update within 30000 ms/);
    expect(teams.shown.get('card-12')).toBe('seen in Entra');
  });

  test('of the updates queued behind the hung one, only the newest is sent, and the hung request is aborted', async () => {
    const clock = manualClock();
    const teams = hangingTeams(clock, ['waiting for Cloud Sync']);
    const sink = sinkOver(teams.inner, clock);
    const hung = sink.update('conv', 'card-12', { text: 'waiting for Cloud Sync' });
    hung.catch(() => undefined);
    await clock.advance(1_000);
    const queued = [
      sink.update('conv', 'card-12', { text: 'created 10 s ago' }),
      sink.update('conv', 'card-12', { text: 'seen in Entra' }),
    ];
    await clock.advance(29_000);
    expect(teams.hung.get('waiting for Cloud Sync')!.signal!.aborted).toBe(true);
    await Promise.all(queued);
    expect(teams.attempts.map((a) => a.text)).toEqual(['waiting for Cloud Sync', 'seen in Entra']);
    expect(teams.shown.get('card-12')).toBe('seen in Entra');
    await expect(hung).rejects.toBeInstanceOf(CardSendTimeout);
  });

  test('the timeout is logged with the conversation and the activity id', async () => {
    const clock = manualClock();
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    const teams = hangingTeams(clock, ['waiting for Cloud Sync']);
    const hung = sinkOver(teams.inner, clock, logger).update('conv', 'card-12', { text: 'waiting for Cloud Sync' });
    hung.catch(() => undefined);
    await clock.advance(30_000);
    expect(lines).toEqual([
      expect.objectContaining({ conversationId: 'conv', activityId: 'card-12', timeoutMs: 30_000, level: 40 }),
    ]);
  });

  test('a hung update answered late, after a newer card went out: the newer card is sent again and stays', async () => {
    const clock = manualClock();
    // This Teams ignores the abort: the old request still lands, after the newer card.
    const teams = hangingTeams(clock, ['waiting for Cloud Sync']);
    const sink = sinkOver(teams.inner, clock);
    sink.update('conv', 'card-12', { text: 'waiting for Cloud Sync' }).catch(() => undefined);
    await clock.advance(1_000);
    const seen = sink.update('conv', 'card-12', { text: 'seen in Entra' });
    await clock.advance(40_000);
    await seen;
    expect(teams.shown.get('card-12')).toBe('seen in Entra');
    teams.hung.get('waiting for Cloud Sync')!.resolve();
    expect(teams.shown.get('card-12')).toBe('waiting for Cloud Sync');
    await clock.advance(0);
    expect(teams.attempts.map((a) => a.text)).toEqual(['waiting for Cloud Sync', 'seen in Entra', 'seen in Entra']);
    expect(teams.shown.get('card-12')).toBe('seen in Entra');
  });

  test('a hung update answered late with nothing newer sent is left alone', async () => {
    const clock = manualClock();
    const teams = hangingTeams(clock, ['final']);
    const sink = sinkOver(teams.inner, clock);
    sink.update('conv', 'card-12', { text: 'final' }).catch(() => undefined);
    await clock.advance(30_000);
    teams.hung.get('final')!.resolve();
    await clock.advance(0);
    expect(teams.attempts.map((a) => a.text)).toEqual(['final']);
    expect(teams.shown.get('card-12')).toBe('final');
    // The card's queue is not kept once everything settled.
    expect((sink as unknown as { messages: Map<string, unknown> }).messages.size).toBe(0);
    await sink.update('conv', 'card-12', { text: 'after' });
    expect(teams.shown.get('card-12')).toBe('after');
  });

  test('a post that times out is not sent again, and reads as "Teams may have it"; a late answer is logged with its id', async () => {
    const clock = manualClock();
    const lines: Record<string, unknown>[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => void lines.push(JSON.parse(line)) });
    let posts = 0;
    let answer: (id: string) => void = () => undefined;
    const inner: CardSink = {
      post: () => {
        posts++;
        return new Promise<string>((resolve) => (answer = resolve));
      },
      update: async () => undefined,
    };
    const post = sinkOver(inner, clock, logger).post('conv', { text: 'step 13 ready' });
    post.catch(() => undefined);
    await clock.advance(60_000);
    const err = await post.then(
      () => null,
      (e: unknown) => e,
    );
    expect(err).toBeInstanceOf(CardSendTimeout);
    expect(classifyPostFailure(err).outcome).toBe('unknown');
    expect(posts).toBe(1);
    answer('late-id');
    await clock.advance(0);
    expect(lines.map((l) => [l.conversationId, l.activityId ?? null])).toEqual([
      ['conv', null],
      ['conv', 'late-id'],
    ]);
  });
});
