const MIN = 60_000;

/**
 * The most recent Tuesday at hh:mm Shanghai time that is at least a day ago, on a minute
 * boundary: school hours under the default timetable, old enough that every figure is final.
 */
export function lastTuesdayAt(hh: number, mm: number): number {
  const d = new Date(Date.now() - 86_400_000);
  // Shanghai is UTC+8 all year: shift to read the local calendar day.
  const local = new Date(d.getTime() + 8 * 3_600_000);
  const back = (local.getUTCDay() - 2 + 7) % 7;
  const day = Date.UTC(local.getUTCFullYear(), local.getUTCMonth(), local.getUTCDate() - back);
  return day + (hh * 60 + mm) * MIN - 8 * 3_600_000;
}
