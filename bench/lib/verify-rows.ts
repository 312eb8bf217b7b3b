import type { VerifyMeasurement, VerifyRun } from '../scenarios/verify-at-scale';
import { mb, seconds, type ResultRow } from './table';

export interface VerifyFigures {
  v10k: VerifyMeasurement;
  /** 100k, Graph at 0 ms: first verify and repeat. */
  v0: VerifyMeasurement;
  /** 100k, Graph at `latencyMs` per request: first verify and repeat. */
  vSlow: VerifyMeasurement;
  /** 100k, Graph at 0 ms with a 429 + Retry-After every `throttleEvery` requests: first verify. */
  vThrottled: VerifyMeasurement;
  ldap100k: { ms: number; entries: number };
  ldap10k: { ms: number; entries: number };
  graphAll: { ms: number; users: number; pages: number };
  floor: { rss: number; loaded: string };
  loads: { load10k: string; load0: string; loadSlow: string; loadThrottled: string };
  latencyMs: number;
  throttle: { every: number; retryAfterS: number };
}

const MB = 1024 * 1024;

/** Graph requests the cloud refresh made times the latency: no client can read them faster. */
export function pageFloorMs(run: VerifyRun, latencyMs: number): number {
  return (run.refresh?.pages ?? 0) * latencyMs;
}

/** A 429 every N-th request, each waited out: pages / (N - 1) throttled requests, Retry-After each. */
export function throttleFloorMs(pages: number, every: number, retryAfterS: number): number {
  return Math.floor(pages / Math.max(1, every - 1)) * retryAfterS * 1000;
}

function refreshText(run: VerifyRun, latencyMs: number): string {
  const r = run.refresh;
  if (!r) return 'no refresh logged';
  const what =
    r.cloudRead === 'delta'
      ? `delta round, ${r.changes.toLocaleString('en-US')} changes`
      : `full read, ${r.changes.toLocaleString('en-US')} users`;
  return `${seconds(r.ms)} (${what}, ${r.pages} requests; page-latency floor ${seconds(r.pages * latencyMs)})`;
}

function ratio(section: string, metric: string, value: number, base: number, limit: number, note: string): ResultRow {
  const x = value / base;
  return {
    section,
    metric,
    value: `${x.toFixed(2)}x (${seconds(value)} vs ${seconds(base)}; ${note})`,
    target: `≤ ${limit}x`,
    pass: x <= limit,
  };
}

