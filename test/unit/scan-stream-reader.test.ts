import { ndjsonLines } from '../../src/relay/ndjson-lines';
import {
  readScanStream,
  SCAN_STREAM_LIMITS,
  type ScanStreamOutcome,
  type ScanStreamPieces,
} from '../../src/relay/scan-stream-reader';

// The same lines test/fault/bad-inputs.ts sends over HTTP, read here without a server.
const head = JSON.stringify({
  outcome: 'succeeded',
  result: { action: 'directory.scanOu', baseDn: 'OU=x,DC=x', defaultNamingContext: 'DC=x' },
});
const user = JSON.stringify([{ dn: 'CN=a,OU=x,DC=x', anchor: 'AAAAAAAAAAAAAAAAAAAAAA==', disabled: false }]);
const end = JSON.stringify({ end: true, users: 1, totals: { users: 1, disabled: 0 } });

/** What the reader handed on, in order. */
interface Seen {
  events: string[];
  stored: string[];
}

async function read(
  body: string,
  options: { leased?: boolean } = {},
): Promise<{ outcome: ScanStreamOutcome; seen: Seen }> {
  const seen: Seen = { events: [], stored: [] };
  const pieces: ScanStreamPieces = {
    head: async (h) => void seen.events.push(`head ${h.result.baseDn}`),
    users: (users) => void seen.events.push(`users ${users.length}`),
    storePiece: async (line, seq) => {
      seen.events.push(`store ${seq}`);
      if (options.leased === false) return false;
      seen.stored.push(line);
      return true;
    },
  };
  const outcome = await readScanStream(ndjsonLines([body], SCAN_STREAM_LIMITS), pieces);
  return { outcome, seen };
}

const lines = (...parts: string[]): string => parts.map((p) => `${p}\n`).join('');
const refused = (status: number, code: string, message: string): ScanStreamOutcome =>
  ({ ok: false, status, code, message }) as ScanStreamOutcome;

describe('readScanStream', () => {
  it('reads a complete scan: head, users stored line by line as sent, totals from the end line', async () => {
    const second = JSON.stringify([
      { dn: 'CN=b,OU=x,DC=x', anchor: 'b', disabled: true },
      { dn: 'CN=c,OU=x,DC=x', anchor: 'c', disabled: false },
    ]);
    const { outcome, seen } = await read(
      lines(head, user, second, JSON.stringify({ end: true, users: 3, totals: { users: 3, disabled: 1 } })),
    );
    expect(outcome).toEqual({ ok: true, head: JSON.parse(head), users: 3, totals: { users: 3, disabled: 1 } });
    expect(seen.events).toEqual(['head OU=x,DC=x', 'users 1', 'store 0', 'users 2', 'store 1']);
    expect(seen.stored).toEqual([user, second]);
  });

  it('reads a scan of no users', async () => {
    const { outcome, seen } = await read(
      lines(head, JSON.stringify({ end: true, users: 0, totals: { users: 0, disabled: 0 } })),
    );
    expect(outcome).toEqual({ ok: true, head: JSON.parse(head), users: 0, totals: { users: 0, disabled: 0 } });
    expect(seen.stored).toEqual([]);
  });

  // Each refusal test/fault/bad-inputs.ts makes of a streamed scan from its own agent.
  it.each([
    ['an empty body', '', 'Invalid scan stream: the body is empty.', 0],
    [
      'a body cut off before its end line',
      lines(head, user),
      'Invalid scan stream: the body ended before its end line, so it was cut short.',
      1,
    ],
    [
      'an end line that counts more users than came',
      lines(head, user, JSON.stringify({ end: true, users: 2, totals: { users: 2, disabled: 0 } })),
      'Invalid scan stream: the end line counts 2 users but 1 arrived.',
      1,
    ],
    [
      'totals that disagree with the users that came',
      lines(head, user, JSON.stringify({ end: true, users: 1, totals: { users: 5, disabled: 0 } })),
      'Invalid scan stream: the totals count 5 users but 1 arrived.',
      1,
    ],
    [
      'a line after the end line',
      lines(head, user, end, user),
      'Invalid scan stream: line 4 comes after the end line.',
      1,
    ],
    [
      'users before the head',
      lines(user, end),
      "Invalid scan stream: the first line must be the scan's head (line: Expected object, received array).",
      0,
    ],
    [
      'a user whose DN is a number',
      lines(head, JSON.stringify([{ dn: 42, anchor: 'x', disabled: false }]), end),
      'Invalid scan stream: line 2: user 0: dn must be a string of 1 to 4096 characters.',
      0,
    ],
    ['a line that is not JSON', lines(head, '[{"dn": "CN=a"', end), 'Invalid scan stream: line 2 is not JSON.', 0],
    [
      '5,001 users on one line',
      lines(
        head,
        JSON.stringify(
          Array.from({ length: 5001 }, (_, i) => ({ dn: `CN=u${i},OU=x,DC=x`, anchor: '', disabled: false })),
        ),
        end,
      ),
      'Invalid scan stream: line 2: more than 5000 users on one line.',
      0,
    ],
    [
      'a line that is neither users nor the end line',
      lines(head, JSON.stringify({ end: false }), end),
      'Invalid scan stream: line 2 is neither users nor the end line.',
      0,
    ],
  ])('refuses %s with 400', async (_name, body, message, goodLines) => {
    const { outcome, seen } = await read(body);
    expect(outcome).toEqual(refused(400, 'RELAY.BAD_REQUEST', message));
    // Only the lines before the bad one reached the sink and the store (the caller drops them).
    expect(seen.stored).toEqual(Array.from({ length: goodLines }, () => user));
    expect(seen.events.filter((e) => e.startsWith('users'))).toHaveLength(goodLines);
  });

  it('refuses a 9 MB line with 413 before it is parsed', async () => {
    const { outcome, seen } = await read(lines(head, `["${'x'.repeat(9 * 1024 * 1024)}"]`, end));
    expect(outcome).toEqual(refused(413, 'RELAY.TOO_LARGE', `A line is over ${8 * 1024 * 1024} bytes.`));
    expect(seen.events).toEqual(['head OU=x,DC=x']);
  });

  it('refuses with 409 once the store says the job is no longer leased, and reads no further', async () => {
    const { outcome, seen } = await read(lines(head, user, user, end), { leased: false });
    expect(outcome).toEqual(
      refused(409, 'RELAY.NOT_LEASED', 'This job is not leased by this agent, or its result was already recorded.'),
    );
    expect(seen.events).toEqual(['head OU=x,DC=x', 'users 1', 'store 0']);
  });

  it('passes on a failure that is not a refusal: the store, the head callback or the connection', async () => {
    const failing =
      (what: string): (() => Promise<never>) =>
      () =>
        Promise.reject(new Error(what));
    const ok: ScanStreamPieces = { head: async () => undefined, storePiece: async () => true };
    await expect(
      readScanStream(ndjsonLines([lines(head, user, end)], SCAN_STREAM_LIMITS), {
        ...ok,
        storePiece: failing('store down'),
      }),
    ).rejects.toThrow('store down');
    await expect(
      readScanStream(ndjsonLines([lines(head, user, end)], SCAN_STREAM_LIMITS), {
        ...ok,
        head: failing('no verification'),
      }),
    ).rejects.toThrow('no verification');
    async function* cut(): AsyncGenerator<string> {
      yield `${head}\n`;
      throw Object.assign(new Error('aborted'), { code: 'ECONNRESET' });
    }
    await expect(readScanStream(ndjsonLines(cut(), SCAN_STREAM_LIMITS), ok)).rejects.toThrow('aborted');
  });
});
