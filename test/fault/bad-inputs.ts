/**
 * Forged and malformed requests to the bot's two doors: /api/messages (Bot Framework) and the relay
 * (/relay/v1/...). Each one must get exactly `status`, change nothing, and leave the bot healthy.
 * Kept as data so a new case is one line; bad-inputs.test.ts runs them.
 */

/** Who signs the request. `agent`: a valid static agent credential. `token:*`: a Bot Framework JWT variant. */
export type Credential =
  | 'none'
  | 'agent'
  | 'agent-two'
  | 'wrong-secret'
  | 'unknown-agent'
  | 'traversal-agent'
  | 'basic-scheme'
  | 'latin1-agent'
  | 'huge-bearer'
  | 'token:valid'
  | 'token:garbage'
  | 'token:forged-signature'
  | 'token:expired'
  | 'token:no-exp'
  | 'token:expired-beyond-skew'
  | 'token:nbf-beyond-skew'
  | 'token:iat-beyond-skew'
  | 'token:wrong-audience'
  | 'token:wrong-issuer'
  | 'token:alg-none'
  | 'token:other-service-url';

export interface BadInput {
  name: string;
  /** `local`: the bot without Bot Framework credentials; `production`: app id/password set, tokens validated. */
  bot: 'local' | 'production';
  method?: 'POST' | 'GET' | 'PUT' | 'DELETE';
  /** `{leased}` is replaced by a job leased by `agent` (static agent-test) before the run. */
  path: string;
  credential: Credential;
  contentType?: string;
  /** A string is sent as is; an object is JSON-encoded; `activity` builds a valid message activity. */
  body: string | Record<string, unknown> | unknown[] | 'activity';
  /** Compress the body and say so in Content-Encoding (the raw header value, e.g. `GZIP` or `gzip, identity`). */
  encoding?: { header: string; with: 'gzip' | 'deflate' | 'br' };
  /** Pad the body with spaces (valid JSON whitespace) to this many bytes before compressing: a small upload that inflates. */
  inflatedBytes?: number;
  /** Announce the whole body's length but send only its first bytes, then nothing: a client that holds the request open. */
  stallAfterBytes?: number;
  status: number;
}

const ok = { agentVersion: 't', waitMs: 0 };
const failed = { outcome: 'failed', error: { code: 'X', message: 'y' } };
const UNKNOWN_JOB = '00000000-0000-4000-8000-00000000dead';
// A scan streamed as lines (application/x-ndjson): head, user lines, end line.
const NDJSON = 'application/x-ndjson';
const streamHead = JSON.stringify({ outcome: 'succeeded', result: { action: 'directory.scanOu', baseDn: 'OU=x,DC=x', defaultNamingContext: 'DC=x' } });
const streamUser = JSON.stringify([{ dn: 'CN=a,OU=x,DC=x', anchor: 'AAAAAAAAAAAAAAAAAAAAAA==', disabled: false }]);
const streamEnd = JSON.stringify({ end: true, users: 1, totals: { users: 1, disabled: 0 } });
const lines = (...l: string[]): string => l.map((x) => `${x}\n`).join('');

