import { percentile, summarize } from '../../bench/lib/stats';
import { formatTable, ratioRow, type ResultRow } from '../../bench/lib/table';
import { pageFloorMs, throttleFloorMs, verifyRows, type VerifyFigures } from '../../bench/lib/verify-rows';
import type { VerifyMeasurement, VerifyRun } from '../../bench/scenarios/verify-at-scale';

describe('benchmark statistics', () => {
  it('uses the nearest rank, so p99 of 1..1000 is 990 and p50 is 500', () => {
    const samples = Array.from({ length: 1000 }, (_, i) => 1000 - i);
    expect(percentile(samples, 50)).toBe(500);
    expect(percentile(samples, 99)).toBe(990);
    expect(percentile(samples, 100)).toBe(1000);
  });

  it('p99 of fewer than 100 samples is the largest one, not an interpolation below it', () => {
    expect(percentile([3, 1, 2], 99)).toBe(3);
    expect(percentile([7], 50)).toBe(7);
  });

  it('refuses empty samples and out-of-range percentiles instead of returning a number', () => {
    expect(() => percentile([], 50)).toThrow(/no samples/);
    expect(() => percentile([1], 0)).toThrow(/out of range/);
    expect(() => percentile([1], 101)).toThrow(/out of range/);
  });

  it('summarises count, p50, p99, max and mean without reordering the input', () => {
    const samples = [4, 1, 3, 2];
    expect(summarize(samples)).toEqual({ n: 4, p50: 2, p99: 4, max: 4, mean: 2.5 });
    expect(samples).toEqual([4, 1, 3, 2]);
  });
});

describe('benchmark table', () => {
  it('marks rows PASS or FAIL only when they have a target, and escapes pipes', () => {
    const table = formatTable([
      { section: 'latency', metric: 'ack', value: '5 ms', target: 'p99 < 100 ms', pass: true },
      { section: 'memory', metric: 'a | b', value: '200 MB', target: '< 150 MB', pass: false },
      { section: 'verify', metric: 'total', value: '3.0 s' },
    ]).split('\n');
    expect(table[0]).toBe('| section | metric | value | target | result |');
    expect(table[2]).toBe('| latency | ack | 5 ms | p99 < 100 ms | PASS |');
    expect(table[3]).toBe('| memory | a \\| b | 200 MB | < 150 MB | FAIL |');
    expect(table[4]).toBe('| verify | total | 3.0 s |  |  |');
  });

  it('judges a ratio against its limit, inclusive', () => {
    expect(ratioRow('s', 'm', 13_000, 10_000, 1.3)).toMatchObject({ value: '1.30x (13.0 s vs 10.0 s)', pass: true });
    expect(ratioRow('s', 'm', 13_100, 10_000, 1.3)).toMatchObject({ pass: false });
  });
});

