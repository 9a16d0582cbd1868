/**
 * One worker thread of the city load generator: gateway-protocol publishers, each a real gateway
 * identity (its own MQTT session, username and password, retained birth and will), sending what a
 * gateway sends (docs/design.md#protocol): telemetry records at each device's cadence and one
 * availability record per device each minute, at the gateway's sampling phase (its id's
 * `samplingPhaseMs`, as the gateway's sampler), in batches of at most
 * `batchMaxRecords` records gathered for `lingerMs`, at QoS 1, with at most `maxInflightBatches`
 * batches unacknowledged per gateway (the gateway's GW_* defaults). Records that cannot go out
 * wait in a queue, as in the gateway's outbox: nothing is dropped, the backlog is reported.
 *
 * What it measures is its own: records generated (offered) and acknowledged per device, the
 * latency from each record's device timestamp (an availability record's: its sampling moment) to the hub's PUBACK (which the hub sends only after
 * InfluxDB answered the write, docs/design.md#reliability). The main thread reads the CPU of all.
 */
import { parentPort, workerData } from 'node:worker_threads';
import mqtt, { type MqttClient } from 'mqtt';
import { exampleData } from '../../../protocol/src/kinds.ts';
import type { DeviceKind } from '../../../protocol/src/kinds.ts';
import { stateTopic, telemetryTopic } from '../../../protocol/src/topics.ts';
import { samplingPhaseMs } from '../../../gateway/src/availabilitySampler.ts';

export interface PublisherDevice {
  id: string;
  kind: DeviceKind;
  link?: { role: string; capacityBps: number };
}
export interface PublisherGateway {
  district: string;
  school: string;
  gateway: string;
  password: string;
  devices: PublisherDevice[];
}
export interface WorkerInput {
  hubUrl: string;
  gateways: PublisherGateway[];
  cadenceMs: Record<DeviceKind, number>;
  batchMaxRecords: number;
  lingerMs: number;
  maxInflightBatches: number;
  /** Connections being set up at once by this worker (the hub queues password checks). */
  connectConcurrency: number;
}
/**
 * main → worker. `start` may be sent again after `stop` has drained, with new cadences (a load
 * step at another rate: the ceiling search, peers/…); `counts` answers with the per-device counts
 * so far and keeps the connections; `report` answers with the counts and the latencies since the
 * last report (then cleared), and closes the connections unless `close` is false.
 */
export type WorkerCommand = { type: 'start'; at: number; cadenceMs?: Record<DeviceKind, number> } | { type: 'stop' } | { type: 'report'; close?: boolean } | { type: 'counts' };
/** worker → main */
export type WorkerMessage =
  | { type: 'connected'; gateways: number; ms: number; refusals: number }
  /** `backlog`: records generated and not yet acknowledged (queued or in flight). */
  | { type: 'progress'; generated: number; acked: number; backlog: number }
  | { type: 'drained'; backlog: number }
  | { type: 'counts'; perDevice: Array<[string, number, number]>; generated: number; acked: number }
  | WorkerReport;
export interface WorkerReport {
  type: 'report';
  /** [device, generated, acknowledged] for every device that generated anything. */
  perDevice: Array<[string, number, number]>;
  generated: number;
  acked: number;
  /** Since the last report: latency histograms in 1 ms buckets (the last bucket holds everything above): telemetry, and availability from its sampling moment. */
  latencyMs: { telemetry: number[]; availability: number[] };
}

const LATENCY_BUCKETS = 120_000;
const MINUTE_MS = 60_000;

interface DeviceState {
  d: PublisherDevice;
  /** The next telemetry sample's device time. */
  next: number;
  seq: number;
  data: Record<string, unknown>;
  generated: number;
  acked: number;
}

class Publisher {
  readonly #g: PublisherGateway;
  readonly #in: WorkerInput;
  readonly #devices: DeviceState[];
  readonly #queue: Array<{ rec: object; ts: number; dev: DeviceState; availability: boolean }> = [];
  #client: MqttClient | undefined;
  #inflight = 0;
  #inflightRecords = 0;
  #batchCounter = 0;
  #bdSeq = Date.now();
  #timer: NodeJS.Timeout | undefined;
  /** The start of the next minute to sample; sampled at `#nextMinute + #phaseMs`. */
  #nextMinute = 0;
  readonly #phaseMs: number;
  #running = false;

