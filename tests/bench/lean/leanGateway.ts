/**
 * A lean gateway-protocol client for the connection and storm benchmarks: one real gateway
 * identity (client id = username = gateway id, its password, clean session, retained birth and
 * Last Will), raw MQTT 3.1.1 over one socket with mqtt-packet, and what the gateway's uplink does
 * that the benchmarks measure: it subscribes to its ticket topic and presents the ticket the hub
 * hands out as its password next time (a refused ticket: dropped, the password 50 ms later, as
 * gateway/src/uplink.ts does); it retries with the gateway's own back-off
 * (gateway/src/reconnectBackoff.ts: 1 s doubling to 60 s, full jitter); it replays a backlog at
 * QoS 1 in batches of at most 500 records, 2 batches in flight, after the gateway's replay jitter.
 * A few kilobytes per connection instead of an mqtt.js client's, so ten thousand fit in two
 * worker threads beside the hub.
 */
import { connect as netConnect, type Socket } from 'node:net';
import mqttPacket from 'mqtt-packet';
import { ReconnectBackoff } from '../../../gateway/src/reconnectBackoff.ts';
import { loginTicketSchema } from '../../../protocol/src/loginTicket.ts';
import { stateTopic, telemetryTopic, ticketTopic, type GatewayAddress } from '../../../protocol/src/topics.ts';

export interface LeanGatewayConfig extends GatewayAddress {
  password: string;
  port: number;
  /** Subscribe to the ticket topic, and present a ticket the hub handed out instead of the password. */
  useTickets: boolean;
  keepaliveSec: number;
  reconnectMs: number;
  reconnectMaxMs: number;
  /** Uniform wait in [0, this) after connecting before the backlog goes (GW_REPLAY_JITTER_MS). */
  replayJitterMs: number;
  batchMaxRecords: number;
  replayInflight: number;
}

export interface LeanCounters {
  /** CONNACK return codes other than 0, by code. */
  refused: Record<number, number>;
  /** Sockets closed before any CONNACK (the hub's pending cap, a refused TCP connect). */
  cut: number;
  ticketRefused: number;
  ticketLogins: number;
  passwordLogins: number;
}

const TICKET_FALLBACK_MS = 50;

export class LeanGateway {
  readonly #c: LeanGatewayConfig;
  readonly #counters: LeanCounters;
  readonly #backoff: ReconnectBackoff;
  #sock: Socket | undefined;
  #retry: NodeJS.Timeout | undefined;
  #ping: NodeJS.Timeout | undefined;
  #replayTimer: NodeJS.Timeout | undefined;
  #withTicket = false;
  #useTickets: boolean;
  #connacked = false;
  /** The wait before the next attempt if this one (or this session) ends: the back-off's. */
  #nextDelay = 0;
  #stopped = true;
  #nextId = 1;
  readonly #inflight = new Map<number, unknown[]>();
  #backlog: unknown[] = [];
  #batch = 0;
  ticket: string | undefined;
  connectedAt: number | undefined;
  /** When the last backlog record was acknowledged (undefined while some wait). */
  replayedAt: number | undefined;
  acked = 0;
  onConnected: (() => void) | undefined;
  onTicket: (() => void) | undefined;
  onReplayed: (() => void) | undefined;

  constructor(cfg: LeanGatewayConfig, counters: LeanCounters) {
    this.#c = cfg;
    this.#counters = counters;
    this.#backoff = new ReconnectBackoff(cfg);
    this.#useTickets = cfg.useTickets;
  }

  /** Whether the next attempts present a ticket the hub handed out (a held ticket is kept either way). */
  setUseTickets(on: boolean): void {
    this.#useTickets = on;
  }

  get connected(): boolean {
    return this.#connacked;
  }

