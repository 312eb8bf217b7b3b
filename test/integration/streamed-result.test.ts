import { request } from 'node:http';
import { AGENT_ID, AGENT_SECRET, startBotHarness, type BotHarness } from '../helpers/bot-harness';
import { SCAN_STREAM_CONTENT_TYPE } from '../../src/relay/protocol';
import { eventually } from '../helpers/eventually';
import { leasedScanJob, ndjsonLine, SCAN_HEAD } from '../helpers/scan-stream';

/**
 * A scan sent as lines while the agent reads the directory: what the relay stores, and what it
 * refuses and why. The agent's side is in line-stream.test.ts; the whole path in verify-pilot.
 */
describe('the relay receiving a scan as lines', () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBotHarness();
  });
  afterAll(async () => h?.close());

  const leasedJob = (): Promise<string> => leasedScanJob(h.store, AGENT_ID, 'stream');
  const head = SCAN_HEAD;
  const users = (from: number, n: number): { dn: string; anchor: string; disabled: boolean }[] =>
    Array.from({ length: n }, (_, i) => ({
      dn: `CN=u${from + i},OU=x,DC=contoso,DC=com`,
      anchor: Buffer.alloc(16, i).toString('base64'),
      disabled: (from + i) % 4 === 0,
    }));
  const body = (...values: unknown[]): string => values.map((v) => `${JSON.stringify(v)}\n`).join('');

  function send(jobId: string, text: string): Promise<Response> {
    return fetch(`${h.bot.url}/relay/v1/jobs/${jobId}/result`, {
      method: 'POST',
      headers: {
        'content-type': `${SCAN_STREAM_CONTENT_TYPE}; charset=utf-8`,
        'x-syncshift-agent': AGENT_ID,
        authorization: `Bearer ${AGENT_SECRET}`,
      },
      body: text,
    });
  }

  it('stores the head with the totals and the users in pieces, finishes the job once, and refuses a replay', async () => {
    const jobId = await leasedJob();
    const res = await send(
      jobId,
      body(head, users(0, 1000), users(1000, 500), { end: true, users: 1500, totals: { users: 1500, disabled: 375 } }),
    );
    expect(res.status).toBe(200);
    const job = await h.store.jobs.get(jobId);
    expect(job).toMatchObject({
      state: 'succeeded',
      result: { ...head.result, totals: { users: 1500, disabled: 375 }, storedUsers: 1500 },
    });
    const read: string[] = [];
    for await (const piece of h.store.jobs.resultUsers(jobId)) read.push(...piece.map((u) => u.dn));
    expect(read).toEqual(users(0, 1500).map((u) => u.dn));
    const replay = await send(
      jobId,
      body(head, users(0, 1), { end: true, users: 1, totals: { users: 1, disabled: 1 } }),
    );
    expect(replay.status).toBe(409);
    expect((await h.store.jobs.get(jobId))?.result).toMatchObject({ storedUsers: 1500 });
  });

  it.each([
    [
      'a body cut off after some users',
      () => body(head, users(0, 3)),
      'the body ended before its end line, so it was cut short',
    ],
    [
      'an end line that counts other users than came',
      () => body(head, users(0, 3), { end: true, users: 4, totals: { users: 4, disabled: 0 } }),
      'the end line counts 4 users but 3 arrived',
    ],
    [
      'a head that is not a scan',
      () =>
        body(
          { outcome: 'succeeded', result: { action: 'adsync.getScheduler' } },
          { end: true, users: 0, totals: { users: 0, disabled: 0 } },
        ),
      "the first line must be the scan's head",
    ],
    [
      'a user without its anchor',
      () =>
        body(head, [{ dn: 'CN=a,OU=x', disabled: false }], { end: true, users: 1, totals: { users: 1, disabled: 0 } }),
      'line 2: user 0: anchor must be a string of at most 64 characters',
    ],
  ])('refuses %s, says why, keeps the job leased and stores nothing', async (_name, make, why) => {
    const jobId = await leasedJob();
    const res = await send(jobId, make());
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toContain(why);
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'leased', agentId: AGENT_ID, result: null });
    expect(await h.store.db.query('SELECT seq FROM job_result_pieces WHERE job_id = $1', [jobId])).toEqual([]);
    // The agent can still send the scan whole afterwards.
    expect(
      (await send(jobId, body(head, users(0, 2), { end: true, users: 2, totals: { users: 2, disabled: 1 } }))).status,
    ).toBe(200);
  });

  it('keeps nothing of an upload whose connection breaks after some users, and the job stays leased', async () => {
    const jobId = await leasedJob();
    const req = request(`${h.bot.url}/relay/v1/jobs/${jobId}/result`, {
      method: 'POST',
      headers: {
        'content-type': SCAN_STREAM_CONTENT_TYPE,
        'x-syncshift-agent': AGENT_ID,
        authorization: `Bearer ${AGENT_SECRET}`,
      },
    });
    req.on('error', () => undefined);
    req.write(body(head, users(0, 1000), users(1000, 10)));
    const pieces = (): Promise<unknown[]> =>
      h.store.db.query('SELECT seq FROM job_result_pieces WHERE job_id = $1', [jobId]);
    await eventually(async () => (await pieces()).length >= 2, {
      what: 'the first lines to be stored',
      timeoutMs: 2_000,
      intervalMs: 20,
    });
    req.destroy();
    await eventually(async () => (await pieces()).length === 0, {
      what: 'the pieces of the broken upload to be dropped',
      timeoutMs: 2_000,
      intervalMs: 20,
    });
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'leased', agentId: AGENT_ID, result: null });
  });
});

