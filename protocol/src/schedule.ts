import { z } from 'zod';
import type { DeviceKind } from './kinds.ts';

/**
 * When a school's classroom devices are expected up (docs/design.md#availability). Network nodes are expected up
 * around the clock; classroom AV, boards and VR kits only during the school's timetable.
 */
function isTimeZone(tz: string): boolean {
  try {
    new Intl.DateTimeFormat('en-US', { timeZone: tz });
    return true;
  } catch {
    return false;
  }
}

export const timetableSchema = z.strictObject({
  /** ISO weekdays, 1 = Monday … 7 = Sunday. */
  days: z.array(z.number().int().min(1).max(7)).min(1),
  /** Local time `HH:MM`, start inclusive, end exclusive. */
  start: z.string().regex(/^([01]\d|2[0-3]):[0-5]\d$/),
  end: z.string().regex(/^(([01]\d|2[0-3]):[0-5]\d|24:00)$/),
  /** An IANA time zone this runtime knows (`Asia/Shanghai`): every expected-hours check formats in it. */
  timeZone: z.string().min(1).max(64).refine(isTimeZone, { message: 'must be an IANA time zone, e.g. Asia/Shanghai' }),
});
export type Timetable = z.infer<typeof timetableSchema>;

export const DEFAULT_TIMETABLE: Timetable = Object.freeze({
  days: [1, 2, 3, 4, 5],
  start: '07:30',
  end: '18:00',
  timeZone: 'Asia/Shanghai',
}) as Timetable;

const formatters = new Map<string, Intl.DateTimeFormat>();
/** Per time zone, the answers of recent minutes: ingest asks for the same minute once per availability record. */
const minutes = new Map<string, Map<number, Readonly<{ weekday: number; minute: number }>>>();
const MINUTES_KEPT = 4096;

/**
 * ISO weekday and minutes since local midnight of an instant in a time zone. Every offset in use
 * since long before the earliest accepted timestamp is a whole number of minutes, so the answer is
 * the same for every instant of one UTC minute: it is formatted once per minute and zone, not per
 * call (a city's availability records are 5,000 calls a second).
 */
export function localWeekMinute(ts: number, timeZone: string): Readonly<{ weekday: number; minute: number }> {
  const key = Math.floor(ts / 60_000);
  let zone = minutes.get(timeZone);
  const hit = zone?.get(key);
  if (hit) return hit;
  const r = Object.freeze(formatWeekMinute(key * 60_000, timeZone));
  if (!zone) minutes.set(timeZone, (zone = new Map()));
  if (zone.size >= MINUTES_KEPT) zone.clear();
  zone.set(key, r);
  return r;
}

/** What localWeekMinute answers, formatted by Intl each time. */
export function formatWeekMinute(ts: number, timeZone: string): { weekday: number; minute: number } {
  let f = formatters.get(timeZone);
  if (!f) {
    f = new Intl.DateTimeFormat('en-US', { timeZone, weekday: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
    formatters.set(timeZone, f);
  }
  const parts = f.formatToParts(new Date(ts));
  const get = (t: string) => parts.find((p) => p.type === t)?.value ?? '';
  const weekday = ['Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat', 'Sun'].indexOf(get('weekday')) + 1;
  return { weekday, minute: Number(get('hour')) * 60 + Number(get('minute')) };
}

const toMinutes = (hhmm: string) => Number(hhmm.slice(0, 2)) * 60 + Number(hhmm.slice(3, 5));

/** Whether a device of this kind is expected up at instant `ts` under the timetable. */
export function expectedUp(kind: DeviceKind, ts: number, t: Timetable = DEFAULT_TIMETABLE): boolean {
  if (kind === 'network_node') return true;
  const { weekday, minute } = localWeekMinute(ts, t.timeZone);
  return t.days.includes(weekday) && minute >= toMinutes(t.start) && minute < toMinutes(t.end);
}
