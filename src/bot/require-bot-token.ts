import type { Request, RequestHandler, Response } from 'restify';
import type { Logger } from '../shared/logger';

/** botbuilder allows five minutes of clock skew on `exp` and `nbf`; the bot allows no more, on any time claim. */
export const MAX_CLOCK_SKEW_SECONDS = 5 * 60;

/**
 * Why a Bot Framework token cannot be valid at `nowSeconds`, judged from its time claims alone, or
 * null. botbuilder (through jsonwebtoken) takes a correctly signed token without `exp` as one that
 * never expires, and never looks at `iat`; this refuses both. The signature, issuer, audience and
 * serviceUrl stay botbuilder's to check, once the body is read: this runs before it is.
 */
export function tokenTimeProblem(
  authorization: string | undefined,
  nowSeconds: number,
  skewSeconds = MAX_CLOCK_SKEW_SECONDS,
): string | null {
  if (!authorization) return 'no Authorization header';
  const jwt = /^Bearer ([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]+)\.([A-Za-z0-9_-]*)$/.exec(authorization);
  if (!jwt) return 'not a bearer JWT';
  let claims: unknown;
  try {
    claims = JSON.parse(Buffer.from(jwt[2]!, 'base64url').toString('utf8'));
  } catch {
    return 'its claims are not JSON';
  }
  if (typeof claims !== 'object' || claims === null || Array.isArray(claims)) return 'its claims are not an object';
  const { exp, nbf, iat } = claims as Record<string, unknown>;
  if (typeof exp !== 'number' || !Number.isFinite(exp)) return 'it has no exp (expiry) claim';
  if (nowSeconds > exp + skewSeconds) return `it expired ${Math.round(nowSeconds - exp)} s ago`;
  for (const [name, value] of [
    ['nbf', nbf],
    ['iat', iat],
  ] as const) {
    if (value === undefined) continue;
    if (typeof value !== 'number' || !Number.isFinite(value)) return `its ${name} claim is not a number`;
    if (value > nowSeconds + skewSeconds)
      return `its ${name} claim is ${Math.round(value - nowSeconds)} s in the future`;
  }
  return null;
}

/**
 * /api/messages in production mode, before the body is read: a request without a token that could
 * be valid now gets 401 and its connection is closed, so nobody without a token can make the bot
 * buffer (or wait for) a body. The same 401 as botbuilder's refusals; the reason goes to the log.
 */
export function requireBotToken(logger: Logger, nowMs: () => number = Date.now): RequestHandler {
  return (req: Request, res: Response, next) => {
    const problem = tokenTimeProblem(req.header('authorization'), Math.floor(nowMs() / 1000));
    if (problem === null) return next();
    logger.warn({ reason: problem }, 'refused an activity before reading it: its Bot Framework token cannot be valid');
    if (!req.complete) {
      res.header('connection', 'close');
      res.once('finish', () => req.destroy());
    }
    res.send(401, {
      code: 'BOT.UNAUTHORIZED',
      message: 'The Bot Framework token is missing or not valid for this bot.',
    });
    return next(false);
  };
}
