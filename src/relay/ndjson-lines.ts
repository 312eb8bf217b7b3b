import { AppError } from '../shared/errors';

export interface NdjsonLimits {
  /** Longest single line in bytes; a batch of 1,000 users is about 120 KB. */
  maxLineBytes: number;
  /** Whole body in bytes, counted as it arrives, so a stranger cannot make the bot read forever. */
  maxTotalBytes: number;
}

/**
 * The lines of a newline-delimited JSON body as they arrive, decoded as UTF-8 one whole line at a
 * time (a character split between two network chunks is joined first). Only the current line is
 * held, never the body: that is the point of sending a 100,000-user scan this way. Empty lines are
 * skipped. A body over a limit ends with RELAY.TOO_LARGE before more of it is read.
 */
export async function* ndjsonLines(
  body: AsyncIterable<Buffer | Uint8Array | string> | Iterable<Buffer | Uint8Array | string>,
  limits: NdjsonLimits,
): AsyncGenerator<string> {
  let parts: Buffer[] = [];
  let partBytes = 0;
  let total = 0;
  for await (const raw of body) {
    const chunk =
      typeof raw === 'string'
        ? Buffer.from(raw, 'utf8')
        : Buffer.isBuffer(raw)
          ? raw
          : Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength);
    total += chunk.length;
    if (total > limits.maxTotalBytes) throw tooLarge(`The body is over ${limits.maxTotalBytes} bytes.`);
    let start = 0;
    for (let newline = chunk.indexOf(10, start); newline >= 0; newline = chunk.indexOf(10, start)) {
      const piece = chunk.subarray(start, newline);
      if (partBytes + piece.length > limits.maxLineBytes)
        throw tooLarge(`A line is over ${limits.maxLineBytes} bytes.`);
      const line = partBytes === 0 ? piece.toString('utf8') : Buffer.concat([...parts, piece]).toString('utf8');
      parts = [];
      partBytes = 0;
      start = newline + 1;
      if (line.trim() !== '') yield line;
    }
    if (start < chunk.length) {
      const rest = chunk.subarray(start);
      partBytes += rest.length;
      if (partBytes > limits.maxLineBytes) throw tooLarge(`A line is over ${limits.maxLineBytes} bytes.`);
      parts.push(rest);
    }
  }
  if (partBytes > 0) {
    const line = Buffer.concat(parts).toString('utf8');
    if (line.trim() !== '') yield line;
  }
}

function tooLarge(message: string): AppError {
  return new AppError('RELAY.TOO_LARGE', message, {
    hint: 'Send the scan in batches of at most a few thousand users per line.',
  });
}
