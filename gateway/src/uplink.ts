import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { CommandResult } from '../../protocol/src/commands.ts';
import type { GatewayCounters } from './metrics.ts';
import type { GatewayState } from '../../protocol/src/gatewayState.ts';
import type { OutboxRecord, TelemetryBatch } from '../../protocol/src/telemetry.ts';
import type { GatewayHealth } from '../../protocol/src/gatewayHealth.ts';
import { commandFilter, commandResultTopic, gatewayPrefix, healthTopic, stateTopic, telemetryTopic, type GatewayAddress } from '../../protocol/src/topics.ts';
import type { Lane, Outbox } from './outbox.ts';

export interface UplinkConfig extends GatewayAddress {
  hubUrl: string;
  password: string;
  batchMaxRecords: number;
  batchMaxBytes: number;
  lingerMs: number;
  /** Live batches in flight at once. */
  maxInflightBatches: number;
  keepaliveSec: number;
  reconnectMs: number;
  /** Backlog replay: records per second, at most. */
  replayRatePerSec: number;
  /** Backlog replay starts after a random delay in [0, replayJitterMs), per connection. */
  replayJitterMs: number;
  /** Backlog batches in flight at once. */
  replayInflightBatches: number;
}

export interface ReplayStatus {
  active: boolean;
  /** Backlog records not yet acknowledged (waiting and in flight). */
  remaining: number;
  /** Backlog records acknowledged since the current replay started. */
  sent: number;
  startedAt: number | undefined;
}

/**
 * The gateway's QoS 1 connection to the hub with its own credentials. Two lanes leave the
 * outbox: live records go at once (bounded in flight), the backlog from before the connection
 * is replayed in order, flagged historical, rate-limited and started after a random delay, so a
 * district reconnecting at once does not stampede the hub. A batch leaves the outbox only on
 * PUBACK, which the hub sends once the batch is in InfluxDB. Retained state with a Last Will
 * carries this connection's bdSeq.
 */
export class Uplink {
  readonly #cfg: UplinkConfig;
  readonly #log: Logger;
  readonly #outbox: Outbox;
  readonly #counters: GatewayCounters;
  readonly #onDelivered: ((records: OutboxRecord[], at: number) => void) | undefined;
  readonly #onCommand: ((payload: Buffer) => void) | undefined;
  readonly #random: () => number;
  #client: MqttClient | undefined;
  readonly #inflight: Record<Lane, number> = { live: 0, backlog: 0 };
  #linger: NodeJS.Timeout | undefined;
  #replayTimer: NodeJS.Timeout | undefined;
  /** Replay may send once the clock passes this (jitter, then the rate limit). */
  #replayNotBefore = Number.POSITIVE_INFINITY;
  #replay: { startedAt: number | undefined; sent: number } = { startedAt: undefined, sent: 0 };
  #bdSeq: number;
  #batchCounter = 0;
  #stopping = false;
  /**
   * Set when a publish fails: the connection is broken even if mqtt.js has not said so yet, and
   * a publish on a dead stream may fail synchronously, which would loop. Cleared on connect.
   */
  #broken = false;
  /**
   * Our session is up: set in the 'connect' handler once the outbox boundary is marked. mqtt.js
   * sets `connected` earlier (before it resends its store and emits 'connect'), and sending in
   * that gap would send the outage's records as live.
   */
  #up = false;
  lastUplinkOkAt = 0;

  constructor(
    cfg: UplinkConfig,
    deps: {
      log: Logger;
      outbox: Outbox;
      counters: GatewayCounters;
      onDelivered?: (records: OutboxRecord[], at: number) => void;
      /** A command request from the hub (the raw payload, validated by the gateway). */
      onCommand?: (payload: Buffer) => void;
      /** The first bdSeq; it grows with every connection. Defaults to the wall clock. */
      initialBdSeq?: number;
      random?: () => number;
    },
  ) {
    this.#cfg = cfg;
    this.#log = deps.log;
    this.#outbox = deps.outbox;
    this.#counters = deps.counters;
    this.#onDelivered = deps.onDelivered;
    this.#onCommand = deps.onCommand;
    this.#random = deps.random ?? Math.random;
    this.#bdSeq = deps.initialBdSeq ?? Date.now();
  }

  get connected(): boolean {
    return this.#up && (this.#client?.connected ?? false);
  }

  get bdSeq(): number {
    return this.#bdSeq;
  }

