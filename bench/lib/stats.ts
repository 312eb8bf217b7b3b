/** Latency samples in milliseconds, summarised the way bench/results/latest.md reports them. */
export interface Summary {
  n: number;
  p50: number;
  p99: number;
  max: number;
  mean: number;
}

/** Nearest-rank percentile (the value below which p% of the samples fall); p in (0, 100]. */
export function percentile(samples: readonly number[], p: number): number {
  if (samples.length === 0)
    throw new Error('percentile of no samples: the measurement produced nothing; check the log above.');
  if (!(p > 0 && p <= 100)) throw new Error(`percentile ${p} is out of range; use a number in (0, 100].`);
  const sorted = [...samples].sort((a, b) => a - b);
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[rank - 1]!;
}

export function summarize(samples: readonly number[]): Summary {
  return {
    n: samples.length,
    p50: percentile(samples, 50),
    p99: percentile(samples, 99),
    max: Math.max(...samples),
    mean: samples.reduce((sum, v) => sum + v, 0) / samples.length,
  };
}
