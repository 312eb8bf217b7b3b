import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { postStream } from '../../src/agent/stream-upload';

async function serve(
  handler: (req: IncomingMessage, res: ServerResponse) => void,
): Promise<{ url: string; server: Server; stop: () => void }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  // Connections too: a test that failed mid-upload must not leave a socket holding jest open.
  const stop = (): void => {
    server.closeAllConnections();
    server.close();
  };
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/upload`, server, stop };
}

/** A body of `count` chunks of `size` bytes, counting how many were pulled and whether it was cancelled. */
function chunks(
  count: number,
  size: number,
): { body: ReadableStream<Uint8Array>; pulled: () => number; cancelled: () => unknown } {
  let n = 0;
  let cancelReason: unknown;
  const body = new ReadableStream<Uint8Array>(
    {
      pull(controller) {
        if (n === count) return controller.close();
        n++;
        controller.enqueue(new Uint8Array(size).fill(65));
      },
      cancel(reason) {
        cancelReason = reason ?? 'cancelled';
      },
    },
    { highWaterMark: 0 },
  );
  return { body, pulled: () => n, cancelled: () => cancelReason };
}

describe('postStream', () => {
  it('sends the whole body and returns the answer', async () => {
    const { url, stop } = await serve(async (req, res) => {
      let bytes = 0;
      for await (const c of req) bytes += (c as Buffer).length;
      // Not chained: restify (loaded by other suites in this worker) patches ServerResponse.writeHead to return undefined.
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ bytes, type: req.headers['content-type'] }));
    });
    try {
      const { body } = chunks(50, 10_000);
      expect(await postStream(url, { 'content-type': 'application/x-ndjson' }, body)).toEqual({
        status: 200,
        text: JSON.stringify({ bytes: 500_000, type: 'application/x-ndjson' }),
      });
    } finally {
      stop();
    }
  });

  it('does not read the body faster than the server takes it', async () => {
    let release: () => void = () => undefined;
    const stalled = new Promise<void>((resolve) => (release = resolve));
    const { url, stop } = await serve(async (req, res) => {
      // Reads nothing until told to: the socket and its buffers fill, then the body must wait.
      await stalled;
      for await (const _ of req) void _;
      res.end('ok');
    });
    try {
      const body = chunks(2_000, 64 * 1024);
      const upload = postStream(url, {}, body.body);
      await new Promise((r) => setTimeout(r, 500));
      // 128 MB offered; only what fits in the kernel's and Node's buffers (a few MB) was taken.
      expect(body.pulled() * 64 * 1024).toBeLessThan(16 * 1024 * 1024);
      release();
      expect((await upload).status).toBe(200);
      expect(body.pulled()).toBe(2_000);
    } finally {
      stop();
    }
  });

  it('returns an early refusal as the answer and stops reading the body', async () => {
    const { url, stop } = await serve((req, res) => {
      req.once('data', () => {
        res.writeHead(409, { 'content-type': 'application/json', connection: 'close' });
        res.end(JSON.stringify({ message: 'not leased' }));
        res.once('finish', () => req.destroy());
      });
    });
    try {
      const body = chunks(10_000, 16 * 1024);
      expect(await postStream(url, {}, body.body)).toEqual({
        status: 409,
        text: JSON.stringify({ message: 'not leased' }),
      });
      expect(body.cancelled()).toBe('answered');
      expect(body.pulled()).toBeLessThan(10_000);
    } finally {
      stop();
    }
  });

  it('cuts the request off when the body fails, so the server sees no complete body, and rejects', async () => {
    let serverSaw = '';
    const { url, stop } = await serve((req, res) => {
      req.on('data', () => undefined);
      req.on('end', () => {
        serverSaw = 'complete';
        res.end('ok');
      });
      req.on('close', () => {
        if (!req.complete) serverSaw = 'cut off';
      });
    });
    try {
      let n = 0;
      const body = new ReadableStream<Uint8Array>({
        async pull(controller) {
          // Like a directory scan: the first lines are on their way before the failure.
          await new Promise((r) => setTimeout(r, 20));
          if (++n === 5) return controller.error(new Error('LDAP connection lost'));
          controller.enqueue(new Uint8Array(1000));
        },
      });
      await expect(postStream(url, {}, body)).rejects.toThrow('LDAP connection lost');
      await new Promise((r) => setTimeout(r, 100));
      expect(serverSaw).toBe('cut off');
    } finally {
      stop();
    }
  });

  it('gives up, and says why, when the bot takes the whole body and then never answers', async () => {
    let serverSaw = '';
    const { url, stop } = await serve(async (req) => {
      for await (const _ of req) void _;
      serverSaw = 'whole body';
      // ...and no answer: a hung bot.
    });
    try {
      const started = Date.now();
      await expect(postStream(url, {}, chunks(3, 1000).body, { idleMs: 300 })).rejects.toThrow(
        'Nothing moved on the upload for 300 ms: the bot neither read the scan nor answered.',
      );
      expect(serverSaw).toBe('whole body');
      expect(Date.now() - started).toBeGreaterThanOrEqual(250);
    } finally {
      stop();
    }
  });

  it('rejects when nothing listens', async () => {
    const { url, server } = await serve(() => undefined);
    await new Promise<void>((resolve) => server.close(() => resolve()));
    const body = chunks(3, 10);
    await expect(postStream(url, {}, body.body)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
  });
});
