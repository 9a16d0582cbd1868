import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../runtime/src/logging.ts';
import { agg, as, from, inRange } from '../../../storage/src/influxql.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point } from '../../../storage/src/point.ts';
import { availabilityTotals, bandwidth, districtUtilisation } from '../../../storage/src/queries.ts';
import { continuousQueryName, ROLLUPS, schemaStatements } from '../../../storage/src/rollups.ts';
import { startInflux, influxQL, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { freePort } from '../../../tests/harness/ports.ts';
import { InfluxAdmin } from '../../src/influx/admin.ts';
import { InfluxWriter } from '../../src/influx/writer.ts';

/**
 * The `influx`-client admin against a real InfluxDB: the schema it creates is the one the
 * plain InfluxQL statements create, and the figures it reads are the ones worked out by hand.
 */
const MIN = 60_000;
const T0 = Date.UTC(2026, 0, 6, 1, 0); // a Tuesday, 09:00 in Chongqing
const RANGE = { fromMs: T0, toMs: T0 + 60 * MIN };

describe('InfluxAdmin (the influx client) against a real InfluxDB', () => {
  let influx: InfluxInstance;
  const log = silentLogger();
  const writerFor = (database: string) => new InfluxWriter({ url: influx.url, database, maxLines: 1000, lingerMs: 5, attempts: 1, requestTimeoutMs: 10_000 }, log);
  const adminFor = (database: string) => new InfluxAdmin({ url: influx.url, database }, log);
  const cqs = async (db: string) => (await influxQL(influx.url, db, 'SHOW CONTINUOUS QUERIES')).find((s) => s.name === db)?.values ?? [];

  beforeAll(async () => {
    influx = await startInflux();
  });
  afterAll(async () => {
    await influx?.stop();
  });

  it('creates what the plain statements of storage/src/rollups.ts create: database, rollup policy, the same continuous queries', async () => {
    await adminFor('admin_schema').ensureSchema();
    // The independent path: the InfluxQL statements sent as they are through /query.
    await influxQL(influx.url, 'writer_schema', 'CREATE DATABASE "writer_schema"');
    for (const statement of schemaStatements('writer_schema')) await influxQL(influx.url, 'writer_schema', statement);
    const rps = await influxQL(influx.url, 'admin_schema', 'SHOW RETENTION POLICIES ON "admin_schema"');
    expect(rps[0]!.values.map((v) => [v[0], v[1]])).toEqual([
      ['autogen', '0s'],
      ['rollup_1h', '19200h0m0s'], // 800 days
    ]);
    // InfluxDB stores each CQ re-rendered from its parse tree: equal texts are equal definitions.
    const ours = (await cqs('admin_schema')).map(([n, q]) => [n, String(q).replaceAll('admin_schema', 'DB')]);
    const writers = (await cqs('writer_schema')).map(([n, q]) => [n, String(q).replaceAll('writer_schema', 'DB')]);
    expect(ours).toEqual(writers);
    expect(ours.map(([n]) => n).sort()).toEqual(ROLLUPS.map(continuousQueryName).sort());
  });

  it('drops our continuous queries of an earlier definition, keeps foreign ones, and changes nothing on a second run', async () => {
    const db = 'admin_migration';
    const q = (s: string) => influxQL(influx.url, db, s);
    await q(`CREATE DATABASE ${db}`);
    await q(`CREATE CONTINUOUS QUERY "cq_availability_1h" ON "${db}" BEGIN SELECT sum(up_expected) AS up INTO "${db}"."autogen"."x" FROM "${db}"."autogen"."availability" GROUP BY time(1h), school END`);
    await q(`CREATE CONTINUOUS QUERY "cq_school_uplink_1h_00000000" ON "${db}" BEGIN SELECT mean(rx_bps) AS rx INTO "${db}"."autogen"."y" FROM "${db}"."autogen"."network_node" GROUP BY time(1h) END`);
    await q(`CREATE CONTINUOUS QUERY "site_cq" ON "${db}" BEGIN SELECT count(up) INTO "${db}"."autogen"."z" FROM "${db}"."autogen"."availability" GROUP BY time(1h) END`);
    const admin = adminFor(db);
    await admin.ensureSchema();
    const after = await admin.continuousQueries();
    await admin.ensureSchema();
    expect(await admin.continuousQueries()).toEqual(after);
    expect(after.sort()).toEqual([...ROLLUPS.map(continuousQueryName), 'site_cq'].sort());
  });

  it('reads the figures of storage/src/queries.ts over a range, as rows, with the values worked out by hand', async () => {
    const db = 'admin_figures';
    const admin = adminFor(db);
    await admin.ensureSchema();
    const writer = writerFor(db);
    const lines: string[] = [];
    const av = (district: string, school: string, device: string, minute: number, state: 'up' | 'down' | 'off') => {
      const up = state === 'up' ? 1 : 0;
      const expected = state === 'off' ? 0 : 1;
      lines.push(encodePoint(point('availability', { district, school, gateway: `gw-${school}`, device, kind: 'interactive_board' }, { state, up, expected, up_expected: up * expected }, T0 + minute * MIN)));
    };
    // 渝中区: b1 up 7 minutes then down 3 (10 expected); b2 off for 10 (nothing expected).
    // 江北区: b3 up 5 minutes, then nothing heard for 5 (unknown: on neither side).
    for (let m = 0; m < 10; m++) {
      av('渝中区', 'yz-s01', 'b1', m, m < 7 ? 'up' : 'down');
      av('渝中区', 'yz-s02', 'b2', m, 'off');
      if (m < 5) av('江北区', 'jb-s01', 'b3', m, 'up');
    }
    // Two school uplinks in 渝中区 at 100 and 50 Mbit/s in, 10 and 5 out; an access switch at 900 that is no uplink.
    const link = (school: string, device: string, role: 'school_uplink' | 'access', rx: number, tx: number, minute: number) =>
      lines.push(
        encodePoint(
          point(
            'network_node',
            { district: '渝中区', school, gateway: `gw-${school}`, device, kind: 'network_node', role },
            { seq: minute, capacity_bps: 1_000_000_000, octets_in: '18446744073709551615', octets_out: '0', oper_up: true, rx_bps: rx, tx_bps: tx, utilisation: rx / 1e9 },
            T0 + minute * MIN,
          ),
        ),
      );
    for (let m = 0; m < 10; m++) {
      link('yz-s01', 'yz-s01-uplink', 'school_uplink', 100e6, 10e6, m);
      link('yz-s02', 'yz-s02-uplink', 'school_uplink', 50e6, 5e6, m);
      link('yz-s01', 'yz-s01-access', 'access', 900e6, 900e6, m);
    }
    expect(await writer.write(lines)).toEqual({ refused: 0 });
    await writer.stop();

    const byDistrict = await admin.query((t) => availabilityTotals(t, ['district']), RANGE);
    expect(byDistrict.map(({ district, up, expected, observed }) => ({ district, up, expected, observed }))).toEqual([
      { district: '江北区', up: 5, expected: 5, observed: 5 },
      { district: '渝中区', up: 7, expected: 10, observed: 20 },
    ]);
    const tenMinutes = { fromMs: T0, toMs: T0 + 10 * MIN };
    const bw = await admin.query((t) => bandwidth('network_node', t, '600s', 'district', []), tenMinutes);
    expect(bw.map((r) => [r['district'], r['in'], r['out'], (r['time'] as Date).getTime()])).toEqual([['渝中区', 150e6, 15e6, T0]]);
    const util = await admin.query((t) => districtUtilisation('network_node', t, undefined, [], ['rx']), tenMinutes);
    expect(util.map((r) => [r['district'], r['in']])).toEqual([['渝中区', 0.015]]);
    // The 64-bit counter comes back exactly, as the string it was written as.
    const counters = await admin.query(from('network_node').select(as(agg('network_node', 'last', 'octets_in'), 'octets')).where(inRange(tenMinutes)).build());
    expect(counters.map((r) => r['octets'])).toEqual(['18446744073709551615']);

    // The hourly rollup, backfilled, gives the same availability sums.
    await admin.backfill(RANGE);
    const hourly = await admin.query(
      from('availability_1h')
        .select(as(agg('availability_1h', 'sum', 'up'), 'up'), as(agg('availability_1h', 'sum', 'expected'), 'expected'), as(agg('availability_1h', 'sum', 'observed'), 'observed'))
        .where(inRange(RANGE))
        .by('district')
        .build(),
    );
    expect(hourly.map(({ district, up, expected, observed }) => [district, up, expected, observed])).toEqual([
      ['江北区', 5, 5, 5],
      ['渝中区', 7, 10, 20],
    ]);
  });

  it('fails with HUB_ERR_INFLUX_UNAVAILABLE when InfluxDB does not answer or refuses a query', async () => {
    const down = new InfluxAdmin({ url: `http://127.0.0.1:${await freePort()}`, database: 'x', requestTimeoutMs: 2000 }, log);
    await expect(down.ensureSchema()).rejects.toMatchObject({ code: 'HUB_ERR_INFLUX_UNAVAILABLE' });
    await expect(adminFor('admin_figures').query({ sql: 'SELECT nope FROM' })).rejects.toMatchObject({ code: 'HUB_ERR_INFLUX_UNAVAILABLE' });
  });
});
