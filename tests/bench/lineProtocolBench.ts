/**
 * The ingest hot path's own line-protocol writer against the `influx` client's, side by side,
 * in one run against one local InfluxDB:
 *   (a) encoding: `encodePoint` against the client's serialisation (`writePoints` with its
 *       connection pool replaced by a sink, so exactly its own parsePoint + escaping runs);
 *   (b) writing: `InfluxWriter` (encodePoint + POST /write) against `InfluxDB.writePoints`,
 *       the same points in the same batches, one batch at a time;
 *   (c) exactness: probe points written both ways and read back from InfluxDB.
 * The points are what ingest writes (recordToPoint / availabilityToPoint) for a simulated fleet:
 * Chinese district tags, 64-bit octet counters as strings, rates as floats.
 *
 *   BENCH_POINTS (100000) points, BENCH_BATCH (5000) per write, BENCH_ROUNDS (3) timed rounds
 *   after one warm-up round; the median round is reported.
 */
import { FieldType, InfluxDB, type IPoint, type ISchemaOptions } from 'influx';
import { z } from 'zod';
import { availabilityToPoint, recordToPoint } from '../../broker/src/ingest.ts';
import { InfluxWriter } from '../../broker/src/influx/writer.ts';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { DEFAULT_TIMETABLE } from '../../protocol/src/schedule.ts';
import type { TelemetryRecord } from '../../protocol/src/telemetry.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { toError } from '../../runtime/src/errors.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { encodePoint, type Point } from '../../storage/src/lineProtocol.ts';
import { SCHEMA, type InfluxType, type MeasurementDef } from '../../storage/src/schema.ts';
import { influxQL, startInflux } from '../harness/influx.ts';

const cfg = loadConfigOrExit(() =>
  parseEnvConfig(
    z.object({
      BENCH_POINTS: envInt(100_000, 100, 10_000_000),
      BENCH_BATCH: envInt(5000, 1, 100_000),
      BENCH_ROUNDS: envInt(3, 1, 50),
    }),
    process.env,
  ),
);

