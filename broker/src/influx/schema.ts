import type { TimeRange } from '../queries.ts';

/**
 * Retention and rollups (docs/influx-schema.md). Raw points stay in `autogen`, the retention
 * policy CREATE DATABASE makes the default. Two rollup retention policies hold aggregates, so
 * that city-wide panels and every-minute alert rules read one point per school and kind instead
 * of one per device:
 * - `rollup_1h` (ROLLUP_RETENTION): hourly availability, inventory and school uplinks, for
 *   dashboards over hours to years;
 * - `rollup_1m` (MINUTE_RETENTION): per-minute availability per school and kind, for the alert
 *   rules that run every minute.
 *
 * Continuous queries in InfluxDB 1.x only see recent intervals, and a gateway may replay an
 * outage days later: the hourly CQs re-sample the last RESAMPLE_FOR (a weekend-long outage and
 * then some), and `rollupBackfill` recomputes any range on demand. The per-minute CQ re-samples
 * only MINUTE_RESAMPLE_FOR (re-sampling days every minute would cost more than it saves), so
 * records replayed later than that are in the hourly rollup and in the raw points, not in
 * `rollup_1m`: the alert rules judge what was seen live.
 */
export const ROLLUP_RP = 'rollup_1h';
export const ROLLUP_RETENTION = '800d';
export const RESAMPLE_FOR = '4d';
export const MINUTE_RP = 'rollup_1m';
export const MINUTE_RETENTION = '7d';
export const MINUTE_RESAMPLE_FOR = '5m';

const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

interface Rollup {
  name: string;
  every: '1h' | '1m';
  select: (db: string, where: string) => string;
}

/** `WHERE …` (or `AND …` after a condition) from the backfill's time condition. */
const and = (where: string) => (where ? ` AND ${where.replace(/^ WHERE /, '')}` : '');

/**
 * Availability per district, school and kind: `up` = Σ up_expected, `expected` = Σ expected,
 * `observed` = observed device-minutes, `online` = Σ up (device-minutes up, expected or not).
 */
const availability = (into: string, interval: '1h' | '1m') => (db: string, where: string) =>
  `SELECT sum(up_expected) AS up, sum(expected) AS expected, count(up) AS observed, sum(up) AS online INTO ${q(db)}.${into} FROM ${q(db)}."autogen"."availability"${where} GROUP BY time(${interval}), district, school, kind`;

export const ROLLUPS: Rollup[] = [
  { name: 'availability_1h', every: '1h', select: availability(`${q(ROLLUP_RP)}."availability_1h"`, '1h') },
  {
    // Registered device-minutes per hour: Σ of the hub's per-minute inventory.
    name: 'inventory_1h',
    every: '1h',
    select: (db, where) => `SELECT sum(devices) AS devices INTO ${q(db)}.${q(ROLLUP_RP)}."inventory_1h" FROM ${q(db)}."autogen"."inventory"${where} GROUP BY time(1h), district, school, kind`,
  },
  {
    // Per uplink device, so that a district's bandwidth sums every uplink of every school.
    name: 'school_uplink_1h',
    every: '1h',
    select: (db, where) =>
      `SELECT mean(rx_bps) AS rx_bps, mean(tx_bps) AS tx_bps, max(rx_bps) AS rx_bps_max, mean(utilisation) AS utilisation INTO ${q(db)}.${q(ROLLUP_RP)}."school_uplink_1h" FROM ${q(db)}."autogen"."network_node" WHERE role = 'school_uplink'${and(where)} GROUP BY time(1h), district, school, device`,
  },
  { name: 'availability_1m', every: '1m', select: availability(`${q(MINUTE_RP)}."availability_1m"`, '1m') },
];

/** The statements that create the rollup retention policies and continuous queries. */
export function schemaStatements(db: string): string[] {
  return [
    `CREATE RETENTION POLICY ${q(ROLLUP_RP)} ON ${q(db)} DURATION ${ROLLUP_RETENTION} REPLICATION 1`,
    `CREATE RETENTION POLICY ${q(MINUTE_RP)} ON ${q(db)} DURATION ${MINUTE_RETENTION} REPLICATION 1`,
    ...ROLLUPS.map(
      (r) => `CREATE CONTINUOUS QUERY ${q(`cq_${r.name}`)} ON ${q(db)} RESAMPLE EVERY ${r.every} FOR ${r.every === '1h' ? RESAMPLE_FOR : MINUTE_RESAMPLE_FOR} BEGIN ${r.select(db, '')} END`,
    ),
  ];
}

/** Recomputes every rollup over a range (hour-aligned), e.g. after a long replay. */
export function rollupBackfill(db: string, range: TimeRange): string[] {
  return ROLLUPS.map((r) => r.select(db, ` WHERE time >= ${range.fromMs}ms AND time < ${range.toMs}ms`));
}
