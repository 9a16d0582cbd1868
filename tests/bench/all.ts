/**
 * `npm run bench`: every benchmark of the hub at city scale, each peer measured beside the
 * project on the same load in the same run, one after another on this machine (never two at
 * once: they would share the 2 cores), then one table. Each part is its own script run as a
 * child process that writes its JSON report to BENCH_REPORT_FILE; the table is built from those.
 *
 *   BENCH_ONLY=city,city2,peers,broker,connections,storm   run only these parts (default: all)
 *
 * Every part's own BENCH_* settings pass through (BENCH_LONG=1 makes the whole-city load 10 min).
 * The JSON reports are kept in BENCH_OUT_DIR (default: a temporary directory, printed).
 */
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir, totalmem } from 'node:os';
import { join } from 'node:path';

interface Part {
  name: string;
  script: string;
  title: string;
  /** Settings of this part's own, over the environment's. */
  env?: Record<string, string>;
}
const PARTS: Part[] = [
  { name: 'city', script: 'cityBench.ts', title: 'whole-city load and the hub ceiling' },
  { name: 'city2', script: 'cityBench.ts', title: 'the whole-city load on a two-node hub cluster (Redis, HAProxy): both cores', env: { BENCH_HUB_NODES: '2', BENCH_CEILING: '0', BENCH_RAW_SECONDS: '0', BENCH_SECONDS: process.env['BENCH_CITY2_SECONDS'] ?? '120' } },
  // Steps from 1,000 records/s doubling to 32,000, 30 s each (`npm run bench:peer-stack` alone ramps from 250 to 64,000).
  { name: 'peers', script: 'peerStackBench.ts', title: 'peer 1: Mosquitto + Node-RED → InfluxDB', env: { BENCH_PEER_START: process.env['BENCH_PEER_START'] ?? '1000', BENCH_PEER_MAX: process.env['BENCH_PEER_MAX'] ?? '32000', BENCH_PEER_STEP_S: process.env['BENCH_PEER_STEP_S'] ?? '30' } },
  { name: 'broker', script: 'brokerPeerBench.ts', title: 'peer 2: the broker at QoS 1 against Mosquitto' },
  { name: 'connections', script: 'connectionsBench.ts', title: 'idle authenticated gateway connections' },
  // With login tickets only: the password storm (5 minutes more) is `npm run bench:storm`.
  { name: 'storm', script: 'stormBench.ts', title: 'reconnect storm after a hub restart', env: { BENCH_STORM_PASSWORDS: process.env['BENCH_STORM_PASSWORDS'] ?? '0' } },
];
const only = process.env['BENCH_ONLY']?.split(',').map((s) => s.trim()).filter(Boolean);
const out = process.env['BENCH_OUT_DIR'] ?? mkdtempSync(join(tmpdir(), 'campus-bench-'));
const log = (m: string): void => void process.stderr.write(`[bench] ${m}\n`);
const here = new URL('.', import.meta.url).pathname;

async function runPart(p: Part): Promise<unknown> {
  const file = join(out, `${p.name}.json`);
  const started = Date.now();
  log(`${p.name}: ${p.title}…`);
  const code = await new Promise<number>((resolve) => {
    const child = spawn(process.execPath, [join(here, p.script)], { env: { ...process.env, ...p.env, BENCH_REPORT_FILE: file }, stdio: ['ignore', 'ignore', 'inherit'] });
    child.on('exit', (c) => resolve(c ?? 1));
  });
  log(`${p.name}: exit ${code} after ${Math.round((Date.now() - started) / 1000)} s`);
  if (code !== 0 || !existsSync(file)) return undefined;
  return JSON.parse(readFileSync(file, 'utf8')) as unknown;
}

const reports: Record<string, any> = {};
for (const p of PARTS) {
  if (only && !only.includes(p.name)) continue;
  if (!existsSync(join(here, p.script))) {
    log(`${p.name}: ${p.script} not found, skipped`);
    continue;
  }
  reports[p.name] = await runPart(p);
}

const rows: Array<[string, string, string]> = [];
const add = (what: string, value: string, peer = ''): void => void rows.push([what, value, peer]);
const n = (x: unknown, digits = 0): string => (typeof x === 'number' && Number.isFinite(x) ? x.toFixed(digits) : '–');
const ratio = (a: unknown, b: unknown): string => (typeof a === 'number' && typeof b === 'number' && b > 0 ? (a / b).toFixed(2) : '–');

