import { renderSummaryCard } from '../../src/cards/summary-card';
import {
  buildWaveSummary,
  lateNote,
  missedDaysNote,
  wavesConfirmedProblems,
  type SummaryInput,
  type WaveNumbers,
} from '../../src/runbook/wave-summary';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';

const numbers = (
  name: string,
  expected: number | null,
  provisioned: number,
  scheduledFor: string | null,
): WaveNumbers => ({
  name,
  scheduledFor,
  ous: [`OU=${name},DC=contoso,DC=com`],
  expected,
  inCloud: provisioned,
  provisioned,
  missing: (expected ?? provisioned) - provisioned,
  mismatched: 0,
  confirmed: null as number | null,
  scanError: expected === null ? 'agent offline' : null,
  warnings: [],
});

const input = (over: Partial<SummaryInput> = {}): SummaryInput => ({
  localDate: '2026-03-29',
  timeZone: 'Europe/Berlin',
  waves: [numbers('W1', 100, 80, '2026-03-20'), numbers('W2', 40, 0, '2026-04-02')],
  previous: null,
  provisioning: null,
  lastVerify: null,
  readySteps: [{ n: 15, title: 'Verify all objects are provisioned' }],
  cloud: { mode: 'delta', changesApplied: 12, syncedUsers: 1500 },
  notes: [],
  ...over,
});

