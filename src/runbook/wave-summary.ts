/**
 * The daily wave summary as data: per wave what should arrive, what has arrived, what changed since
 * the previous summary, what went wrong and what comes next. Pure; the service gathers the inputs.
 */

export interface WaveNumbers {
  name: string;
  scheduledFor: string | null;
  /** Resolved base DNs (or the input when the agent could not resolve it). */
  ous: string[];
  /** Users on-premises, counted by the agent today; null when the count failed. */
  expected: number | null;
  /** Synced users in Entra whose on-premises DN lies in the wave's OUs. */
  inCloud: number;
  /** Of those, users whose onPremisesImmutableId matches the on-premises anchor: provisioned and hard-matched. */
  provisioned: number;
  /** On-premises users with no synced user in Entra. */
  missing: number;
  /** Users whose anchors disagree: the hard match would fail. */
  mismatched: number;
  /** Users of the wave with a successful Cloud Sync provisioning log entry (proof Cloud Sync owns them), when a job is configured. */
  confirmed: number | null;
  /** Why the on-premises count failed today. */
  scanError: string | null;
}

export interface ProvisioningFindings {
  jobId: string;
  /** Window the counts cover. */
  since: string;
  successes: number;
  failures: number;
  topFailureReasons: { reason: string; count: number }[];
}

export interface LastVerify {
  id: string;
  ou: string;
  at: string;
  onPrem: number;
  cloud: number;
  missing: number;
  extra: number;
  mismatched: number;
}

export interface SummaryInput {
  localDate: string;
  timeZone: string;
  waves: WaveNumbers[];
  /** The previous posted summary of this migration, for the change since then. */
  previous: WaveSummary | null;
  provisioning: ProvisioningFindings | null;
  lastVerify: LastVerify | null;
  readySteps: { n: number; title: string }[];
  /** How the cloud numbers were read. */
  cloud: { mode: 'full' | 'delta'; changesApplied: number; syncedUsers: number };
  notes: string[];
}

export interface WaveLine extends WaveNumbers {
  /** Provisioned now minus provisioned in the previous summary; null when there was none. */
  change: number | null;
}

export interface WaveSummary {
  localDate: string;
  timeZone: string;
  previousDate: string | null;
  waves: WaveLine[];
  /** `expected` is null when some wave could not be counted today; `change` adds up the waves that have one. */
  totals: { expected: number | null; provisioned: number; change: number | null; missing: number; mismatched: number };
  provisioning: ProvisioningFindings | null;
  lastVerify: LastVerify | null;
  dueNext: string[];
  cloud: SummaryInput['cloud'];
  notes: string[];
}

export function buildWaveSummary(input: SummaryInput): WaveSummary {
  const before = new Map((input.previous?.waves ?? []).map((w) => [w.name.toLowerCase(), w]));
  const waves: WaveLine[] = input.waves.map((w) => {
    const prev = before.get(w.name.toLowerCase());
    return { ...w, change: prev ? w.provisioned - prev.provisioned : null };
  });
  const sum = (pick: (w: WaveLine) => number) => waves.reduce((acc, w) => acc + pick(w), 0);
  // Per-wave changes only: a wave removed or added since yesterday is not a change in provisioning.
  const compared = waves.filter((w) => w.change !== null);
  const change = compared.length > 0 ? compared.reduce((acc, w) => acc + w.change!, 0) : null;
  const expected = waves.some((w) => w.expected === null) ? null : sum((w) => w.expected ?? 0);
  return {
    localDate: input.localDate,
    timeZone: input.timeZone,
    previousDate: input.previous?.localDate ?? null,
    waves,
    totals: { expected, provisioned: sum((w) => w.provisioned), change, missing: sum((w) => w.missing), mismatched: sum((w) => w.mismatched) },
    provisioning: input.provisioning,
    lastVerify: input.lastVerify,
    dueNext: dueNext(input, waves),
    cloud: input.cloud,
    notes: input.notes,
  };
}

function dueNext(input: SummaryInput, waves: WaveLine[]): string[] {
  const out: string[] = input.readySteps.slice(0, 3).map((s) => `Runbook step ${s.n}: ${s.title} (/step ${s.n})`);
  for (const w of waves) {
    if (w.scheduledFor !== null && w.scheduledFor <= input.localDate && w.expected !== null && w.provisioned < w.expected) {
      out.push(`Wave ${w.name} (due ${w.scheduledFor}): ${(w.expected - w.provisioned).toLocaleString('en-US')} of ${w.expected.toLocaleString('en-US')} users not provisioned yet`);
    }
  }
  const upcoming = waves.filter((w) => w.scheduledFor !== null && w.scheduledFor > input.localDate).sort((a, b) => a.scheduledFor!.localeCompare(b.scheduledFor!));
  const next = upcoming[0];
  if (next) out.push(`Next wave: ${next.name} on ${next.scheduledFor} (${next.expected === null ? 'not counted' : `${next.expected.toLocaleString('en-US')} users`})`);
  if (waves.length === 0) out.push('No waves planned yet: /wave add <name> <OU> [<OU>...] [on <YYYY-MM-DD>]');
  return out;
}
