import { MAX_CLOCK_SKEW_SECONDS, tokenTimeProblem } from '../../src/bot/require-bot-token';

const NOW = 1_750_000_000;
const encode = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url');
/** Only the claims matter here; the signature is botbuilder's to check. */
const bearer = (claims: unknown): string => `Bearer ${encode({ alg: 'RS256', kid: 'k' })}.${encode(claims)}.c2ln`;

describe('tokenTimeProblem: what a Bot Framework token must say about time', () => {
  it('takes a token valid now, and one off by up to 5 minutes of clock skew', () => {
    expect(MAX_CLOCK_SKEW_SECONDS).toBe(300);
    expect(tokenTimeProblem(bearer({ exp: NOW + 3600, nbf: NOW - 60, iat: NOW - 60 }), NOW)).toBeNull();
    expect(tokenTimeProblem(bearer({ exp: NOW - 300, nbf: NOW + 300, iat: NOW + 300 }), NOW)).toBeNull();
    // nbf and iat are optional; exp is not.
    expect(tokenTimeProblem(bearer({ exp: NOW + 60 }), NOW)).toBeNull();
  });

  it.each([
    ['no header', undefined, 'no Authorization header'],
    ['Basic', 'Basic dXNlcjpwYXNz', 'not a bearer JWT'],
    ['not a JWT', 'Bearer not-a-jwt', 'not a bearer JWT'],
    ['claims not JSON', `Bearer ${encode({ alg: 'RS256' })}.bm90IGpzb24.c2ln`, 'its claims are not JSON'],
    ['claims an array', bearer([NOW]), 'its claims are not an object'],
    ['no exp, nbf or iat', bearer({ aud: 'x' }), 'it has no exp (expiry) claim'],
    ['exp as a string', bearer({ exp: String(NOW + 60) }), 'it has no exp (expiry) claim'],
    ['expired beyond the skew', bearer({ exp: NOW - 301 }), 'it expired 301 s ago'],
    ['nbf beyond the skew', bearer({ exp: NOW + 3600, nbf: NOW + 301 }), 'its nbf claim is 301 s in the future'],
    ['iat beyond the skew', bearer({ exp: NOW + 3600, iat: NOW + 301 }), 'its iat claim is 301 s in the future'],
    ['nbf not a number', bearer({ exp: NOW + 3600, nbf: 'soon' }), 'its nbf claim is not a number'],
  ])('refuses %s', (_name, header, problem) => {
    expect(tokenTimeProblem(header, NOW)).toBe(problem);
  });
});