  readonly stats: Stats;

  constructor(g: PublisherGateway, input: WorkerInput, stats: Stats) {
    this.stats = stats;
    this.#g = g;
    this.#in = input;
    this.#phaseMs = samplingPhaseMs(g.gateway);
    this.#devices = g.devices.map((d) => {
      const data = exampleData(d.kind) as Record<string, unknown>;
      if (d.kind === 'network_node' && d.link) Object.assign(data, { role: d.link.role, capacityBps: d.link.capacityBps });
      return { d, next: 0, seq: 0, data, generated: 0, acked: 0 };
    });
  }

  connect(): Promise<number> {
    const address = { district: this.#g.district, school: this.#g.school, gateway: this.#g.gateway };
    const state = (s: 'online' | 'offline'): string => JSON.stringify({ state: s, bdSeq: this.#bdSeq, ts: Date.now() });
    return new Promise((resolve) => {
      let refusals = 0;
      // A fresh options object per client: mqtt.js writes into it.
      const client = mqtt.connect(this.#in.hubUrl, {
        clientId: this.#g.gateway,
        username: this.#g.gateway,
        password: this.#g.password,
        protocolVersion: 4,
        clean: true,
        keepalive: 60,
        reconnectPeriod: 1000,
        reconnectOnConnackError: true,
        connectTimeout: 30_000,
        will: { topic: stateTopic(address), payload: Buffer.from(state('offline')), qos: 1, retain: true },
      });
      this.#client = client;
      client.on('error', () => refusals++);
      client.once('connect', () => resolve(refusals));
      client.on('connect', () => {
        client.publish(stateTopic(address), state('online'), { qos: 1, retain: true });
        this.#pump();
      });
    });
  }

  /** Spreads the devices' first samples over one cadence from `at`. */
  start(at: number): void {
    this.#running = true;
    const n = this.#devices.length;
    this.#devices.forEach((s, i) => (s.next = at + Math.floor(((i + Math.random()) / n) * this.#in.cadenceMs[s.d.kind])));
    this.#nextMinute = at - (at % MINUTE_MS);
    if (this.#nextMinute + this.#phaseMs <= at) this.#nextMinute += MINUTE_MS;
    this.#tick();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /** Records generated and not yet acknowledged. */
  get backlog(): number {
    return this.#queue.length + this.#inflightRecords;
  }

  close(): Promise<void> {
    return new Promise((r) => this.#client?.end(true, {}, () => r()) ?? r());
  }

  #tick(): void {
    if (!this.#running) return;
    const now = Date.now();
    for (const s of this.#devices) {
      while (s.next <= now) {
        const ts = s.next;
        this.#queue.push({ rec: { device: s.d.id, kind: s.d.kind, seq: s.seq++, ts, data: s.data, rx: now }, ts, dev: s, availability: false });
        s.generated++;
        s.next += this.#in.cadenceMs[s.d.kind];
      }
    }
    // At the gateway's moment of each minute, as its sampler: one record per device for that minute.
    while (this.#nextMinute + this.#phaseMs <= now) {
      const minute = this.#nextMinute;
      for (const s of this.#devices) {
        this.#queue.push({ rec: { kind: 'availability', device: s.d.id, deviceKind: s.d.kind, seq: minute / MINUTE_MS, ts: minute, state: 'up', rx: now }, ts: minute + this.#phaseMs, dev: s, availability: true });
        s.generated++;
      }
      this.#nextMinute += MINUTE_MS;
    }
    this.#pump();
    this.#timer = setTimeout(() => this.#tick(), this.#in.lingerMs);
  }

  #pump(): void {
    const client = this.#client;
    if (!client?.connected) return;
    while (this.#inflight < this.#in.maxInflightBatches && this.#queue.length > 0) {
      const batch = this.#queue.splice(0, this.#in.batchMaxRecords);
      const body = JSON.stringify({ v: 1, gateway: this.#g.gateway, batch: `${this.#bdSeq}-${++this.#batchCounter}`, records: batch.map((b) => b.rec) });
      this.#inflight++;
      this.#inflightRecords += batch.length;
      client.publish(telemetryTopic({ district: this.#g.district, school: this.#g.school, gateway: this.#g.gateway }), body, { qos: 1 }, (err) => {
        this.#inflight--;
        this.#inflightRecords -= batch.length;
        if (err) {
          // Resent after the reconnect, ahead of newer records, as the gateway's outbox does.
          this.#queue.unshift(...batch);
          return;
        }
        const at = Date.now();
        for (const b of batch) {
          b.dev.acked++;
          this.stats.latency(at - b.ts, b.availability);
        }
        this.stats.acked += batch.length;
        this.#pump();
      });
    }
  }

  perDevice(): Array<[string, number, number]> {
    return this.#devices.filter((s) => s.generated > 0).map((s) => [s.d.id, s.generated, s.acked]);
  }

  generated(): number {
    return this.#devices.reduce((n, s) => n + s.generated, 0);
  }
}

class Stats {
  acked = 0;
  readonly telemetry = new Uint32Array(LATENCY_BUCKETS);
  readonly availability = new Uint32Array(LATENCY_BUCKETS);
  clearLatency(): void {
    this.telemetry.fill(0);
    this.availability.fill(0);
  }
  latency(ms: number, availability: boolean): void {
    (availability ? this.availability : this.telemetry)[Math.min(LATENCY_BUCKETS - 1, Math.max(0, Math.round(ms)))]!++;
  }
}

const input = workerData as WorkerInput;
const port = parentPort!;
const stats = new Stats();
const publishers = input.gateways.map((g) => new Publisher(g, input, stats));
const send = (m: WorkerMessage): void => port.postMessage(m);

// Connect with bounded concurrency: the hub checks at most a few passwords at once.
{
  const t0 = Date.now();
  let next = 0;
  let refusals = 0;
  await Promise.all(
    Array.from({ length: Math.min(input.connectConcurrency, publishers.length) }, async () => {
      while (next < publishers.length) refusals += await publishers[next++]!.connect();
    }),
  );
  send({ type: 'connected', gateways: publishers.length, ms: Date.now() - t0, refusals });
}

let progress: NodeJS.Timeout | undefined;
port.on('message', (m: WorkerCommand) => {
  if (m.type === 'start') {
    // Publishers read their cadences from `input` at every tick.
    if (m.cadenceMs) input.cadenceMs = m.cadenceMs;
    for (const p of publishers) p.start(m.at);
    clearInterval(progress);
    progress = setInterval(() => {
      const generated = publishers.reduce((n, p) => n + p.generated(), 0);
      const backlog = publishers.reduce((n, p) => n + p.backlog, 0);
      send({ type: 'progress', generated, acked: stats.acked, backlog });
    }, 1000);
  } else if (m.type === 'stop') {
    for (const p of publishers) p.stop();
    // Drain: what was generated goes out before the count.
    const wait = setInterval(() => {
      const backlog = publishers.reduce((n, p) => n + p.backlog, 0);
      if (backlog === 0) {
        clearInterval(wait);
        send({ type: 'drained', backlog });
      }
    }, 200);
  } else if (m.type === 'counts') {
    send({ type: 'counts', perDevice: publishers.flatMap((p) => p.perDevice()), generated: publishers.reduce((n, p) => n + p.generated(), 0), acked: stats.acked });
  } else if (m.type === 'report') {
    clearInterval(progress);
    void Promise.all(m.close === false ? [] : publishers.map((p) => p.close())).then(() => {
      send({
        type: 'report',
        perDevice: publishers.flatMap((p) => p.perDevice()),
        generated: publishers.reduce((n, p) => n + p.generated(), 0),
        acked: stats.acked,
        latencyMs: { telemetry: Array.from(stats.telemetry), availability: Array.from(stats.availability) },
      });
      stats.clearLatency();
    });
  }
});
