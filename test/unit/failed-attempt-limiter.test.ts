import { FailedAttemptLimiter } from '../../src/relay/failed-attempt-limiter';

describe('failed-attempt limiter (virtual time)', () => {
  it('blocks a client after max failures until its window is over, and counts clients apart', () => {
    const limiter = new FailedAttemptLimiter({ maxFailures: 3, windowMs: 60_000 });
    expect(limiter.recordFailure('a', 1_000)).toEqual({ first: true, limitReached: false });
    expect(limiter.recordFailure('a', 2_000)).toEqual({ first: false, limitReached: false });
    expect(limiter.retryAfterMs('a', 2_000)).toBe(0);
    expect(limiter.recordFailure('a', 3_000)).toEqual({ first: false, limitReached: true });
    expect(limiter.retryAfterMs('a', 3_000)).toBe(58_000);
    expect(limiter.retryAfterMs('b', 3_000)).toBe(0);
    // The window started at the first failure; after it a fresh allowance starts.
    expect(limiter.retryAfterMs('a', 61_000)).toBe(0);
    expect(limiter.recordFailure('a', 61_000)).toEqual({ first: true, limitReached: false });
  });

  it('forgets the oldest clients beyond maxClients, so memory stays bounded', () => {
    const limiter = new FailedAttemptLimiter({ maxFailures: 1, windowMs: 60_000, maxClients: 2 });
    for (const client of ['a', 'b', 'c']) limiter.recordFailure(client, 0);
    expect(limiter.retryAfterMs('a', 1)).toBe(0);
    expect(limiter.retryAfterMs('b', 1)).toBeGreaterThan(0);
    expect(limiter.retryAfterMs('c', 1)).toBeGreaterThan(0);
  });
});