const city = reports['city'];
if (city) {
  const s = city.sustained;
  add('whole city: fleet', `${city.fleet.gateways} gateways, ${city.fleet.devices} devices`);
  add('whole city: offered / landed records/s', `${s.offeredPerS} / ${s.landedPerS} for ${n(s.seconds)} s`);
  add('whole city: lost (per device in InfluxDB)', `${s.lost} of ${s.generated}`);
  add('whole city: telemetry latency p50 / p99', `${s.latencyMs.telemetry.p50} / ${s.latencyMs.telemetry.p99} ms`);
  add('whole city: availability latency p50 / p99', `${s.latencyMs.availability.p50} / ${s.latencyMs.availability.p99} ms`);
  add('whole city: hub CPU / RSS', `${s.hub.cpuPercentOfOneCore} % of a core / ${s.hub.rssMiBAtStop} MiB`);
  const c = city.ceiling;
  const raw = Math.max(city.rawInflux.pointsPerS1, city.rawInflux.pointsPerS4);
  add('hub ceiling (held 2 min, zero loss)', c ? `${c.landedPerS} records/s${c.reached ? '' : ' (not reached)'}` : 'none held', `raw InfluxDB /write: ${raw} points/s; ratio ${c ? ratio(c.landedPerS, raw) : '–'}`);
}
const city2 = reports['city2'];
if (city2) {
  const s = city2.sustained;
  const one = city?.sustained;
  add(
    'whole city on 2 hub nodes: landed / lost / p99 telemetry',
    `${s.landedPerS}/s, ${s.lost} lost, ${s.latencyMs.telemetry.p99} ms; hubs ${s.hub.cpuPercentOfOneCore} % of a core, ${s.hub.rssMiBAtStop} MiB`,
    one ? `1 node: ${one.landedPerS}/s, p99 ${one.latencyMs.telemetry.p99} ms, ${one.hub.cpuPercentOfOneCore} % of a core` : '',
  );
}
const peers = reports['peers'];
if (peers) {
  const hub = peers.targets?.hub?.zeroLossPerS;
  add('peer stack: the hub\'s zero-loss rate', `${n(hub)} records/s (${peers.fleet.gateways} gateways, ${peers.stepS} s steps)`);
  for (const k of ['node-red', 'node-red-batch']) {
    const v = peers.targets?.[k]?.zeroLossPerS;
    if (v !== undefined) add(`peer stack: Mosquitto + Node-RED ${k === 'node-red' ? '`influxdb out`' : '`influxdb batch`'}`, `${n(v)} records/s zero-loss`, `hub ÷ it: ${ratio(hub, v)}`);
  }
}
const broker = reports['broker'];
if (broker) add('broker alone at QoS 1 (auth + ACL): delivered messages/s', `hub ${n(broker.hub?.deliveredPerS)} (${n(broker.hub?.cpuUsPerMessage)} µs CPU each)`, `Mosquitto ${n(broker.mosquitto?.deliveredPerS)} (${n(broker.mosquitto?.cpuUsPerMessage)} µs); hub ÷ Mosquitto ${ratio(broker.hub?.deliveredPerS, broker.mosquitto?.deliveredPerS)}`);
const conns = reports['connections'];
if (conns) add('idle authenticated gateway connections', `${conns.connections}: ${n(conns.ticket.rssPerConnectionKiB, 1)} KiB each (hub peak ${n(conns.hubPeakRssMiB)} MiB)`, `connect rate ${n(conns.password.perSec)}/s with passwords, ${n(conns.ticket.perSec)}/s with tickets`);
const storm = reports['storm'];
if (storm) {
  for (const f of storm.storms ?? []) {
    add(`reconnect storm (${f.login} logins)`, `${storm.gateways} gateways all back in ${n(f.allBackSec, 1)} s (p50/p90/p99 ${f.backPercentilesSec.map((x: number) => n(x, 1)).join('/')}), backlogs replayed in ${n(f.allReplayedSec, 1)} s`, `hub peak RSS ${n(f.hubPeakRssMiB)} MiB`);
  }
  add('reconnect storm: lost (per device in InfluxDB)', `${storm.loss.lost} of ${storm.loss.generated}`);
}

const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, load average at the end ${loadavg().map((x) => x.toFixed(2)).join(' ')}`;
process.stdout.write(['', `machine: ${machine}`, `reports: ${out}`, '', '| measure | project | peer / ratio |', '|---|---|---|', ...rows.map((r) => `| ${r.join(' | ')} |`), ''].join('\n'));
