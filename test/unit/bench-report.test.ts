import { percentile, summarize } from '../../bench/lib/stats';
import { formatTable, ratioRow } from '../../bench/lib/table';

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
