import mqtt, { type MqttClient } from 'mqtt';
import type { Logger } from 'pino';
import type { CommandResult } from '../../protocol/src/commands.ts';
import type { GatewayCounters } from './metrics.ts';
import type { GatewayState } from '../../protocol/src/gatewayState.ts';
import type { OutboxRecord, TelemetryBatch } from '../../protocol/src/telemetry.ts';
import type { GatewayHealth } from '../../protocol/src/gatewayHealth.ts';
import { commandFilter, commandResultTopic, gatewayPrefix, healthTopic, inventoryTopic, stateTopic, telemetryTopic, ticketTopic, type GatewayAddress } from '../../protocol/src/topics.ts';
import type { Lane, Outbox } from './outbox.ts';
import { uplinkTlsOptions, type UplinkTlsFiles } from './uplinkTls.ts';
import { retrySize, UplinkScheduler, type UplinkSchedulerConfig } from './uplinkScheduler.ts';
import { failureReason, ReconnectBackoff, type ReconnectBackoffConfig, type UplinkStatus } from './reconnectBackoff.ts';

export interface UplinkConfig extends GatewayAddress, UplinkSchedulerConfig, ReconnectBackoffConfig {
  hubUrl: string;
  /** Files for mqtts:// and wss:// (uplinkTls.ts); the hub is always verified. */
  tls?: UplinkTlsFiles | undefined;
  password: string;
  batchMaxBytes: number;
  keepaliveSec: number;
}

export interface ReplayStatus {
  active: boolean;
  /** Backlog records not yet acknowledged (waiting and in flight). */
  remaining: number;
  /** Backlog records acknowledged since the current replay started. */
  sent: number;
}

/** The login ticket the hub hands out (ticketStore.ts): presented instead of the password while it holds. */
export interface UplinkTickets {
  current(): string | undefined;
  offer(payload: Buffer): void;
  /** The hub refused the ticket presented. */
  refused(): void;
}

/** A ticket refused: the password is tried after this short pause, not after the back-off. */
const TICKET_FALLBACK_MS = 50;

/** How an inventory message came: the retained copy a subscription brings, or a live publish; in which session. */
export interface InventoryDelivery {
  retained: boolean;
  /** Grows with every connection. */
  session: number;
}

/**
 * The gateway's QoS 1 connection to the hub with its own credentials: the MQTT I/O around
 * UplinkScheduler, which decides when each lane sends (live at once, the backlog replayed
 * after a jitter and rate-limited, flagged historical). A batch leaves the outbox only on
 * PUBACK, which the hub sends once the batch is in InfluxDB. Retained state with a Last Will
 * carries this connection's bdSeq.
 */
export class Uplink {
  readonly #cfg: UplinkConfig;
  readonly #log: Logger;
  readonly #outbox: () => Outbox;
  readonly #counters: GatewayCounters;
  readonly #onDelivered: ((records: OutboxRecord[], at: number) => void) | undefined;
  readonly #onCommand: ((payload: Buffer) => void) | undefined;
  readonly #onInventory: ((payload: Buffer, delivery: InventoryDelivery) => void) | undefined;
  readonly #tickets: UplinkTickets | undefined;
  /** The current connection attempt presents a ticket (not the password). */
  #withTicket = false;
  readonly #random: () => number;
  /** The wall clock: pacing and bdSeq follow real time even when the gateway's clock is a test's. */
  readonly #clock: () => number;
  readonly #initialBdSeq: number | undefined;
  readonly #scheduler: UplinkScheduler;
  readonly #backoff: ReconnectBackoff;
  #client: MqttClient | undefined;
  #wake: { timer: NodeJS.Timeout; at: number } | undefined;
  /** Backlog records acknowledged since the last connect that found a backlog. */
  #replaySent = 0;
  #bdSeq = 0;
  /** Counts connections: each is a new session (clean), with its own retained deliveries. */
  #session = 0;
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
  /** Why the last connection attempt failed (a hub it cannot verify, a refused TLS handshake); cleared on connect. */
  lastError: { code: string | undefined; message: string } | undefined;

