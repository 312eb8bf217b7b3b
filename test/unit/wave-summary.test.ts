import { renderSummaryCard } from '../../src/cards/summary-card';
import { buildWaveSummary, type SummaryInput, type WaveNumbers } from '../../src/runbook/wave-summary';
import { cardProblems } from '../helpers/card-check';
import { cardText } from '../helpers/fake-connector';

const numbers = (name: string, expected: number | null, provisioned: number, scheduledFor: string | null): WaveNumbers => ({
  name, scheduledFor, ous: [`OU=${name},DC=contoso,DC=com`], expected, inCloud: provisioned, provisioned, missing: (expected ?? provisioned) - provisioned, mismatched: 0, confirmed: null, scanError: expected === null ? 'agent offline' : null,
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
    const yesterday = buildWaveSummary(input({ localDate: '2026-03-28', waves: [numbers('W1', 100, 50, '2026-03-20')] }));
    const today = buildWaveSummary(input({ previous: yesterday }));
    expect(today.previousDate).toBe('2026-03-28');
    expect(today.waves.map((w) => [w.name, w.change])).toEqual([['W1', 30], ['W2', null]]);
    expect(today.totals).toEqual({ expected: 140, provisioned: 80, change: 30, missing: 60, mismatched: 0 });
  });

  test('a wave removed since yesterday is not a negative change; an uncounted wave makes the expected total unknown', () => {
    const yesterday = buildWaveSummary(input({ localDate: '2026-03-28', waves: [numbers('W1', 100, 50, null), numbers('Gone', 500, 500, null)] }));
    const today = buildWaveSummary(input({ previous: yesterday, waves: [numbers('W1', 100, 60, null), numbers('W3', null, 0, null)] }));
    expect(today.totals.change).toBe(10);
    expect(today.totals.expected).toBeNull();
    expect(cardText(renderSummaryCard(today, { migrationName: 'x', kind: 'scheduled' }))).toContain('incomplete: a count failed');
  });

  test('what is due next: ready steps, late waves, the next wave', () => {
    const s = buildWaveSummary(input());
    expect(s.dueNext).toEqual([
      'Runbook step 15: Verify all objects are provisioned (/step 15)',
      'Wave W1 (due 2026-03-20): 20 of 100 users not provisioned yet',
      'Next wave: W2 on 2026-04-02 (40 users)',
    ]);
    expect(buildWaveSummary(input({ waves: [], readySteps: [] })).dueNext[0]).toContain('No waves planned yet');
  });

  test('the card is valid, has a chart with a text fallback, and says what failed', () => {
    const summary = buildWaveSummary(input({
      waves: [numbers('W1', 100, 80, '2026-03-20'), numbers('W2', null, 0, null)],
      provisioning: { jobId: 'AD2AADProvisioning.x.y', since: '2026-03-28T06:00:00.000Z', successes: 80, failures: 3, topFailureReasons: [{ reason: 'AttributeValueMustBeUnique', count: 3 }] },
      notes: ['Posted late: SyncShift was not running at 08:00 Europe/Berlin on 2026-03-29.'],
    }));
    const card = renderSummaryCard(summary, { migrationName: 'Contoso', kind: 'scheduled' });
    expect(cardProblems(card)).toEqual([]);
    const chart = (card.body as Array<Record<string, unknown>>).find((e) => e.type === 'Chart.VerticalBar.Grouped')!;
    expect(chart.data).toEqual([
      { legend: 'Expected', values: [{ x: 'W1', y: 100 }, { x: 'W2', y: 0 }] },
      { legend: 'Provisioned', values: [{ x: 'W1', y: 80 }, { x: 'W2', y: 0 }] },
    ]);
    expect((chart.fallback as { text: string }).text).toContain('W1');
    const text = cardText(card);
    expect(text).toContain('Wave summary for 2026-03-29: Contoso');
    expect(text).toContain('Posted late');
    expect(text).toContain('3 failure(s)');
    expect(text).toContain('3× AttributeValueMustBeUnique');
    expect(text).toContain('On-premises count failed: agent offline');
    expect(text).toContain('80 of 100 provisioned');
  });
});