export const BAD_INPUTS: readonly BadInput[] = [
  // Relay: who is asking.
  { name: 'lease without any credential', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'none', body: ok, status: 401 },
  { name: 'lease with a wrong secret', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'wrong-secret', body: ok, status: 401 },
  { name: 'lease as an agent nobody configured', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'unknown-agent', body: ok, status: 401 },
  { name: 'lease with a path-traversal agent id', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'traversal-agent', body: ok, status: 401 },
  { name: 'lease with Basic instead of Bearer', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'basic-scheme', body: ok, status: 401 },
  { name: 'lease with a non-ASCII agent id', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'latin1-agent', body: ok, status: 401 },
  // Node refuses headers over 16 KB before the bot sees them.
  { name: 'lease with a 16 KB bearer token', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'huge-bearer', body: ok, status: 431 },
  { name: 'result without any credential', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'none', body: failed, status: 401 },
  // 401, not 400: the credential is checked before the body is read, so a stranger cannot make the bot buffer a large body.
  { name: 'result from a stranger with a body that is not JSON', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'none', body: '{"outcome": ', status: 401 },
  // Relay: what is sent.
  { name: 'lease with a body that is not JSON', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: '{"agentVersion": "t", ', status: 400 },
  { name: 'lease with text/plain', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', contentType: 'text/plain', body: 'agentVersion=t', status: 400 },
  { name: 'lease with waitMs as a string', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { agentVersion: 't', waitMs: 'soon' }, status: 400 },
  { name: 'lease asking to hold the request for 11 days', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { agentVersion: 't', waitMs: 1e9 }, status: 400 },
  { name: 'lease with a 10,000-character version', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { agentVersion: 'v'.repeat(10_000), waitMs: 0 }, status: 400 },
  { name: 'lease with a 100 KB body', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { agentVersion: 't', waitMs: 0, pad: 'p'.repeat(100 * 1024) }, status: 413 },
  // An agent that does not say what it runs is offered nothing (before, every job, Connect Sync changes included).
  { name: 'lease that declares no actions (an older agent)', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: ok, status: 400 },
  { name: 'lease that declares an empty list of actions', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { ...ok, actions: [] }, status: 400 },
  { name: 'lease that declares only actions this bot does not know', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { ...ok, actions: ['adsync.formatDisk'] }, status: 400 },
  { name: 'lease by a read-only agent that declares only changes', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { ...ok, actions: ['adsync.stopScheduler'], readOnly: true }, status: 400 },
  { name: 'lease with GET', bot: 'local', method: 'GET', path: '/relay/v1/jobs/lease', credential: 'agent', body: '', status: 405 },
  { name: 'result for a job that does not exist', bot: 'local', path: `/relay/v1/jobs/${UNKNOWN_JOB}/result`, credential: 'agent', body: failed, status: 409 },
  { name: 'result for a job id that is not a uuid', bot: 'local', path: '/relay/v1/jobs/not-a-uuid/result', credential: 'agent', body: failed, status: 409 },
  { name: 'result with a path-traversal job id', bot: 'local', path: '/relay/v1/jobs/..%2F..%2Fetc%2Fpasswd/result', credential: 'agent', body: failed, status: 409 },
  { name: 'result with an SQL-ish job id', bot: 'local', path: `/relay/v1/jobs/${encodeURIComponent("1' OR '1'='1")}/result`, credential: 'agent', body: failed, status: 409 },
  { name: 'result with a unicode job id', bot: 'local', path: `/relay/v1/jobs/${encodeURIComponent('ジョブ💥')}/result`, credential: 'agent', body: failed, status: 409 },
  { name: 'result for a job leased by another agent', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent-two', body: failed, status: 409 },
  { name: 'result with an unknown outcome', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: { outcome: 'maybe' }, status: 400 },
  { name: 'a success without its result', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: { outcome: 'succeeded' }, status: 400 },
  { name: 'a scan result with a negative count', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: { outcome: 'succeeded', result: { action: 'directory.scanOu', baseDn: 'OU=x', defaultNamingContext: 'DC=x', totals: { users: -1, disabled: 0 }, users: [] } }, status: 400 },
  { name: 'a Connect Sync result ("step 8 done") for a scan job', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: { outcome: 'succeeded', result: { action: 'adsync.stopScheduler', data: { syncCycleEnabled: false } } }, status: 400 },
  { name: 'result as a JSON array', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: [failed], status: 400 },
  { name: 'result as JSON null', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: 'null', status: 400 },
  { name: 'a failure with a 5,000-character message', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: { outcome: 'failed', error: { code: 'X', message: 'm'.repeat(5000) } }, status: 400 },
  // Relay: scans streamed as lines. A refused stream leaves no stored piece behind and the job leased.
  { name: 'a streamed scan from a stranger', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'none', contentType: NDJSON, body: lines(streamHead, streamUser, streamEnd), status: 401 },
  { name: 'a streamed scan for a job leased by another agent', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent-two', contentType: NDJSON, body: lines(streamHead, streamUser, streamEnd), status: 409 },
  { name: 'a streamed scan with an empty body', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: '', status: 400 },
  { name: 'a streamed scan cut off before its end line', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, streamUser), status: 400 },
  { name: 'a streamed scan whose end line counts more users than came', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, streamUser, JSON.stringify({ end: true, users: 2, totals: { users: 2, disabled: 0 } })), status: 400 },
  { name: 'a streamed scan whose totals disagree with the users that came', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, streamUser, JSON.stringify({ end: true, users: 1, totals: { users: 5, disabled: 0 } })), status: 400 },
  { name: 'a streamed scan with a line after its end line', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, streamUser, streamEnd, streamUser), status: 400 },
  { name: 'a streamed scan that starts with users, not its head', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamUser, streamEnd), status: 400 },
  { name: 'a streamed scan with a user whose DN is a number', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, JSON.stringify([{ dn: 42, anchor: 'x', disabled: false }]), streamEnd), status: 400 },
  { name: 'a streamed scan with a line that is not JSON', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, '[{"dn": "CN=a"', streamEnd), status: 400 },
  { name: 'a streamed scan with 5,001 users on one line', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, JSON.stringify(Array.from({ length: 5001 }, (_, i) => ({ dn: `CN=u${i},OU=x,DC=x`, anchor: '', disabled: false }))), streamEnd), status: 400 },
  { name: 'a streamed scan with one 9 MB line', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', contentType: NDJSON, body: lines(streamHead, `["${'x'.repeat(9 * 1024 * 1024)}"]`, streamEnd), status: 413 },
  { name: 'progress with a negative count', bot: 'local', path: '/relay/v1/jobs/{leased}/progress', credential: 'agent', body: { scanned: -1 }, status: 400 },
  { name: 'progress with a count that is a word', bot: 'local', path: '/relay/v1/jobs/{leased}/progress', credential: 'agent', body: { scanned: 'many' }, status: 400 },
  { name: 'progress for a job leased by another agent', bot: 'local', path: '/relay/v1/jobs/{leased}/progress', credential: 'agent-two', body: { scanned: 5 }, status: 409 },
  { name: 'progress for a job that does not exist', bot: 'local', path: `/relay/v1/jobs/${UNKNOWN_JOB}/progress`, credential: 'agent', body: { scanned: 5 }, status: 409 },
  // Relay: enrollment, where the code is the only credential.
  { name: 'enroll with an empty code', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: '' }, status: 400 },
  { name: 'enroll with a code that was never issued', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: 'AAAA-BBBB-CCCC-DDDD-EEEE' }, status: 401 },
  { name: 'enroll with an SQL-ish code', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: "' OR 1=1 --" }, status: 401 },
  { name: 'enroll with a unicode code', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: '💥💥💥💥-ßßßß' }, status: 401 },
  { name: 'enroll with a 65-character code', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: 'A'.repeat(65) }, status: 400 },
  { name: 'enroll with the code as a number', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: 12345678 }, status: 400 },
  { name: 'enroll with a body that is not JSON', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: 'code=AAAA', status: 400 },
  // /api/messages without credentials (local mode): malformed activities.
  { name: 'an activity that is not JSON', bot: 'local', path: '/api/messages', credential: 'none', body: '{"type": "message", ', status: 400 },
  { name: 'an empty body', bot: 'local', path: '/api/messages', credential: 'none', body: '', status: 400 },
  { name: 'an activity without a type', bot: 'local', path: '/api/messages', credential: 'none', body: { text: '/help' }, status: 400 },
  { name: 'an activity sent as text/plain', bot: 'local', path: '/api/messages', credential: 'none', contentType: 'text/plain', body: 'type=message&text=/help', status: 400 },
  { name: 'a 2 MB activity', bot: 'local', path: '/api/messages', credential: 'none', body: { type: 'message', text: 'x'.repeat(2 * 1024 * 1024) }, status: 413 },
  // /api/messages with credentials configured (production mode): every token is checked.
  { name: 'no Authorization header', bot: 'production', path: '/api/messages', credential: 'none', body: 'activity', status: 401 },
  { name: 'a bearer that is not a JWT', bot: 'production', path: '/api/messages', credential: 'token:garbage', body: 'activity', status: 401 },
  { name: 'a token signed with a forger\'s key under the right key id', bot: 'production', path: '/api/messages', credential: 'token:forged-signature', body: 'activity', status: 401 },
  { name: 'an expired token', bot: 'production', path: '/api/messages', credential: 'token:expired', body: 'activity', status: 401 },
  { name: 'a token for another bot (wrong audience)', bot: 'production', path: '/api/messages', credential: 'token:wrong-audience', body: 'activity', status: 401 },
  { name: 'a token from another issuer', bot: 'production', path: '/api/messages', credential: 'token:wrong-issuer', body: 'activity', status: 401 },
  { name: 'an unsigned token (alg none)', bot: 'production', path: '/api/messages', credential: 'token:alg-none', body: 'activity', status: 401 },
  { name: 'a valid token issued for another serviceUrl', bot: 'production', path: '/api/messages', credential: 'token:other-service-url', body: 'activity', status: 401 },
  // Correctly signed, but wrong in time: botbuilder took a token without exp as one that never expires.
  { name: 'a correctly signed token without exp, nbf or iat', bot: 'production', path: '/api/messages', credential: 'token:no-exp', body: 'activity', status: 401 },
  { name: 'a token expired 6 minutes ago (beyond the 5-minute clock skew)', bot: 'production', path: '/api/messages', credential: 'token:expired-beyond-skew', body: 'activity', status: 401 },
  { name: 'a token not valid before 6 minutes from now', bot: 'production', path: '/api/messages', credential: 'token:nbf-beyond-skew', body: 'activity', status: 401 },
  { name: 'a token issued 6 minutes in the future', bot: 'production', path: '/api/messages', credential: 'token:iat-beyond-skew', body: 'activity', status: 401 },
  // Slow bodies: refused before they are read when there is no credential, cut with 408 when they stop arriving.
  { name: 'an activity without a token that stops after its first byte', bot: 'production', path: '/api/messages', credential: 'none', body: 'activity', stallAfterBytes: 1, status: 401 },
  { name: 'an activity whose token has no exp, stopping after its first byte', bot: 'production', path: '/api/messages', credential: 'token:no-exp', body: 'activity', stallAfterBytes: 1, status: 401 },
  { name: 'an activity with a valid token that stops sending', bot: 'production', path: '/api/messages', credential: 'token:valid', body: 'activity', stallAfterBytes: 20, status: 408 },
  { name: 'an activity in local mode that stops sending', bot: 'local', path: '/api/messages', credential: 'none', body: 'activity', stallAfterBytes: 20, status: 408 },
  { name: 'a lease from a stranger that stops sending', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'none', body: { ...ok, actions: ['directory.scanOu'] }, stallAfterBytes: 5, status: 401 },
  { name: 'a lease from a valid agent that stops sending', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: { ...ok, actions: ['directory.scanOu'] }, stallAfterBytes: 5, status: 408 },
  { name: 'a result from the agent holding the job that stops sending', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: failed, stallAfterBytes: 5, status: 408 },
  { name: 'an enrollment that stops sending', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: 'AAAA-BBBB-CCCC-DDDD-EEEE' }, stallAfterBytes: 5, status: 408 },
  // Compressed bodies: restify inflates gzip but counts only the compressed bytes against the limit,
  // so every route refuses any Content-Encoding but identity before authentication or parsing.
  { name: 'a gzip activity without a token', bot: 'production', path: '/api/messages', credential: 'none', body: 'activity', encoding: { header: 'gzip', with: 'gzip' }, status: 415 },
  { name: 'a gzip activity in local mode', bot: 'local', path: '/api/messages', credential: 'none', body: 'activity', encoding: { header: 'gzip', with: 'gzip' }, status: 415 },
  { name: 'a deflate activity without a token', bot: 'production', path: '/api/messages', credential: 'none', body: 'activity', encoding: { header: 'deflate', with: 'deflate' }, status: 415 },
  { name: 'a brotli activity without a token', bot: 'production', path: '/api/messages', credential: 'none', body: 'activity', encoding: { header: 'br', with: 'br' }, status: 415 },
  { name: 'a gzip activity labelled GZIP', bot: 'local', path: '/api/messages', credential: 'none', body: 'activity', encoding: { header: 'GZIP', with: 'gzip' }, status: 415 },
  { name: 'a gzip activity labelled "gzip, identity"', bot: 'local', path: '/api/messages', credential: 'none', body: 'activity', encoding: { header: 'gzip, identity', with: 'gzip' }, status: 415 },
  { name: 'an enrollment gzip bomb (64 KB inflating to 64 MB)', bot: 'local', path: '/relay/v1/agents/enroll', credential: 'none', body: { code: 'AAAA-BBBB-CCCC-DDDD-EEEE' }, encoding: { header: 'gzip', with: 'gzip' }, inflatedBytes: 64 * 1024 * 1024, status: 415 },
  { name: 'a gzip lease from a valid agent', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: ok, encoding: { header: 'gzip', with: 'gzip' }, status: 415 },
  { name: 'a deflate lease from a valid agent', bot: 'local', path: '/relay/v1/jobs/lease', credential: 'agent', body: ok, encoding: { header: 'deflate', with: 'deflate' }, status: 415 },
  { name: 'a gzip result from a stranger', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'none', body: failed, encoding: { header: 'gzip', with: 'gzip' }, status: 415 },
  { name: 'a brotli result from the agent holding the job', bot: 'local', path: '/relay/v1/jobs/{leased}/result', credential: 'agent', body: failed, encoding: { header: 'br', with: 'br' }, status: 415 },
];
