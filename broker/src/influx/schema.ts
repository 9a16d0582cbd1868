import { createHash } from 'node:crypto';
import type { TimeRange } from '../queries.ts';

/**
 * Retention and rollups (docs/influx-schema.md). Raw points stay in `autogen`, the retention
 * policy CREATE DATABASE makes the default. Hourly rollups (availability and inventory per
 * district, school and kind; each school uplink) go to `rollup_1h`, kept for ROLLUP_RETENTION,
 * so that city-wide panels read one point per school and kind per hour instead of one per
 * device per minute, and a year of history is ~9k points per series.
 *
 * Continuous queries in InfluxDB 1.x only see recent intervals, and a gateway may replay an
 * outage days later: each CQ re-samples the last RESAMPLE_FOR (a weekend-long outage and then
 * some), and `rollupBackfill` recomputes any range on demand.
 *
 * InfluxDB keeps a CQ's first definition ("already exists" on a second CREATE), so each CQ's
 * name carries a hash of its definition (`cq_availability_1h_2dd7d36b`): a changed definition is
 * a new name, and `staleContinuousQueries` names the old ones to drop.
 */
export const ROLLUP_RP = 'rollup_1h';
export const ROLLUP_RETENTION = '800d';
export const RESAMPLE_FOR = '4d';

const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

interface Rollup {
  name: string;
  select: (db: string, where: string) => string;
}

/** `WHERE …` (or `AND …` after a condition) from the backfill's time condition. */
const and = (where: string) => (where ? ` AND ${where.replace(/^ WHERE /, '')}` : '');

/**
 * Availability per district, school and kind: `up` = Σ up_expected, `expected` = Σ expected,
 * `observed` = observed device-minutes, `online` = Σ up (device-minutes up, expected or not).
 * The inventory rollup writes `devices` into the same points (same series, same hour), so one
 * query reads availability and coverage together.
 */
const availability = (db: string, where: string) =>
  `SELECT sum(up_expected) AS up, sum(expected) AS expected, count(up) AS observed, sum(up) AS online INTO ${q(db)}.${q(ROLLUP_RP)}."availability_1h" FROM ${q(db)}."autogen"."availability"${where} GROUP BY time(1h), district, school, kind`;

export const ROLLUPS: Rollup[] = [
  { name: 'availability_1h', select: availability },
  {
    // Registered device-minutes per hour (Σ of the hub's per-minute inventory), merged into the
    // availability rollup's points as `devices`.
    name: 'inventory_1h',
    select: (db, where) => `SELECT sum(devices) AS devices INTO ${q(db)}.${q(ROLLUP_RP)}."availability_1h" FROM ${q(db)}."autogen"."inventory"${where} GROUP BY time(1h), district, school, kind`,
  },
  {
    // Per uplink device, so that a district's bandwidth sums every uplink of every school.
    name: 'school_uplink_1h',
    select: (db, where) =>
      `SELECT mean(rx_bps) AS rx_bps, mean(tx_bps) AS tx_bps, max(rx_bps) AS rx_bps_max, mean(utilisation) AS utilisation INTO ${q(db)}.${q(ROLLUP_RP)}."school_uplink_1h" FROM ${q(db)}."autogen"."network_node" WHERE role = 'school_uplink'${and(where)} GROUP BY time(1h), district, school, device`,
  },
];

const cqBody = (db: string, r: Rollup) => `RESAMPLE EVERY 1h FOR ${RESAMPLE_FOR} BEGIN ${r.select(db, '')} END`;

/** A CQ's name: its rollup's name and a hash of its definition (the database name left out). */
export function continuousQueryName(r: Rollup): string {
  const hash = createHash('sha256').update(cqBody('{db}', r)).digest('hex').slice(0, 8);
  return `cq_${r.name}_${hash}`;
}

/** The statements that create the rollup retention policy and continuous queries. */
export function schemaStatements(db: string): string[] {
  return [
    `CREATE RETENTION POLICY ${q(ROLLUP_RP)} ON ${q(db)} DURATION ${ROLLUP_RETENTION} REPLICATION 1`,
    ...ROLLUPS.map((r) => `CREATE CONTINUOUS QUERY ${q(continuousQueryName(r))} ON ${q(db)} ${cqBody(db, r)}`),
  ];
}

/**
 * Of the CQ names a database has, those that are ours but not current: an earlier definition of
 * a rollup (`cq_<rollup>` with or without an older hash). They are to be dropped.
 */
export function staleContinuousQueries(existing: string[]): string[] {
  const current = new Set(ROLLUPS.map(continuousQueryName));
  const ours = new RegExp(`^cq_(${ROLLUPS.map((r) => r.name).join('|')})(_[0-9a-f]{8})?$`);
  return existing.filter((n) => ours.test(n) && !current.has(n));
}

/** Recomputes every rollup over a range (hour-aligned), e.g. after a long replay. */
export function rollupBackfill(db: string, range: TimeRange): string[] {
  return ROLLUPS.map((r) => r.select(db, ` WHERE time >= ${range.fromMs}ms AND time < ${range.toMs}ms`));
}
