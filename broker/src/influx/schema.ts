import type { TimeRange } from '../queries.ts';

/**
 * Retention and rollups (docs/influx-schema.md). Raw points stay in `autogen`, the retention
 * policy CREATE DATABASE makes the default; hourly rollups (availability per district, school
 * and kind; uplinks per district and school) go to `rollup_1h`, kept for
 * ROLLUP_RETENTION, so a year of per-district history is read from ~9k points per series.
 *
 * Continuous queries in InfluxDB 1.x only see recent intervals, and a gateway may replay an
 * outage days later: each CQ re-samples the last RESAMPLE_FOR (a weekend-long outage and then
 * some), and `rollupBackfill` recomputes any range on demand.
 */
export const ROLLUP_RP = 'rollup_1h';
export const ROLLUP_RETENTION = '800d';
export const RESAMPLE_FOR = '4d';

const q = (s: string) => `"${s.replace(/"/g, '\\"')}"`;

interface Rollup {
  name: string;
  select: (db: string, where: string) => string;
}

const ROLLUPS: Rollup[] = [
  {
    name: 'availability_1h',
    select: (db, where) =>
      `SELECT sum(up_expected) AS up, sum(expected) AS expected, count(up) AS observed INTO ${q(db)}.${q(ROLLUP_RP)}."availability_1h" FROM ${q(db)}."autogen"."availability"${where} GROUP BY time(1h), district, school, kind`,
  },
  {
    name: 'school_uplink_1h',
    select: (db, where) =>
      `SELECT mean(rx_bps) AS rx_bps, mean(tx_bps) AS tx_bps, max(rx_bps) AS rx_bps_max, mean(utilisation) AS utilisation INTO ${q(db)}.${q(ROLLUP_RP)}."school_uplink_1h" FROM ${q(db)}."autogen"."network_node" WHERE role = 'school_uplink'${where ? ` AND ${where.replace(/^ WHERE /, '')}` : ''} GROUP BY time(1h), district, school`,
  },
];

/** The statements that create the rollup retention policy and continuous queries. */
export function schemaStatements(db: string): string[] {
  return [
    `CREATE RETENTION POLICY ${q(ROLLUP_RP)} ON ${q(db)} DURATION ${ROLLUP_RETENTION} REPLICATION 1`,
    ...ROLLUPS.map((r) => `CREATE CONTINUOUS QUERY ${q(`cq_${r.name}`)} ON ${q(db)} RESAMPLE EVERY 1h FOR ${RESAMPLE_FOR} BEGIN ${r.select(db, '')} END`),
  ];
}

/** Recomputes every rollup over a range (hour-aligned), e.g. after a long replay. */
export function rollupBackfill(db: string, range: TimeRange): string[] {
  return ROLLUPS.map((r) => r.select(db, ` WHERE time >= ${range.fromMs}ms AND time < ${range.toMs}ms`));
}
