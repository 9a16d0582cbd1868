/**
 * `npm run bench:dashboards`: how long InfluxDB takes to answer the dashboards' panels and the
 * alert rules' queries as the fleet grows, the queries interpolated exactly as Grafana sends them
 * (tests/harness/grafana.ts). The data is written straight to InfluxDB (no MQTT): per device one
 * availability point a minute, per school one inventory point per kind and one gateway_up point
 * a minute and one uplink sample every 30 s, over BENCH_DASH_HOURS ending at the top of the current hour; the rollups
 * are then filled by their backfill. The city availability figure is also read from the raw
 * points side by side, and each continuous query's run is timed.
 *
 *   BENCH_DASH_SCHOOLS (100), BENCH_DASH_DEVICES (100 per school), BENCH_DASH_HOURS (24).
 */
import { z } from 'zod';
import { inRange } from '../../storage/src/influxql.ts';
import { ROLLUPS, schemaStatements, rollupBackfill } from '../../storage/src/rollups.ts';
import { SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { loadAlerting, loadDashboard, runPanel, applyMacros, influxQL, type VariableValue } from '../harness/grafana.ts';
import { startInflux } from '../harness/influx.ts';

const cfg = loadConfigOrExit(() =>
  parseEnvConfig(
    z.object({
      BENCH_DASH_SCHOOLS: envInt(100, 1, 10_000),
      BENCH_DASH_DEVICES: envInt(100, 4, 2000),
      BENCH_DASH_HOURS: envInt(24, 1, 24 * 31),
    }),
    process.env,
  ),
);

const MIN = 60_000;
const db = 'bench_dashboards';
const influx = await startInflux({ forceLocal: !process.env['INFLUX_URL'] });
const q = async (statement: string) => {
  const r = await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: statement, db }) });
  const body = (await r.json()) as { results?: Array<{ error?: string }>; error?: string };
  const err = body.error ?? body.results?.find((x) => x.error)?.error;
  if (err && !err.includes('already exists')) throw new Error(`${statement}: ${err}`);
};
await q(`CREATE DATABASE ${db}`);
for (const s of schemaStatements(db)) await q(s);

const to = Math.floor(Date.now() / 3_600_000) * 3_600_000;
const from = to - cfg.BENCH_DASH_HOURS * 3_600_000;
const districts = SEED_DISTRICTS.map((d) => d.id);
const kinds = ['interactive_board', 'classroom_av', 'vr_kit', 'network_node'] as const;
/** Kind of device i of a school: one uplink, then boards, AV systems and VR kits. */
const kindOf = (i: number) => (i === 0 ? 'network_node' : kinds[i % 3]!);

// ── load ──────────────────────────────────────────────────────────────────────────────────
let lines: string[] = [];
let points = 0;
async function flush(): Promise<void> {
  if (lines.length === 0) return;
  const res = await fetch(`${influx.url}/write?db=${db}&precision=ms`, { method: 'POST', body: lines.join('\n') });
  if (res.status !== 204) throw new Error(`write: ${res.status} ${await res.text()}`);
  points += lines.length;
  lines = [];
}
const loadStart = performance.now();
for (let s = 0; s < cfg.BENCH_DASH_SCHOOLS; s++) {
  const district = districts[s % districts.length]!;
  const school = `s${String(s).padStart(5, '0')}`;
  const tags = `district=${district},gateway=gw-${school},school=${school}`;
  const counts = new Map<string, number>();
  for (let i = 0; i < cfg.BENCH_DASH_DEVICES; i++) counts.set(kindOf(i), (counts.get(kindOf(i)) ?? 0) + 1);
  for (let t = from; t < to; t += MIN) {
    for (let i = 0; i < cfg.BENCH_DASH_DEVICES; i++) {
      // About one device-minute in 200 down, deterministically.
      const up = (s * 7919 + i * 104729 + t / MIN) % 200 !== 0 ? 1 : 0;
      lines.push(`availability,device=${school}-d${i},${tags},kind=${kindOf(i)},room=r${i >> 1} state="${up ? 'up' : 'down'}",up=${up}i,expected=1i,up_expected=${up}i ${t}`);
    }
    for (const [kind, n] of counts) lines.push(`inventory,district=${district},kind=${kind},school=${school} devices=${n}i ${t}`);
    lines.push(`gateway_up,${tags} up=1i ${t}`);
    for (const dt of [0, 30_000]) lines.push(`network_node,device=${school}-d0,${tags},kind=network_node,role=school_uplink,room=r0 seq=1i,capacity_bps=1000000000i,rx_bps=${2e8 + s},tx_bps=5e7,utilisation=0.2 ${t + dt}`);
    if (lines.length >= 20_000) await flush();
  }
}
await flush();
const loadS = (performance.now() - loadStart) / 1000;
const backfillStart = performance.now();
for (const statement of rollupBackfill(db, { fromMs: from, toMs: to })) await q(statement);
const backfillS = (performance.now() - backfillStart) / 1000;
// What each continuous query costs per run: it re-samples RESAMPLE_FOR (4 days; here the whole
// range, at most) every hour. And what a per-minute rollup would cost: 5 minutes re-sampled.
const cqRuns: Array<{ what: string; ms: number }> = [];
for (const r of ROLLUPS) {
  const window = Math.min(to - from, 4 * 86_400_000);
  const t = performance.now();
  await q(r.select(db, [inRange({ fromMs: to - window, toMs: to })]));
  cqRuns.push({ what: `cq_${r.name}: one run (${window / 3_600_000} h re-sampled, every hour)`, ms: Math.round(performance.now() - t) });
}
{
  const t = performance.now();
  await q(`SELECT sum(up_expected) AS up, sum(expected) AS expected, count(up) AS observed INTO "${db}"."autogen"."availability_1m_probe" FROM "${db}"."autogen"."availability" WHERE time >= ${to - 5 * MIN}ms AND time < ${to}ms GROUP BY time(1m), district, school, kind`);
  cqRuns.push({ what: 'a per-minute availability rollup per school and kind: one run (5 min re-sampled, every minute; not deployed)', ms: Math.round(performance.now() - t) });
}

