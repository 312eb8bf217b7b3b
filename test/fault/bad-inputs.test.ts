import { randomUUID } from 'node:crypto';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { messageActivity, ADELE } from '../helpers/activities';
import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { OpenIdStub } from '../helpers/openid-stub';
import { BAD_INPUTS, type BadInput, type Credential } from './bad-inputs';

const APP_ID = '5b7e0b4c-0000-4000-8000-00000000b07a';
const AGENT_TWO = 'agent-two';
const AGENT_TWO_SECRET = 'second-agent-secret-0123456789-xyz';

/** Everything a forged or malformed request could have changed. */
async function snapshot(h: BotHarness): Promise<string> {
  const q = (sql: string): Promise<unknown[]> => h.store.db.query(sql);
  return JSON.stringify({
    jobs: await q('SELECT id, state, agent_id, attempts, lease_expires_at, progress, result, error FROM jobs ORDER BY id'),
    migrations: await q('SELECT id, name FROM migrations ORDER BY id'),
    conversations: await q('SELECT conversation_id, reference FROM conversation_refs ORDER BY conversation_id'),
    verifications: await q('SELECT id, status FROM verifications ORDER BY id'),
    agents: await q('SELECT name, status, secret_sha256, actions_run FROM agents ORDER BY name'),
    codes: await q('SELECT code_sha256, used_at FROM agent_enrollment_codes ORDER BY code_sha256'),
    seen: await q('SELECT activity_key FROM seen_activities ORDER BY activity_key'),
    resultPieces: await q('SELECT job_id, seq, users FROM job_result_pieces ORDER BY job_id, seq'),
  });
}

function compress(how: 'gzip' | 'deflate' | 'br', text: string): Uint8Array<ArrayBuffer> {
  const raw = Buffer.from(text, 'utf8');
  return new Uint8Array(how === 'gzip' ? gzipSync(raw) : how === 'deflate' ? deflateSync(raw) : brotliCompressSync(raw));
}

