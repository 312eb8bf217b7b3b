/**
 * When the daily wave summary is due. Time zones and daylight saving come from luxon (IANA data
 * built into Node's Intl); the clock is always passed in, so tests can stand on either side of a
 * DST change.
 */
import { DateTime, IANAZone } from 'luxon';

export interface SummarySchedule {
  /** Local wall-clock time, HH:MM (24 h). */
  localTime: string;
  /** IANA zone, e.g. Europe/Berlin. */
  timeZone: string;
  /** When the schedule was set: no summary is owed for days before it. */
  since: Date;
}

export interface SummarySlot {
  /** The local date the summary is for (YYYY-MM-DD). */
  localDate: string;
  /** The instant it falls due. */
  at: Date;
}

const LOCAL_TIME = /^([01]\d|2[0-3]):([0-5]\d)$/;

export function isLocalTime(text: string): boolean {
  return LOCAL_TIME.test(text);
}

export function isTimeZone(zone: string): boolean {
  return IANAZone.isValidZone(zone);
}

/**
 * The instant of `localTime` on `localDate` in `timeZone`. On the spring-forward day a time inside
 * the gap (02:30 in Europe/Berlin) does not exist; luxon moves it forward by the gap, so the
 * summary comes at 03:30 that one day. On the fall-back day an ambiguous time stands for one
 * instant (luxon takes the later, standard-time occurrence), so the summary is not posted twice.
 */
export function slotInstant(localDate: string, localTime: string, timeZone: string): Date {
  const dt = DateTime.fromISO(`${localDate}T${localTime}`, { zone: timeZone });
  if (!dt.isValid)
    throw new Error(
      `Cannot place ${localDate} ${localTime} in ${timeZone}: ${dt.invalidExplanation ?? dt.invalidReason ?? 'invalid'}`,
    );
  return dt.toJSDate();
}

/** The local calendar date of an instant in a zone. */
export function localDateOf(instant: Date, timeZone: string): string {
  return DateTime.fromJSDate(instant, { zone: timeZone }).toISODate()!;
}

export function addDays(localDate: string, days: number): string {
  return DateTime.fromISO(localDate, { zone: 'UTC' }).plus({ days }).toISODate()!;
}

/**
 * The most recent slot that is due at `now` and not before the schedule was set, or null when
 * none is due yet. Only the latest slot is returned: after an outage the bot catches up once.
 */
export function latestDueSlot(schedule: SummarySchedule, now: Date): SummarySlot | null {
  const today = localDateOf(now, schedule.timeZone);
  for (const localDate of [today, addDays(today, -1)]) {
    const at = slotInstant(localDate, schedule.localTime, schedule.timeZone);
    if (at.getTime() <= now.getTime()) return at.getTime() >= schedule.since.getTime() ? { localDate, at } : null;
  }
  return null;
}

/** Local dates strictly between two slot dates: the days whose summary was never posted. */
export function datesBetween(afterDate: string, beforeDate: string): string[] {
  const out: string[] = [];
  for (let d = addDays(afterDate, 1); d < beforeDate && out.length < 366; d = addDays(d, 1)) out.push(d);
  return out;
}