  constructor(
    cfg: UplinkConfig,
    deps: {
      log: Logger;
      /** The gateway's outbox (opened at start, so read when needed). */
      outbox: () => Outbox;
      counters: GatewayCounters;
      onDelivered?: ((records: OutboxRecord[], at: number) => void) | undefined;
      /** A command request from the hub (the raw payload, validated by the command relay). */
      onCommand?: ((payload: Buffer) => void) | undefined;
      /** A message on the gateway's inventory topic (retained: one at every connect), validated by the inventory store. */
      onInventory?: ((payload: Buffer, delivery: InventoryDelivery) => void) | undefined;
      /** Login tickets from the hub; without: always the password. */
      tickets?: UplinkTickets | undefined;
      /** The first bdSeq; it grows with every connection. Defaults to the wall clock at start. */
      initialBdSeq?: number;
      random?: (() => number) | undefined;
      clock?: () => number;
    },
  ) {
    this.#cfg = cfg;
    this.#log = deps.log;
    this.#outbox = deps.outbox;
    this.#counters = deps.counters;
    this.#onDelivered = deps.onDelivered;
    this.#onCommand = deps.onCommand;
    this.#onInventory = deps.onInventory;
    this.#tickets = deps.tickets;
    this.#random = deps.random ?? Math.random;
    this.#clock = deps.clock ?? Date.now;
    this.#initialBdSeq = deps.initialBdSeq;
    this.#scheduler = new UplinkScheduler(cfg);
    this.#backoff = new ReconnectBackoff(cfg);
  }

  /** Connected, or why not and when the next attempt is (for `/health`). */
  status(): UplinkStatus {
    if (this.connected) return { connected: true };
    const s = this.#backoff.status(this.#clock());
    return s.connected ? { connected: false, reason: 'connecting' } : s;
  }

  get connected(): boolean {
    return this.#up && (this.#client?.connected ?? false);
  }

  get bdSeq(): number {
    return this.#bdSeq;
  }

