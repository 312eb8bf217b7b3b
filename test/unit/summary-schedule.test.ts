import { datesBetween, latestDueSlot, localDateOf, slotInstant } from '../../src/runbook/summary-schedule';

const berlin = (since = '2026-03-01T00:00:00Z') => ({
  localTime: '08:00',
  timeZone: 'Europe/Berlin',
  since: new Date(since),
});
const iso = (d: Date | undefined) => d?.toISOString();

describe('daily summary slots', () => {
  test('08:00 Berlin is 07:00 UTC in winter and 06:00 UTC from the spring-forward day (2026-03-29)', () => {
    expect(iso(slotInstant('2026-03-28', '08:00', 'Europe/Berlin'))).toBe('2026-03-28T07:00:00.000Z');
    expect(iso(slotInstant('2026-03-29', '08:00', 'Europe/Berlin'))).toBe('2026-03-29T06:00:00.000Z');
    // And back on the fall-back day, 2026-10-25.
    expect(iso(slotInstant('2026-10-24', '08:00', 'Europe/Berlin'))).toBe('2026-10-24T06:00:00.000Z');
    expect(iso(slotInstant('2026-10-25', '08:00', 'Europe/Berlin'))).toBe('2026-10-25T07:00:00.000Z');
  });

  test('the slot is due from its minute on, and not a minute before, on both sides of the change', () => {
    expect(latestDueSlot(berlin(), new Date('2026-03-28T06:59:59Z'))?.localDate).toBe('2026-03-27');
    expect(latestDueSlot(berlin(), new Date('2026-03-28T07:00:00Z'))).toEqual({
      localDate: '2026-03-28',
      at: new Date('2026-03-28T07:00:00Z'),
    });
    // The day of the change: 06:30 UTC is already 08:30 local.
    expect(latestDueSlot(berlin(), new Date('2026-03-29T05:59:00Z'))?.localDate).toBe('2026-03-28');
    expect(latestDueSlot(berlin(), new Date('2026-03-29T06:30:00Z'))?.localDate).toBe('2026-03-29');
  });

  test('a time inside the spring-forward gap is moved forward, once; an ambiguous autumn time is taken once', () => {
    const gap = { localTime: '02:30', timeZone: 'Europe/Berlin', since: new Date('2026-03-01T00:00:00Z') };
    expect(iso(slotInstant('2026-03-29', '02:30', 'Europe/Berlin'))).toBe('2026-03-29T01:30:00.000Z'); // 03:30 CEST
    expect(latestDueSlot(gap, new Date('2026-03-29T01:29:00Z'))?.localDate).toBe('2026-03-28');
    expect(latestDueSlot(gap, new Date('2026-03-29T01:30:00Z'))?.localDate).toBe('2026-03-29');
    // 02:30 happens twice on 2026-10-25; one instant is the slot (luxon takes the later, CET one).
    expect(iso(slotInstant('2026-10-25', '02:30', 'Europe/Berlin'))).toBe('2026-10-25T01:30:00.000Z');
    expect(latestDueSlot(gap, new Date('2026-10-25T00:45:00Z'))?.localDate).toBe('2026-10-24');
    expect(latestDueSlot(gap, new Date('2026-10-25T01:30:00Z'))?.localDate).toBe('2026-10-25');
  });

  test('nothing is owed for days before the schedule was set', () => {
    const since = '2026-03-28T09:00:00Z';
    expect(latestDueSlot(berlin(since), new Date('2026-03-28T10:00:00Z'))).toBeNull();
    expect(latestDueSlot(berlin(since), new Date('2026-03-29T06:00:00Z'))?.localDate).toBe('2026-03-29');
  });

  test('zones east and west of UTC, and the local date of an instant', () => {
    const ny = { localTime: '23:30', timeZone: 'America/New_York', since: new Date('2026-01-01T00:00:00Z') };
    // 23:30 EST on 2026-03-07 is 04:30 UTC on the 8th; the slot belongs to the 7th.
    expect(latestDueSlot(ny, new Date('2026-03-08T04:31:00Z'))?.localDate).toBe('2026-03-07');
    expect(localDateOf(new Date('2026-03-28T23:30:00Z'), 'Asia/Tokyo')).toBe('2026-03-29');
  });

  test('days missed between two summaries', () => {
    expect(datesBetween('2026-03-28', '2026-03-31')).toEqual(['2026-03-29', '2026-03-30']);
    expect(datesBetween('2026-03-28', '2026-03-29')).toEqual([]);
  });
});
