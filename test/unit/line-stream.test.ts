import { streamScan } from '../../src/agent/actions/stream-scan';
import { scanOu } from '../../src/agent/actions/scan-ou';
import { createLineStream, LineStreamCancelled } from '../../src/agent/line-stream';
import { SimulatedDirectory } from '../../src/directory/simulated-directory';
import type { Directory } from '../../src/directory/types';
import { scannedUser, scannedUsersProblem, scanStreamEnd, scanStreamHead } from '../../src/relay/protocol';
import {
  BASE_DN,
  EXPECTED,
  EXPECTED_OTHER_TYPES,
  OU,
  SALES_WITH_CONSISTENCY_GUID,
} from '../../src/sandbox/forest-spec';
import { buildSeededForest } from '../../src/sandbox/seeded-forest';

async function readAll(body: ReadableStream<Uint8Array>): Promise<string> {
  const parts: Uint8Array[] = [];
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) parts.push(chunk);
  return Buffer.concat(parts).toString('utf8');
}

const tick = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));

describe('createLineStream', () => {
  it('holds the writer while two lines wait, and lets it go on as the reader reads', async () => {
    const out = createLineStream(2);
    let written = 0;
    const writer = (async () => {
      for (let i = 0; i < 5; i++) {
        await out.write(`line ${i}\n`);
        written++;
      }
      out.close();
    })();
    await tick();
    expect(written).toBe(2);
    const reader = out.body.getReader();
    expect(Buffer.from((await reader.read()).value!).toString()).toBe('line 0\n');
    await tick();
    expect(written).toBe(3);
    const rest: string[] = [];
    for (;;) {
      const { done, value } = await reader.read();
      if (done) break;
      rest.push(Buffer.from(value).toString());
    }
    await writer;
    expect(rest).toEqual(['line 1\n', 'line 2\n', 'line 3\n', 'line 4\n']);
  });

  it('releases a waiting writer with LineStreamCancelled when the reader cancels or the request ends', async () => {
    const cancelledByReader = createLineStream(1);
    await cancelledByReader.write('a\n');
    const waiting = cancelledByReader.write('b\n');
    await cancelledByReader.body.cancel('the bot answered');
    await expect(waiting).rejects.toBeInstanceOf(LineStreamCancelled);

    const stopped = createLineStream(1);
    await stopped.write('a\n');
    const blocked = stopped.write('b\n');
    stopped.stop(new Error('connect ECONNREFUSED'));
    await expect(blocked).rejects.toMatchObject({ reason: new Error('connect ECONNREFUSED') });
    await expect(stopped.write('c\n')).rejects.toBeInstanceOf(LineStreamCancelled);
  });
});

