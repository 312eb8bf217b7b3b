import { IncomingScans } from '../../src/services/incoming-scans';

const base = 'OU=Sales,DC=contoso,DC=com';
const user = (i: number): { dn: string; anchor: string; disabled: boolean } => ({
  dn: `CN=u${i},OU=Sales,DC=contoso,DC=com`,
  anchor: Buffer.alloc(16, i).toString('base64'),
  disabled: i % 2 === 0,
});

describe('IncomingScans', () => {
  it('indexes a scan line by line and hands the index out once, after a complete arrival', () => {
    const scans = new IncomingScans();
    const sink = scans.sink('job-1', base);
    sink.users([user(1), user(2)]);
    sink.users([user(3)]);
    // Still arriving: not handed out (and not kept for later).
    expect(new IncomingScans().take('job-1')).toBeNull();
    sink.end(true);
    const index = scans.take('job-1');
    expect(index?.tally()).toMatchObject({ onPrem: { users: 3, disabled: 1 } });
    expect(scans.take('job-1')).toBeNull();
    expect(scans.size).toBe(0);
  });

  it('drops a refused or cut upload, and one with a DN it cannot take', () => {
    const scans = new IncomingScans();
    const refused = scans.sink('job-1', base);
    refused.users([user(1)]);
    refused.end(false);
    expect(scans.size).toBe(0);
    expect(scans.take('job-1')).toBeNull();

    const broken = scans.sink('job-2', base);
    broken.users([{ dn: 'not a DN', anchor: '', disabled: false }]);
    broken.end(true);
    expect(scans.take('job-2')).toBeNull();
  });

  it('starts over when the same job is sent again, and the old upload cannot end the new one', () => {
    const scans = new IncomingScans();
    const first = scans.sink('job-1', base);
    first.users([user(1), user(2)]);
    const second = scans.sink('job-1', base);
    first.end(false);
    second.users([user(1)]);
    second.end(true);
    expect(scans.take('job-1')?.tally().onPrem.users).toBe(1);
  });

  it('forgets indexes nobody took within ten minutes', () => {
    let now = 0;
    const scans = new IncomingScans(() => now);
    scans.sink('job-1', base).end(true);
    now = 10 * 60_000 + 1;
    scans.sink('job-2', base);
    expect(scans.take('job-1')).toBeNull();
    expect(scans.size).toBe(1);
  });

  it('forgets stale indexes when one is taken too, not only when a scan starts', () => {
    let now = 0;
    const scans = new IncomingScans(() => now);
    scans.sink('applied-elsewhere', base).end(true);
    now = 5 * 60_000;
    scans.sink('job-2', base).end(true);
    now = 10 * 60_000 + 1;
    expect(scans.take('job-2')?.tally().onPrem.users).toBe(0);
    expect(scans.size).toBe(0);
  });
});
