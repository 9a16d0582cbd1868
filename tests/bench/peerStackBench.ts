/**
 * `npm run bench:peer-stack`: peer 1 of issue 14, the stack a school would assemble by hand —
 * Debian's Mosquitto + Node-RED `mqtt in` → function → `influxdb out` (node-red-contrib-influxdb),
 * and its batched variant with `influxdb batch` (peers/nodeRedPeer.ts) — against the hub (its own
 * process), on the same load: the city bench's gateway-protocol publishers (city/publisherWorker.ts,
 * real gateway identities, QoS 1 batches, bounded in-flight) offering telemetry and availability
 * at increasing rates. A step is held when, after the publishers drained and InfluxDB's counts
 * stopped moving, every record generated so far is in InfluxDB (counted per device, as the city
 * bench does). Zero-loss rate: the highest measured offered rate of a held step; the ramp of a
 * target stops at its first step with loss.
 *
 *   BENCH_PEER_SCHOOLS (200) gateways of BENCH_PEER_ROOMS (6) rooms (16 devices each; 2000 gives the city's shape, where the stacks hold no rate: tests/README.md);
 *   BENCH_PEER_START (250) records/s, ×BENCH_PEER_FACTOR (2) per step up to BENCH_PEER_MAX (64000);
 *   BENCH_PEER_STEP_S (30) s per step (60 puts one minute boundary, when every gateway sends its devices' availability at once, in every step); BENCH_PEER_DRAIN_S (60) at most for the drain;
 *   BENCH_PEER_TARGETS (hub,node-red,node-red-batch); the hub's ramp starts at the best rate
 *   the stack held (or BENCH_PEER_START without a stack); BENCH_WORKERS (2) publisher threads.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import mqtt from 'mqtt';
import { z } from 'zod';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { deviceCount, generateFleet, SEED_DISTRICTS, type Fleet } from '../../device-sim/src/fleet.ts';
import { CADENCE_MS } from '../../device-sim/src/telemetry.ts';
import { exampleData, type DeviceKind } from '../../protocol/src/kinds.ts';
import { gatewayPrefix, telemetryTopic } from '../../protocol/src/topics.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { startHubProcess } from '../harness/hubProcess.ts';
import { influxQL, startInflux, type InfluxInstance } from '../harness/influx.ts';
import { startMosquitto } from '../harness/mosquittoBroker.ts';
import { waitFor } from '../harness/ports.ts';
import type { PublisherGateway, WorkerCommand, WorkerInput, WorkerMessage } from './city/publisherWorker.ts';
import { publisherGateways } from './city/gateways.ts';
import { startNodeRedPeer, type PeerVariant } from './peers/nodeRedPeer.ts';
import { procStats } from './procStats.ts';

export type PeerTarget = 'hub' | 'node-red' | 'node-red-batch';

export interface PeerStackOptions {
  schools: number;
  rooms: number;
  start: number;
  factor: number;
  max: number;
  stepS: number;
  drainS: number;
  targets: PeerTarget[];
  workers: number;
  log?: (m: string) => void;
}

export interface PeerStep {
  /** The rate asked for (records/s). */
  target: number;
  /** Records generated in the step ÷ its length. */
  offeredPerS: number;
  /** Records of the step that reached InfluxDB ÷ the step's length (the drain not counted). */
  landedPerS: number;
  /** Generated so far − stored so far, per device, after the drain. */
  lost: number;
  devicesWithLoss: number;
  /** The publishers' backlog emptied (every batch acknowledged by the broker) within the drain. */
  drained: boolean;
  drainMs: number;
  /** CPU of the target's processes (broker, Node-RED or hub) during the step. */
  cpuPercentOfOneCore: Record<string, number>;
}

export interface PeerTargetResult {
  /** Highest offered rate of a step with zero loss; 0 if none. */
  zeroLossPerS: number;
  steps: PeerStep[];
  /** Node-RED's logged errors over the whole ramp, by message (the stacks only). */
  errors?: Record<string, number>;
}