describe('wave summary', () => {
  test('change since the previous summary per wave and in total; a new wave has no change yet', () => {
    const yesterday = buildWaveSummary(
      input({ localDate: '2026-03-28', waves: [numbers('W1', 100, 50, '2026-03-20')] }),
    );
    const today = buildWaveSummary(input({ previous: yesterday }));
    expect(today.previousDate).toBe('2026-03-28');
    expect(today.waves.map((w) => [w.name, w.change])).toEqual([
      ['W1', 30],
      ['W2', null],
    ]);
    expect(today.totals).toEqual({
      expected: 140,
      provisioned: 80,
      change: 30,
      missing: 60,
      mismatched: 0,
      confirmed: null,
    });
  });

  test('a wave removed since yesterday is not a negative change; an uncounted wave makes the expected total unknown', () => {
    const yesterday = buildWaveSummary(
      input({ localDate: '2026-03-28', waves: [numbers('W1', 100, 50, null), numbers('Gone', 500, 500, null)] }),
    );
    const today = buildWaveSummary(
      input({ previous: yesterday, waves: [numbers('W1', 100, 60, null), numbers('W3', null, 0, null)] }),
    );
    expect(today.totals.change).toBe(10);
    expect(today.totals.expected).toBeNull();
    expect(cardText(renderSummaryCard(today, { migrationName: 'x', kind: 'scheduled' }))).toContain(
      'incomplete: a count failed',
    );
  });

  test('what is due next: ready steps, late waves, the next wave', () => {
    const s = buildWaveSummary(input());
    expect(s.dueNext).toEqual([
      'Runbook step 15: Verify all objects are provisioned (/step 15)',
      'Wave W1 (due 2026-03-20): 20 of 100 users not in Entra with the right anchor yet (no Cloud Sync job set, so nothing is confirmed)',
      'Next wave: W2 on 2026-04-02 (40 users)',
    ]);
    // With a job set, a due wave is judged by Cloud Sync's logs, not by presence in Entra.
    const withJob = buildWaveSummary(
      input({ waves: [{ ...numbers('W1', 100, 100, '2026-03-20'), confirmed: 60 }], readySteps: [] }),
    );
    expect(withJob.dueNext[0]).toBe('Wave W1 (due 2026-03-20): 40 of 100 users not yet confirmed by Cloud Sync');
    expect(withJob.totals.confirmed).toBe(60);
    expect(buildWaveSummary(input({ waves: [], readySteps: [] })).dueNext[0]).toContain('No waves planned yet');
  });

  test('the card is valid, has a chart with a text fallback, and says what failed', () => {
    const summary = buildWaveSummary(
      input({
        waves: [
          { ...numbers('W1', 100, 80, '2026-03-20'), confirmed: 70 },
          { ...numbers('W2', null, 0, null), confirmed: 0 },
        ],
        provisioning: {
          jobId: 'AD2AADProvisioning.x.y',
          since: '2026-03-28T06:00:00.000Z',
          successes: 80,
          failures: 3,
          topFailureReasons: [{ reason: 'AttributeValueMustBeUnique', count: 3 }],
        },
        notes: ['Posted late: SyncShift was not running at 08:00 Europe/Berlin on 2026-03-29.'],
      }),
    );
    const card = renderSummaryCard(summary, { migrationName: 'Contoso', kind: 'scheduled' });
    expect(cardProblems(card)).toEqual([]);
    const chart = (card.body as Array<Record<string, unknown>>).find((e) => e.type === 'Chart.VerticalBar.Grouped')!;
    expect(chart.data).toEqual([
      {
        legend: 'Expected',
        values: [
          { x: 'W1', y: 100 },
          { x: 'W2', y: 0 },
        ],
      },
      {
        legend: 'Confirmed by Cloud Sync',
        values: [
          { x: 'W1', y: 70 },
          { x: 'W2', y: 0 },
        ],
      },
    ]);
    // One line per wave in the fallback, W1's bar before W2's.
    expect(cardText(chart.fallback)).toMatch(/^W1 +█+░* 70\/100\nW2 +0\/not counted$/);
    const text = cardText(card);
    expect(text).toContain('Wave summary for 2026-03-29: Contoso');
    expect(text).toContain('Posted late');
    expect(text).toContain('3 failure(s)');
    expect(text).toContain('3× AttributeValueMustBeUnique');
    expect(text).toContain('On-premises count failed: agent offline');
    expect(text).toContain('70 of 100 confirmed by Cloud Sync');
    expect(text).toContain('80 in Entra with the right anchor (n/a)');
    expect(text).toContain('Confirmed by Cloud Sync (provisioning logs): 70');
    // No count is called provisioned (the step title quotes Microsoft's guide).
    expect(text).not.toMatch(/\d ((of \S+ )?provisioned|users not provisioned)/);
  });

  test('the card names the daily summary it compares with, in the subtitle and the change', () => {
    const yesterday = buildWaveSummary(
      input({ localDate: '2026-03-28', waves: [numbers('W1', 100, 50, '2026-03-20')] }),
    );
    const text = cardText(
      renderSummaryCard(buildWaveSummary(input({ previous: yesterday })), { migrationName: 'x', kind: 'on_demand' }),
    );
    expect(text).toContain("Summary on request · Europe/Berlin · change since 2026-03-28's daily summary");
    expect(text).toContain('Change since 2026-03-28: +30');
    expect(cardText(renderSummaryCard(buildWaveSummary(input()), { migrationName: 'x', kind: 'scheduled' }))).toContain(
      'no earlier daily summary to compare with',
    );
  });

  test('a part that could not be read is left out with a line that says what failed and what to check', () => {
    const summary = buildWaveSummary(
      input({
        provisioningError: {
          message:
            'Microsoft Graph answered 403 (Authorization_RequestDenied) while reading Cloud Sync provisioning logs: the app is not allowed to read this.',
          hint: 'Check ProvisioningLog.Read.All.',
        },
        cloud: {
          mode: 'stored',
          changesApplied: 0,
          syncedUsers: 1500,
          readAt: '2026-03-28T07:00:00.000Z',
          error: { message: 'Could not reach Microsoft Graph: fetch failed.', hint: null },
        },
      }),
    );
    expect(summary.notes[0]).toContain('Entra numbers are from the copy read at 2026-03-28T07:00:00.000Z');
    expect(summary.notes[1]).toContain('Incomplete: the Cloud Sync provisioning logs could not be read');
    const card = renderSummaryCard(summary, { migrationName: 'x', kind: 'scheduled' });
    expect(cardProblems(card)).toEqual([]);
    const text = cardText(card);
    expect(text).toContain(
      'Cloud Sync provisioning logs could not be read, so this summary has no provisioning errors: Microsoft Graph answered 403 (Authorization_RequestDenied)',
    );
    expect(text).toContain('Check ProvisioningLog.Read.All.');
    expect(text).not.toContain('No Cloud Sync job is set');
    expect(text).toContain(
      'Microsoft Graph users could not be read, so the Entra numbers are from 2026-03-28T07:00:00.000Z: Could not reach Microsoft Graph',
    );
    expect(text).toContain('Cloud numbers from the copy read at 2026-03-28T07:00:00.000Z');
  });

  test("a wave's limit warnings are on every summary card", () => {
    const warned = {
      ...numbers('W2', 40, 0, '2026-04-02'),
      warnings: ['With this wave 160,000 users of dc=contoso,dc=com would be in Cloud Sync scope'],
    };
    const text = cardText(
      renderSummaryCard(buildWaveSummary(input({ waves: [warned] })), { migrationName: 'x', kind: 'scheduled' }),
    );
    expect(text).toContain('⚠ With this wave 160,000 users of dc=contoso,dc=com would be in Cloud Sync scope');
  });

  test('the catch-up note says why each day is missing, as far as it is known, and what the change is measured from', () => {
    expect(
      missedDaysNote({ missed: [], localTime: '08:00', timeZone: 'Europe/Berlin', comparedWith: '2026-03-28' }),
    ).toBeNull();
    const note = missedDaysNote({
      missed: [
        { localDate: '2026-03-29', reason: { kind: 'not_running' } },
        { localDate: '2026-03-30', reason: { kind: 'failed', error: 'CLOUD.UNAVAILABLE: Graph down' } },
        { localDate: '2026-03-31', reason: { kind: 'not_running' } },
        { localDate: '2026-04-01', reason: { kind: 'interrupted' } },
      ],
      localTime: '08:00',
      timeZone: 'Europe/Berlin',
      comparedWith: '2026-03-28',
    });
    expect(note).toBe(
      'No summary was posted for 2026-03-29, 2026-03-31: no SyncShift instance was running at 08:00 Europe/Berlin. No summary was posted for 2026-03-30: it could not be built (CLOUD.UNAVAILABLE: Graph down). No summary was posted for 2026-04-01: SyncShift stopped while building it. The change below is since the daily summary of 2026-03-28.',
    );
    expect(
      missedDaysNote({
        missed: [{ localDate: '2026-03-29', reason: { kind: 'failed', error: null } }],
        localTime: '08:00',
        timeZone: 'UTC',
        comparedWith: null,
      }),
    ).toBe(
      'No summary was posted for 2026-03-29: it could not be built. There is no earlier daily summary to compare with.',
    );
  });

  test('the late note tells a retry from an outage', () => {
    const base = { localDate: '2026-03-31', localTime: '08:00', timeZone: 'Europe/Berlin', maxAttempts: 3 };
    expect(lateNote({ ...base, attempt: 1, previousError: null })).toBe(
      'Posted late: no SyncShift instance was running at 08:00 Europe/Berlin on 2026-03-31.',
    );
    expect(lateNote({ ...base, attempt: 2, previousError: 'CLOUD.UNAVAILABLE: Graph down' })).toBe(
      'Posted late: the earlier attempt after 08:00 Europe/Berlin on 2026-03-31 failed (CLOUD.UNAVAILABLE: Graph down); this is attempt 2 of 3.',
    );
    expect(lateNote({ ...base, attempt: 2, previousError: null })).toContain('SyncShift stopped while building it');
  });
});