describe('forged and malformed requests change nothing', () => {
  let local: BotHarness;
  let production: BotHarness;
  let openId: OpenIdStub;
  let leasedJobId = '';

  beforeAll(async () => {
    openId = await new OpenIdStub().start();
    local = await startBotHarness({ env: { SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET},${AGENT_TWO}:${AGENT_TWO_SECRET}` } });
    production = await startBotHarness({
      env: {
        HOST: '127.0.0.1',
        MICROSOFT_APP_ID: APP_ID,
        MICROSOFT_APP_PASSWORD: 'not-used-offline',
        MICROSOFT_APP_TYPE: 'MultiTenant',
        MICROSOFT_BOT_OPENID_METADATA_URL: openId.channelMetadataUrl,
        MICROSOFT_BOT_EMULATOR_OPENID_METADATA_URL: openId.emulatorMetadataUrl,
      },
    });
    // A job held by agent-test, for the "another agent" and "bad result" cases.
    const job = await local.store.jobs.enqueue({ kind: 'directory.scanOu', payload: { action: 'directory.scanOu', ou: 'OU=Sales' }, conversationId: local.conversationId, migrationId: null, requestedBy: 'test' });
    await local.store.jobs.lease({ agentId: AGENT_ID, leaseMs: 3_600_000, now: new Date() });
    leasedJobId = job.id;
    // Each agent's first authenticated call records it (last seen, version); do that now, so the
    // cases below can demand that nothing at all changes.
    for (const [id, secret] of [[AGENT_ID, AGENT_SECRET], [AGENT_TWO, AGENT_TWO_SECRET]] as const) {
      const res = await fetch(`${local.bot.url}/relay/v1/jobs/lease`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-syncshift-agent': id, authorization: `Bearer ${secret}` }, body: JSON.stringify({ agentVersion: 't', waitMs: 0, actions: ['directory.scanOu'] }) });
      expect(await res.json()).toEqual({ job: null });
    }
  });

  afterAll(async () => {
    await local?.close();
    await production?.close();
    await openId?.stop();
  });

  function token(kind: Credential, serviceUrl: string): string {
    const now = Math.floor(Date.now() / 1000);
    const claims = { iss: 'https://api.botframework.com', aud: APP_ID, iat: now - 60, nbf: now - 60, exp: now + 3600, serviceurl: serviceUrl };
    switch (kind) {
      case 'token:valid':
        return openId.sign(claims);
      case 'token:garbage':
        return 'not-a-jwt';
      case 'token:forged-signature':
        return openId.sign(claims, { key: openId.forgerKey });
      case 'token:expired':
        return openId.sign({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
      case 'token:wrong-audience':
        return openId.sign({ ...claims, aud: '00000000-0000-4000-8000-000000000bad' });
      case 'token:wrong-issuer':
        return openId.sign({ ...claims, iss: 'https://evil.example.com' });
      case 'token:alg-none': {
        const encode = (v: unknown): string => Buffer.from(JSON.stringify(v)).toString('base64url');
        return `${encode({ alg: 'none', typ: 'JWT', kid: openId.kid })}.${encode(claims)}.`;
      }
      case 'token:other-service-url':
        return openId.sign({ ...claims, serviceurl: 'https://smba.example.com/' });
      default:
        throw new Error(`${kind} is not a token`);
    }
  }

  function headersFor(credential: Credential, serviceUrl: string): Record<string, string> {
    switch (credential) {
      case 'none':
        return {};
      case 'agent':
        return { 'x-syncshift-agent': AGENT_ID, authorization: `Bearer ${AGENT_SECRET}` };
      case 'agent-two':
        return { 'x-syncshift-agent': AGENT_TWO, authorization: `Bearer ${AGENT_TWO_SECRET}` };
      case 'wrong-secret':
        return { 'x-syncshift-agent': AGENT_ID, authorization: `Bearer ${AGENT_TWO_SECRET}` };
      case 'unknown-agent':
        return { 'x-syncshift-agent': 'agent-nobody', authorization: `Bearer ${AGENT_SECRET}` };
      case 'traversal-agent':
        return { 'x-syncshift-agent': '../agent-test', authorization: `Bearer ${AGENT_SECRET}` };
      case 'basic-scheme':
        return { 'x-syncshift-agent': AGENT_ID, authorization: `Basic ${Buffer.from(`${AGENT_ID}:${AGENT_SECRET}`).toString('base64')}` };
      case 'latin1-agent':
        return { 'x-syncshift-agent': 'agént-test', authorization: `Bearer ${AGENT_SECRET}` };
      case 'huge-bearer':
        return { 'x-syncshift-agent': AGENT_ID, authorization: `Bearer ${'s'.repeat(16 * 1024)}` };
      default:
        return { authorization: `Bearer ${token(credential, serviceUrl)}` };
    }
  }

  async function send(input: BadInput): Promise<Response> {
    const h = input.bot === 'local' ? local : production;
    const activity = messageActivity({ text: '/migration start "forged"', from: ADELE, conversationId: `19:forged-${randomUUID()}@thread.tacv2`, serviceUrl: h.connector.url });
    const text = input.body === 'activity' ? JSON.stringify(activity) : typeof input.body === 'string' ? input.body : JSON.stringify(input.body);
    const method = input.method ?? 'POST';
    const body = input.encoding ? compress(input.encoding.with, text.padEnd(input.inflatedBytes ?? 0, ' ')) : text;
    return fetch(h.bot.url + input.path.replace('{leased}', leasedJobId), {
      method,
      headers: { 'content-type': input.contentType ?? 'application/json', ...(input.encoding ? { 'content-encoding': input.encoding.header } : {}), ...headersFor(input.credential, h.connector.url) },
      ...(method === 'GET' ? {} : { body }),
    });
  }

  it('the list holds at least 30 cases with distinct names', () => {
    expect(BAD_INPUTS.length).toBeGreaterThanOrEqual(30);
    expect(new Set(BAD_INPUTS.map((i) => i.name)).size).toBe(BAD_INPUTS.length);
  });

  it.each(BAD_INPUTS.map((input) => [input.name, input] as const))('%s', async (_name, input) => {
    const h = input.bot === 'local' ? local : production;
    const before = await snapshot(h);
    const connectorCalls = h.connector.calls.length;
    const res = await send(input);
    const text = await res.text();
    expect(`${res.status} ${text.slice(0, 300)}`).toMatch(new RegExp(`^${input.status} `));
    // No stack trace or internal detail in any answer.
    expect(text).not.toMatch(/\bat .+\.(ts|js):\d+/);
    expect(await snapshot(h)).toBe(before);
    expect(h.connector.calls.length).toBe(connectorCalls);
    const health = await fetch(`${h.bot.url}/healthz`);
    expect(health.status).toBe(200);
  });

  it('a 1 MB gzip bomb without a token (about 1 GB inflated) is refused before it is read, and the bot stays up', async () => {
    // Sixteen gzip members of 64 MB of zeros each: gunzip reads concatenated members as one stream.
    const member = gzipSync(Buffer.alloc(64 * 1024 * 1024));
    const bomb = new Uint8Array(Buffer.concat(Array.from({ length: 16 }, () => member)));
    expect(bomb.length).toBeLessThan(1.1 * 1024 * 1024);
    for (const path of ['/api/messages', '/relay/v1/agents/enroll', '/relay/v1/jobs/lease']) {
      const res = await fetch(`${production.bot.url}${path}`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: bomb });
      expect(`${path} ${res.status}`).toBe(`${path} 415`);
      expect(res.headers.get('accept-encoding')).toBe('identity');
      expect(await res.json()).toMatchObject({ code: 'HTTP.UNSUPPORTED_ENCODING' });
    }
    expect((await fetch(`${production.bot.url}/healthz`)).status).toBe(200);
  });

  it('Content-Encoding: identity is an uncompressed body and is handled as usual', async () => {
    const res = await fetch(`${local.bot.url}/relay/v1/jobs/lease`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'identity', 'x-syncshift-agent': AGENT_TWO, authorization: `Bearer ${AGENT_TWO_SECRET}` }, body: JSON.stringify({ agentVersion: 't', waitMs: 0, actions: ['directory.scanOu'] }) });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ job: null });
  });

  it('production mode: a correctly signed token is accepted, the keys came from the local stub, and forged ones were refused', async () => {
    const activity = { ...messageActivity({ text: '', from: ADELE, conversationId: '19:typing@thread.tacv2', serviceUrl: production.connector.url }), type: 'typing' };
    const res = await fetch(`${production.bot.url}/api/messages`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token('token:valid', production.connector.url)}` },
      body: JSON.stringify(activity),
    });
    expect(res.status).toBe(200);
    expect(openId.requests).toEqual(expect.arrayContaining(['/channel/.well-known/openidconfiguration', '/keys']));
    expect(await (await fetch(`${production.bot.url}/healthz`)).json()).toEqual({ ok: true, mode: 'production' });
    // Nothing from the forged requests reached a handler.
    expect(await production.store.audit.latest(10)).toEqual([]);
  });
});