export interface PeerStackResult {
  fleet: { gateways: number; devices: number };
  stepS: number;
  targets: Partial<Record<PeerTarget, PeerTargetResult>>;
  /** The hub's zero-loss rate ÷ each stack's (target ≥ 5). */
  ratios: Partial<Record<'node-red' | 'node-red-batch', number>>;
  machine: { cpus: number; model: string | undefined; loadAvgAtEnd: number[]; node: string };
}

const DEFAULTS: PeerStackOptions = { schools: 200, rooms: 6, start: 250, factor: 2, max: 64_000, stepS: 30, drainS: 60, targets: ['node-red', 'node-red-batch', 'hub'], workers: 2 };
const TELEMETRY_MEASUREMENTS = ['classroom_av', 'interactive_board', 'vr_kit', 'network_node', 'science_kiosk'];
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Telemetry cadences giving `rate` records/s in all with the fleet's availability (one per device a minute). */
export function cadencesFor(fleet: Fleet, rate: number): Record<DeviceKind, number> {
  const devices = fleet.schools.flatMap((s) => s.devices);
  const availability = devices.length / 60;
  const telemetryAtScale1 = devices.reduce((n, d) => n + 1000 / CADENCE_MS[d.kind], 0);
  if (rate <= availability) throw new Error(`a rate of ${rate} records/s is below the fleet's availability records alone (${availability.toFixed(0)}/s)`);
  const scale = telemetryAtScale1 / (rate - availability);
  return Object.fromEntries(Object.entries(CADENCE_MS).map(([k, v]) => [k, Math.max(1, Math.round(v * scale))])) as Record<DeviceKind, number>;
}

/** Points stored per device in `db` whose time is from `since` on. */
async function storedPerDevice(influxUrl: string, db: string, fleet: Fleet, since: number): Promise<Map<string, number>> {
  const stored = new Map<string, number>();
  for (const d of fleet.districts) {
    const where = `district = '${d.id}' AND time >= ${since}ms`;
    for (const q of [`SELECT count(seq) FROM ${TELEMETRY_MEASUREMENTS.join(', ')} WHERE ${where} GROUP BY device`, `SELECT count(up) FROM availability WHERE ${where} GROUP BY device`]) {
      for (const s of await influxQL(influxUrl, db, q)) {
        const dev = s.tags?.['device'];
        if (dev !== undefined) stored.set(dev, (stored.get(dev) ?? 0) + Number(s.values[0]![1]));
      }
    }
  }
  return stored;
}