describe('wavesConfirmedProblems: when step 15 may be confirmed', () => {
  const summary = (waves: WaveNumbers[]) => ({ localDate: '2026-03-29', waves });
  const w = (name: string, expected: number | null, confirmed: number | null): WaveNumbers => ({
    ...numbers(name, expected, expected ?? 0, null),
    confirmed,
  });

  it('holds while a wave is not fully confirmed by Cloud Sync, whatever Entra holds', () => {
    expect(
      wavesConfirmedProblems({
        waveNames: ['W1', 'W2', 'W3', 'W4'],
        summary: summary([w('W1', 40, 40), w('w2', 40, 39), w('W3', null, 0), w('W4', 9, null)]),
      }),
    ).toEqual([
      'wave W2: 39 of 40 users confirmed by Cloud Sync on 2026-03-29',
      'wave W3 could not be counted on-premises on 2026-03-29',
      'wave W4: no Cloud Sync job was set for the summary of 2026-03-29 (/summary job <job id>)',
    ]);
  });

  it('needs a posted summary that has every planned wave', () => {
    expect(wavesConfirmedProblems({ waveNames: ['W1'], summary: null })).toEqual([
      'no wave summary has been posted yet, so nothing shows Cloud Sync confirmed the waves (/summary now)',
    ]);
    expect(wavesConfirmedProblems({ waveNames: ['W1', 'New'], summary: summary([w('W1', 40, 40)]) })).toEqual([
      'wave New is not in the summary of 2026-03-29 (/summary now)',
    ]);
  });

  it('holds while a group or contact of a wave is not confirmed, by the same rule as its users', () => {
    const withTypes: WaveNumbers = {
      ...w('W1', 40, 40),
      groups: { expected: 3, confirmed: 2 },
      contacts: { expected: 9, confirmed: 9 },
    };
    expect(wavesConfirmedProblems({ waveNames: ['W1'], summary: summary([withTypes]) })).toEqual([
      'wave W1: 2 of 3 groups confirmed by Cloud Sync on 2026-03-29',
    ]);
    const all = { ...withTypes, groups: { expected: 3, confirmed: 3 } };
    expect(wavesConfirmedProblems({ waveNames: ['W1'], summary: summary([all]) })).toEqual([]);
    const text = cardText(
      renderSummaryCard(buildWaveSummary(input({ waves: [withTypes] })), { migrationName: 'x', kind: 'scheduled' }),
    );
    expect(text).toContain(
      '40 of 40 confirmed by Cloud Sync · 2 of 3 groups confirmed by Cloud Sync · 9 of 9 contacts',
    );
  });

  it('passes with every wave confirmed, or with no wave planned (step 12 confirmed the pilot)', () => {
    expect(wavesConfirmedProblems({ waveNames: ['W1'], summary: summary([w('W1', 40, 40)]) })).toEqual([]);
    expect(wavesConfirmedProblems({ waveNames: [], summary: null })).toEqual([]);
  });
});