describe('streamScan', () => {
  const forest = buildSeededForest();

  it('writes the head, lines of at most 1,000 users and an end line whose totals match the scan', async () => {
    const directory = new SimulatedDirectory(forest);
    const expected = await scanOu(directory, { action: 'directory.scanOu', ou: OU.sales }, () => undefined);
    const out = createLineStream();
    const [, text] = await Promise.all([
      streamScan(
        directory,
        { baseDn: expected.baseDn, defaultNamingContext: expected.defaultNamingContext, pageSize: 300 },
        out,
        () => undefined,
      ),
      readAll(out.body),
    ]);
    const values = text
      .trimEnd()
      .split('\n')
      .map((l) => JSON.parse(l) as unknown);
    expect(scanStreamHead.parse(values[0])).toEqual({
      outcome: 'succeeded',
      result: {
        action: 'directory.scanOu',
        baseDn: expected.baseDn,
        defaultNamingContext: expected.defaultNamingContext,
      },
    });
    const lines = values.slice(1, -1) as unknown[][];
    for (const line of lines) expect(scannedUsersProblem(line)).toBeNull();
    // Users, and the pilot OU's inetOrgPersons, groups and contacts: every object a verify compares.
    const objects =
      EXPECTED.sales.users +
      EXPECTED_OTHER_TYPES.sales.inetOrgPersons +
      EXPECTED_OTHER_TYPES.sales.groups +
      EXPECTED_OTHER_TYPES.sales.contacts;
    expect(lines.map((l) => l.length)).toEqual([1000, objects - 1000]);
    expect(lines.flat()).toEqual(expected.users);
    expect(scanStreamEnd.parse(values.at(-1))).toEqual({
      end: true,
      users: objects,
      totals: expected.totals,
    });
  });

  it("carries isCriticalSystemObject on the built-in accounts' lines; the bot checks its type", async () => {
    const directory = new SimulatedDirectory(forest);
    const out = createLineStream();
    const base = `CN=Users,${BASE_DN}`;
    const [, text] = await Promise.all([
      streamScan(directory, { baseDn: base, defaultNamingContext: BASE_DN }, out, () => undefined),
      readAll(out.body),
    ]);
    const users = JSON.parse(text.split('\n')[1]!) as Record<string, unknown>[];
    expect(scannedUsersProblem(users)).toBeNull();
    expect(users.map((u) => u.criticalSystemObject)).toEqual([true, true, true]);
    expect(scannedUsersProblem([{ ...users[0], criticalSystemObject: 'TRUE' }])).toBe(
      'user 0: criticalSystemObject must be true or false when present',
    );
    // An older agent's line, without the field, is as valid as before.
    const { criticalSystemObject: _dropped, ...old } = users[0]!;
    expect(scannedUsersProblem([old])).toBeNull();
  });

  it('carries objectGUID only for objects whose anchor is ms-DS-ConsistencyGuid of other bytes; the bot checks its form', async () => {
    const directory = new SimulatedDirectory(forest);
    const out = createLineStream();
    const [, text] = await Promise.all([
      streamScan(directory, { baseDn: OU.sales, defaultNamingContext: BASE_DN }, out, () => undefined),
      readAll(out.body),
    ]);
    const objects = text
      .split('\n')
      .slice(1, -2)
      .flatMap((l) => JSON.parse(l) as Record<string, unknown>[]);
    const carrying = objects.filter((o) => 'objectGuid' in o);
    // The Sales users given their own ms-DS-ConsistencyGuid, and the Sales Managers group.
    expect(carrying.map((o) => o.dn)).toEqual([
      ...Array.from(
        { length: SALES_WITH_CONSISTENCY_GUID },
        (_, i) => `CN=Sales User ${String(i + 1).padStart(4, '0')},${OU.sales}`,
      ),
      `CN=Sales Managers,${OU.sales}`,
    ]);
    for (const o of carrying) {
      expect(o.objectGuid).not.toBe(o.anchor);
      expect(Buffer.from(o.objectGuid as string, 'base64')).toHaveLength(16);
    }
    expect(scannedUsersProblem(objects)).toBeNull();
    const user = carrying[0]!;
    const problem = 'user 0: objectGuid must be base64 of 16 bytes when present';
    for (const bad of [
      'not base64 at all',
      Buffer.alloc(15).toString('base64'),
      Buffer.alloc(17).toString('base64'),
      // Sixteen zero bytes, but with the unused low bits of the last character set: not canonical.
      'AAAAAAAAAAAAAAAAAAAAAB==',
      42,
      null,
    ])
      expect(scannedUsersProblem([{ ...user, objectGuid: bad }])).toBe(problem);
    // The same line as a JSON result (the zod schema) is refused too.
    expect(scannedUser.safeParse({ ...user, objectGuid: 'AAAA' }).success).toBe(false);
    expect(scannedUser.parse(user)).toEqual(user);
  });

  it("ends the body with the directory's error, without an end line, and throws it", async () => {
    const real = new SimulatedDirectory(forest);
    let pages = 0;
    const failing: Directory = Object.assign(Object.create(real) as Directory, {
      scanUsers: (baseDn: string, options: Parameters<Directory['scanUsers']>[1]) =>
        real.scanUsers(baseDn, {
          ...options,
          pageSize: 100,
          onPage: async (page, n) => {
            if (++pages === 12) throw new Error('LDAP connection lost');
            await options?.onPage?.(page, n);
          },
        }),
    });
    const out = createLineStream();
    const reading = readAll(out.body);
    await expect(
      streamScan(failing, { baseDn: OU.sales, defaultNamingContext: 'DC=contoso,DC=com' }, out, () => undefined),
    ).rejects.toThrow('LDAP connection lost');
    await expect(reading).rejects.toThrow('LDAP connection lost');
  });
});
