import { request, type ClientRequest, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';
import restify from 'restify';
import { createLogger } from '../../src/shared/logger';
import { openStore } from '../../src/store/open-store';
import { JOB_PURPOSES } from '../../src/store/job-purpose';
import type { JobRecord, Store } from '../../src/store/types';
import type { JobConsumers } from '../../src/jobs/job-consumers';
import { JobQueue } from '../../src/jobs/job-queue';
import { RelayServer } from '../../src/relay/relay-server';
import type { ScanLineSink } from '../../src/relay/scan-stream-reader';
import { SCAN_STREAM_CONTENT_TYPE } from '../../src/relay/protocol';
import { eventually } from '../helpers/eventually';
import { leasedScanJob, ndjsonLine, SCAN_HEAD } from '../helpers/scan-stream';

/**
 * A streamed scan when the bot itself fails or the job moves on while the scan arrives: the agent
 * always gets an answer while it is connected, a sink never outlives an upload that did not finish
 * its job, and two uploads of one job never touch each other's pieces.
 */
describe('the relay receiving a scan as lines, when things go wrong on its side', () => {
  const AGENT = 'agent-a';
  const OTHER = 'agent-b';
  const SECRET = 'streamed-faults-secret-0123456789';
  let store: Store;
  let server: restify.Server;
  let url: string;
  /** What each upload's sink was told, in order, and when results were applied. */
  let events: string[];
  let failNextArrival = false;
  let uploads = 0;

  beforeAll(async () => {
    store = await openStore({});
    server = restify.createServer({ handleUncaughtExceptions: false });
    const relay = new RelayServer({
      store,
      jobs: new JobQueue({ store }),
      agentSecrets: new Map([
        [AGENT, SECRET],
        [OTHER, SECRET],
      ]),
      logger: createLogger('test', 'silent'),
      listener: {
        onProgress: async () => undefined,
        onScanArriving: async (): Promise<ScanLineSink> => {
          if (failNextArrival) {
            failNextArrival = false;
            throw new Error('the verification could not be read');
          }
          const n = ++uploads;
          events.push(`sink ${n}`);
          return {
            users: (users) => events.push(`sink ${n} +${users.length}`),
            end: (complete) => events.push(`sink ${n} end ${complete}`),
          };
        },
      },
      consumers: Object.fromEntries(
        JOB_PURPOSES.map((purpose) => [purpose, async (job: JobRecord) => void events.push(`applied ${job.id}`)]),
      ) as JobConsumers,
    });
    relay.register(server);
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  beforeEach(() => {
    events = [];
    uploads = 0;
    jest.restoreAllMocks();
  });
  afterAll(async () => {
    (server?.server as { closeAllConnections?: () => void } | undefined)?.closeAllConnections?.();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    await store?.close();
  });

  const leasedJob = (): Promise<string> => leasedScanJob(store, AGENT, 'faults');
  const head = SCAN_HEAD;
  const users = (from: number, n: number, tag = 'u'): { dn: string; anchor: string; disabled: boolean }[] =>
    Array.from({ length: n }, (_, i) => ({
      dn: `CN=${tag}${from + i},OU=x,DC=contoso,DC=com`,
      anchor: `a${from + i}`,
      disabled: false,
    }));
  const line = ndjsonLine;
  const endLine = (n: number): string => line({ end: true, users: n, totals: { users: n, disabled: 0 } });
  const pieces = async (jobId: string): Promise<number> =>
    (await store.db.query('SELECT seq FROM job_result_pieces WHERE job_id = $1', [jobId])).length;
  const readBack = async (jobId: string): Promise<string[]> => {
    const dns: string[] = [];
    for await (const piece of store.jobs.resultUsers(jobId)) dns.push(...piece.map((u) => u.dn));
    return dns;
  };
  const until = (what: string, check: () => Promise<boolean> | boolean): Promise<true> =>
    eventually(check, { what, timeoutMs: 4_000, intervalMs: 20 });

  /** An upload written by hand, so a test can pause it between lines. */
  function openUpload(
    jobId: string,
    agentId = AGENT,
  ): { req: ClientRequest; answer: Promise<{ status: number; body: { code?: string; message?: string } }> } {
    const req = request(`${url}/relay/v1/jobs/${jobId}/result`, {
      method: 'POST',
      headers: {
        'content-type': SCAN_STREAM_CONTENT_TYPE,
        'x-syncshift-agent': agentId,
        authorization: `Bearer ${SECRET}`,
      },
    });
    const answer = new Promise<{ status: number; body: { code?: string; message?: string } }>((resolve, reject) => {
      req.on('response', (res: IncomingMessage) => {
        const parts: Buffer[] = [];
        res.on('data', (c: Buffer) => parts.push(c));
        res.on('end', () =>
          resolve({
            status: res.statusCode ?? 0,
            body: JSON.parse(Buffer.concat(parts).toString('utf8') || '{}') as { code?: string },
          }),
        );
      });
      req.on('error', reject);
    });
    // A test that fails half way leaves uploads open; closing the server then must not crash the run.
    answer.catch(() => undefined);
    return { req, answer };
  }

  function send(jobId: string, text: string): Promise<{ status: number; body: { code?: string; message?: string } }> {
    const upload = openUpload(jobId);
    upload.req.end(text);
    return upload.answer;
  }

  it('answers 500 when a piece cannot be stored, keeps nothing of the upload, and takes the same scan sent again', async () => {
    const jobId = await leasedJob();
    jest.spyOn(store.jobs, 'putResultPiece').mockRejectedValueOnce(new Error('connection to the database was lost'));
    const failed = await send(jobId, line(head) + line(users(0, 3)) + line(users(3, 2)) + endLine(5));
    expect(failed).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
    expect(failed.body.message).toContain('Nothing of this upload was kept');
    expect(events).toEqual(['sink 1', 'sink 1 +3', 'sink 1 end false']);
    expect(await pieces(jobId)).toBe(0);
    expect(await store.jobs.get(jobId)).toMatchObject({ state: 'leased', agentId: AGENT, result: null });
    jest.restoreAllMocks();
    expect((await send(jobId, line(head) + line(users(0, 3)) + line(users(3, 2)) + endLine(5))).status).toBe(200);
    expect(await readBack(jobId)).toEqual(users(0, 5).map((u) => u.dn));
  });

  it('answers 500 when finishing the job fails, ends the sink incomplete and keeps nothing of the upload', async () => {
    const jobId = await leasedJob();
    jest.spyOn(store.jobs, 'finish').mockRejectedValueOnce(new Error('the database is read-only'));
    const failed = await send(jobId, line(head) + line(users(0, 2)) + endLine(2));
    expect(failed).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
    expect(events).toEqual(['sink 1', 'sink 1 +2', 'sink 1 end false']);
    expect(await pieces(jobId)).toBe(0);
    expect(await store.jobs.get(jobId)).toMatchObject({ state: 'leased', result: null });
  });

  it("answers 500 when the scan's consumer cannot be told it is arriving, before anything is stored", async () => {
    const jobId = await leasedJob();
    failNextArrival = true;
    const failed = await send(jobId, line(head) + line(users(0, 2)) + endLine(2));
    expect(failed).toMatchObject({ status: 500, body: { code: 'INTERNAL' } });
    expect(await pieces(jobId)).toBe(0);
    expect(await store.jobs.get(jobId)).toMatchObject({ state: 'leased', result: null });
  });

  it('ends the sink incomplete and drops the upload when the job was taken by another agent before the end line', async () => {
    const jobId = await leasedJob();
    const upload = openUpload(jobId);
    upload.req.write(line(head) + line(users(0, 4)));
    await until('the first piece is stored', async () => (await pieces(jobId)) === 1);
    // The lease ran out meanwhile and another agent took the job.
    await store.db.query(`UPDATE jobs SET lease_expires_at = now() - interval '1 minute' WHERE id = $1`, [jobId]);
    await store.jobs.expireLeases({ now: new Date(), maxAttempts: 3 });
    expect((await store.jobs.lease({ agentId: OTHER, leaseMs: 3_600_000, now: new Date() }))?.id).toBe(jobId);
    upload.req.end(endLine(4));
    expect(await upload.answer).toMatchObject({ status: 409, body: { code: 'RELAY.NOT_LEASED' } });
    expect(events).toEqual(['sink 1', 'sink 1 +4', 'sink 1 end false']);
    expect(await pieces(jobId)).toBe(0);
    expect(await store.jobs.get(jobId)).toMatchObject({ state: 'leased', agentId: OTHER, result: null });
  });

  it('declares the sink complete only once the job is finished, and before its result is applied', async () => {
    const jobId = await leasedJob();
    expect((await send(jobId, line(head) + line(users(0, 2)) + endLine(2))).status).toBe(200);
    await until('the result is applied', () => events.includes(`applied ${jobId}`));
    expect(events).toEqual(['sink 1', 'sink 1 +2', 'sink 1 end true', `applied ${jobId}`]);
  });

  it('keeps a retry whole when the bot notices only afterwards that the first upload of the same job was cut off', async () => {
    const jobId = await leasedJob();
    const first = openUpload(jobId);
    first.req.write(line(head) + line(users(0, 3, 'first')) + line(users(3, 3, 'first')));
    await until('the first upload stored two pieces', async () => (await pieces(jobId)) === 2);
    // The agent retries (it saw the connection break) before the bot sees the first one end.
    const retry = openUpload(jobId);
    retry.req.write(line(head) + line(users(0, 2, 'retry')) + line(users(2, 2, 'retry')));
    await until('the retry stored its two pieces beside them', async () => (await pieces(jobId)) === 4);
    first.req.destroy();
    await until('the cut-off upload is dropped', () => events.includes('sink 1 end false'));
    await until("only the retry's pieces are left", async () => (await pieces(jobId)) === 2);
    retry.req.end(line(users(4, 1, 'retry')) + endLine(5));
    expect((await retry.answer).status).toBe(200);
    expect(await readBack(jobId)).toEqual(users(0, 5, 'retry').map((u) => u.dn));
    expect(await store.jobs.get(jobId)).toMatchObject({ state: 'succeeded', result: { storedUsers: 5 } });
  });
});
