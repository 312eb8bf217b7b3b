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
  /**
   * Of those, users whose onPremisesImmutableId matches the on-premises anchor: in Entra with the
   * right anchor. Connect Sync put them there before the migration, so this is never shown as
   * "provisioned" (the stored name stays for summaries kept from earlier versions).
   */
  provisioned: number;
  /** On-premises users with no synced user in Entra. */
  missing: number;
  /** Users whose anchors disagree: the hard match would fail. */
  mismatched: number;
  /**
   * In-scope users of the wave that a successful entry of the Cloud Sync job names, by AD object and
   * Entra object (cloud-sync-evidence.ts, the rule step 12 uses); null when no job is set.
   */
  confirmed: number | null;
  /**
   * The wave's in-scope groups and contacts and how many of them Cloud Sync confirmed, by the same
   * rule (a group found in Entra by SID, a contact by mail). Absent when the wave's OUs hold none,
   * when no job is set, and in summaries stored before they were counted.
   */
  groups?: TypeCount;
  contacts?: TypeCount;
  /** Why the on-premises count failed today. */
  scanError: string | null;
  /** Cloud Sync limit and overlap warnings of the wave, so they reach the channel every day until resolved. */
  warnings: string[];
}

/** Groups or contacts of a wave: in scope on-premises, and confirmed by Cloud Sync. */
export interface TypeCount {
  expected: number;
  confirmed: number;
}

