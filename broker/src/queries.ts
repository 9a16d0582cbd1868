/**
 * The InfluxQL behind the numbers operators see (DESIGN §5), in one place for the dashboards and
 * the API. Availability = Σ up_expected ÷ Σ expected over availability records (one per device
 * per minute); minutes without a record are unknown and count on neither side, and are reported
 * as coverage. Bandwidth per district = Σ over its school uplinks of each uplink's mean rate.
 */
export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** A string literal for InfluxQL (single quotes; backslash and quote escaped). */
export function quote(v: string): string {
  return `'${v.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

const timeCond = (r: TimeRange) => `time >= ${r.fromMs}ms AND time < ${r.toMs}ms`;

export type AvailabilityDimension = 'district' | 'school' | 'kind' | 'device';

export interface Filter {
  district?: string;
  school?: string;
  kind?: string;
}

function filterCond(f: Filter): string {
  return (['district', 'school', 'kind'] as const)
    .filter((k) => f[k] !== undefined)
    .map((k) => ` AND ${k} = ${quote(f[k]!)}`)
    .join('');
}

/** Up minutes while expected, expected minutes and observed minutes, grouped by `by`. */
export function availabilityQuery(range: TimeRange, by: AvailabilityDimension[], filter: Filter = {}): string {
  const group = by.length ? ` GROUP BY ${by.join(', ')}` : '';
  return `SELECT sum(up_expected) AS up, sum(expected) AS expected, count(up) AS observed FROM availability WHERE ${timeCond(range)}${filterCond(filter)}${group}`;
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

/** Bandwidth per district: the sum over its school uplinks (every uplink device) of each one's mean rate per interval. */
export function districtBandwidthQuery(range: TimeRange, intervalS: number, filter: Pick<Filter, 'district'> = {}): string {
  const t = `time(${intervalS}s)`;
  return (
    `SELECT sum(rx) AS rx_bps, sum(tx) AS tx_bps FROM (` +
    `SELECT mean(rx_bps) AS rx, mean(tx_bps) AS tx FROM network_node WHERE role = 'school_uplink' AND ${timeCond(range)}${filterCond(filter)} GROUP BY ${t}, district, school, device fill(none)` +
    `) GROUP BY ${t}, district fill(none)`
  );
}

/** District uplinks are 10G (DESIGN §5): utilisation = district bandwidth ÷ 10 Gbit/s. */
export const DISTRICT_UPLINK_BPS = 10e9;

/** Inbound (the direction schools saturate) district bandwidth ÷ the 10G district uplink. */
export function districtUtilisationQuery(range: TimeRange, intervalS: number, filter: Pick<Filter, 'district'> = {}): string {
  const t = `time(${intervalS}s)`;
  return (
    `SELECT sum(rx) / ${DISTRICT_UPLINK_BPS} AS utilisation FROM (` +
    `SELECT mean(rx_bps) AS rx FROM network_node WHERE role = 'school_uplink' AND ${timeCond(range)}${filterCond(filter)} GROUP BY ${t}, district, school, device fill(none)` +
    `) GROUP BY ${t}, district fill(none)`
  );
}

/** Each school uplink's mean rate and utilisation (rate ÷ its capacity) per interval. */
export function schoolUplinkQuery(range: TimeRange, intervalS: number, filter: Pick<Filter, 'district'> = {}): string {
  return `SELECT mean(rx_bps) AS rx_bps, mean(tx_bps) AS tx_bps, mean(utilisation) AS utilisation FROM network_node WHERE role = 'school_uplink' AND ${timeCond(range)}${filterCond(filter)} GROUP BY time(${intervalS}s), district, school fill(none)`;
}
