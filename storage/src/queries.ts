import { agg, aggCol, as, fieldOf, from, fromSubquery, inRange, op, tagIs, type Column, type Cond, type Interval, type Select, type TimeRange } from './influxql.ts';

/**
 * The figures operators see (docs/design.md#availability, docs/design.md#bandwidth), each
 * defined once and parameterised by its time condition: an explicit range (`inRange`, for the
 * API, the CLI, reports and the demo) or Grafana's `$timeFilter` and `$__interval` (the
 * dashboards and alert rules, dashboards/src/queries.ts).
 *
 * - Availability = Σ up_expected ÷ Σ expected over availability records (one per device per
 *   minute); minutes without a record are unknown and count on neither side, and are reported
 *   as coverage (observed device-minutes ÷ registered device-minutes).
 * - Bandwidth of a district (or school) = Σ over its school uplinks (every uplink device) of
 *   each one's mean rate per interval; utilisation of a district = that ÷ its 10G uplink.
 */
export type { TimeRange } from './influxql.ts';

/** District uplinks are 10 Gbit/s (docs/design.md#bandwidth). */
export const DISTRICT_UPLINK_BPS = 10e9;

/** The school uplinks, the only links whose rates add up to a district's bandwidth. */
export const SCHOOL_UPLINKS = tagIs('network_node', 'role', 'school_uplink');

/**
 * The availability sums, as columns: `up` = up minutes while expected, `expected` = expected
 * minutes, `observed` = observed device-minutes, `online` = device-minutes up (expected or not).
 */
export const AVAILABILITY = {
  up: as(agg('availability', 'sum', 'up_expected'), 'up'),
  expected: as(agg('availability', 'sum', 'expected'), 'expected'),
  observed: as(agg('availability', 'count', 'up'), 'observed'),
  online: as(agg('availability', 'sum', 'up'), 'online'),
} satisfies Record<string, Column>;

export type AvailabilityDimension = 'district' | 'school' | 'kind' | 'device';

/** Up, expected and observed minutes within `time`, grouped by `by`. */
export function availabilityTotals(time: Cond, by: AvailabilityDimension[], filters: Cond[] = []): Select {
  return from('availability')
    .select(AVAILABILITY.up, AVAILABILITY.expected, AVAILABILITY.observed)
    .where(time, ...filters)
    .by(...by)
    .build();
}

/** One device's availability points within `time`: its state each observed minute, and whether it was expected up. */
export function deviceMinutes(time: Cond, device: string): Select {
  return from('availability')
    .select(as(fieldOf('availability', 'state'), 'state'), as(fieldOf('availability', 'expected'), 'expected'), as(fieldOf('availability', 'up_expected'), 'up_expected'))
    .where(time, tagIs('availability', 'device', device))
    .build();
}

export type HistoryState = 'up' | 'down' | 'off' | 'unknown';
export interface StateRun {
  from: number;
  to: number;
  state: HistoryState;
}

/**
 * A device's minutes as runs of one state, from `range.fromMs` (down to its minute) to
 * `range.toMs`: a minute with no point had no observer, so it is `unknown` (docs/design.md#availability).
 */
export function stateRuns(minutes: ReadonlyArray<{ ts: number; state: string }>, range: TimeRange): StateRun[] {
  const MIN = 60_000;
  const byMinute = new Map(minutes.map((m) => [Math.floor(m.ts / MIN) * MIN, m.state as HistoryState]));
  const runs: StateRun[] = [];
  for (let t = Math.floor(range.fromMs / MIN) * MIN; t < range.toMs; t += MIN) {
    const state = byMinute.get(t) ?? 'unknown';
    const last = runs.at(-1);
    if (last && last.state === state && last.to === t) last.to = t + MIN;
    else runs.push({ from: t, to: t + MIN, state });
  }
  const end = runs.at(-1);
  if (end && end.to > range.toMs) end.to = range.toMs;
  return runs;
}

/**
 * Registered device-minutes within `time` (Σ devices of the hub's per-minute inventory), grouped
 * by `by`: the denominator of coverage.
 */
export function registeredDeviceMinutes(time: Cond, by: Array<'district' | 'school' | 'kind'>): Select {
  return from('inventory')
    .select(as(agg('inventory', 'sum', 'devices'), 'registered'))
    .where(time)
    .by(...by)
    .build();
}

/** Where uplink rates are read: the raw points, or their hourly rollup. */
export type UplinkSource = 'network_node' | 'school_uplink_1h';
export type Direction = 'rx' | 'tx';
const RATE = { rx: 'rx_bps', tx: 'tx_bps' } as const;
const DIRECTION_ALIAS = { rx: 'in', tx: 'out' } as const;

/**
 * Each school uplink device's mean rates (columns `rx`, `tx`) within `time`, per `interval`
 * when given: the inner query of every bandwidth sum.
 */
