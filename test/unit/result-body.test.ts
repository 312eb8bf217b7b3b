import { resultBody, scanResultLines } from '../../src/agent/result-body';
import { resultRequest, SCAN_STREAM_CONTENT_TYPE, scannedUsersProblem, scanStreamEnd, scanStreamHead, type ResultRequest, type ScannedUser } from '../../src/relay/protocol';

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

type ScanSucceeded = Parameters<typeof scanResultLines>[0];

describe('scanResultLines', () => {
  it.each([0, 1, 7, 1000, 2501])('a scan of %i users is a head line, user lines the bot accepts, and an end line that counts them', (n) => {
    const result = scanResult(usersOf(n)) as ScanSucceeded;
    const lines = [...scanResultLines(result, 1000)];
    for (const line of lines) {
      expect(line.endsWith('\n')).toBe(true);
      expect(line.slice(0, -1)).not.toContain('\n');
    }
    const values = lines.map((l) => JSON.parse(l) as unknown);
    const { users, ...head } = result.result;
    expect(scanStreamHead.parse(values[0])).toEqual({ outcome: 'succeeded', result: head });
    expect(scanStreamEnd.parse(values[values.length - 1])).toEqual({ end: true, users: n });
    const middle = values.slice(1, -1);
    for (const v of middle) expect(scannedUsersProblem(v)).toBeNull();
    expect(middle.flat()).toEqual(users);
    expect(middle).toHaveLength(Math.ceil(n / 1000));
  });

  it('puts at most the given number of users on a line', () => {
    const lines = [...scanResultLines(scanResult(usersOf(25)) as ScanSucceeded, 10)];
    // head, three user lines (10, 10, 5), end
    expect(lines.map((l) => { const v = JSON.parse(l) as unknown; return Array.isArray(v) ? v.length : null; })).toEqual([null, 10, 10, 5, null]);
  });
});

describe('resultBody', () => {
  it('streams a scan as UTF-8 lines with the stream content type', async () => {
    const result = scanResult(usersOf(2100));
    const { contentType, body } = resultBody(result);
    expect(contentType).toBe(SCAN_STREAM_CONTENT_TYPE);
    expect(typeof body).not.toBe('string');
    expect(await readStream(body as ReadableStream<Uint8Array>)).toBe([...scanResultLines(result as ScanSucceeded)].join(''));
  });

  it('sends failures and Connect Sync results as one JSON document', () => {
    const failed: ResultRequest = { outcome: 'failed', error: { code: 'DIRECTORY.ERROR', message: 'no "such" OU' } };
    const adsync: ResultRequest = { outcome: 'succeeded', result: { action: 'adsync.getScheduler', data: { syncCycleEnabled: true } } };
    for (const r of [failed, adsync]) {
      expect(resultBody(r)).toEqual({ contentType: 'application/json', body: JSON.stringify(r) });
      expect(resultRequest.parse(JSON.parse(resultBody(r).body as string))).toEqual(r);
    }
  });
});