// ── the points ingest writes ─────────────────────────────────────────────────────────────────
const fleet = generateFleet({ seed: 7, districts: SEED_DISTRICTS.slice(0, 4), schoolsPerDistrict: 5, roomsPerSchool: 10, vrKitsPerSchool: 2, accessSwitchesPerSchool: 1 });
const T0 = Date.UTC(2026, 0, 6, 1, 0);
const points: Point[] = [];
for (let minute = 0; points.length < cfg.BENCH_POINTS; minute++) {
  for (const s of fleet.schools) {
    const gw = { district: s.district, school: s.id, gateway: s.gateway };
    for (const d of s.devices) {
      // Two samples a minute (the 30 s cadence) and one availability record.
      for (const half of [0, 1]) {
        const ts = T0 + minute * 60_000 + half * 30_000;
        const seq = minute * 2 + half;
        const base = { device: d.id, seq, ts, rx: ts };
        let r: TelemetryRecord;
        switch (d.kind) {
          case 'classroom_av':
            r = { ...base, kind: d.kind, data: { power: 'on', lampHours: 1200 + minute / 60, temperatureC: 41.5, inSession: true, ...(d.synchronous ? { streamKbps: 2500, streamLossPct: 0.25 } : {}) } };
            break;
          case 'interactive_board':
            r = { ...base, kind: d.kind, data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v3.1.4' } };
            break;
          case 'vr_kit':
            r = { ...base, kind: d.kind, data: { batteryPct: 80 - minute / 10, charging: false, inSession: true } };
            break;
          case 'science_kiosk':
            r = { ...base, kind: d.kind, data: { power: 'on', screenOn: true, contentSyncAgeS: minute * 60, freeDiskMiB: 51_200 } };
            break;
          case 'network_node': {
            // Counters near 2^64, as a switch that has run for years reports them.
            const octets = (18_446_744_000_000_000_000n + BigInt(seq) * 750_000_000n).toString();
            r = { ...base, kind: d.kind, data: { role: d.link!.role, capacityBps: d.link!.capacityBps, octetsIn: octets, octetsOut: octets, operUp: true }, rate: { rxBps: 200_000_000.125, txBps: 20_000_000.5 } };
            break;
          }
        }
        points.push(recordToPoint(gw, r, d.room));
      }
      points.push(availabilityToPoint(gw, { kind: 'availability', device: d.id, deviceKind: d.kind, seq: minute, ts: T0 + minute * 60_000, state: 'up', rx: T0 }, DEFAULT_TIMETABLE, d.room));
    }
  }
}
points.length = cfg.BENCH_POINTS;

/** The client's point for ours: plain values; the client's schema (below) gives integers their `i`. */
const toIPoint = (p: Point): IPoint => ({ measurement: p.measurement, tags: p.tags, fields: Object.fromEntries(Object.entries(p.fields).map(([k, f]) => [k, f.v])), timestamp: p.tsMs });
const ipoints = points.map(toIPoint);

const FIELD_TYPE: Record<InfluxType, FieldType> = { float: FieldType.FLOAT, integer: FieldType.INTEGER, string: FieldType.STRING, boolean: FieldType.BOOLEAN };
const clientSchema = (database: string): ISchemaOptions[] =>
  (Object.entries(SCHEMA) as Array<[string, MeasurementDef]>).map(([measurement, d]) => ({
    database,
    measurement,
    tags: [...d.tags],
    fields: Object.fromEntries(Object.entries(d.fields).map(([f, t]) => [f, FIELD_TYPE[t]])),
  }));

const influx = await startInflux({ forceLocal: !process.env['INFLUX_URL'] });
const url = new URL(influx.url);
const client = (database: string, schema: ISchemaOptions[] = clientSchema(database)) =>
  new InfluxDB({ host: url.hostname, port: Number(url.port), protocol: 'http', database, schema, pool: { maxRetries: 0, requestTimeout: 60_000 } });
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;
const chunks = <T>(xs: T[]) => Array.from({ length: Math.ceil(xs.length / cfg.BENCH_BATCH) }, (_, i) => xs.slice(i * cfg.BENCH_BATCH, (i + 1) * cfg.BENCH_BATCH));

try {
  // ── (a) encoding ───────────────────────────────────────────────────────────────────────────
  const sink = client('sink');
  let captured = '';
  // The client's serialisation without the network: its pool's one sending call, replaced.
  (sink as unknown as { _pool: { discard(o: { body: string }): Promise<void> } })._pool = { discard: async (o) => void (captured = o.body) };
  const encodeOwn = () => {
    const t = performance.now();
    let bytes = 0;
    for (const batch of chunks(points)) bytes += batch.map(encodePoint).join('\n').length;
    return { ms: performance.now() - t, bytes };
  };
  const encodeClient = async () => {
    const t = performance.now();
    let bytes = 0;
    for (const batch of chunks(ipoints)) {
      await sink.writePoints(batch, { precision: 'ms' });
      bytes += captured.length;
    }
    return { ms: performance.now() - t, bytes };
  };
  encodeOwn();
  await encodeClient();
  const ownEnc: number[] = [];
  const clientEnc: number[] = [];
  for (let i = 0; i < cfg.BENCH_ROUNDS; i++) {
    ownEnc.push(encodeOwn().ms);
    clientEnc.push((await encodeClient()).ms);
  }
  // Same payload? Ours sorts tags and keeps the field order; the client sorts fields and keeps the tag order.
  const ownLine = encodePoint(points[0]!);
  await sink.writePoints([ipoints[0]!], { precision: 'ms' });
  const clientLine = captured;

  // ── (b) writing to InfluxDB ──────────────────────────────────────────────────────────────
  const writer = new InfluxWriter({ url: influx.url, database: 'bench_own', maxLines: cfg.BENCH_BATCH, lingerMs: 1, attempts: 1, requestTimeoutMs: 60_000 }, silentLogger());
  await influxQL(influx.url, 'bench_own', 'CREATE DATABASE bench_own');
  const cl = client('bench_client');
  await cl.createDatabase('bench_client');
  const writeOwn = async () => {
    const t = performance.now();
    for (const batch of chunks(points)) {
      const r = await writer.write(batch.map(encodePoint));
      if (r.refused) throw new Error(`own writer: ${r.refused} refused: ${r.refusal}`);
    }
    return performance.now() - t;
  };
  const writeClient = async () => {
    const t = performance.now();
    for (const batch of chunks(ipoints)) await cl.writePoints(batch, { precision: 'ms' });
    return performance.now() - t;
  };
  // The first round creates the series (the costly part of a first write): a warm-up for both.
  await writeOwn();
  await writeClient();
  const ownWrite: number[] = [];
  const clientWrite: number[] = [];
  for (let i = 0; i < cfg.BENCH_ROUNDS; i++) {
    // Alternating which goes first, so neither always meets a compaction the other started.
    if (i % 2 === 0) {
      ownWrite.push(await writeOwn());
      clientWrite.push(await writeClient());
    } else {
      clientWrite.push(await writeClient());
      ownWrite.push(await writeOwn());
    }
  }
  await writer.stop();
  const counts = async (db: string) =>
    Object.fromEntries((await influxQL(influx.url, db, 'SELECT count(*) FROM /.*/')).map((s) => [s.name, s.values[0]!.slice(1).reduce<number>((a, b) => Math.max(a, Number(b ?? 0)), 0)]));
  const ownCounts = await counts('bench_own');
  const clientCounts = await counts('bench_client');
  const octets = async (db: string) => (await influxQL(influx.url, db, `SELECT last(octets_in) FROM network_node`))[0]?.values[0]?.[1];

  // ── (c) exactness ────────────────────────────────────────────────────────────────────────
  const probes = await exactness();

  const pps = (ms: number) => Math.round(cfg.BENCH_POINTS / (ms / 1000));
  const report = {
    points: cfg.BENCH_POINTS,
    batch: cfg.BENCH_BATCH,
    rounds: cfg.BENCH_ROUNDS,
    mix: Object.fromEntries(Object.entries(Object.groupBy(points, (p) => p.measurement)).map(([m, ps]) => [m, ps!.length])),
    encode: { ownPointsPerS: pps(median(ownEnc)), clientPointsPerS: pps(median(clientEnc)), ownOverClient: +(median(clientEnc) / median(ownEnc)).toFixed(2) },
    write: { ownPointsPerS: pps(median(ownWrite)), clientPointsPerS: pps(median(clientWrite)), ownOverClient: +(median(clientWrite) / median(ownWrite)).toFixed(2) },
    stored: { own: ownCounts, client: clientCounts, lastOctetsIn: { own: await octets('bench_own'), client: await octets('bench_client') } },
    sameLine: { own: ownLine, client: clientLine },
    exactness: probes,
  };
  console.log(JSON.stringify(report, null, 2));
} finally {
  await influx.stop();
}

/**
 * Each probe written alone, both ways, into its own database, and read back: `exact`, `refused`
 * (before sending, or by InfluxDB, with why) or `altered` (what InfluxDB holds instead).
 */
async function exactness(): Promise<Array<{ probe: string; own: string; client: string }>> {
  const ownDb = 'probe_own';
  const clientDb = 'probe_client';
  await influxQL(influx.url, ownDb, `CREATE DATABASE ${ownDb}`);
  await influxQL(influx.url, clientDb, `CREATE DATABASE ${clientDb}`);
  const schema: ISchemaOptions[] = [{ database: clientDb, measurement: 'probe', tags: ['dev'], fields: { n: FieldType.INTEGER, s: FieldType.STRING, f: FieldType.FLOAT } }];
  const cl = client(clientDb, schema);
  const w = new InfluxWriter({ url: influx.url, database: ownDb, maxLines: 1, lingerMs: 1, attempts: 1, requestTimeoutMs: 10_000 }, silentLogger());
  type Probe = { probe: string; tag?: string; n?: bigint; nClient?: unknown; s?: string; f?: number };
  const probes: Probe[] = [
    { probe: 'integer 2^63 − 1 (the largest InfluxDB integer), as a bigint', n: 2n ** 63n - 1n },
    { probe: 'integer 2^53 + 1 given as a decimal string (what a JSON counter arrives as)', n: 2n ** 53n + 1n, nClient: String(2n ** 53n + 1n) },
    { probe: 'integer 2^53 + 1 given as a bigint', n: 2n ** 53n + 1n },
    { probe: 'u64 counter 2^64 − 1 as an integer field', n: 2n ** 64n - 1n, nClient: String(2n ** 64n - 1n) },
    { probe: 'u64 counter 2^64 − 1 as a string field (what ingest does)', s: String(2n ** 64n - 1n) },
    { probe: 'float 0.1 + 0.2', f: 0.1 + 0.2 },
    { probe: 'float 5e-324 (smallest subnormal)', f: 5e-324 },
    { probe: 'float 1.7976931348623157e308', f: 1.7976931348623157e308 },
    { probe: 'float NaN', f: Number.NaN },
    { probe: 'tag with spaces, commas, = and quotes', tag: 'a b,c=d "e" \'f\'', f: 1 },
    { probe: 'tag in Chinese with a space', tag: '渝中区 第1中学', f: 1 },
    { probe: 'tag with a newline', tag: 'line1\nline2', f: 1 },
    { probe: 'tag ending in a backslash', tag: 'dir\\', f: 1 },
    { probe: 'empty tag value', tag: '', f: 1 },
    { probe: 'string field with quotes and a backslash', s: 'say "hi" \\o/' },
    { probe: "string field with a backslash before a quote (\\')", s: "it\\'s" },
    { probe: 'string field with a newline', s: 'two\nlines' },
  ];
  const out: Array<{ probe: string; own: string; client: string }> = [];
  for (const [i, p] of probes.entries()) {
    const ts = T0 + i * 1000;
    const tags = { dev: p.tag ?? `p${i}` };
    const own = await (async () => {
      let line: string;
      try {
        line = encodePoint({
          measurement: 'probe',
          tags,
          fields: p.n !== undefined ? { n: { t: 'int', v: p.n } } : p.s !== undefined ? { s: { t: 'string', v: p.s } } : { f: { t: 'float', v: p.f! } },
          tsMs: ts,
        });
      } catch (e) {
        return `refused before sending (${toError(e).message})`;
      }
      const r = await w.write([line]).catch((e: unknown) => ({ refused: 1, refusal: toError(e).message }));
      return r.refused ? `refused by InfluxDB (${r.refusal?.slice(0, 120)})` : await readBack(ownDb, ts, p, tags.dev);
    })();
    const client = await (async () => {
      const fields = p.n !== undefined ? { n: p.nClient ?? p.n } : p.s !== undefined ? { s: p.s } : { f: p.f };
      try {
        await cl.writePoints([{ measurement: 'probe', tags, fields, timestamp: ts }], { precision: 'ms' });
      } catch (e) {
        const m = toError(e).message;
        if (!/\b400\b/.test(m)) return `refused before sending (${m.slice(0, 120)})`;
        // A refused batch may still have stored part of what it carried (a partial write).
        const stored = await influxQL(influx.url, clientDb, `SELECT * FROM /.*/ WHERE time = ${ts}ms GROUP BY *`);
        return `refused by InfluxDB (${m.slice(0, 160)})${stored.length ? `, yet stored: ${JSON.stringify(stored.map((x) => ({ measurement: x.name, tags: x.tags })))}` : ''}`;
      }
      return await readBack(clientDb, ts, p, tags.dev);
    })();
    out.push({ probe: p.probe, own, client });
  }
  await w.stop();
  return out;
}

async function readBack(db: string, ts: number, p: { n?: bigint; s?: string; f?: number }, tag: string): Promise<string> {
  // Whatever InfluxDB made of the line at that time, in any measurement, with every tag.
  const series = await influxQL(influx.url, db, `SELECT * FROM /.*/ WHERE time = ${ts}ms GROUP BY *`);
  if (series.length === 0) return 'nothing stored';
  const got = series.map((s) => ({ m: s.name, tags: s.tags ?? {}, row: Object.fromEntries(s.columns.map((c, j) => [c, s.values[0]![j]])) }));
  const g = got[0]!;
  let value: string;
  if (p.n !== undefined) {
    // Integers read as text: JSON.parse would round them above 2^53.
    const res = await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ db, q: `SELECT n FROM probe WHERE time = ${ts}ms`, epoch: 'ms' }) });
    value = /"values":\[\[\d+,(-?[\d.e+]+)\]\]/.exec(await res.text())?.[1] ?? 'none';
  } else value = String(p.s !== undefined ? g.row['s'] : g.row['f']);
  const want = p.n !== undefined ? p.n.toString() : p.s !== undefined ? p.s : String(p.f);
  if (got.length === 1 && g.m === 'probe' && g.tags['dev'] === tag && value === want) return 'exact';
  const shown = got.map((x) => ({ measurement: x.m, tags: x.tags, ...Object.fromEntries(Object.entries(x.row).filter(([k, v]) => k !== 'time' && v !== null)) }));
  return `altered: ${JSON.stringify(shown)}${p.n !== undefined ? ` (n as stored: ${value})` : ''}`;
}