export function uplinkMeans(source: UplinkSource, time: Cond, interval: Interval | undefined, by: Array<'district'>, filters: Cond[], dirs: Direction[] = ['rx', 'tx']): Select {
  const q = from(source)
    .select(...dirs.map((d) => as(agg(source, 'mean', RATE[d]), d)))
    .where(time, ...(source === 'network_node' ? [SCHOOL_UPLINKS] : []), ...filters)
    .by(...by, 'school', 'device');
  if (interval) q.byTime(interval).fill('none');
  return q.build();
}

function sumOver(inner: Select, interval: Interval | undefined, dim: 'district' | 'school', columns: Column[]): Select {
  const q = fromSubquery(inner).select(...columns).by(dim);
  if (interval) q.byTime(interval).fill('none');
  return q.build();
}

/** Bandwidth per `dim` (columns `in`, `out`, bit/s): the sum of its school uplinks' mean rates. */
export function bandwidth(source: UplinkSource, time: Cond, interval: Interval | undefined, dim: 'district' | 'school', filters: Cond[]): Select {
  const inner = uplinkMeans(source, time, interval, dim === 'district' ? ['district'] : [], filters);
  return sumOver(inner, interval, dim, [as(aggCol('sum', 'rx'), 'in'), as(aggCol('sum', 'tx'), 'out')]);
}

/** A district's bandwidth ÷ its 10G uplink, per direction asked (columns `in`, `out`). */
export function districtUtilisation(source: UplinkSource, time: Cond, interval: Interval | undefined, filters: Cond[], dirs: Direction[] = ['rx', 'tx']): Select {
  const inner = uplinkMeans(source, time, interval, ['district'], filters, dirs);
  return sumOver(inner, interval, 'district', dirs.map((d) => as(op(aggCol('sum', d), '/', DISTRICT_UPLINK_BPS), DIRECTION_ALIAS[d])));
}

// ---- over an explicit range: the API, the CLI, reports and the demo ----

export interface Filter {
  district?: string;
  school?: string;
  kind?: string;
}

/** Tag conditions for the filter's set keys. */
export function filterConds(f: Filter): Cond[] {
  return (['district', 'school', 'kind'] as const).filter((k) => f[k] !== undefined).map((k) => tagIs('availability', k, f[k]!));
}

const seconds = (s: number): Interval => `${s}s`;

/** Registered device-minutes over `range`, grouped by `by`. */
export function registeredQuery(range: TimeRange, by: Array<'district' | 'school' | 'kind'>): string {
  return registeredDeviceMinutes(inRange(range), by).sql;
}

/** Up minutes while expected, expected minutes and observed minutes over `range`, grouped by `by`. */
export function availabilityQuery(range: TimeRange, by: AvailabilityDimension[], filter: Filter = {}): string {
  return availabilityTotals(inRange(range), by, filterConds(filter)).sql;
}

export interface AvailabilityFigures {
  /** Up ÷ expected; null when nothing was expected (no school hours, or all unknown). */
  availability: number | null;
  /** Observed device-minutes ÷ (registered devices × minutes in the range). */
  coverage: number;
  upMinutes: number;
  expectedMinutes: number;
  observedMinutes: number;
}

export function availabilityFigures(
  row: { up: number; expected: number; observed: number },
  registeredDevices: number,
  range: TimeRange,
): AvailabilityFigures {
  const minutes = (range.toMs - range.fromMs) / 60_000;
  return {
    availability: row.expected > 0 ? row.up / row.expected : null,
    coverage: registeredDevices > 0 && minutes > 0 ? row.observed / (registeredDevices * minutes) : 0,
    upMinutes: row.up,
    expectedMinutes: row.expected,
    observedMinutes: row.observed,
  };
}

/** Bandwidth per district over `range`, per interval of `intervalS` (columns `in`, `out`). */
export function districtBandwidthQuery(range: TimeRange, intervalS: number, filter: Pick<Filter, 'district'> = {}): string {
  return bandwidth('network_node', inRange(range), seconds(intervalS), 'district', filterConds(filter)).sql;
}

/** Inbound (the direction schools saturate) district bandwidth ÷ the 10G district uplink (column `in`). */
export function districtUtilisationQuery(range: TimeRange, intervalS: number, filter: Pick<Filter, 'district'> = {}): string {
  return districtUtilisation('network_node', inRange(range), seconds(intervalS), filterConds(filter), ['rx']).sql;
}

/** Each school uplink's mean rate and utilisation (rate ÷ its capacity) per interval. */
export function schoolUplinkQuery(range: TimeRange, intervalS: number, filter: Pick<Filter, 'district'> = {}): string {
  return from('network_node')
    .select(as(agg('network_node', 'mean', 'rx_bps'), 'rx_bps'), as(agg('network_node', 'mean', 'tx_bps'), 'tx_bps'), as(agg('network_node', 'mean', 'utilisation'), 'utilisation'))
    .where(inRange(range), SCHOOL_UPLINKS, ...filterConds(filter))
    .byTime(seconds(intervalS))
    .by('district', 'school')
    .fill('none')
    .build().sql;
}