  replayStatus(): ReplayStatus {
    const remaining = this.#outbox.waiting('backlog') + this.#inflightBacklogRecords;
    return { active: remaining > 0, remaining, sent: this.#replay.sent, startedAt: this.#replay.startedAt };
  }

  #inflightBacklogRecords = 0;

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
      this.#broken = false;
      this.#counters.inc('uplink_connects');
      // What waits now is backlog: replayed beside the live records that arrive from here on.
      this.#outbox.markBoundary();
      this.#up = true;
      const backlog = this.#outbox.waiting('backlog');
      const jitter = Math.floor(this.#random() * this.#cfg.replayJitterMs);
      this.#replayNotBefore = Date.now() + jitter;
      if (backlog > 0) {
        this.#replay = { startedAt: Date.now(), sent: 0 };
        this.#log.info({ bdSeq: this.#bdSeq, backlog, jitterMs: jitter }, 'uplink connected; replaying backlog');
      } else {
        this.#log.info({ bdSeq: this.#bdSeq }, 'uplink connected');
      }
      client.publish(topic, this.#state('online'), { qos: 1, retain: true });
      if (this.#onCommand) client.subscribe(commandFilter(this.#cfg), { qos: 1 });
      this.pump();
    });
    client.on('message', (t, payload) => {
      if (t.startsWith(`${gatewayPrefix(this.#cfg)}/cmd/`)) this.#onCommand?.(payload);
    });
    client.on('close', () => {
      this.#up = false;
      clearTimeout(this.#replayTimer);
      this.#replayTimer = undefined;
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

  /** Sends the gateway's health to the hub (skipped while disconnected: the hub sees that). */
  /** Sends a command result to the hub (QoS 1); false while the uplink is down. */
  publishCommandResult(r: CommandResult): boolean {
    const client = this.#client;
    if (!this.connected || !client || this.#stopping) return false;
    client.publish(commandResultTopic(this.#cfg), JSON.stringify(r), { qos: 1 });
    return true;
  }

  publishHealth(h: GatewayHealth): void {
    const client = this.#client;
    if (!this.connected || !client || this.#stopping) return;
    client.publish(healthTopic(this.#cfg), JSON.stringify(h), { qos: 0 });
  }

  /** Sends what the outbox holds, within the in-flight bounds. Called when records arrive. */
  pump(): void {
    const client = this.#client;
    if (!this.connected || !client || this.#stopping || this.#broken) return;
    this.#pumpLive(client);
    this.#pumpBacklog(client);
  }

  #pumpLive(client: MqttClient): void {
    while (this.#inflight.live < this.#cfg.maxInflightBatches && !this.#broken) {
      const waiting = this.#outbox.waiting('live');
      if (waiting === 0) return;
      // A partial batch waits up to lingerMs for company, unless nothing else is in flight.
      if (waiting < this.#cfg.batchMaxRecords && this.#inflight.live > 0) {
        this.#linger ??= setTimeout(() => {
          this.#linger = undefined;
          this.#flushPartial();
        }, this.#cfg.lingerMs);
        return;
      }
      if (!this.#sendNext(client, 'live', this.#cfg.batchMaxRecords)) return;
    }
  }

  #flushPartial(): void {
    const client = this.#client;
    if (!this.connected || !client) return;
    while (this.#inflight.live < this.#cfg.maxInflightBatches && !this.#broken) {
      if (!this.#sendNext(client, 'live', this.#cfg.batchMaxRecords)) return;
    }
  }

  /** Token-bucket pacing: each backlog batch of n records pushes the next start n/rate later. */
  #pumpBacklog(client: MqttClient): void {
    while (this.#inflight.backlog < this.#cfg.replayInflightBatches && this.#outbox.waiting('backlog') > 0 && !this.#broken) {
      const now = Date.now();
      if (now < this.#replayNotBefore) {
        clearTimeout(this.#replayTimer);
        this.#replayTimer = setTimeout(() => {
          this.#replayTimer = undefined;
          this.pump();
        }, this.#replayNotBefore - now);
        return;
      }
      // At most one second's worth per batch, so pacing stays smooth at low rates.
      const max = Math.max(1, Math.min(this.#cfg.batchMaxRecords, this.#cfg.replayRatePerSec));
      const n = this.#sendNext(client, 'backlog', max);
      if (n === 0) return;
      this.#replayNotBefore = Math.max(this.#replayNotBefore, now) + (n * 1000) / this.#cfg.replayRatePerSec;
    }
  }

  /** Takes and sends one batch of a lane; returns how many records it sent. */
  #sendNext(client: MqttClient, lane: Lane, max: number): number {
    const batch = this.#outbox.take(max, lane);
    if (!batch) return 0;
    // Replayed records are flagged historical: they never overwrite live state.
    const records = lane === 'backlog' ? batch.records.map((r) => (r.hist ? r : { ...r, hist: true })) : batch.records;
    const payload: TelemetryBatch = { v: 1, gateway: this.#cfg.gateway, batch: `${this.#bdSeq}-${++this.#batchCounter}`, records };
    const body = Buffer.from(JSON.stringify(payload));
    if (body.length > this.#cfg.batchMaxBytes && records.length > 1) {
      // Too large for one message: give it back and send half as many.
      this.#outbox.release(batch.id);
      return this.#sendNext(client, lane, Math.ceil(records.length / 2));
    }
    this.#inflight[lane]++;
    if (lane === 'backlog') this.#inflightBacklogRecords += records.length;
    client.publish(telemetryTopic(this.#cfg), body, { qos: 1 }, (err) => {
      this.#inflight[lane]--;
      if (lane === 'backlog') this.#inflightBacklogRecords -= records.length;
      if (err) {
        this.#broken = true;
        this.#outbox.release(batch.id);
        this.#counters.inc('batches_failed', { lane });
        return;
      }
      const at = Date.now();
      this.lastUplinkOkAt = at;
      this.#counters.inc('records_delivered', { lane }, records.length);
      this.#counters.inc('batches_delivered', { lane });
      if (lane === 'backlog') this.#replay.sent += records.length;
      this.#onDelivered?.(records, at);
      void this.#outbox.ack(batch.id).then(() => this.pump());
    });
    return records.length;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    clearTimeout(this.#linger);
    clearTimeout(this.#replayTimer);
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (this.#up && client.connected) {
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
