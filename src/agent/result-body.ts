import type { ResultRequest } from '../relay/protocol';

/** Users per piece: big enough that pieces are few, small enough that one piece is a few hundred KB. */
const USERS_PER_PIECE = 1000;

/**
 * The JSON of a result, in pieces that concatenate to exactly what `JSON.stringify(result)` parses
 * to. A 100,000-user scan is about 11 MB of JSON; sending it whole meant holding the user objects,
 * that string and its UTF-8 copy at once, which is most of the agent's peak memory.
 */
export function* resultJsonPieces(result: ResultRequest, usersPerPiece = USERS_PER_PIECE): Generator<string> {
  if (result.outcome !== 'succeeded' || result.result.action !== 'directory.scanOu') {
    yield JSON.stringify(result);
    return;
  }
  const { users, ...rest } = result.result;
  // `users` goes last, so the head ends with its empty array and the pieces go between the brackets.
  const head = JSON.stringify({ outcome: result.outcome, result: { ...rest, users: [] } });
  const close = ']}}';
  if (!head.endsWith(`[${close}`)) throw new Error('resultJsonPieces: unexpected JSON layout of the result head.');
  yield head.slice(0, -close.length);
  const step = Math.max(1, Math.floor(usersPerPiece));
  for (let i = 0; i < users.length; i += step) {
    const batch = JSON.stringify(users.slice(i, i + step));
    yield (i === 0 ? '' : ',') + batch.slice(1, -1);
  }
  yield close;
}

/** The pieces as a byte stream for fetch, encoded one at a time as the connection asks for them. */
export function resultBodyStream(result: ResultRequest): ReadableStream<Uint8Array> {
  const pieces = resultJsonPieces(result);
  const encoder = new TextEncoder();
  return new ReadableStream<Uint8Array>({
    pull(controller) {
      const next = pieces.next();
      if (next.done) controller.close();
      else controller.enqueue(encoder.encode(next.value));
    },
  });
}
