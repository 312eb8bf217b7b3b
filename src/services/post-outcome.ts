import { AppError } from '../shared/errors';

/**
 * What a failed post to Teams says about the message. `not_taken`: Teams refused it, or it never
 * left this process, so posting again cannot duplicate it. `unknown`: Teams may have it (a 502 or
 * 504 from its gateway, a timeout, a connection lost after the request went out), so posting again
 * could show it twice.
 */
export type PostFailure = { outcome: 'not_taken' | 'unknown'; reason: string };

/** Node error codes raised before a request reaches the server: nothing was sent. */
const NOT_CONNECTED =
  /^(ECONNREFUSED|ENOTFOUND|EAI_AGAIN|ENETUNREACH|EHOSTUNREACH|ERR_TLS_CERT_ALTNAME_INVALID|CERT_\w+|UNABLE_TO_VERIFY_LEAF_SIGNATURE|DEPTH_ZERO_SELF_SIGNED_CERT|SELF_SIGNED_CERT_IN_CHAIN)$/;

export function classifyPostFailure(err: unknown): PostFailure {
  // SyncShift's own errors come before any request (no conversation reference stored, say).
  if (err instanceof AppError) return { outcome: 'not_taken', reason: err.message };
  const { statusCode, code, message } = (typeof err === 'object' && err !== null ? err : {}) as {
    statusCode?: unknown;
    code?: unknown;
    message?: unknown;
  };
  const text = typeof message === 'string' ? message.slice(0, 300) : String(err);
  if (typeof statusCode === 'number') {
    // The card sink has already retried 429 and 503; both say the message was not accepted.
    if (statusCode === 429 || statusCode === 503)
      return { outcome: 'not_taken', reason: `Teams answered ${statusCode} (busy) after retries` };
    if (statusCode >= 400 && statusCode < 500 && statusCode !== 408)
      return { outcome: 'not_taken', reason: `Teams refused the card with ${statusCode}: ${text}` };
    return { outcome: 'unknown', reason: `Teams answered ${statusCode}, which does not say whether the card arrived` };
  }
  if (typeof code === 'string' && NOT_CONNECTED.test(code))
    return { outcome: 'not_taken', reason: `Teams could not be reached (${code})` };
  return {
    outcome: 'unknown',
    reason: `the post ended without an answer from Teams (${typeof code === 'string' ? code : text})`,
  };
}
