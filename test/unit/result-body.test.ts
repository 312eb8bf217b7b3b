import { resultBodyStream, resultJsonPieces } from '../../src/agent/result-body';
import { resultRequest, type ResultRequest, type ScannedUser } from '../../src/relay/protocol';

function scanResult(users: ScannedUser[]): ResultRequest {
  return {
    outcome: 'succeeded',
    result: {
      action: 'directory.scanOu',
      baseDn: 'OU=Sales,DC=contoso,DC=com',
      defaultNamingContext: 'DC=contoso,DC=com',
      totals: { users: users.length, disabled: users.filter((u) => u.disabled).length },
      users,
    },
  };
}

function usersOf(n: number): ScannedUser[] {
  // Values JSON must escape (quote, backslash, comma, non-ASCII) so the pieces are not just joined naively.
  return Array.from({ length: n }, (_, i) => ({ dn: `CN=User \\"${i}\\"\\, Zürich,OU=Sales,DC=contoso,DC=com`, anchor: `anchor${i}==`, disabled: i % 3 === 0 }));
}

async function readStream(stream: ReadableStream<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  const reader = stream.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    parts.push(value);
  }
  return Buffer.concat(parts).toString('utf8');
}

describe('resultJsonPieces', () => {
  it.each([0, 1, 7, 1000, 2501])('a scan of %i users parses back to the same result, and the bot schema accepts it', (n) => {
    const result = scanResult(usersOf(n));
    const text = [...resultJsonPieces(result, 1000)].join('');
    const parsed: unknown = JSON.parse(text);
    expect(parsed).toEqual(result);
    expect(resultRequest.parse(parsed)).toEqual(result);
  });

  it('splits a scan into pieces of at most the given number of users', () => {
    const pieces = [...resultJsonPieces(scanResult(usersOf(25)), 10)];
    // head, three batches (10, 10, 5), closing brackets
    expect(pieces).toHaveLength(5);
    expect(pieces[1]!.match(/"anchor"/g)).toHaveLength(10);
    expect(pieces[3]!.match(/"anchor"/g)).toHaveLength(5);
  });

  it('sends failures and Connect Sync results as one piece', () => {
    const failed: ResultRequest = { outcome: 'failed', error: { code: 'DIRECTORY.ERROR', message: 'no "such" OU' } };
    const adsync: ResultRequest = { outcome: 'succeeded', result: { action: 'adsync.getScheduler', data: { syncCycleEnabled: true } } };
    for (const r of [failed, adsync]) {
      const pieces = [...resultJsonPieces(r)];
      expect(pieces).toEqual([JSON.stringify(r)]);
    }
  });
});

describe('resultBodyStream', () => {
  it('streams UTF-8 bytes of the same JSON', async () => {
    const result = scanResult(usersOf(2100));
    expect(JSON.parse(await readStream(resultBodyStream(result)))).toEqual(result);
  });
});
