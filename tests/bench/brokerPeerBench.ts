/**
 * `npm run bench:broker`: peer 2 of issue 14, the broker alone at QoS 1. The hub's broker
 * (peers/hubBrokerMain.ts: broker/src/mqttServer.ts with gateway logins, the ACL and an
 * accept-all dispatch table, in its own process) against Debian's Mosquitto with a password file
 * and an ACL giving each gateway its own prefix, with the same publishers, subscribers and
 * payload (peers/rawMqttLoad.ts, in worker threads): messages/s delivered end to end, as a ratio.
 *
 *   BENCH_BROKER_DISTRICTS (6) × BENCH_BROKER_SCHOOLS (34): one publisher per school's gateway;
 *   one subscriber per district on `campus/v1/<district>/+/+/telemetry` (QoS 1);
 *   BENCH_BROKER_RECORDS (10) records per batch; BENCH_BROKER_INFLIGHT (4) unacknowledged per
 *   publisher; BENCH_BROKER_WARMUP_S (3), BENCH_BROKER_SECONDS (15) measured, BENCH_BROKER_ROUNDS
 *   (3) rounds alternating hub / Mosquitto (medians reported); BENCH_BROKER_WORKERS (2);
 *   BENCH_HUB_NODE_OPTIONS (e.g. `--cpu-prof --cpu-prof-dir=prof`) for the hub broker's process.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Worker } from 'node:worker_threads';
import { z } from 'zod';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { generateFleet, SEED_DISTRICTS, type Fleet } from '../../device-sim/src/fleet.ts';
import { exampleData } from '../../protocol/src/kinds.ts';
import { gatewayPrefix, telemetryTopic } from '../../protocol/src/topics.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { startMainProcess } from '../harness/mainProcess.ts';
import { startMosquitto } from '../harness/mosquittoBroker.ts';
import { freePort } from '../harness/ports.ts';
import { procStats } from './procStats.ts';
import type { RawLoadCommand, RawLoadInput, RawLoadMessage, RawPublisher, RawSubscriber } from './peers/rawMqttLoad.ts';

export interface BrokerPeerOptions {
  districts: number;
  schools: number;
  records: number;
  inflight: number;
  warmupS: number;
  seconds: number;
  rounds: number;
  workers: number;
  /** NODE_OPTIONS for the hub broker's process (a CPU profile). */
  hubNodeOptions?: string | undefined;
  /** mosquitto.conf lines beyond the harness's (see MOSQUITTO_BENCH_CONFIG). */
  mosquittoConfig: string[];
  log?: (m: string) => void;
}

export interface BrokerRound {
  /** Messages delivered to subscribers per second in the measured window. */
  deliveredPerS: number;
  /** Publishes acknowledged to publishers per second in the window. */
  ackedPerS: number;
  /** Acknowledged publishes never delivered, after the drain (each one has exactly one subscriber). */
  lost: number;
  brokerCpuPercentOfOneCore: number;
  /** Broker CPU time per delivered message, µs: less at the mercy of other processes than the rate. */
  brokerCpuUsPerMessage: number;
  generatorCpuPercentOfOneCore: number;
  connectMs: number;
}

export interface BrokerPeerResult {
  load: { publishers: number; subscribers: number; payloadBytes: number; records: number; inflight: number; seconds: number; rounds: number };
  hub: { deliveredPerS: number; cpuUsPerMessage: number; rounds: BrokerRound[] };
  mosquitto: { deliveredPerS: number; cpuUsPerMessage: number; rounds: BrokerRound[] };
  /** hub ÷ Mosquitto, medians of delivered messages/s (target ≥ 0.7). */
  ratio: number;
  /** Mosquitto's CPU per message ÷ the hub's (medians): the same ratio by cost instead of rate. */
  cpuRatio: number;
  machine: { cpus: number; model: string | undefined; loadAvgAtEnd: number[]; node: string };
}

/**
 * Mosquitto as tuned for throughput: TCP_NODELAY on its sockets (off by default, its writes to a
 * subscriber then wait on Nagle and the peer's delayed ACK), and no cap on the QoS 1 messages in
 * flight and queued per subscriber (20 and 1000 by default: past them it drops QoS 1 messages).
 */
export const MOSQUITTO_BENCH_CONFIG = ['set_tcp_nodelay true', 'max_inflight_messages 0', 'max_queued_messages 0'];