// ── queries, as Grafana sends them ────────────────────────────────────────────────────────
const range = { fromMs: from, toMs: to };
const allDistricts: VariableValue = { value: 'All', multi: true, includeAll: true, options: districts };
const allKinds: VariableValue = { value: 'All', multi: true, includeAll: true, options: [...kinds] };
const oneDistrict: VariableValue = { value: districts[0]!, multi: false, includeAll: false, options: [districts[0]!] };
const schoolVar = (v: string): VariableValue => ({ value: v, multi: false, includeAll: false, options: [v] });

async function time<T>(fn: () => Promise<T>): Promise<[number, T]> {
  const t = performance.now();
  const r = await fn();
  return [performance.now() - t, r];
}

const rows: Array<{ what: string; ms: number }> = [];
const city = loadDashboard('campus-city');
for (const title of ['Availability and coverage by district', 'Bandwidth by district (sum of school uplinks)', 'Devices up, by kind', 'Worst schools (availability)']) {
  const p = city.panels.find((x) => x.title === title)!;
  const [ms] = await time(() => runPanel(p, { influxUrl: influx.url, db, range, vars: { district: allDistricts, kind: allKinds }, maxDataPoints: 1000, datasourceInterval: '1m' }));
  rows.push({ what: `city · ${title}`, ms });
}
const district = loadDashboard('campus-district');
{
  const p = district.panels.find((x) => x.title === 'Schools by availability')!;
  const schools = [...new Set(Array.from({ length: cfg.BENCH_DASH_SCHOOLS }, (_, s) => s).filter((s) => s % districts.length === 0).map((s) => `s${String(s).padStart(5, '0')}`))];
  const [ms] = await time(() => runPanel(p, { influxUrl: influx.url, db, range, vars: { district: oneDistrict, school: { value: 'All', multi: true, includeAll: true, options: schools } }, maxDataPoints: 1000, datasourceInterval: '1m' }));
  rows.push({ what: `district · Schools by availability (${schools.length} schools)`, ms });
}
const school = loadDashboard('campus-school');
{
  const p = school.panels.find((x) => x.title === 'Device states')!;
  const [ms] = await time(() => runPanel(p, { influxUrl: influx.url, db, range, vars: { district: oneDistrict, school: schoolVar('s00000'), kind: allKinds }, maxDataPoints: 1000, datasourceInterval: '1m' }));
  rows.push({ what: 'school · Device states', ms });
}
// The same city availability figure from the raw points, for comparison with the rollup the panel reads.
{
  const [ms] = await time(() => influxQL(influx.url, db, applyMacros(`SELECT sum("up_expected") / sum("expected") AS "availability" FROM "availability" WHERE $timeFilter AND "expected" = 1 GROUP BY "district"`, range, 60_000)));
  rows.push({ what: 'city · availability by district from the raw points (for comparison)', ms });
}
// Every alert query, at the end of the range (each rule runs every minute).
for (const rule of loadAlerting().rules.groups[0]!.rules) {
  let total = 0;
  for (const d of rule.data.filter((x) => x.datasourceUid !== '__expr__')) {
    const r = { fromMs: to - d.relativeTimeRange!.from * 1000, toMs: to };
    const [ms] = await time(() => influxQL(influx.url, db, applyMacros(d.model.query!, r, 1000)));
    total += ms;
  }
  rows.push({ what: `alert · ${rule.title}`, ms: total });
}

const devices = cfg.BENCH_DASH_SCHOOLS * cfg.BENCH_DASH_DEVICES;
console.log(
  JSON.stringify(
    {
      fleet: { schools: cfg.BENCH_DASH_SCHOOLS, devicesPerSchool: cfg.BENCH_DASH_DEVICES, devices, hours: cfg.BENCH_DASH_HOURS },
      load: { points, seconds: Math.round(loadS), pointsPerSecond: Math.round(points / loadS), rollupBackfillSeconds: Math.round(backfillS * 10) / 10 },
      continuousQueries: cqRuns,
      queries: rows.map((r) => ({ ...r, ms: Math.round(r.ms) })),
    },
    null,
    2,
  ),
);
await influx.stop();
