import http from 'node:http';
import https from 'node:https';

/** Longer than any pause a healthy bot makes while it stores a piece; the bot's own limit is the same. */
const DEFAULT_IDLE_MS = 5 * 60_000;

/**
 * POSTs a body read from `body`, writing each chunk only when the socket has room for it. fetch
 * (undici) reads a request stream ahead of the socket: at 100,000 users that kept about 16 MB more
 * of the agent's memory in flight. Here a bot that reads slowly holds the directory scan up instead.
 * An answer that comes before the body is sent (a refusal) stops reading `body`.
 */
// Errors are passed on as they are: Node's carry a `code` (ECONNREFUSED) that callers log.
export function postStream(
  url: string,
  headers: Record<string, string>,
  body: ReadableStream<Uint8Array>,
  options: { idleMs?: number } = {},
): Promise<{ status: number; text: string }> {
  const idleMs = options.idleMs ?? DEFAULT_IDLE_MS;
  return new Promise((resolve, reject) => {
    const target = new URL(url);
    const reader = body.getReader();
    let answered = false;
    const request = (target.protocol === 'https:' ? https : http).request(
      target,
      { method: 'POST', headers },
      (res) => {
        // Answered: whatever of the body was not sent yet is not wanted any more, and the bot closing
        // the connection after a refusal is not an error of its own.
        answered = true;
        reader.cancel('answered').catch(() => undefined);
        const parts: Buffer[] = [];
        let ended = false;
        res.on('data', (chunk: Buffer) => parts.push(chunk));
        res.on('end', () => {
          ended = true;
          resolve({ status: res.statusCode ?? 0, text: Buffer.concat(parts).toString('utf8') });
        });
        res.on('close', () => {
          if (!ended) reject(new Error("The bot's answer was cut off."));
        });
      },
    );
    const fail = (err: unknown): void => {
      reader.cancel(err).catch(() => undefined);
      if (!answered) reject(err);
    };
    request.on('error', fail);
    // A bot that stops reading and never answers (hung, or a network that drops packets silently)
    // would otherwise hold the job here for good while the heartbeat keeps its lease.
    request.setTimeout(idleMs, () =>
      request.destroy(
        new Error(
          `Nothing moved on the upload for ${idleMs >= 1000 ? `${Math.round(idleMs / 1000)} s` : `${idleMs} ms`}: the bot neither read the scan nor answered.`,
        ),
      ),
    );
    const room = (): Promise<void> =>
      new Promise((ready) => {
        const done = (): void => {
          request.off('drain', done);
          request.off('close', done);
          ready();
        };
        request.once('drain', done);
        request.once('close', done);
      });
    void (async () => {
      for (;;) {
        const { done, value } = await reader.read();
        if (done) break;
        if (request.destroyed) return;
        if (!request.write(value)) await room();
      }
      request.end();
    })().catch((err: unknown) => {
      // The body failed (the directory scan broke): cut the request off so the bot sees no end line.
      request.destroy();
      reject(err);
    });
  });
}