/** A part of the summary that could not be read, and what to check. */
export interface PartFailure {
  message: string;
  hint: string | null;
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

export interface CloudRead {
  /** `stored`: Graph could not be read now, so the copy from `readAt` was used. */
  mode: 'full' | 'delta' | 'stored';
  changesApplied: number;
  syncedUsers: number;
  readAt?: string;
  error?: PartFailure;
}

export interface SummaryInput {
  localDate: string;
  timeZone: string;
  waves: WaveNumbers[];
  /**
   * The daily summary to compare with: for a daily summary the previous day's (or the latest
   * before it), for one on request the latest daily one. Never another summary on request, which
   * would make the next daily change cover only the minutes since someone asked.
   */
  previous: WaveSummary | null;
  provisioning: ProvisioningFindings | null;
  /** Set when the provisioning logs were to be read and could not be. */
  provisioningError?: PartFailure | null;
  lastVerify: LastVerify | null;
  readySteps: { n: number; title: string }[];
  /** How the cloud numbers were read. */
  cloud: CloudRead;
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
  totals: {
    expected: number | null;
    provisioned: number;
    change: number | null;
    missing: number;
    mismatched: number;
    /** Confirmed by Cloud Sync over all waves; null when no job is set. Absent on summaries stored before it existed. */
    confirmed?: number | null;
  };
  provisioning: ProvisioningFindings | null;
  provisioningError: PartFailure | null;
  lastVerify: LastVerify | null;
  dueNext: string[];
  cloud: CloudRead;
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
  const provisioningError = input.provisioningError ?? null;
  // Said first, so nobody reads a partial summary as complete.
  const partNotes = [
    ...(input.cloud.error
      ? [
          `The Entra numbers are from the copy read at ${input.cloud.readAt ?? 'the last summary'}: Microsoft Graph could not be read now (see Errors).`,
        ]
      : []),
    ...(provisioningError
      ? [
          'Incomplete: the Cloud Sync provisioning logs could not be read, so their errors and successes are left out (see Errors).',
        ]
      : []),
  ];
  return {
    localDate: input.localDate,
    timeZone: input.timeZone,
    previousDate: input.previous?.localDate ?? null,
    waves,
    totals: {
      expected,
      provisioned: sum((w) => w.provisioned),
      change,
      missing: sum((w) => w.missing),
      mismatched: sum((w) => w.mismatched),
      confirmed: waves.length > 0 && waves.every((w) => w.confirmed !== null) ? sum((w) => w.confirmed ?? 0) : null,
    },
    provisioning: input.provisioning,
    provisioningError,
    lastVerify: input.lastVerify,
    dueNext: dueNext(input, waves),
    cloud: input.cloud,
    notes: [...partNotes, ...input.notes],
  };
}

/** Why a daily summary of an earlier day was not posted, as far as the database knows. */
export type MissedReason = { kind: 'not_running' } | { kind: 'failed'; error: string | null } | { kind: 'interrupted' };

/**
 * The catch-up note: which days have no summary and why, grouped by reason, and the date the
 * change is measured from (which is the previous daily summary's, not the missed days').
 */
export function missedDaysNote(input: {
  missed: { localDate: string; reason: MissedReason }[];
  localTime: string;
  timeZone: string;
  comparedWith: string | null;
}): string | null {
  if (input.missed.length === 0) return null;
  const groups = new Map<string, string[]>();
  for (const { localDate, reason } of input.missed) {
    const why =
      reason.kind === 'not_running'
        ? `no SyncShift instance was running at ${input.localTime} ${input.timeZone}`
        : reason.kind === 'interrupted'
          ? 'SyncShift stopped while building it'
          : `it could not be built${reason.error ? ` (${reason.error})` : ''}`;
    groups.set(why, [...(groups.get(why) ?? []), localDate]);
  }
  const parts = [...groups].map(([why, dates]) => `No summary was posted for ${dates.join(', ')}: ${why}.`);
  parts.push(
    input.comparedWith
      ? `The change below is since the daily summary of ${input.comparedWith}.`
      : 'There is no earlier daily summary to compare with.',
  );
  return parts.join(' ');
}

/** Why a summary comes more than a few minutes after its time. */
export function lateNote(input: {
  localDate: string;
  localTime: string;
  timeZone: string;
  attempt: number;
  maxAttempts: number;
  previousError: string | null;
}): string {
  const slot = `${input.localTime} ${input.timeZone} on ${input.localDate}`;
  if (input.attempt <= 1) return `Posted late: no SyncShift instance was running at ${slot}.`;
  if (input.previousError)
    return `Posted late: the earlier attempt after ${slot} failed (${input.previousError}); this is attempt ${input.attempt} of ${input.maxAttempts}.`;
  return `Posted late: SyncShift stopped while building it after ${slot}; this is attempt ${input.attempt}.`;
}

function dueNext(input: SummaryInput, waves: WaveLine[]): string[] {
  const out: string[] = input.readySteps.slice(0, 3).map((s) => `Runbook step ${s.n}: ${s.title} (/step ${s.n})`);
  for (const w of waves) {
    if (w.scheduledFor === null || w.scheduledFor > input.localDate || w.expected === null) continue;
    // Due waves are judged by Cloud Sync's own logs when a job is set; otherwise only presence in Entra can be said.
    const done = w.confirmed ?? w.provisioned;
    if (done < w.expected)
      out.push(
        `Wave ${w.name} (due ${w.scheduledFor}): ${(w.expected - done).toLocaleString('en-US')} of ${w.expected.toLocaleString('en-US')} users ${w.confirmed !== null ? 'not yet confirmed by Cloud Sync' : 'not in Entra with the right anchor yet (no Cloud Sync job set, so nothing is confirmed)'}`,
      );
  }
  const upcoming = waves
    .filter((w) => w.scheduledFor !== null && w.scheduledFor > input.localDate)
    .sort((a, b) => a.scheduledFor!.localeCompare(b.scheduledFor!));
  const next = upcoming[0];
  if (next)
    out.push(
      `Next wave: ${next.name} on ${next.scheduledFor} (${next.expected === null ? 'not counted' : `${next.expected.toLocaleString('en-US')} users`})`,
    );
  if (waves.length === 0) out.push('No waves planned yet: /wave add <name> <OU> [<OU>...] [on <YYYY-MM-DD>]');
  return out;
}

/**
 * Why runbook step 15 ("verify all objects are provisioned") may not be confirmed yet: every planned
 * wave must have all its users, groups and contacts confirmed by Cloud Sync (the rule of step 12, per
 * wave) in the latest
 * posted summary. Empty when they are, or when no wave is planned (the pilot, which step 12
 * confirmed, was everything).
 */
export function wavesConfirmedProblems(input: {
  waveNames: readonly string[];
  summary: { localDate: string; waves: readonly WaveNumbers[] } | null;
}): string[] {
  if (input.waveNames.length === 0) return [];
  const summary = input.summary;
  if (!summary)
    return ['no wave summary has been posted yet, so nothing shows Cloud Sync confirmed the waves (/summary now)'];
  const problems: string[] = [];
  const byName = new Map(summary.waves.map((w) => [w.name.toLowerCase(), w]));
  for (const name of input.waveNames) {
    const w = byName.get(name.toLowerCase());
    if (!w) problems.push(`wave ${name} is not in the summary of ${summary.localDate} (/summary now)`);
    else if (w.confirmed === null)
      problems.push(
        `wave ${name}: no Cloud Sync job was set for the summary of ${summary.localDate} (/summary job <job id>)`,
      );
    else if (w.expected === null)
      problems.push(`wave ${name} could not be counted on-premises on ${summary.localDate}`);
    else {
      if (w.confirmed < w.expected)
        problems.push(
          `wave ${name}: ${w.confirmed} of ${w.expected} users confirmed by Cloud Sync on ${summary.localDate}`,
        );
      // Groups and contacts by the same rule: the no-flow rules handed them over too.
      for (const [type, count] of [
        ['groups', w.groups],
        ['contacts', w.contacts],
      ] as const)
        if (count && count.confirmed < count.expected)
          problems.push(
            `wave ${name}: ${count.confirmed} of ${count.expected} ${type} confirmed by Cloud Sync on ${summary.localDate}`,
          );
    }
  }
  return problems;
}
