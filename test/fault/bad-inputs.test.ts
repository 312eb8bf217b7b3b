import { randomUUID } from 'node:crypto';
import { request } from 'node:http';
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib';
import { messageActivity, ADELE } from '../helpers/activities';
import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { OpenIdStub } from '../helpers/openid-stub';
import { BAD_INPUTS, type BadInput, type Credential } from './bad-inputs';

const APP_ID = '5b7e0b4c-0000-4000-8000-00000000b07a';
const AGENT_TWO = 'agent-two';
const AGENT_TWO_SECRET = 'second-agent-secret-0123456789-xyz';
const IDLE_MS = 2000;

/** Everything a forged or malformed request could have changed. */
async function snapshot(h: BotHarness): Promise<string> {
  const q = (sql: string): Promise<unknown[]> => h.store.db.query(sql);
  return JSON.stringify({
    jobs: await q(
      'SELECT id, state, agent_id, attempts, lease_expires_at, progress, result, error FROM jobs ORDER BY id',
    ),
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
  return new Uint8Array(
    how === 'gzip' ? gzipSync(raw) : how === 'deflate' ? deflateSync(raw) : brotliCompressSync(raw),
  );
}

describe('forged and malformed requests change nothing', () => {
  let local: BotHarness;
  let production: BotHarness;
  let openId: OpenIdStub;
  let leasedJobId = '';

  beforeAll(async () => {
    openId = await new OpenIdStub().start();
    // Bodies that stop arriving are cut after 2 s here (15 s by default), so the slow cases take seconds.
    local = await startBotHarness({
      env: { SYNCSHIFT_AGENT_SECRETS: `${AGENT_ID}:${AGENT_SECRET},${AGENT_TWO}:${AGENT_TWO_SECRET}` },
      bodyIdleMs: IDLE_MS,
    });
    production = await startBotHarness({
      bodyIdleMs: IDLE_MS,
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
    const job = await local.store.jobs.enqueue({
      kind: 'directory.scanOu',
      purpose: 'verify',
      payload: { action: 'directory.scanOu', ou: 'OU=Sales' },
      conversationId: local.conversationId,
      migrationId: null,
      requestedBy: { id: 'test', name: 'test' },
    });
    await local.store.jobs.lease({ agentId: AGENT_ID, leaseMs: 3_600_000, now: new Date() });
    leasedJobId = job.id;
    // Each agent's first authenticated call records it (last seen, version); do that now, so the
    // cases below can demand that nothing at all changes.
    for (const [id, secret] of [
      [AGENT_ID, AGENT_SECRET],
      [AGENT_TWO, AGENT_TWO_SECRET],
    ] as const) {
      const res = await fetch(`${local.bot.url}/relay/v1/jobs/lease`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'x-syncshift-agent': id, authorization: `Bearer ${secret}` },
        body: JSON.stringify({ agentVersion: 't', waitMs: 0, actions: ['directory.scanOu'] }),
      });
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
    const claims = {
      iss: 'https://api.botframework.com',
      aud: APP_ID,
      iat: now - 60,
      nbf: now - 60,
      exp: now + 3600,
      serviceurl: serviceUrl,
    };
    switch (kind) {
      case 'token:valid':
        return openId.sign(claims);
      case 'token:garbage':
        return 'not-a-jwt';
      case 'token:forged-signature':
        return openId.sign(claims, { key: openId.forgerKey });
      case 'token:expired':
        return openId.sign({ ...claims, iat: now - 7200, nbf: now - 7200, exp: now - 3600 });
      case 'token:no-exp': {
        const { exp: _exp, nbf: _nbf, iat: _iat, ...timeless } = claims;
        return openId.sign(timeless);
      }
      case 'token:expired-beyond-skew':
        return openId.sign({ ...claims, iat: now - 3600, nbf: now - 3600, exp: now - 360 });
      case 'token:nbf-beyond-skew':
        return openId.sign({ ...claims, nbf: now + 360 });
      case 'token:iat-beyond-skew':
        return openId.sign({ ...claims, iat: now + 360 });
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
        return {
          'x-syncshift-agent': AGENT_ID,
          authorization: `Basic ${Buffer.from(`${AGENT_ID}:${AGENT_SECRET}`).toString('base64')}`,
        };
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
    const activity = messageActivity({
      text: '/migration start "forged"',
      from: ADELE,
      conversationId: `19:forged-${randomUUID()}@thread.tacv2`,
      serviceUrl: h.connector.url,
    });
    const text =
      input.body === 'activity'
        ? JSON.stringify(activity)
        : typeof input.body === 'string'
          ? input.body
          : JSON.stringify(input.body);
    const method = input.method ?? 'POST';
    const body = input.encoding ? compress(input.encoding.with, text.padEnd(input.inflatedBytes ?? 0, ' ')) : text;
    const headers = {
      'content-type': input.contentType ?? 'application/json',
      ...(input.encoding ? { 'content-encoding': input.encoding.header } : {}),
      ...headersFor(input.credential, h.connector.url),
    };
    if (input.stallAfterBytes !== undefined)
      return stalled(
        h.bot.url + input.path.replace('{leased}', leasedJobId),
        headers,
        Buffer.from(text),
        input.stallAfterBytes,
      );
    return fetch(h.bot.url + input.path.replace('{leased}', leasedJobId), {
      method,
      headers,
      ...(method === 'GET' ? {} : { body }),
    });
  }

  /** Sends the headers (with the whole body's length) and the first `bytes` of it, then waits for the answer. */
  function stalled(url: string, headers: Record<string, string>, body: Buffer, bytes: number): Promise<Response> {
    return new Promise((resolve, reject) => {
      const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(body.length) } });
      req.on('response', (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          resolve(new Response(Buffer.concat(chunks).toString('utf8'), { status: res.statusCode ?? 0 }));
        });
      });
      req.on('error', reject);
      req.write(body.subarray(0, bytes));
    });
  }

  /** Sends `pieces` of a body one at a time, `gapMs` apart, stopping once the bot has answered. */
  function dribble(
    url: string,
    headers: Record<string, string>,
    pieces: string[],
    gapMs: number,
  ): Promise<{ status: number; body: string; piecesSent: number }> {
    return new Promise((resolve, reject) => {
      const length = pieces.reduce((n, p) => n + Buffer.byteLength(p), 0);
      const req = request(url, { method: 'POST', headers: { ...headers, 'content-length': String(length) } });
      let sent = 0;
      let timer: NodeJS.Timeout | undefined;
      const next = (): void => {
        req.write(pieces[sent++]!);
        if (sent < pieces.length) timer = setTimeout(next, gapMs);
      };
      req.on('response', (res) => {
        clearTimeout(timer);
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () => {
          req.destroy();
          resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks).toString('utf8'), piecesSent: sent });
        });
      });
      req.on('error', reject);
      next();
    });
  }

  const agentHeaders = {
    'content-type': 'application/json',
    'x-syncshift-agent': AGENT_ID,
    authorization: `Bearer ${AGENT_SECRET}`,
  };

  it(`a valid agent sending its lease a byte every ${(IDLE_MS * 1.5) / 1000} s is cut with 408 at the first gap, and the lease is never taken`, async () => {
    const job = await local.store.jobs.enqueue({
      kind: 'directory.scanOu',
      purpose: 'verify',
      payload: { action: 'directory.scanOu', ou: 'OU=Slow' },
      conversationId: local.conversationId,
      migrationId: null,
      requestedBy: { id: 'test', name: 'test' },
    });
    try {
      // A complete lease request, then trailing spaces: a route handed what had arrived would lease the job.
      const answer = await dribble(
        `${local.bot.url}/relay/v1/jobs/lease`,
        agentHeaders,
        [JSON.stringify({ agentVersion: 't', waitMs: 0, actions: ['directory.scanOu'] }), ' ', ' ', ' '],
        IDLE_MS * 1.5,
      );
      expect(answer.status).toBe(408);
      expect(JSON.parse(answer.body)).toMatchObject({
        code: 'HTTP.BODY_IDLE',
        message: expect.stringContaining(`nothing came for ${IDLE_MS / 1000} s`) as unknown,
      });
      expect(answer.piecesSent).toBe(1);
      expect(await local.store.jobs.get(job.id)).toMatchObject({ state: 'queued', attempts: 0, agentId: null });
    } finally {
      await local.store.jobs.cancelQueued({ jobIds: [job.id], reason: 'test over', now: new Date() });
    }
  });

  it(`a body that keeps arriving, a piece every ${IDLE_MS / 4000} s, is read to its end however slow`, async () => {
    const text = JSON.stringify({ agentVersion: 't', waitMs: 0, actions: ['directory.scanOu'] });
    const pieces = Array.from({ length: 8 }, (_, i) => text.slice((i * text.length) / 8, ((i + 1) * text.length) / 8));
    const answer = await dribble(`${local.bot.url}/relay/v1/jobs/lease`, agentHeaders, pieces, IDLE_MS / 4);
    expect(answer).toEqual({ status: 200, body: JSON.stringify({ job: null }), piecesSent: 8 });
  });

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
      const res = await fetch(`${production.bot.url}${path}`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', 'content-encoding': 'gzip' },
        body: bomb,
      });
      expect(`${path} ${res.status}`).toBe(`${path} 415`);
      expect(res.headers.get('accept-encoding')).toBe('identity');
      expect(await res.json()).toMatchObject({ code: 'HTTP.UNSUPPORTED_ENCODING' });
    }
    expect((await fetch(`${production.bot.url}/healthz`)).status).toBe(200);
  });

  it('Content-Encoding: identity is an uncompressed body and is handled as usual', async () => {
    const res = await fetch(`${local.bot.url}/relay/v1/jobs/lease`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        'content-encoding': 'identity',
        'x-syncshift-agent': AGENT_TWO,
        authorization: `Bearer ${AGENT_TWO_SECRET}`,
      },
      body: JSON.stringify({ agentVersion: 't', waitMs: 0, actions: ['directory.scanOu'] }),
    });
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ job: null });
  });

  it('production mode: a correctly signed token is accepted, the keys came from the local stub, and forged ones were refused', async () => {
    const activity = {
      ...messageActivity({
        text: '',
        from: ADELE,
        conversationId: '19:typing@thread.tacv2',
        serviceUrl: production.connector.url,
      }),
      type: 'typing',
    };
    const res = await fetch(`${production.bot.url}/api/messages`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        authorization: `Bearer ${token('token:valid', production.connector.url)}`,
      },
      body: JSON.stringify(activity),
    });
    expect(res.status).toBe(200);
    expect(openId.requests).toEqual(expect.arrayContaining(['/channel/.well-known/openidconfiguration', '/keys']));
    expect(await (await fetch(`${production.bot.url}/healthz`)).json()).toEqual({ ok: true, mode: 'production' });
    // Nothing from the forged requests reached a handler.
    expect(await production.store.audit.latest(10)).toEqual([]);
  });
});
