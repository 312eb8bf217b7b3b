import { ndjsonLines } from '../../src/relay/ndjson-lines';

async function lines(
  chunks: (string | Buffer)[],
  limits = { maxLineBytes: 1000, maxTotalBytes: 10_000 },
): Promise<string[]> {
  const out: string[] = [];
  for await (const line of ndjsonLines(chunks, limits)) out.push(line);
  return out;
}

describe('ndjsonLines', () => {
  it('splits lines across and within chunks, and keeps a last line without a newline', async () => {
    expect(await lines(['{"a":1}\n{"b"', ':2}\n\n', '[1,2]'])).toEqual(['{"a":1}', '{"b":2}', '[1,2]']);
  });

  it('joins a UTF-8 character that two chunks split', async () => {
    const bytes = Buffer.from('{"cn":"Zürich"}\n', 'utf8');
    const at = bytes.indexOf(0xc3) + 1; // inside the two bytes of ü
    expect(await lines([bytes.subarray(0, at), bytes.subarray(at)])).toEqual(['{"cn":"Zürich"}']);
  });

  it('stops at a line over the limit, even one that never ends', async () => {
    await expect(lines(['x'.repeat(600), 'y'.repeat(600)])).rejects.toMatchObject({
      code: 'RELAY.TOO_LARGE',
      message: 'A line is over 1000 bytes.',
    });
    await expect(lines(['x'.repeat(1001) + '\n'])).rejects.toMatchObject({ code: 'RELAY.TOO_LARGE' });
  });

  it('stops once the body is over its limit, before reading the rest', async () => {
    let pulled = 0;
    async function* endless(): AsyncGenerator<string> {
      for (;;) {
        pulled++;
        yield '[1]\n'.repeat(100);
      }
    }
    const out: string[] = [];
    await expect(
      (async () => {
        for await (const line of ndjsonLines(endless(), { maxLineBytes: 100, maxTotalBytes: 4_000 })) out.push(line);
      })(),
    ).rejects.toMatchObject({ code: 'RELAY.TOO_LARGE', message: 'The body is over 4000 bytes.' });
    expect(pulled).toBe(11);
    expect(out).toHaveLength(1_000);
  });
});
