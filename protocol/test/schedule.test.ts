import { describe, expect, it } from 'vitest';
import { DEFAULT_TIMETABLE, expectedUp, formatWeekMinute, localWeekMinute, timetableSchema } from '../src/schedule.ts';

// Asia/Shanghai is UTC+8 all year. 2026-11-24 is a Tuesday.
const sh = (iso: string) => Date.parse(`${iso}+08:00`);

describe('expectedUp with the default timetable (Mon–Fri 07:30–18:00 Asia/Shanghai)', () => {
  it('reads local weekday and minute in the school time zone', () => {
    expect(localWeekMinute(sh('2026-11-24T10:00:00'), 'Asia/Shanghai')).toEqual({ weekday: 2, minute: 600 });
    // 2026-11-23T23:30Z is already Tuesday 07:30 in Shanghai.
    expect(localWeekMinute(Date.parse('2026-11-23T23:30:00Z'), 'Asia/Shanghai')).toEqual({ weekday: 2, minute: 450 });
  });

  it.each([
    ['2026-11-24T07:29:59', false],
    ['2026-11-24T07:30:00', true],
    ['2026-11-24T10:00:00', true],
    ['2026-11-24T17:59:00', true],
    ['2026-11-24T18:00:00', false], // switched off at 18:00: not expected up
    ['2026-11-28T10:00:00', false], // Saturday
    ['2026-11-29T10:00:00', false], // Sunday
    ['2026-11-27T17:59:59', true], // Friday
  ])('a board at %s (Shanghai) is expected up: %s', (iso, want) => {
    expect(expectedUp('interactive_board', sh(iso))).toBe(want);
    expect(expectedUp('classroom_av', sh(iso))).toBe(want);
    expect(expectedUp('vr_kit', sh(iso))).toBe(want);
  });

  it('expects network nodes up around the clock', () => {
    for (const iso of ['2026-11-24T03:00:00', '2026-11-28T23:59:00', '2026-11-24T12:00:00']) expect(expectedUp('network_node', sh(iso))).toBe(true);
  });

  it('follows a school timetable of its own', () => {
    const t = { ...DEFAULT_TIMETABLE, days: [6], start: '08:00', end: '12:00' };
    expect(expectedUp('vr_kit', sh('2026-11-28T09:00:00'), t)).toBe(true);
    expect(expectedUp('vr_kit', sh('2026-11-24T09:00:00'), t)).toBe(false);
  });
});

describe('timetableSchema', () => {
  const t = { days: [1, 2, 3, 4, 5], start: '07:30', end: '18:00' };
  it('takes the IANA time zones the runtime knows, and refuses any other (every expected-hours check formats in it)', () => {
    for (const timeZone of ['Asia/Shanghai', 'Asia/Urumqi', 'UTC']) expect(timetableSchema.safeParse({ ...t, timeZone }).success, timeZone).toBe(true);
    for (const timeZone of ['Mars/Base', 'Asia/Shanghai ', '+08:00x', '']) {
      const r = timetableSchema.safeParse({ ...t, timeZone });
      expect(r.success, timeZone).toBe(false);
      expect(r.error?.issues[0]?.path).toEqual(['timeZone']);
    }
  });
});

describe('localWeekMinute is formatted once per minute and zone', () => {
  const zones = ['Asia/Shanghai', 'Europe/London', 'America/New_York', 'Asia/Kolkata', 'Asia/Kathmandu', 'Australia/Lord_Howe'];

  it('answers as Intl does for the exact instant, across zones with DST and with :30 and :45 offsets', async () => {
    const fc = (await import('fast-check')).default;
    fc.assert(
      fc.property(fc.integer({ min: Date.UTC(2020, 0, 1), max: Date.UTC(2099, 11, 31) }), fc.constantFrom(...zones), (ts, zone) => {
        // Twice: the second answer comes from the cache.
        expect(localWeekMinute(ts, zone)).toEqual(formatWeekMinute(ts, zone));
        expect(localWeekMinute(ts + 59_999 - (ts % 60_000), zone)).toEqual(formatWeekMinute(ts, zone));
      }),
      { numRuns: 3000 },
    );
  });

  it('crosses a DST change: London 2026-03-29 01:00 UTC goes from 00:59 GMT to 02:00 BST', () => {
    const change = Date.UTC(2026, 2, 29, 1, 0);
    expect(localWeekMinute(change - 1, 'Europe/London')).toEqual({ weekday: 7, minute: 59 });
    expect(localWeekMinute(change, 'Europe/London')).toEqual({ weekday: 7, minute: 120 });
  });
});