describe('verify rows: targets against the page-latency floor and the stack floor', () => {
  const MB = 1024 * 1024;
  const run = (over: Partial<VerifyRun> = {}): VerifyRun => ({
    totalMs: 20_000,
    onPremMs: 17_000,
    cloudAfterScanMs: 800,
    refresh: { cloudRead: 'full', changes: 109_000, pages: 111, ms: 5_000 },
    card: { onPrem: 100_000, cloud: 99_000, missing: 2000, extra: 1000, mismatched: 1000 },
    wrong: [],
    ...over,
  });
  const measured = (over: Partial<VerifyMeasurement> = {}): VerifyMeasurement => ({
    label: 'x',
    first: run(),
    onPremUsers: 100_000,
    botIdleRss: 170 * MB,
    botPeakRss: 200 * MB,
    agentIdleRss: 60 * MB,
    agentPeakRss: 120 * MB,
    ...over,
  });
  const figures = (slowFirstMs: number, repeatRefreshMs: number): VerifyFigures => ({
    v10k: measured({ onPremUsers: 10_000, botPeakRss: 190 * MB, agentPeakRss: 110 * MB }),
    v0: measured({ repeat: { ...run(), changed: { updated: 900, deleted: 100 } } }),
    vSlow: measured({
      first: run({ totalMs: slowFirstMs, refresh: { cloudRead: 'full', changes: 109_000, pages: 111, ms: 112_000 } }),
      repeat: {
        ...run({ totalMs: 18_000, refresh: { cloudRead: 'delta', changes: 1000, pages: 10, ms: repeatRefreshMs } }),
        changed: { updated: 900, deleted: 100 },
      },
    }),
    vThrottled: measured(),
    ldap100k: { ms: 16_000, entries: 100_000 },
    ldap10k: { ms: 1_600, entries: 10_000 },
    graphAll: { ms: 900, users: 109_000, pages: 110 },
    floor: { rss: 160 * MB, loaded: '900 of 900' },
    loads: { load10k: 'load 1', load0: 'load 1', loadSlow: 'load 1', loadThrottled: 'load 1' },
    latencyMs: 1000,
    throttle: { every: 10, retryAfterS: 1 },
  });
  const row = (rows: ResultRow[], start: string): ResultRow => rows.find((r) => r.metric.startsWith(start))!;

  it('the first verify is judged against the slower side: 111 requests × 1 s, not the 16 s ldapsearch', () => {
    const rows = verifyRows(figures(115_000, 1_000));
    expect(row(rows, 'first verify vs the slower side')).toMatchObject({ pass: true, target: '≤ 1.05x' });
    expect(row(rows, 'first verify vs the slower side').value).toMatch(/^1\.04x \(115\.0 s vs 111\.0 s/);
    expect(verifyRows(figures(120_000, 1_000)).find((r) => r.metric.startsWith('first verify vs'))!.pass).toBe(false);
  });

  it('the repeat cloud side counts the delta round and the copy read; the whole verify its on-prem scan', () => {
    const rows = verifyRows(figures(115_000, 2_000));
    // 2.0 s round + 0.8 s copy read and compare.
    expect(row(rows, 'repeat verify, 1% changed: cloud side')).toMatchObject({ pass: true });
    expect(row(rows, 'repeat verify, 1% changed: cloud side').value).toMatch(/^2\.8 s/);
    expect(row(rows, 'repeat verify, 1% changed: cloud side').value).toContain('page-latency floor 10.0 s');
    expect(row(rows, 'repeat verify, 1% changed: whole')).toMatchObject({ pass: true });
    expect(verifyRows(figures(115_000, 2_500)).find((r) => r.metric.includes('cloud side'))!.pass).toBe(false);
  });

  it('memory: growth scaled from the 10k and 100k peaks, idle against the stack floor', () => {
    const rows = verifyRows(figures(115_000, 1_000));
    // (200 - 190) MB over 90,000 users, scaled to 100,000: 11 MB.
    expect(row(rows, 'bot growth per 100,000')).toMatchObject({ pass: true });
    expect(row(rows, 'bot growth per 100,000').value).toMatch(/^11 MB/);
    expect(row(rows, 'bot idle RSS vs the stack floor')).toMatchObject({ value: '170 MB = floor + 10 MB', pass: true });
    expect(row(rows, 'agent peak RSS')).toMatchObject({ pass: true });
  });

  it('a wrong card fails the correctness row and names what was wrong', () => {
    const f = figures(115_000, 1_000);
    f.v0.first.wrong = ['missing: card 1999, expected 2000'];
    expect(row(verifyRows(f), 'cards correct')).toMatchObject({
      pass: false,
      value: 'missing: card 1999, expected 2000',
    });
  });

  it('floors: requests × latency, and throttled requests × Retry-After', () => {
    expect(pageFloorMs(run(), 1000)).toBe(111_000);
    expect(throttleFloorMs(111, 10, 1)).toBe(12_000);
  });
});