const DEFAULTS: BrokerPeerOptions = { districts: 6, schools: 34, records: 10, inflight: 4, warmupS: 3, seconds: 15, rounds: 3, workers: 2, mosquittoConfig: MOSQUITTO_BENCH_CONFIG };

const median = (xs: number[]): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2]! : (s[s.length / 2 - 1]! + s[s.length / 2]!) / 2;
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** One gateway's batch of `n` records, as the gateway sends it (protocol/src/telemetry.ts). */
export function telemetryBatch(fleet: Fleet, schoolIndex: number, n: number, at: number): string {
  const s = fleet.schools[schoolIndex]!;
  const records = Array.from({ length: n }, (_, i) => {
    const d = s.devices[i % s.devices.length]!;
    const data = exampleData(d.kind) as Record<string, unknown>;
    if (d.link) Object.assign(data, { role: d.link.role, capacityBps: d.link.capacityBps });
    return { device: d.id, kind: d.kind, seq: i, ts: at + i, data, rx: at + i };
  });
  return JSON.stringify({ v: 1, gateway: s.gateway, batch: `${at}-1`, records });
}

export async function runBrokerPeerBench(given: Partial<BrokerPeerOptions> = {}): Promise<BrokerPeerResult> {
  const o = { ...DEFAULTS, ...given };
  const log = o.log ?? ((m: string) => void process.stderr.write(`[broker] ${m}\n`));
  const fleet = generateFleet({ seed: 14, districts: SEED_DISTRICTS.slice(0, o.districts), schoolsPerDistrict: o.schools, roomsPerSchool: 4, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
  const passwordOf = (g: string): string => `bench-${g}-pw`;
  const at = Date.now();
  const publishers: RawPublisher[] = fleet.schools.map((s, i) => ({
    clientId: s.gateway,
    username: s.gateway,
    password: passwordOf(s.gateway),
    topic: telemetryTopic({ district: s.district, school: s.id, gateway: s.gateway }),
    payload: telemetryBatch(fleet, i, o.records, at),
  }));
  const payloadBytes = Buffer.byteLength(publishers[0]!.payload);
  const dir = mkdtempSync(join(tmpdir(), 'campus-broker-bench-'));

  // The hub's registry: every gateway's password hashed at the hub's default scrypt cost.
  const registryPath = join(dir, 'registry.sqlite');
  const registry = new Registry(registryPath);
  await provisionFleet(registry, fleet, passwordOf, 'system:bench');
  registry.close();
  const hubPort = await freePort();
  const hub = await startMainProcess(
    'hub broker',
    'tests/bench/peers/hubBrokerMain.ts',
    { PEER_REGISTRY_PATH: registryPath, PEER_MQTT_PORT: String(hubPort), ...(o.hubNodeOptions ? { NODE_OPTIONS: o.hubNodeOptions } : {}) },
    join(dir, 'hub-broker.log'),
    async () =>
      await new Promise<boolean>((resolve) => {
        void import('node:net').then(({ connect }) => {
          const s = connect(hubPort, '127.0.0.1');
          s.once('connect', () => (s.destroy(), resolve(true)));
          s.once('error', () => resolve(false));
        });
      }),
  );
  const mosquitto = await startMosquitto({
    users: [
      ...fleet.schools.map((s) => ({ username: s.gateway, password: passwordOf(s.gateway), write: [`${gatewayPrefix({ district: s.district, school: s.id, gateway: s.gateway })}/#`] })),
      { username: 'observer', password: 'observer-pw', read: ['campus/v1/#'] },
    ],
    extraConfig: o.mosquittoConfig,
  });

  const subscribersFor = (withPassword: boolean): RawSubscriber[] =>
    fleet.districts.map((d, i) => ({ clientId: `bench-sub-${i}`, ...(withPassword ? { username: 'observer', password: 'observer-pw' } : {}), filter: `campus/v1/${d.id}/+/+/telemetry` }));

  async function round(target: 'hub' | 'mosquitto'): Promise<BrokerRound> {
    const port = target === 'hub' ? hubPort : mosquitto.port;
    const pid = target === 'hub' ? hub.child.pid! : mosquitto.pid;
    const subs = subscribersFor(target === 'mosquitto');
    const workers: Worker[] = [];
    const counts = new Map<Worker, Extract<RawLoadMessage, { type: 'counts' }>>();
    const t0 = Date.now();
    const connected: Array<Promise<void>> = [];
    for (let w = 0; w < o.workers; w++) {
      // A district's publishers and its subscriber in one worker.
      const mine = (district: string): boolean => fleet.districts.findIndex((d) => d.id === district) % o.workers === w;
      const input: RawLoadInput = {
        host: '127.0.0.1',
        port,
        publishers: publishers.filter((_, i) => mine(fleet.schools[i]!.district)),
        subscribers: subs.filter((_, i) => mine(fleet.districts[i]!.id)),
        inflight: o.inflight,
        connectConcurrency: 8,
      };
      const worker = new Worker(new URL('./peers/rawMqttLoad.ts', import.meta.url), { workerData: input });
      workers.push(worker);
      connected.push(
        new Promise((resolve, reject) => {
          worker.on('message', (m: RawLoadMessage) => {
            if (m.type === 'connected') resolve();
            else if (m.type === 'failed') reject(new Error(`${target}: ${m.error}`));
            else if (m.type === 'counts') counts.set(worker, m);
          });
          worker.once('error', reject);
        }),
      );
    }
    await Promise.all(connected);
    const connectMs = Date.now() - t0;
    const sum = (): { acked: number; received: number; inflight: number } => {
      let acked = 0, received = 0, inflight = 0;
      for (const c of counts.values()) ((acked += c.acked), (received += c.received), (inflight += c.inflight));
      return { acked, received, inflight };
    };
    for (const w of workers) w.postMessage({ type: 'start' } satisfies RawLoadCommand);
    await sleep(o.warmupS * 1000);
    // The counts come every 250 ms: the window is measured between two fresh ones.
    await sleep(300);
    const a = sum();
    const ta = Date.now();
    const ca = procStats(pid);
    const ga = process.cpuUsage();
    await sleep(o.seconds * 1000);
    await sleep(300);
    const b = sum();
    const tb = Date.now();
    const cb = procStats(pid);
    const gb = process.cpuUsage(ga);
    for (const w of workers) w.postMessage({ type: 'stop' } satisfies RawLoadCommand);
    // Drain: every publish acknowledged, and the subscribers' count no longer moving.
    const drainEnd = Date.now() + 10_000;
    let last = -1;
    while (Date.now() < drainEnd) {
      await sleep(500);
      const s = sum();
      if (s.inflight === 0 && s.received === last) break;
      last = s.received;
    }
    const closed = workers.map((w) => new Promise<void>((r) => w.on('message', (m: RawLoadMessage) => m.type === 'closed' && r())));
    for (const w of workers) w.postMessage({ type: 'close' } satisfies RawLoadCommand);
    await Promise.all(closed);
    const end = sum();
    for (const w of workers) await w.terminate();
    const secs = (tb - ta) / 1000;
    const r: BrokerRound = {
      deliveredPerS: Math.round((b.received - a.received) / secs),
      ackedPerS: Math.round((b.acked - a.acked) / secs),
      lost: end.acked - end.received,
      brokerCpuPercentOfOneCore: Math.round(((cb.cpuSec - ca.cpuSec) / secs) * 1000) / 10,
      brokerCpuUsPerMessage: Math.round(((cb.cpuSec - ca.cpuSec) * 1e7) / Math.max(1, b.received - a.received)) / 10,
      generatorCpuPercentOfOneCore: Math.round(((gb.user + gb.system) / 1e6 / secs) * 1000) / 10,
      connectMs,
    };
    log(`${target}: ${r.deliveredPerS} delivered/s, ${r.ackedPerS} acked/s, lost ${r.lost}, broker CPU ${r.brokerCpuPercentOfOneCore} % (${r.brokerCpuUsPerMessage} µs/message), generator ${r.generatorCpuPercentOfOneCore} %`);
    // Let the broker forget the sessions before the next round.
    await sleep(1000);
    return r;
  }

  const hubRounds: BrokerRound[] = [];
  const mosqRounds: BrokerRound[] = [];
  try {
    for (let i = 0; i < o.rounds; i++) {
      hubRounds.push(await round('hub'));
      mosqRounds.push(await round('mosquitto'));
    }
  } finally {
    await hub.stop();
    await mosquitto.stop();
    rmSync(dir, { recursive: true, force: true });
  }
  const hubRate = median(hubRounds.map((r) => r.deliveredPerS));
  const mosqRate = median(mosqRounds.map((r) => r.deliveredPerS));
  const hubUs = median(hubRounds.map((r) => r.brokerCpuUsPerMessage));
  const mosqUs = median(mosqRounds.map((r) => r.brokerCpuUsPerMessage));
  return {
    load: { publishers: publishers.length, subscribers: fleet.districts.length, payloadBytes, records: o.records, inflight: o.inflight, seconds: o.seconds, rounds: o.rounds },
    hub: { deliveredPerS: hubRate, cpuUsPerMessage: hubUs, rounds: hubRounds },
    mosquitto: { deliveredPerS: mosqRate, cpuUsPerMessage: mosqUs, rounds: mosqRounds },
    ratio: Math.round((hubRate / mosqRate) * 100) / 100,
    cpuRatio: Math.round((mosqUs / hubUs) * 100) / 100,
    machine: { cpus: cpus().length, model: cpus()[0]?.model, loadAvgAtEnd: loadavg().map((x) => Math.round(x * 100) / 100), node: process.version },
  };
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  // An interrupted run exits through 'exit', where the tracked children (influxd, brokers, Node-RED) are killed.
  for (const sig of ['SIGINT', 'SIGTERM'] as const) process.once(sig, () => process.exit(130));
  const cfg = loadConfigOrExit(() =>
    parseEnvConfig(
      z.object({
        BENCH_BROKER_DISTRICTS: envInt(DEFAULTS.districts, 1, SEED_DISTRICTS.length),
        BENCH_BROKER_SCHOOLS: envInt(DEFAULTS.schools, 1, 2000),
        BENCH_BROKER_RECORDS: envInt(DEFAULTS.records, 1, 500),
        BENCH_BROKER_INFLIGHT: envInt(DEFAULTS.inflight, 1, 1000),
        BENCH_BROKER_WARMUP_S: envInt(DEFAULTS.warmupS, 0, 600),
        BENCH_BROKER_SECONDS: envInt(DEFAULTS.seconds, 1, 3600),
        BENCH_BROKER_ROUNDS: envInt(DEFAULTS.rounds, 1, 20),
        BENCH_BROKER_WORKERS: envInt(DEFAULTS.workers, 1, 16),
        BENCH_HUB_NODE_OPTIONS: z.string().optional(),
      }),
      process.env,
    ),
  );
  const r = await runBrokerPeerBench({
    districts: cfg.BENCH_BROKER_DISTRICTS,
    schools: cfg.BENCH_BROKER_SCHOOLS,
    records: cfg.BENCH_BROKER_RECORDS,
    inflight: cfg.BENCH_BROKER_INFLIGHT,
    warmupS: cfg.BENCH_BROKER_WARMUP_S,
    seconds: cfg.BENCH_BROKER_SECONDS,
    rounds: cfg.BENCH_BROKER_ROUNDS,
    workers: cfg.BENCH_BROKER_WORKERS,
    hubNodeOptions: cfg.BENCH_HUB_NODE_OPTIONS,
  });
  process.stdout.write(`${JSON.stringify(r, null, 2)}\n`);
  if (process.env['BENCH_REPORT_FILE']) writeFileSync(process.env['BENCH_REPORT_FILE'], JSON.stringify(r));
  process.stdout.write(
    [
      '',
      '| broker, QoS 1, authenticated publishers, ACL | delivered messages/s (median) | broker CPU (median) | CPU µs per message (median) |',
      '|---|---|---|---|',
      `| hub broker | ${r.hub.deliveredPerS} | ${median(r.hub.rounds.map((x) => x.brokerCpuPercentOfOneCore))} % | ${r.hub.cpuUsPerMessage} |`,
      `| Mosquitto | ${r.mosquitto.deliveredPerS} | ${median(r.mosquitto.rounds.map((x) => x.brokerCpuPercentOfOneCore))} % | ${r.mosquitto.cpuUsPerMessage} |`,
      `| hub ÷ Mosquitto (target ≥ 0.7) | ${r.ratio} | | ${r.cpuRatio} (by cost) |`,
      `| load average at the end | ${r.machine.loadAvgAtEnd.join(' ')} | | |`,
      '',
    ].join('\n'),
  );
  process.exit(0);
}