export async function runPeerStackBench(given: Partial<PeerStackOptions> = {}, influxGiven?: InfluxInstance): Promise<PeerStackResult> {
  const o = { ...DEFAULTS, ...given };
  const log = o.log ?? ((m: string) => void process.stderr.write(`[peer-stack] ${m}\n`));
  const fleet = generateFleet({ seed: 14, districts: SEED_DISTRICTS.slice(0, 2), schoolsPerDistrict: Math.ceil(o.schools / 2), roomsPerSchool: o.rooms, vrKitsPerSchool: 2, accessSwitchesPerSchool: 1 });
  const passwordOf = (g: string): string => `bench-${g}-pw`;
  const gateways = publisherGateways(fleet, passwordOf);
  const influx = influxGiven ?? (await startInflux({ forceLocal: !process.env['INFLUX_URL'] }));
  const dir = mkdtempSync(join(tmpdir(), 'campus-peer-stack-'));
  const since = Date.now() - 120_000;
  const results: Partial<Record<PeerTarget, PeerTargetResult>> = {};

  /** Connects the publishers to `url`, ramps the rate from `from`, and counts in `db` after each step. */
  async function ramp(target: PeerTarget, url: string, db: string, from: number, pids: Record<string, number>): Promise<PeerTargetResult> {
    const workers: Worker[] = [];
    const progress = new Map<Worker, Extract<WorkerMessage, { type: 'progress' }>>();
    const next = <T extends WorkerMessage['type']>(type: T): Promise<Array<Extract<WorkerMessage, { type: T }>>> =>
      Promise.all(workers.map((w) => new Promise<Extract<WorkerMessage, { type: T }>>((resolve) => {
        const on = (m: WorkerMessage): void => {
          if (m.type !== type) return;
          w.off('message', on);
          resolve(m as Extract<WorkerMessage, { type: T }>);
        };
        w.on('message', on);
      })));
    for (let i = 0; i < o.workers; i++) {
      const input: WorkerInput = { hubUrl: url, gateways: gateways.filter((_, j) => j % o.workers === i), cadenceMs: cadencesFor(fleet, from), batchMaxRecords: 500, lingerMs: 200, maxInflightBatches: 4, connectConcurrency: 8 };
      const w = new Worker(new URL('./city/publisherWorker.ts', import.meta.url), { workerData: input });
      w.on('error', (e) => log(`worker failed: ${e.message}`));
      w.on('message', (m: WorkerMessage) => m.type === 'progress' && progress.set(w, m));
      workers.push(w);
    }
    await next('connected');
    const steps: PeerStep[] = [];
    let generatedBefore = 0;
    let storedBefore = 0;
    try {
      for (let rate = from; rate <= o.max; rate = Math.round(rate * o.factor)) {
        const startAt = Date.now() + 300;
        for (const w of workers) w.postMessage({ type: 'start', at: startAt, cadenceMs: cadencesFor(fleet, rate) } satisfies WorkerCommand);
        const before = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, procStats(pid).cpuSec]));
        await sleep(startAt - Date.now() + o.stepS * 1000);
        const stopAt = Date.now();
        const secs = (stopAt - startAt) / 1000;
        const cpu = Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, Math.round(((procStats(pid).cpuSec - before[k]!) / secs) * 1000) / 10]));
        for (const w of workers) w.postMessage({ type: 'stop' } satisfies WorkerCommand);
        const drained = await Promise.race([next('drained').then(() => true), sleep(o.drainS * 1000).then(() => false)]);
        // InfluxDB's counts: until every record is in, or they stop moving (6 s), or the drain time is out.
        const countsP = next('counts');
        for (const w of workers) w.postMessage({ type: 'counts' } satisfies WorkerCommand);
        const counts = await countsP;
        const generatedNow = counts.reduce((n, c) => n + c.generated, 0);
        let stored = new Map<string, number>();
        let total = -1;
        let still = 0;
        while (Date.now() - stopAt < o.drainS * 1000) {
          stored = await storedPerDevice(influx.url, db, fleet, since);
          const t = [...stored.values()].reduce((a, b) => a + b, 0);
          if (t >= generatedNow) break;
          still = t === total ? still + 1 : 0;
          if (still >= 3) break;
          total = t;
          await sleep(2000);
        }
        const drainMs = Date.now() - stopAt;
        let lost = 0;
        let devicesWithLoss = 0;
        for (const c of counts) {
          for (const [dev, gen] of c.perDevice) {
            const have = stored.get(dev) ?? 0;
            if (have < gen) ((lost += gen - have), devicesWithLoss++);
          }
        }
        const storedNow = [...stored.values()].reduce((a, b) => a + b, 0);
        const step: PeerStep = {
          target: rate,
          offeredPerS: Math.round((generatedNow - generatedBefore) / secs),
          landedPerS: Math.round((storedNow - storedBefore) / secs),
          lost,
          devicesWithLoss,
          drained,
          drainMs,
          cpuPercentOfOneCore: cpu,
        };
        steps.push(step);
        log(`${target} @ ${rate}/s: offered ${step.offeredPerS}/s, landed ${step.landedPerS}/s, lost ${lost} on ${devicesWithLoss} devices, drain ${drainMs} ms, CPU ${JSON.stringify(cpu)}`);
        generatedBefore = generatedNow;
        storedBefore = storedNow;
        if (lost > 0 || !drained) break;
      }
    } finally {
      const reports = next('report');
      for (const w of workers) w.postMessage({ type: 'report' } satisfies WorkerCommand);
      await Promise.race([reports, sleep(10_000)]);
      for (const w of workers) await w.terminate();
    }
    const held = steps.filter((s) => s.lost === 0 && s.drained);
    return { zeroLossPerS: held.length ? Math.max(...held.map((s) => s.offeredPerS)) : 0, steps };
  }

  async function stack(target: 'node-red' | 'node-red-batch'): Promise<PeerTargetResult> {
    const db = target === 'node-red' ? 'peer_nodered' : 'peer_nodered_batch';
    await influxQL(influx.url, db, `CREATE DATABASE ${db}`);
    // Mosquitto as a school would configure it: its defaults, a password file, each gateway its own prefix.
    const mosq = await startMosquitto({
      users: [
        ...fleet.schools.map((s) => ({ username: s.gateway, password: passwordOf(s.gateway), write: [`${gatewayPrefix({ district: s.district, school: s.id, gateway: s.gateway })}/#`] })),
        { username: 'nodered', password: 'nodered-pw', read: ['campus/v1/#'] },
        { username: 'probe', password: 'probe-pw', write: ['campus/v1/#'] },
      ],
    });
    const variant: PeerVariant = target === 'node-red' ? 'unbatched' : 'batched';
    const nr = await startNodeRedPeer({ variant, mqtt: { port: mosq.port, username: 'nodered', password: 'nodered-pw' }, influx: { url: influx.url, database: db } });
    try {
      // Ready once a probe batch (a device outside the fleet) has gone all the way to InfluxDB.
      const probe = await mqtt.connectAsync(mosq.url, { clientId: 'probe', username: 'probe', password: 'probe-pw', protocolVersion: 4 });
      const s = fleet.schools[0]!;
      const topic = telemetryTopic({ district: s.district, school: s.id, gateway: s.gateway });
      let seq = 0;
      await waitFor(`${target}: a probe batch in InfluxDB`, async () => {
        const ts = Date.now() - 60_000 + seq;
        const record = { device: 'probe-dev', kind: 'vr_kit', seq: seq++, ts, rx: ts, data: exampleData('vr_kit') };
        await probe.publishAsync(topic, JSON.stringify({ v: 1, gateway: s.gateway, batch: `probe-${seq}`, records: [record] }), { qos: 1 });
        await sleep(500);
        const r = await influxQL(influx.url, db, `SELECT count(seq) FROM vr_kit WHERE device = 'probe-dev'`);
        return r.length > 0 && Number(r[0]!.values[0]![1]) > 0;
      }, { timeoutMs: 60_000, intervalMs: 1000 }).catch((e: unknown) => {
        throw new Error(`${e instanceof Error ? e.message : String(e)}; Node-RED's log ends:\n${nr.logTail()}`);
      });
      await probe.endAsync();
      const r = await ramp(target, mosq.url, db, o.start, { mosquitto: mosq.pid, nodeRed: nr.pid });
      r.errors = await nr.stop();
      return r;
    } finally {
      await nr.stop();
      await mosq.stop();
    }
  }

  async function hub(from: number): Promise<PeerTargetResult> {
    const registryPath = join(dir, 'registry.sqlite');
    const registry = new Registry(registryPath);
    await provisionFleet(registry, fleet, passwordOf, 'system:bench');
    registry.close();
    const h = await startHubProcess({ HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: 'peer_hub', LOG_LEVEL: 'warn' }, join(dir, 'hub.log'));
    try {
      return await ramp('hub', `mqtt://127.0.0.1:${h.mqttPort}`, 'peer_hub', from, { hub: h.pid });
    } finally {
      await h.stop();
    }
  }

  try {
    for (const t of o.targets.filter((x) => x !== 'hub')) results[t] = await stack(t as 'node-red' | 'node-red-batch');
    if (o.targets.includes('hub')) {
      // The hub's ramp starts where the best stack stopped holding: below that is not in question.
      const best = Math.max(0, ...Object.values(results).map((r) => r.zeroLossPerS));
      const from = best > 0 ? Math.max(o.start, best) : o.start;
      results.hub = await hub(from);
    }
  } finally {
    if (!influxGiven) await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const ratios: PeerStackResult['ratios'] = {};
  for (const t of ['node-red', 'node-red-batch'] as const) {
    const r = results[t];
    if (results.hub && r && r.zeroLossPerS > 0) ratios[t] = Math.round((results.hub.zeroLossPerS / r.zeroLossPerS) * 10) / 10;
  }
  return {
    fleet: { gateways: fleet.schools.length, devices: deviceCount(fleet) },
    stepS: o.stepS,
    targets: results,
    ratios,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAvgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // An interrupted run exits through 'exit', where the tracked children (influxd, brokers, Node-RED) are killed.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const targetList = z.string().transform((s) => s.split(',').map((x) => x.trim())).pipe(z.array(z.enum(['hub', 'node-red', 'node-red-batch'])).min(1));
  const cfg = loadConfigOrExit(() =>
    parseEnvConfig(
      z.object({
        BENCH_PEER_SCHOOLS: envInt(DEFAULTS.schools, 1, 2000),
        BENCH_PEER_ROOMS: envInt(DEFAULTS.rooms, 1, 500),
        BENCH_PEER_START: envInt(DEFAULTS.start, 1, 1_000_000),
        BENCH_PEER_FACTOR: z.coerce.number().min(1.1).max(10).default(DEFAULTS.factor),
        BENCH_PEER_MAX: envInt(DEFAULTS.max, 1, 1_000_000),
        BENCH_PEER_STEP_S: envInt(DEFAULTS.stepS, 5, 3600),
        BENCH_PEER_DRAIN_S: envInt(DEFAULTS.drainS, 5, 3600),
        BENCH_PEER_TARGETS: targetList.default(DEFAULTS.targets),
        BENCH_WORKERS: envInt(DEFAULTS.workers, 1, 16),
      }),
      process.env,
    ),
  );
  const r = await runPeerStackBench({
    schools: cfg.BENCH_PEER_SCHOOLS,
    rooms: cfg.BENCH_PEER_ROOMS,
    start: cfg.BENCH_PEER_START,
    factor: cfg.BENCH_PEER_FACTOR,
    max: cfg.BENCH_PEER_MAX,
    stepS: cfg.BENCH_PEER_STEP_S,
    drainS: cfg.BENCH_PEER_DRAIN_S,
    targets: cfg.BENCH_PEER_TARGETS,
    workers: cfg.BENCH_WORKERS,
  });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  if (process.env['BENCH_REPORT_FILE']) writeFileSync(process.env['BENCH_REPORT_FILE'], JSON.stringify(r));
  const label: Record<PeerTarget, string> = { 'node-red': 'Mosquitto + Node-RED, `influxdb out`', 'node-red-batch': 'Mosquitto + Node-RED, `influxdb batch`', hub: 'hub' };
  process.stdout.write(
    [
      '',
      '| target | zero-loss records/s | steps (offered/s: lost) | hub ÷ it (target ≥ 5) |',
      '|---|---|---|---|',
      ...(Object.entries(r.targets) as Array<[PeerTarget, PeerTargetResult]>).map(
        ([t, x]) => `| ${label[t]} | ${x.zeroLossPerS} | ${x.steps.map((s) => `${s.offeredPerS}: ${s.lost}${s.drained ? '' : ' (not drained)'}`).join(', ')} | ${t === 'hub' ? '' : (r.ratios[t] ?? '')} |`,
      ),
      `| load average at the end | ${r.machine.loadAvgAtEnd.join(' ')} | | |`,
      '',
    ].join('\n'),
  );
  process.exit(0);
}
