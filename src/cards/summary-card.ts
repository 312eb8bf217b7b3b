import type { WaveLine, WaveSummary } from '../runbook/wave-summary';
import { literal, literalFacts, literalLines } from './literal';
import { expandTemplate, formatCount, type AdaptiveCardJson } from './render';

const signed = (n: number | null) =>
  n === null ? 'n/a' : n > 0 ? `+${formatCount(n)}` : n === 0 ? '±0' : `−${formatCount(-n)}`;
const count = (n: number | null) => (n === null ? 'not counted' : formatCount(n));

/** A plain-text bar per wave (confirmed by Cloud Sync of expected), one line each, for clients that cannot draw Adaptive Card charts. */
export function chartLines(waves: readonly WaveLine[]): string[] {
  const max = Math.max(1, ...waves.map((w) => Math.max(w.expected ?? 0, w.confirmed ?? 0)));
  const width = Math.max(...waves.map((w) => w.name.length), 4);
  return waves.map((w) => {
    const confirmed = w.confirmed ?? 0;
    const filled = Math.round((20 * confirmed) / max);
    const expectedMark = Math.round((20 * (w.expected ?? 0)) / max);
    const bar = '█'.repeat(filled) + '░'.repeat(Math.max(0, expectedMark - filled));
    return `${w.name.padEnd(width)} ${bar} ${formatCount(confirmed)}/${count(w.expected)}`;
  });
}

export function renderSummaryCard(
  summary: WaveSummary,
  options: { migrationName: string; kind: 'scheduled' | 'on_demand' },
): AdaptiveCardJson {
  const errors: string[] = [];
  const failure = (what: string, f: { message: string; hint: string | null }) =>
    `${what}: ${f.message}${f.hint ? ` ${f.hint}` : ''}`;
  if (summary.provisioning) {
    const p = summary.provisioning;
    errors.push(
      `Cloud Sync provisioning logs since ${p.since}: ${formatCount(p.failures)} failure(s), ${formatCount(p.successes)} success(es).`,
    );
    for (const r of p.topFailureReasons) errors.push(`• ${r.count}× ${r.reason}`);
  } else if (summary.provisioningError) {
    errors.push(
      failure(
        '⚠ Cloud Sync provisioning logs could not be read, so this summary has no provisioning errors',
        summary.provisioningError,
      ),
    );
  } else {
    errors.push('No Cloud Sync job is set, so provisioning logs were not read: /summary job <job id>.');
  }
  if (summary.cloud.error)
    errors.push(
      failure(
        `⚠ Microsoft Graph users could not be read, so the Entra numbers are from ${summary.cloud.readAt ?? 'the last copy'}`,
        summary.cloud.error,
      ),
    );
  if (summary.lastVerify) {
    const v = summary.lastVerify;
    errors.push(
      `Last verify #${v.id} of ${v.ou} (${v.at}): ${formatCount(v.missing)} missing, ${formatCount(v.extra)} extra, ${formatCount(v.mismatched)} anchor mismatch(es).`,
    );
  }
  return expandTemplate('summary', {
    title: literal(`Wave summary for ${summary.localDate}: ${options.migrationName}`),
    subtitle: literal(
      `${options.kind === 'scheduled' ? 'Daily summary' : 'Summary on request'} · ${summary.timeZone} · ${summary.previousDate ? `change since ${summary.previousDate}'s daily summary` : 'no earlier daily summary to compare with'}`,
    ),
    notes: literalLines(summary.notes),
    totals: literalFacts([
      {
        title: 'Expected (on-premises)',
        value:
          summary.totals.expected === null
            ? 'incomplete: a count failed (see the waves below)'
            : formatCount(summary.totals.expected),
      },
      {
        title: 'Confirmed by Cloud Sync (provisioning logs)',
        value:
          summary.totals.confirmed === undefined || summary.totals.confirmed === null
            ? // Totals are only summed over planned waves: with none, nothing was left unread.
              summary.waves.length === 0
              ? 'no waves planned yet'
              : 'not read: no Cloud Sync job is set (/summary job <job id>)'
            : formatCount(summary.totals.confirmed),
      },
      { title: 'In Entra with the right anchor', value: formatCount(summary.totals.provisioned) },
      {
        title: summary.previousDate ? `Change since ${summary.previousDate}` : 'Change',
        value: signed(summary.totals.change),
      },
      {
        title: 'Missing / anchor mismatches',
        value: `${formatCount(summary.totals.missing)} / ${formatCount(summary.totals.mismatched)}`,
      },
    ]),
    waves: summary.waves.map((w) => ({
      name: w.name,
      expectedValue: w.expected ?? 0,
      confirmedValue: w.confirmed ?? 0,
      heading: literal(`${w.name}${w.scheduledFor ? ` (on ${w.scheduledFor})` : ''}`),
      line: literal(
        [
          w.confirmed === null
            ? 'none confirmed by Cloud Sync: no job is set'
            : `${formatCount(w.confirmed)} of ${count(w.expected)} confirmed by Cloud Sync`,
          ...typeCounts(w),
          `${formatCount(w.provisioned)} in Entra with the right anchor (${signed(w.change)})`,
          `${formatCount(w.missing)} missing, ${formatCount(w.mismatched)} mismatched`,
          w.ous.join('; '),
        ]
          .filter((x) => x !== null)
          .join(' · '),
      ),
      problems: literalLines([
        w.scanError ? `On-premises count failed: ${w.scanError}` : '',
        ...w.warnings.map((m) => `⚠ ${m}`),
      ]),
    })),
    chart: literalLines(chartLines(summary.waves)),
    errors: literalLines(errors),
    due: literalLines(summary.dueNext.length > 0 ? summary.dueNext.map((d) => `• ${d}`) : ['Nothing is due.']),
    footer: literal(
      `Cloud numbers from ${summary.cloud.mode === 'delta' ? `a users delta query (${formatCount(summary.cloud.changesApplied)} change(s) applied)` : summary.cloud.mode === 'full' ? 'a full read of synced users' : `the copy read at ${summary.cloud.readAt ?? 'an earlier summary'}`}; ${formatCount(summary.cloud.syncedUsers)} synced users in the tenant.`,
    ),
  });
}

/** "2 of 3 groups confirmed by Cloud Sync", the same for contacts, for the types the wave holds. */
function typeCounts(w: WaveLine): string[] {
  const line = (name: string, c: { expected: number; confirmed: number }): string =>
    `${formatCount(c.confirmed)} of ${formatCount(c.expected)} ${name} confirmed by Cloud Sync`;
  return [...(w.groups ? [line('groups', w.groups)] : []), ...(w.contacts ? [line('contacts', w.contacts)] : [])];
}