  get backlog(): number {
    let n = this.#backlog.length;
    for (const b of this.#inflight.values()) n += b.length;
    return n;
  }

  /** Records to send once connected (after the replay jitter). */
  addBacklog(records: unknown[]): void {
    this.#backlog.push(...records);
    this.replayedAt = undefined;
  }

  start(): void {
    this.#stopped = false;
    this.connectedAt = undefined;
    this.#attempt();
  }

  /** A clean DISCONNECT (no will), and no reconnect. */
  stop(): void {
    this.#stopped = true;
    clearTimeout(this.#retry);
    this.#clearTimers();
    const s = this.#sock;
    this.#sock = undefined;
    this.#connacked = false;
    if (s && !s.destroyed) {
      if (s.writable) s.end(mqttPacket.generate({ cmd: 'disconnect' }));
      else s.destroy();
    }
  }

  /** The socket gone without a DISCONNECT (the hub killed): retried with the back-off. */
  #attempt(): void {
    if (this.#stopped) return;
    this.#nextDelay = this.#backoff.attempt(Math.random());
    const password = this.#useTickets && this.ticket !== undefined ? this.ticket : this.#c.password;
    this.#withTicket = password !== this.#c.password;
    this.#connacked = false;
    const sock = netConnect(this.#c.port, '127.0.0.1');
    this.#sock = sock;
    sock.setNoDelay(true);
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const seen = { connack: false, fallback: false };
    parser.on('packet', (p) => this.#onPacket(sock, p as mqttPacket.Packet, seen));
    parser.on('error', () => sock.destroy());
    sock.on('data', (b) => parser.parse(b));
    sock.on('error', () => {});
    sock.on('connect', () => {
      const will = { topic: stateTopic(this.#c), payload: Buffer.from(JSON.stringify({ state: 'offline', bdSeq: Date.now(), ts: Date.now() })), qos: 1 as const, retain: true };
      sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clean: true, clientId: this.#c.gateway, username: this.#c.gateway, password: Buffer.from(password), keepalive: this.#c.keepaliveSec, will }));
    });
    sock.on('close', () => {
      const wasUp = this.#connacked;
      if (this.#sock === sock) this.#sock = undefined;
      this.#connacked = false;
      this.#clearTimers();
      // Unacknowledged batches go back ahead of the rest, as the gateway's outbox releases them.
      const unacked = [...this.#inflight.values()].flat();
      this.#inflight.clear();
      this.#backlog.unshift(...unacked);
      if (this.#stopped) return;
      if (!seen.connack) this.#counters.cut++;
      this.#backoff.failed(Date.now(), 'closed');
      this.#retry = setTimeout(() => this.#attempt(), seen.fallback ? TICKET_FALLBACK_MS : this.#nextDelay);
    });
  }

  #onPacket(sock: Socket, p: mqttPacket.Packet, seen: { connack: boolean; fallback: boolean }): void {
    switch (p.cmd) {
      case 'connack': {
        seen.connack = true;
        const rc = (p as mqttPacket.IConnackPacket).returnCode ?? 0;
        if (rc !== 0) {
          this.#counters.refused[rc] = (this.#counters.refused[rc] ?? 0) + 1;
          if (this.#withTicket && (rc === 4 || rc === 5)) {
            this.#counters.ticketRefused++;
            this.ticket = undefined;
            seen.fallback = true;
          }
          sock.destroy();
          return;
        }
        this.#connacked = true;
        this.#nextDelay = this.#backoff.connected(Math.random());
        this.connectedAt ??= Date.now();
        if (this.#withTicket) this.#counters.ticketLogins++;
        else this.#counters.passwordLogins++;
        sock.write(mqttPacket.generate({ cmd: 'publish', topic: stateTopic(this.#c), payload: Buffer.from(JSON.stringify({ state: 'online', bdSeq: Date.now(), ts: Date.now() })), qos: 1, retain: true, dup: false, messageId: this.#id() }));
        if (this.#useTickets) sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: this.#id(), subscriptions: [{ topic: ticketTopic(this.#c), qos: 1 }] }));
        this.#ping = setInterval(() => sock.writable && sock.write(mqttPacket.generate({ cmd: 'pingreq' })), (this.#c.keepaliveSec * 1000) / 2);
        this.onConnected?.();
        if (this.#backlog.length > 0) this.#replayTimer = setTimeout(() => this.#pump(), Math.floor(Math.random() * this.#c.replayJitterMs));
        return;
      }
      case 'publish': {
        const pub = p as mqttPacket.IPublishPacket;
        if (pub.qos === 1 && pub.messageId !== undefined) sock.write(mqttPacket.generate({ cmd: 'puback', messageId: pub.messageId }));
        if (pub.topic === ticketTopic(this.#c)) {
          const t = loginTicketSchema.safeParse(JSON.parse(pub.payload.toString()));
          if (t.success) {
            this.ticket = t.data.ticket;
            this.onTicket?.();
          }
        }
        return;
      }
      case 'puback': {
        const id = (p as mqttPacket.IPubackPacket).messageId!;
        const batch = this.#inflight.get(id);
        if (!batch) return;
        this.#inflight.delete(id);
        this.acked += batch.length;
        if (this.#backlog.length === 0 && this.#inflight.size === 0) {
          this.replayedAt = Date.now();
          this.onReplayed?.();
        } else this.#pump();
        return;
      }
      default:
        return;
    }
  }

  #pump(): void {
    const sock = this.#sock;
    if (!sock || !this.#connacked) return;
    while (this.#inflight.size < this.#c.replayInflight && this.#backlog.length > 0) {
      const records = this.#backlog.splice(0, this.#c.batchMaxRecords);
      const messageId = this.#id();
      this.#inflight.set(messageId, records);
      const body = JSON.stringify({ v: 1, gateway: this.#c.gateway, batch: `lean-${++this.#batch}-${Date.now()}`, records });
      sock.write(mqttPacket.generate({ cmd: 'publish', topic: telemetryTopic(this.#c), payload: Buffer.from(body), qos: 1, retain: false, dup: false, messageId }));
    }
  }

  #id(): number {
    const id = this.#nextId;
    this.#nextId = id >= 65_535 ? 1 : id + 1;
    return id;
  }

  #clearTimers(): void {
    clearInterval(this.#ping);
    clearTimeout(this.#replayTimer);
  }
}
