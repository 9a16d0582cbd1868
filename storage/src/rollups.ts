import { createHash } from 'node:crypto';
import { agg, as, from, ident, inRange, type Cond, type TimeRange } from './influxql.ts';
import { AVAILABILITY, SCHOOL_UPLINKS } from './queries.ts';
import { ROLLUP_RP } from './schema.ts';

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
 * name carries a hash of its definition (`cq_availability_1h_<8 hex>`): a changed definition is
 * a new name, and `staleContinuousQueries` names the old ones to drop.
 */
export { ROLLUP_RP } from './schema.ts';
export const ROLLUP_RETENTION = '800d';
export const RESAMPLE_FOR = '4d';
/** The retention policy CREATE DATABASE makes the default, where the raw points are. */
export const RAW_RP = 'autogen';

export interface Rollup {
  name: string;
  /** The `SELECT … INTO` over the raw points of `db`, within `time` when given. */
  select: (db: string, time: Cond[]) => string;
}

export const ROLLUPS: Rollup[] = [
  {
    // Availability per district, school and kind; the inventory rollup writes `devices` into the
    // same points (same series, same hour), so one query reads availability and coverage together.
    name: 'availability_1h',
    select: (db, time) =>
      from('availability')
        .database(db)
        .retentionPolicy(RAW_RP)
        .select(AVAILABILITY.up, AVAILABILITY.expected, AVAILABILITY.observed, AVAILABILITY.online)
        .into(db, 'availability_1h')
        .where(...time)
        .byTime('1h')
        .by('district', 'school', 'kind')
        .build().sql,
  },
  {
    // Registered device-minutes per hour (Σ of the hub's per-minute inventory), merged into the
    // availability rollup's points as `devices`.
    name: 'inventory_1h',
    select: (db, time) =>
      from('inventory')
        .database(db)
        .retentionPolicy(RAW_RP)
        .select(as(agg('inventory', 'sum', 'devices'), 'devices'))
        .into(db, 'availability_1h')
        .where(...time)
        .byTime('1h')
        .by('district', 'school', 'kind')
        .build().sql,
  },
  {
    // Per uplink device, so that a district's bandwidth sums every uplink of every school.
    name: 'school_uplink_1h',
    select: (db, time) =>
      from('network_node')
        .database(db)
        .retentionPolicy(RAW_RP)
        .select(
          as(agg('network_node', 'mean', 'rx_bps'), 'rx_bps'),
          as(agg('network_node', 'mean', 'tx_bps'), 'tx_bps'),
          as(agg('network_node', 'max', 'rx_bps'), 'rx_bps_max'),
          as(agg('network_node', 'mean', 'utilisation'), 'utilisation'),
        )
        .into(db, 'school_uplink_1h')
        .where(SCHOOL_UPLINKS, ...time)
        .byTime('1h')
        .by('district', 'school', 'device')
        .build().sql,
  },
];

/** The CQ's resample clause. */
export const CQ_RESAMPLE = `RESAMPLE EVERY 1h FOR ${RESAMPLE_FOR}`;

const cqBody = (db: string, r: Rollup) => `${CQ_RESAMPLE} BEGIN ${r.select(db, [])} END`;

/** A CQ's name: its rollup's name and a hash of its definition (the database name left out). */
export function continuousQueryName(r: Rollup): string {
  const hash = createHash('sha256').update(cqBody('{db}', r)).digest('hex').slice(0, 8);
  return `cq_${r.name}_${hash}`;
}

/** The statements that create the rollup retention policy and continuous queries. */
export function schemaStatements(db: string): string[] {
  return [
    `CREATE RETENTION POLICY ${ident(ROLLUP_RP)} ON ${ident(db)} DURATION ${ROLLUP_RETENTION} REPLICATION 1`,
    ...ROLLUPS.map((r) => `CREATE CONTINUOUS QUERY ${ident(continuousQueryName(r))} ON ${ident(db)} ${cqBody(db, r)}`),
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
  return ROLLUPS.map((r) => r.select(db, [inRange(range)]));
}