/**
 * Time limits: a streamed scan lasts as long as the directory read, so it is exempt from the body
 * deadline every other request has (Node's 300 s requestTimeout would cut it), and has an idle
 * limit instead. Both are shortened here.
 */
describe('how long the bot waits for a request body', () => {
  let h: BotHarness;
  beforeAll(async () => {
    h = await startBotHarness({ bodyDeadlineMs: 300, streamIdleMs: 400 });
  });
  afterAll(async () => h?.close());

  const line = ndjsonLine;
  const head = SCAN_HEAD;
  const pause = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

  function open(
    path: string,
    headers: Record<string, string>,
  ): { req: ReturnType<typeof request>; outcome: Promise<string> } {
    const req = request(`${h.bot.url}${path}`, { method: 'POST', headers });
    const outcome = new Promise<string>((resolve) => {
      req.on('response', (res) => {
        res.resume();
        res.on('end', () => resolve(`answered ${res.statusCode}`));
      });
      req.on('error', (err: NodeJS.ErrnoException) => resolve(`cut off (${err.code ?? err.message})`));
    });
    return { req, outcome };
  }

  const leasedJob = (): Promise<string> => leasedScanJob(h.store, AGENT_ID, 'slow');
  const agentHeaders = {
    'content-type': SCAN_STREAM_CONTENT_TYPE,
    'x-syncshift-agent': AGENT_ID,
    authorization: `Bearer ${AGENT_SECRET}`,
  };

  it('takes a streamed scan that goes on well past the body deadline, as long as it keeps sending', async () => {
    const jobId = await leasedJob();
    const upload = open(`/relay/v1/jobs/${jobId}/result`, agentHeaders);
    upload.req.write(line(head));
    for (let i = 0; i < 6; i++) {
      await pause(150);
      upload.req.write(line([{ dn: `CN=u${i},OU=x,DC=contoso,DC=com`, anchor: `a${i}`, disabled: false }]));
    }
    upload.req.end(line({ end: true, users: 6, totals: { users: 6, disabled: 0 } }));
    expect(await upload.outcome).toBe('answered 200');
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'succeeded', result: { storedUsers: 6 } });
  });

  it('drops a streamed scan that sends nothing for longer than its idle limit, and the job stays leased', async () => {
    const jobId = await leasedJob();
    const upload = open(`/relay/v1/jobs/${jobId}/result`, agentHeaders);
    upload.req.write(line(head) + line([{ dn: 'CN=a,OU=x,DC=contoso,DC=com', anchor: 'a', disabled: false }]));
    expect(await upload.outcome).toMatch(/^cut off/);
    const pieces = async (): Promise<number> =>
      (await h.store.db.query('SELECT seq FROM job_result_pieces WHERE job_id = $1', [jobId])).length;
    await eventually(async () => (await pieces()) === 0, {
      what: 'the pieces of the idle upload to be dropped',
      timeoutMs: 2_000,
      intervalMs: 20,
    });
    expect(await h.store.jobs.get(jobId)).toMatchObject({ state: 'leased', result: null });
  });

  it('cuts off any other request whose body is still arriving at the deadline', async () => {
    const body = JSON.stringify({ type: 'message', text: 'hello' });
    const slow = open('/api/messages', { 'content-type': 'application/json', 'content-length': String(body.length) });
    slow.req.write(body.slice(0, 10));
    const started = Date.now();
    expect(await slow.outcome).toMatch(/^cut off/);
    expect(Date.now() - started).toBeLessThan(5_000);
  });

  it('closes the connection of a streamed scan with a wrong credential instead of reading its body', async () => {
    const jobId = await leasedJob();
    const stranger = open(`/relay/v1/jobs/${jobId}/result`, {
      ...agentHeaders,
      authorization: 'Bearer wrong-secret-wrong-secret-wrong',
    });
    stranger.req.write(line(head));
    expect(await stranger.outcome).toBe('answered 401');
    // The agent's side never ended its body; the bot hung up all the same.
    const socket = stranger.req.socket!;
    await new Promise<void>((resolve, reject) => {
      if (socket.destroyed) return resolve();
      const timer = setTimeout(() => reject(new Error("the bot kept the refused upload's connection open")), 2_000);
      socket.once('close', () => {
        clearTimeout(timer);
        resolve();
      });
    });
    expect(stranger.req.writableEnded).toBe(false);
  });
});
