import { SCAN_STREAM_CONTENT_TYPE, type ResultRequest } from '../relay/protocol';

/** Users per line: big enough that lines are few, small enough that one line is about 120 KB. */
const USERS_PER_LINE = 1000;

/**
 * A scan result as newline-delimited JSON (see SCAN_STREAM_CONTENT_TYPE): head, user lines, end.
 * Sending a 100,000-user scan as one JSON string meant holding the user objects, that 11 MB string
 * and its UTF-8 copy at once on the agent, and the whole body again on the bot; line by line, each
 * side holds about one line.
 */
export function* scanResultLines(result: Extract<ResultRequest, { outcome: 'succeeded' }> & { result: { action: 'directory.scanOu' } }, usersPerLine = USERS_PER_LINE): Generator<string> {
  const { users, ...head } = result.result;
  yield `${JSON.stringify({ outcome: 'succeeded', result: head })}\n`;
  const step = Math.max(1, Math.floor(usersPerLine));
  for (let i = 0; i < users.length; i += step) yield `${JSON.stringify(users.slice(i, i + step))}\n`;
  yield `${JSON.stringify({ end: true, users: users.length })}\n`;
}

/** The request body for a result: scans as a stream of lines, everything else as one JSON document. */
export function resultBody(result: ResultRequest): { contentType: string; body: string | ReadableStream<Uint8Array> } {
  if (result.outcome !== 'succeeded' || result.result.action !== 'directory.scanOu') return { contentType: 'application/json', body: JSON.stringify(result) };
  const lines = scanResultLines(result as Parameters<typeof scanResultLines>[0]);
  const encoder = new TextEncoder();
  return {
    contentType: SCAN_STREAM_CONTENT_TYPE,
    body: new ReadableStream<Uint8Array>({
      pull(controller) {
        const next = lines.next();
        if (next.done) controller.close();
        else controller.enqueue(encoder.encode(next.value));
      },
    }),
  };
}
