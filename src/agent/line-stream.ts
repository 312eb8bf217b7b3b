/** Thrown into the writer when the reader is gone: the bot answered early, or the connection broke. */
export class LineStreamCancelled extends Error {
  constructor(readonly reason: unknown) {
    super('The upload stopped reading before the scan was sent.');
  }
}

export interface LineStream {
  readonly body: ReadableStream<Uint8Array>;
  /** Queues a line (with its newline); waits while `highWaterMark` lines are already waiting. */
  write(line: string): Promise<void>;
  close(): void;
  /** Ends the body with an error, so the request is cut off without its end line. */
  fail(err: unknown): void;
  /** The request is over (answered or failed): a writer still waiting is released with LineStreamCancelled. */
  stop(reason: unknown): void;
}

/**
 * A request body written line by line by a producer that waits for the connection: the directory
 * scan writes a line per page and is held up while the bot has not read the last ones, so neither
 * the agent nor the bot ever holds more than a few lines.
 */
export function createLineStream(highWaterMark = 2): LineStream {
  const encoder = new TextEncoder();
  let controller!: ReadableStreamDefaultController<Uint8Array>;
  let wake: (() => void) | undefined;
  let cancelled: LineStreamCancelled | undefined;
  const stop = (reason: unknown): void => {
    cancelled ??= new LineStreamCancelled(reason);
    wake?.();
    wake = undefined;
  };
  const body = new ReadableStream<Uint8Array>(
    {
      start(c) {
        controller = c;
      },
      pull() {
        wake?.();
        wake = undefined;
      },
      cancel(reason) {
        stop(reason);
      },
    },
    { highWaterMark },
  );
  return {
    body,
    async write(line) {
      while (cancelled === undefined && (controller.desiredSize ?? 0) <= 0)
        await new Promise<void>((resolve) => (wake = resolve));
      if (cancelled) throw cancelled;
      controller.enqueue(encoder.encode(line));
    },
    close() {
      if (!cancelled) controller.close();
    },
    fail(err) {
      if (!cancelled) controller.error(err);
    },
    stop,
  };
}
