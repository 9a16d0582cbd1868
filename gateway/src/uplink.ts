import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { Counters } from '../../protocol/src/counters.ts';
import type { GatewayState } from '../../protocol/src/gatewayState.ts';
import type { TelemetryBatch, TelemetryRecord } from '../../protocol/src/telemetry.ts';
import { stateTopic, telemetryTopic, type GatewayAddress } from '../../protocol/src/topics.ts';
import type { Outbox } from './outbox.ts';

export interface UplinkConfig extends GatewayAddress {
  hubUrl: string;
  password: string;
  batchMaxRecords: number;
  batchMaxBytes: number;
  lingerMs: number;
  maxInflightBatches: number;
  keepaliveSec: number;
  reconnectMs: number;
}

/**
 * The gateway's QoS 1 connection to the hub with its own credentials. It drains the outbox in
 * batches, with a bounded number in flight; a batch leaves the outbox only on PUBACK, which the
 * hub sends once the batch is in InfluxDB. Retained state with a Last Will marks it offline.
 */
export class Uplink {
  readonly #cfg: UplinkConfig;
  readonly #log: Logger;
  readonly #outbox: Outbox;
  readonly #counters: Counters;
  readonly #onDelivered: ((records: TelemetryRecord[], at: number) => void) | undefined;
  #client: MqttClient | undefined;
  #inflight = 0;
  #linger: NodeJS.Timeout | undefined;
  #bdSeq: number;
  #batchCounter = 0;
  #stopping = false;
  lastUplinkOkAt = 0;

  constructor(
    cfg: UplinkConfig,
    deps: { log: Logger; outbox: Outbox; counters: Counters; onDelivered?: (records: TelemetryRecord[], at: number) => void },
  ) {
    this.#cfg = cfg;
    this.#log = deps.log;
    this.#outbox = deps.outbox;
    this.#counters = deps.counters;
    this.#onDelivered = deps.onDelivered;
    // Grows with every connection and across restarts (wall clock at start), so a newer birth
    // always carries a larger bdSeq than any older death.
    this.#bdSeq = Date.now();
  }

  get connected(): boolean {
    return this.#client?.connected ?? false;
  }

  #state(state: GatewayState['state']): Buffer {
    return Buffer.from(JSON.stringify({ state, bdSeq: this.#bdSeq, ts: Date.now() } satisfies GatewayState));
  }

  start(): void {
    const topic = stateTopic(this.#cfg);
    // A fresh options object per client: mqtt.js writes into it.
    const client = mqtt.connect(this.#cfg.hubUrl, {
      clientId: this.#cfg.gateway,
      username: this.#cfg.gateway,
      password: this.#cfg.password,
      protocolVersion: 4,
      clean: true,
      keepalive: this.#cfg.keepaliveSec,
      reconnectPeriod: this.#cfg.reconnectMs,
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic, payload: this.#state('offline'), qos: 1, retain: true },
    });
    this.#client = client;
    client.on('connect', () => {
      this.#counters.inc('uplink_connects');
      this.#log.info({ bdSeq: this.#bdSeq }, 'uplink connected');
      client.publish(topic, this.#state('online'), { qos: 1, retain: true });
      this.pump();
    });
    client.on('close', () => {
      if (this.#stopping) return;
      // The next connection is a new session: a new bdSeq for its birth and its will.
      this.#bdSeq = Math.max(this.#bdSeq + 1, Date.now());
      if (client.options.will) client.options.will.payload = this.#state('offline');
    });
    client.on('error', (err) => {
      this.#counters.inc('uplink_errors');
      this.#log.warn({ err: { message: err.message, code: (err as { code?: unknown }).code } }, 'uplink error');
    });
  }

  /** Sends what the outbox holds, up to the in-flight bound. Called when records arrive. */
  pump(): void {
    const client = this.#client;
    if (!client?.connected || this.#stopping) return;
    while (this.#inflight < this.#cfg.maxInflightBatches) {
      const waiting = this.#outbox.waiting();
      if (waiting === 0) return;
      // A partial batch waits up to lingerMs for company, unless nothing else is in flight.
      if (waiting < this.#cfg.batchMaxRecords && this.#inflight > 0) {
        this.#linger ??= setTimeout(() => {
          this.#linger = undefined;
          this.#flushPartial();
        }, this.#cfg.lingerMs);
        return;
      }
      const batch = this.#outbox.take(this.#cfg.batchMaxRecords);
      if (!batch) return;
      this.#send(client, batch.id, batch.records);
    }
  }

  #flushPartial(): void {
    const client = this.#client;
    if (!client?.connected) return;
    while (this.#inflight < this.#cfg.maxInflightBatches) {
      const batch = this.#outbox.take(this.#cfg.batchMaxRecords);
      if (!batch) return;
      this.#send(client, batch.id, batch.records);
    }
  }

  #send(client: MqttClient, batchId: number, records: TelemetryRecord[]): void {
    const payload: TelemetryBatch = { v: 1, gateway: this.#cfg.gateway, batch: `${this.#bdSeq}-${++this.#batchCounter}`, records };
    const body = Buffer.from(JSON.stringify(payload));
    if (body.length > this.#cfg.batchMaxBytes && records.length > 1) {
      // Too large for one message: give it back and send it in halves.
      this.#outbox.release(batchId);
      const half = Math.ceil(records.length / 2);
      const a = this.#outbox.take(half);
      if (a) this.#send(client, a.id, a.records);
      const b = this.#outbox.take(records.length - half);
      if (b) this.#send(client, b.id, b.records);
      return;
    }
    this.#inflight++;
    client.publish(telemetryTopic(this.#cfg), body, { qos: 1 }, (err) => {
      this.#inflight--;
      if (err) {
        this.#outbox.release(batchId);
        this.#counters.inc('batches_failed');
      } else {
        const at = Date.now();
        this.lastUplinkOkAt = at;
        this.#counters.inc('records_delivered', {}, records.length);
        this.#counters.inc('batches_delivered');
        this.#onDelivered?.(records, at);
        void this.#outbox.ack(batchId).then(() => this.pump());
      }
    });
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#linger);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (client.connected) {
      // A clean goodbye: retained offline state, then DISCONNECT (no will is sent).
      await Promise.race([
        new Promise<void>((resolve) =>
          client.publish(stateTopic(this.#cfg), this.#state('offline'), { qos: 1, retain: true }, () => resolve()),
        ),
        new Promise<void>((resolve) => setTimeout(resolve, 2000).unref()),
      ]);
    }
    // A graceful end sends DISCONNECT, so the hub discards the will [MQTT-3.1.2-10]; forced
    // ends skip it. Unacknowledged batches stay in the outbox either way.
    const graceful = new Promise<boolean>((resolve) => client.end(false, {}, () => resolve(true)));
    const timedOut = new Promise<boolean>((resolve) => setTimeout(() => resolve(false), 3000).unref());
    if (!(await Promise.race([graceful, timedOut]))) {
      // mqtt.js ignores a second end() once one is under way: close the socket itself.
      client.stream?.destroy();
    }
  }
}