  replayStatus(): ReplayStatus {
    const remaining = this.#outbox().waiting('backlog') + this.#scheduler.inflightRecords('backlog');
    return { active: remaining > 0, remaining, sent: this.#replaySent };
  }

  #state(state: GatewayState['state']): Buffer {
    return Buffer.from(JSON.stringify({ state, bdSeq: this.#bdSeq, ts: this.#clock() } satisfies GatewayState));
  }

  /** The ticket if there is one to present, else the password; notes which. */
  #credential(): string {
    const ticket = this.#tickets?.current();
    this.#withTicket = ticket !== undefined;
    return ticket ?? this.#cfg.password;
  }

  start(): void {
    this.#bdSeq = this.#initialBdSeq ?? this.#clock();
    const topic = stateTopic(this.#cfg);
    // A fresh options object per client: mqtt.js writes into it.
    const client = mqtt.connect(this.#cfg.hubUrl, {
      clientId: this.#cfg.gateway,
      username: this.#cfg.gateway,
      password: this.#credential(),
      protocolVersion: 4,
      clean: true,
      keepalive: this.#cfg.keepaliveSec,
      // mqtt.js waits `reconnectPeriod` after each failure, read when the failure happens: the
      // back-off sets it at each attempt. Refusals are retried too (a gateway started before it
      // is registered, or whose password is being rotated, must find its way back by itself).
      reconnectPeriod: this.#backoff.attempt(this.#random()),
      reconnectOnConnackError: true,
      connectTimeout: 10_000,
      queueQoSZero: false,
      will: { topic, payload: this.#state('offline'), qos: 1, retain: true },
      ...uplinkTlsOptions(this.#cfg.tls),
    });
    this.#client = client;
    client.on('reconnect', () => {
      client.options.reconnectPeriod = this.#backoff.attempt(this.#random());
      // mqtt.js builds each CONNECT from its options: a ticket kept or dropped since counts.
      client.options.password = this.#credential();
    });
    client.on('connect', () => {
      client.options.reconnectPeriod = this.#backoff.connected(this.#random());
      this.#session += 1;
      this.#broken = false;
      this.lastError = undefined;
      this.#counters.inc('uplink_connects');
      this.#counters.inc('uplink_logins', { method: this.#withTicket ? 'ticket' : 'password' });
      const outbox = this.#outbox();
      // What waits now is backlog: replayed beside the live records that arrive from here on.
      outbox.markBoundary();
      this.#up = true;
      const backlog = outbox.waiting('backlog');
      const jitter = this.#scheduler.connected(this.#clock(), this.#random());
      if (backlog > 0) {
        this.#replaySent = 0;
        this.#log.info({ bdSeq: this.#bdSeq, backlog, jitterMs: jitter }, 'uplink connected; replaying backlog');
      } else {
        this.#log.info({ bdSeq: this.#bdSeq }, 'uplink connected');
      }
      client.publish(topic, this.#state('online'), { qos: 1, retain: true });
      if (this.#onCommand) client.subscribe(commandFilter(this.#cfg), { qos: 1 });
      if (this.#onInventory) client.subscribe(inventoryTopic(this.#cfg), { qos: 1 });
      if (this.#tickets) client.subscribe(ticketTopic(this.#cfg), { qos: 1 });
      this.pump();
    });
    const ownInventory = inventoryTopic(this.#cfg);
    const ownTicket = ticketTopic(this.#cfg);
    client.on('message', (t, payload, packet) => {
      if (t.startsWith(`${gatewayPrefix(this.#cfg)}/cmd/`)) this.#onCommand?.(payload);
      // RETAIN 1 only on what a new subscription brings [MQTT-3.3.1-8], 0 on live forwards [MQTT-3.3.1-9].
      else if (t === ownInventory) this.#onInventory?.(payload, { retained: packet.retain, session: this.#session });
      else if (t === ownTicket) this.#tickets?.offer(payload);
    });
    client.on('close', () => {
      const wasUp = this.#up;
      this.#up = false;
      this.#scheduler.disconnected();
      this.#clearWake();
      if (this.#stopping) return;
      this.#attemptEnded(wasUp ? 'disconnected: connection lost' : 'unreachable: connection closed');
      // The next connection is a new session: a new bdSeq for its birth and its will.
      this.#bdSeq = Math.max(this.#bdSeq + 1, this.#clock());
      if (client.options.will) client.options.will.payload = this.#state('offline');
    });
    client.on('error', (err) => {
      this.#counters.inc('uplink_errors');
      this.lastError = { code: (err as { code?: string }).code, message: err.message };
      const code = (err as { code?: unknown }).code;
      if (this.#up || this.#stopping) {
        this.#log.warn({ err: { message: err.message, code } }, 'uplink error');
        return;
      }
      const f = failureReason({ message: err.message, code });
      if (f.connack !== undefined) this.#counters.inc('uplink_refused', { code: String(f.connack) });
      // Refused as bad credentials while presenting a ticket: the ticket goes, and the password is
      // tried at once (mqtt.js reads the period when it sets up the reconnect, after this event).
      if (this.#withTicket && (f.connack === 4 || f.connack === 5)) {
        this.#tickets?.refused();
        this.#withTicket = false;
        client.options.password = this.#cfg.password;
        client.options.reconnectPeriod = TICKET_FALLBACK_MS;
        return;
      }
      this.#attemptEnded(f.reason, f.connack, { message: err.message, code });
    });
  }

  /** One log line per failed attempt (an error and a close both report one), with the wait before the next. */
  #attemptEnded(reason: string, connack?: number, err?: { message: string; code: unknown }): void {
    const retryInMs = this.#backoff.failed(this.#clock(), reason);
    if (retryInMs === undefined) return;
    const fields = { reason, retryInMs, ...(connack === undefined ? {} : { connack }), ...(err ? { err } : {}) };
    this.#log.warn(fields, connack === undefined ? 'uplink down; retrying' : 'uplink refused by the hub; retrying');
  }

  /** Sends a command result to the hub (QoS 1); false while the uplink is down. */
  publishCommandResult(r: CommandResult): boolean {
    const client = this.#client;
    if (!this.connected || !client || this.#stopping) return false;
    client.publish(commandResultTopic(this.#cfg), JSON.stringify(r), { qos: 1 });
    return true;
  }

  /** Sends the gateway's health to the hub (skipped while disconnected: the hub sees that). */
  publishHealth(h: GatewayHealth): void {
    const client = this.#client;
    if (!this.connected || !client || this.#stopping) return;
    client.publish(healthTopic(this.#cfg), JSON.stringify(h), { qos: 0 });
  }

  /** Sends what the scheduler allows. Called when records arrive, on connect, after each acknowledgement and on a wake-up. */
  pump(): void {
    const client = this.#client;
    if (!this.connected || !client || this.#stopping) return;
    const outbox = this.#outbox();
    while (!this.#broken) {
      const now = this.#clock();
      const d = this.#scheduler.next(now, { live: outbox.waiting('live'), backlog: outbox.waiting('backlog') });
      if (d.do === 'wait') this.#wakeAt(d.until, now);
      if (d.do !== 'send') return;
      const n = this.#sendNext(client, outbox, d.lane, d.max);
      if (n === 0) return;
      this.#scheduler.sent(d.lane, n, now);
    }
  }

  /** One timer for the earliest moment the scheduler waits for (linger or replay pacing). */
  #wakeAt(at: number, now: number): void {
    if (this.#wake?.at === at) return;
    this.#clearWake();
    const timer = setTimeout(() => {
      this.#wake = undefined;
      this.pump();
    }, Math.max(0, at - now));
    this.#wake = { timer, at };
  }

  #clearWake(): void {
    if (this.#wake) clearTimeout(this.#wake.timer);
    this.#wake = undefined;
  }

  /** Takes and sends one batch of a lane; returns how many records it sent. */
  #sendNext(client: MqttClient, outbox: Outbox, lane: Lane, max: number): number {
    const batch = outbox.take(max, lane);
    if (!batch) return 0;
    // Replayed records are flagged historical: they never overwrite live state.
    const records = lane === 'backlog' ? batch.records.map((r) => (r.hist ? r : { ...r, hist: true })) : batch.records;
    const payload: TelemetryBatch = { v: 1, gateway: this.#cfg.gateway, batch: `${this.#bdSeq}-${++this.#batchCounter}`, records };
    const body = Buffer.from(JSON.stringify(payload));
    const half = retrySize(records.length, body.length, this.#cfg.batchMaxBytes);
    if (half !== undefined) {
      outbox.release(batch.id);
      return this.#sendNext(client, outbox, lane, half);
    }
    client.publish(telemetryTopic(this.#cfg), body, { qos: 1 }, (err) => {
      this.#scheduler.settled(lane, records.length);
      if (err) {
        this.#broken = true;
        outbox.release(batch.id);
        this.#counters.inc('batches_failed', { lane });
        return;
      }
      const at = this.#clock();
      this.lastUplinkOkAt = at;
      this.#counters.inc('records_delivered', { lane }, records.length);
      this.#counters.inc('batches_delivered', { lane });
      if (lane === 'backlog') this.#replaySent += records.length;
      this.#onDelivered?.(records, at);
      outbox.ack(batch.id).then(
        () => this.pump(),
        (err: unknown) => {
          // At-least-once: the batch may be resent after a restart; the hub collapses duplicates.
          this.#counters.inc('outbox_ack_errors');
          this.#log.error({ err }, 'outbox could not record an acknowledgement; the batch may be resent after a restart');
          this.pump();
        },
      );
    });
    return records.length;
  }

  async stop(): Promise<void> {
    this.#stopping = true;
    this.#clearWake();
    const client = this.#client;
    this.#client = undefined;
    if (!client) return;
    if (this.#up && client.connected) {
      // A clean goodbye: retained offline state, then DISCONNECT (no will is sent).
      await withinMs(
        new Promise<void>((resolve) => client.publish(stateTopic(this.#cfg), this.#state('offline'), { qos: 1, retain: true }, () => resolve())),
        2000,
      );
    }
    // A graceful end sends DISCONNECT, so the hub discards the will [MQTT-3.1.2-10]; forced
    // ends skip it. Unacknowledged batches stay in the outbox either way.
    if (!(await withinMs(new Promise<void>((resolve) => client.end(false, {}, () => resolve())), 3000))) {
      // mqtt.js ignores a second end() once one is under way: close the socket itself.
      client.stream?.destroy();
    }
  }
}

/** Whether `p` settled within `ms`; the timer is cleared either way, so stop() leaves none. */
async function withinMs(p: Promise<void>, ms: number): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  try {
    return await Promise.race([p.then(() => true), new Promise<boolean>((resolve) => (timer = setTimeout(() => resolve(false), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}
