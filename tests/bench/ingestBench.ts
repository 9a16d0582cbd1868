/**
 * `npm run bench`: a simulated fleet → gateways → the hub (its own process) → InfluxDB, measured.
 * Prints samples/s that reached InfluxDB, end-to-end latency (device timestamp → the gateway's
 * PUBACK from the hub, which comes only after the InfluxDB write) and the hub's CPU and memory.
 *
 *   BENCH_DISTRICTS (6) × BENCH_SCHOOLS (10) schools, BENCH_ROOMS (10) rooms per school;
 *   BENCH_CADENCE_SCALE (0.02: a 30 s cadence becomes 600 ms); BENCH_SECONDS (30) measured
 *   after BENCH_WARMUP_S (5).
 */
import { randomBytes } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { deviceCount, generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { startSimulatedCampuses } from '../../device-sim/src/campuses.ts';
import { CADENCE_MS } from '../../device-sim/src/telemetry.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startHubProcess } from '../harness/hubProcess.ts';
import { startInflux } from '../harness/influx.ts';
import { gatewayConfig, influxQuery } from '../harness/stack.ts';
import { percentile, procStats } from './procStats.ts';

const cfg = loadConfigOrExit(() =>
  parseEnvConfig(
    z.object({
      BENCH_DISTRICTS: envInt(6, 1, SEED_DISTRICTS.length),
      BENCH_SCHOOLS: envInt(10, 1, 1000),
      BENCH_ROOMS: envInt(10, 1, 500),
      BENCH_CADENCE_SCALE: z.coerce.number().positive().default(0.02),
      BENCH_SECONDS: envInt(30, 1, 3600),
      BENCH_WARMUP_S: envInt(5, 0, 600),
    }),
    process.env,
  ),
);

const fleet = generateFleet({
  seed: 99,
  districts: SEED_DISTRICTS.slice(0, cfg.BENCH_DISTRICTS),
  schoolsPerDistrict: cfg.BENCH_SCHOOLS,
  roomsPerSchool: cfg.BENCH_ROOMS,
  vrKitsPerSchool: 2,
  accessSwitchesPerSchool: 1,
});
const dir = mkdtempSync(join(tmpdir(), 'campus-bench-'));
const influx = await startInflux({ forceLocal: !process.env['INFLUX_URL'] });
const registryPath = join(dir, 'registry.sqlite');
const passwords = new Map(fleet.schools.map((s) => [s.gateway, randomBytes(12).toString('base64url')]));
const registry = new Registry(registryPath);
await provisionFleet(registry, fleet, (g) => passwords.get(g)!, 'system:test', { N: 1024, r: 8, p: 1 });
registry.close();
const hub = await startHubProcess({ HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: 'bench', LOG_LEVEL: 'warn' }, join(dir, 'hub.log'));

let measuring = false;
const latencies: number[] = [];
const campuses = await startSimulatedCampuses({
  fleet,
  gatewayConfig: (s) => ({ ...gatewayConfig(s, hub.mqttPort), password: passwords.get(s.gateway)! }),
  sim: { seed: 99, cadenceScale: cfg.BENCH_CADENCE_SCALE, samplesPerDevice: 0, startSpreadMs: 30_000 * cfg.BENCH_CADENCE_SCALE },
  gatewayLog: silentLogger(),
  simLog: silentLogger(),
  onDelivered: (records, at) => {
    if (!measuring) return;
    for (const r of records) latencies.push(at - r.ts);
  },
});
await new Promise((r) => setTimeout(r, cfg.BENCH_WARMUP_S * 1000));

const countPoints = async (fromMs: number, toMs: number): Promise<number> => {
  const series = await influxQuery(influx.url, 'bench', `SELECT count(seq) FROM classroom_av, interactive_board, vr_kit, network_node WHERE time >= ${fromMs}ms AND time < ${toMs}ms`);
  return series.reduce((n, s) => n + Number(s.values[0]![1]), 0);
};

measuring = true;
const t0 = Date.now();
const hub0 = procStats(hub.pid);
const requests0 = ((await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { influx: { requests: number } }).influx.requests;
const influx0 = influx.pid ? procStats(influx.pid) : undefined;
const self0 = process.cpuUsage();
await new Promise((r) => setTimeout(r, cfg.BENCH_SECONDS * 1000));
const t1 = Date.now();
measuring = false;
const hub1 = procStats(hub.pid);
const influx1 = influx.pid ? procStats(influx.pid) : undefined;
const self1 = process.cpuUsage(self0);
const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { influx: { requests: number } };
// Let what was in flight at t1 land, then count points whose device time is in the window.
await new Promise((r) => setTimeout(r, 3000));
const points = await countPoints(t0, t1);
const secs = (t1 - t0) / 1000;
const sorted = latencies.sort((a, b) => a - b);

await campuses.stop();
await hub.stop();
await influx.stop();
rmSync(dir, { recursive: true, force: true });

const f1 = (n: number) => n.toFixed(1);
const report = {
  fleet: { districts: cfg.BENCH_DISTRICTS, schools: fleet.schools.length, devices: deviceCount(fleet), cadenceScale: cfg.BENCH_CADENCE_SCALE },
  windowSeconds: secs,
  samplesPerSecondInInflux: Math.round(points / secs),
  offeredSamplesPerSecond: Math.round(
    fleet.schools.flatMap((s) => s.devices).reduce((n, d) => n + 1000 / (CADENCE_MS[d.kind] * cfg.BENCH_CADENCE_SCALE), 0),
  ),
  latencyMs: { p50: percentile(sorted, 50), p99: percentile(sorted, 99), max: sorted.at(-1), samples: sorted.length },
  hub: {
    cpuPercentOfOneCore: Number(f1(((hub1.cpuSec - hub0.cpuSec) / secs) * 100)),
    rssMiB: Number(f1(hub1.rssMiB)),
    peakRssMiB: Number(f1(hub1.peakRssMiB)),
    influxWriteRequestsInWindow: health.influx.requests - requests0,
  },
  ...(influx0 && influx1 ? { influxd: { cpuPercentOfOneCore: Number(f1(((influx1.cpuSec - influx0.cpuSec) / secs) * 100)), rssMiB: Number(f1(influx1.rssMiB)) } } : {}),
  loadGenerator: { cpuPercentOfOneCore: Number(f1(((self1.user + self1.system) / 1e6 / secs) * 100)), note: 'simulator + gateways, one process' },
};
process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
process.exit(0);