/** The verify and memory rows of the table, from the measurements (pure, so it is unit-tested). */
export function verifyRows(f: VerifyFigures): ResultRow[] {
  const rows: ResultRow[] = [];
  const s = 'verify 100k';
  const runs = [f.v10k.first, f.v0.first, f.v0.repeat, f.vSlow.first, f.vSlow.repeat, f.vThrottled.first];
  const wrong = runs.flatMap((r) => r?.wrong ?? []);
  rows.push({
    section: s,
    metric: 'cards correct (counts; repeat: after 900 UPN changes and 100 deletions)',
    value: wrong.length === 0 ? 'yes' : wrong.join('; '),
    pass: wrong.length === 0 && runs.every((r) => r !== undefined),
  });
  rows.push(
    ratio(
      s,
      'on-prem scan vs raw ldapsearch (pr=500), first verify at 0 ms',
      f.v0.first.onPremMs,
      f.ldap100k.ms,
      1.2,
      f.loads.load0,
    ),
  );

  // Graph at 0 ms: what the bot itself costs.
  const z = 'Graph 0 ms';
  rows.push(
    {
      section: z,
      metric:
        'first verify: total; on-prem scan; cloud refresh (parallel with the scan); copy read + compare after the scan',
      value: `${seconds(f.v0.first.totalMs)}; ${seconds(f.v0.first.onPremMs)}; ${refreshText(f.v0.first, 0)}; ${seconds(f.v0.first.cloudAfterScanMs)} (${f.loads.load0})`,
    },
    {
      section: z,
      metric: 'repeat verify, 1% changed: total; on-prem scan; cloud refresh; copy read + compare',
      value: f.v0.repeat
        ? `${seconds(f.v0.repeat.totalMs)}; ${seconds(f.v0.repeat.onPremMs)}; ${refreshText(f.v0.repeat, 0)}; ${seconds(f.v0.repeat.cloudAfterScanMs)} (${f.loads.load0})`
        : 'not run',
    },
    {
      section: z,
      metric: `raw Graph page fetches (${f.graphAll.pages} pages, $top=999), for reference`,
      value: seconds(f.graphAll.ms),
    },
  );

  // Graph at latencyMs per request: what a team waits for.
  const l = `Graph ${seconds(f.latencyMs)}/page`;
  const first = f.vSlow.first;
  const firstFloor = Math.max(pageFloorMs(first, f.latencyMs), f.ldap100k.ms);
  rows.push(
    {
      section: l,
      metric: 'first verify: total; on-prem scan; cloud refresh (parallel with the scan); copy read + compare',
      value: `${seconds(first.totalMs)}; ${seconds(first.onPremMs)}; ${refreshText(first, f.latencyMs)}; ${seconds(first.cloudAfterScanMs)} (${f.loads.loadSlow})`,
    },
    ratio(
      l,
      "first verify vs the slower side's floor (max of Graph requests × latency, ldapsearch)",
      first.totalMs,
      firstFloor,
      1.05,
      f.loads.loadSlow,
    ),
  );
  const repeat = f.vSlow.repeat;
  if (repeat) {
    const cloudSide = (repeat.refresh?.ms ?? NaN) + repeat.cloudAfterScanMs;
    rows.push(
      {
        section: l,
        metric: 'repeat verify, 1% changed: cloud side (delta round + copy read + compare)',
        value: `${seconds(cloudSide)}: ${refreshText(repeat, f.latencyMs)} + ${seconds(repeat.cloudAfterScanMs)} (${f.loads.loadSlow})`,
        target: '≤ 3 s',
        pass: cloudSide <= 3000,
      },
      ratio(
        l,
        'repeat verify, 1% changed: whole verify vs its on-prem scan',
        repeat.totalMs,
        repeat.onPremMs,
        1.2,
        f.loads.loadSlow,
      ),
    );
  }

  const t = 'Graph throttled';
  const th = f.vThrottled.first;
  rows.push({
    section: t,
    metric: `first verify, 0 ms, 429 + Retry-After ${f.throttle.retryAfterS} s every ${f.throttle.every} requests: total; cloud refresh`,
    value: `${seconds(th.totalMs)}; ${th.refresh ? `${seconds(th.refresh.ms)} (${th.refresh.pages} pages; Retry-After floor ${seconds(throttleFloorMs(th.refresh.pages, f.throttle.every, f.throttle.retryAfterS))})` : 'no refresh logged'}; on-prem ${seconds(th.onPremMs)} (${f.loads.loadThrottled})`,
  });

  const m = 'memory';
  const growth = ((f.v0.botPeakRss - f.v10k.botPeakRss) / (f.v0.onPremUsers - f.v10k.onPremUsers)) * 100_000;
  const agentGrowth = ((f.v0.agentPeakRss - f.v10k.agentPeakRss) / (f.v0.onPremUsers - f.v10k.onPremUsers)) * 100_000;
  rows.push(
    {
      section: m,
      metric: 'bot growth per 100,000 users (first-verify peaks, 100k vs 10k, scaled)',
      value: `${mb(growth)} (peaks ${mb(f.v0.botPeakRss)} / ${mb(f.v10k.botPeakRss)})`,
      target: '≤ 25 MB',
      pass: growth <= 25 * MB,
    },
    {
      section: m,
      metric: 'agent peak RSS, 100k users (idle before); growth per 100,000',
      value: `${mb(f.v0.agentPeakRss)} (${mb(f.v0.agentIdleRss)}); ${mb(agentGrowth)}`,
      target: '≤ 150 MB',
      pass: f.v0.agentPeakRss <= 150 * MB,
    },
    {
      section: m,
      metric: `stack floor: a process loading only the bot's library files (${f.floor.loaded})`,
      value: mb(f.floor.rss),
    },
    {
      section: m,
      metric: 'bot idle RSS vs the stack floor',
      value: `${mb(f.v0.botIdleRss)} = floor + ${mb(f.v0.botIdleRss - f.floor.rss)}`,
      target: '≤ floor + 20 MB',
      pass: f.v0.botIdleRss - f.floor.rss <= 20 * MB,
    },
    {
      section: 'verify 10k',
      metric: '/verify total; on-prem; cloud after scan (Graph 0 ms)',
      value: `${seconds(f.v10k.first.totalMs)}; ${seconds(f.v10k.first.onPremMs)} (ldapsearch ${seconds(f.ldap10k.ms)}); ${seconds(f.v10k.first.cloudAfterScanMs)} (${f.loads.load10k})`,
    },
  );
  return rows;
}
