import type { AedesPersistence } from 'aedes-persistence';
import aedesPersistenceRedis from 'aedes-persistence-redis';
import { Redis } from 'ioredis';
import type mqemitter from 'mqemitter';
import mqemitterRedis from 'mqemitter-redis';
import type { Logger } from 'pino';
import type { AvailabilityRecord } from '../../protocol/src/telemetry.ts';
import type { GatewayAddress } from '../../protocol/src/topics.ts';
import { toError } from '../../runtime/src/errors.ts';
import { WarnThrottle } from '../../runtime/src/logThrottle.ts';
import { HubError, HubErrorCode } from './errors.ts';
import type { HealthSummary } from './features/healthReports.ts';
import type { PresenceEntry } from './presence.ts';

/** Every key and channel of the hub's own in Redis starts with this (Aedes' own keys are its library's). */
export const CLUSTER_PREFIX = 'campushub';

export interface ClusterConfig {
  /** redis://host:port (HUB_REDIS_URL). */
  redisUrl: string;
  /** Names this node in logs, metrics and Redis keys (HUB_NODE_ID; default hostname-pid). */
  nodeId: string;
}

/** What one node tells the others, on one Redis pub/sub channel. */
export type ClusterMessage =
  | { t: 'session'; gateway: string; live: boolean; ready: boolean }
  | { t: 'close'; gateway: string; why: string }
  | { t: 'cmdres'; id: string; status: string; detail: string; at: number }
  | { t: 'state'; gateway: GatewayAddress; entry: PresenceEntry }
  | { t: 'availability'; gateway: GatewayAddress; observations: AvailabilityRecord[] }
  | { t: 'health'; gateway: string; summary: HealthSummary };

type Handler = (m: ClusterMessage, from: string) => void;

interface RemoteSession {
  node: string;
  ready: boolean;
}

export interface ClusterTiming {
  /** How often a node says it is alive. */
  heartbeatMs: number;
  /** A node not heard from for this long is dead: its sessions no longer count. */
  nodeTtlMs: number;
  /** How often the session mirror is read again whole (messages keep it current between). */
  resyncMs: number;
}

/**
 * Aedes' heartbeat between the nodes' brokers in a cluster (its own default is 60 s): a node not
 * heard from for three is dead, and a survivor publishes its clients' wills (their gateways'
 * deaths) within four more.
 */
export const AEDES_HEARTBEAT_MS = 5000;

export const DEFAULT_CLUSTER_TIMING: ClusterTiming = { heartbeatMs: 1000, nodeTtlMs: 3500, resyncMs: 2000 };

// Deletes a gateway's session entry only while it is still this node's (another node may have taken it over).
const DEL_IF_MINE = "local v = redis.call('HGET', KEYS[1], ARGV[1]); if v and cjson.decode(v).node == ARGV[2] then redis.call('HDEL', KEYS[1], ARGV[1]); return 1 end; return 0";

/**
 * One hub node's share of a cluster on Redis. Aedes' emitter (mqemitter-redis) and persistence
 * (aedes-persistence-redis) carry MQTT between nodes; this class carries the hub's own state:
 * which node holds each gateway's live session (a hash, mirrored in memory on every node so that
 * `isCommandReady` stays synchronous), which nodes are alive (a heartbeat hash), the per-minute
 * lock of the minute reports, and the messages nodes send each other (command results, presence
 * inputs, session closes) on one pub/sub channel. All through ioredis (what both libraries use).
 */
export class Cluster {
  readonly nodeId: string;
  readonly mq: mqemitter.MQEmitter;
  readonly persistence: AedesPersistence;
  readonly #log: Logger;
  /** Redis down: one line per interval, however many connections retry. */
  readonly #warn: WarnThrottle;
  readonly #timing: ClusterTiming;
  readonly #cmd: Redis;
  readonly #sub: Redis;
  readonly #mqConns: Redis[];
  readonly #persistenceConn: Redis;
  readonly #handlers: Handler[] = [];
  readonly #sessions = new Map<string, RemoteSession>();
  readonly #nodes = new Map<string, number>();
  readonly #keys: { sessions: string; nodes: string; channel: string };
  #timers: NodeJS.Timeout[] = [];
  #stopped = false;

  constructor(config: ClusterConfig, log: Logger, timing: Partial<ClusterTiming> = {}) {
    this.nodeId = config.nodeId;
    this.#log = log;
    this.#warn = new WarnThrottle(log);
    this.#timing = { ...DEFAULT_CLUSTER_TIMING, ...timing };
    // lazyConnect: nothing is opened until start() (a hub built and never started holds no socket).
    const conn = (): Redis => {
      const r = new Redis(config.redisUrl, { lazyConnect: true, maxRetriesPerRequest: 3 });
      // Reconnects are ioredis' own; each failure is logged, never thrown.
      r.on('error', (e: unknown) => this.#warn.warn('redis', { err: toError(e) }, 'redis connection error'));
      return r;
    };
    this.#cmd = conn();
    this.#sub = conn();
    this.#mqConns = [conn(), conn()];
    this.#persistenceConn = conn();
    this.#keys = { sessions: `${CLUSTER_PREFIX}:sessions`, nodes: `${CLUSTER_PREFIX}:nodes`, channel: `${CLUSTER_PREFIX}:events` };
    const mq = mqemitterRedis({ subConn: this.#mqConns[0], pubConn: this.#mqConns[1] });
    // mqemitter-redis re-emits its connections' errors on `state`: unheard, one would throw (a Redis restart would stop the hub).
    (mq as unknown as { state: NodeJS.EventEmitter }).state.on('error', (e: unknown) => this.#warn.warn('redis', { err: toError(e) }, 'redis connection error'));
    this.mq = mq as unknown as mqemitter.MQEmitter;
    this.persistence = aedesPersistenceRedis({ conn: this.#persistenceConn }) as unknown as AedesPersistence;
  }

  /** Connects and joins; HUB_ERR_REDIS_UNAVAILABLE (every connection closed again) when Redis does not answer. */
  async start(): Promise<void> {
    const all = [this.#cmd, this.#sub, this.#persistenceConn, ...this.#mqConns];
    try {
      await Promise.all(all.map((c) => c.connect()));
      this.#sub.on('message', (_channel: string, raw: string) => this.#receive(raw));
      await this.#sub.subscribe(this.#keys.channel);
      await this.#heartbeat();
      await this.#resync();
    } catch (e) {
      // Not started, so not stopped: nothing may stay reconnecting in the background.
      for (const c of all) c.disconnect();
      this.#stopped = true;
      throw new HubError(HubErrorCode.REDIS_UNAVAILABLE, `cluster node ${this.nodeId}: Redis did not answer: ${toError(e).message}`, { cause: e });
    }
    const every = (ms: number, f: () => Promise<void>): void => {
      const t = setInterval(() => void f().catch((e: unknown) => this.#warn.warn('upkeep', { err: toError(e) }, 'cluster upkeep failed')), ms);
      t.unref();
      this.#timers.push(t);
    };
    every(this.#timing.heartbeatMs, () => this.#heartbeat());
    every(this.#timing.resyncMs, () => this.#resync());
    this.#log.info({ node: this.nodeId }, 'cluster node started');
  }

  /** Leaves the cluster: this node's sessions and heartbeat are removed, then every connection closed. */
  async stop(): Promise<void> {
    if (this.#stopped) return;
    this.#stopped = true;
    for (const t of this.#timers) clearInterval(t);
    this.#timers = [];
    try {
      await this.#cmd.hdel(this.#keys.nodes, this.nodeId);
    } catch (e) {
      this.#log.warn({ err: toError(e) }, 'leaving the cluster: heartbeat not removed');
    }
    await new Promise<void>((resolve) => this.mq.close(() => resolve()));
    await Promise.all([this.#cmd, this.#sub, this.#persistenceConn].map((c) => c.quit().catch(() => c.disconnect())));
  }

  /** A handler for what other nodes send (never this node's own messages). */
  onMessage(h: Handler): void {
    this.#handlers.push(h);
  }

  /** Sends a message to every other node; a failure is logged (Redis down), never thrown. */
  broadcast(m: ClusterMessage): void {
    if (this.#stopped) return;
    this.#cmd.publish(this.#keys.channel, JSON.stringify({ from: this.nodeId, m })).catch((e: unknown) => this.#warn.warn('send', { err: toError(e), t: m.t }, 'cluster message not sent'));
  }

  /** This node's session of a gateway: live (and ready for commands) or gone; written to the shared hash and announced. */
  sessionChanged(gateway: string, live: boolean, ready: boolean): void {
    if (this.#stopped) return;
    const k = this.#keys.sessions;
    const write = live ? this.#cmd.hset(k, gateway, JSON.stringify({ node: this.nodeId, ready })) : this.#cmd.eval(DEL_IF_MINE, 1, k, gateway, this.nodeId);
    write.catch((e: unknown) => this.#warn.warn('session', { err: toError(e), gateway }, 'cluster session not recorded'));
    this.#sessions.delete(gateway);
    this.broadcast({ t: 'session', gateway, live, ready });
  }

  /** The gateway's session on another node that is alive, if any. */
  remoteSession(gateway: string): RemoteSession | undefined {
    const s = this.#sessions.get(gateway);
    return s && s.node !== this.nodeId && this.#alive(s.node) ? s : undefined;
  }

  /** The nodes heard from within the node TTL (this one included). */
  liveNodes(): string[] {
    return [...this.#nodes.keys()].filter((n) => this.#alive(n));
  }

  /**
   * True for the one node of the cluster that writes the minute stamped `ts` (SET NX PX: the
   * first to ask). The lock outlives the minute, so a node starting late does not write it again.
   */
  async claimMinute(ts: number): Promise<boolean> {
    const r = await this.#cmd.set(`${CLUSTER_PREFIX}:minute:${ts}`, this.nodeId, 'PX', 180_000, 'NX');
    return r === 'OK';
  }

  #alive(node: string): boolean {
    if (node === this.nodeId) return true;
    const seen = this.#nodes.get(node);
    return seen !== undefined && Date.now() - seen < this.#timing.nodeTtlMs;
  }

  async #heartbeat(): Promise<void> {
    await this.#cmd.hset(this.#keys.nodes, this.nodeId, String(Date.now()));
  }

  /** Reads the session hash and the heartbeats whole; drops the sessions of nodes found dead. */
  async #resync(): Promise<void> {
    const [sessions, nodes] = await Promise.all([this.#cmd.hgetall(this.#keys.sessions), this.#cmd.hgetall(this.#keys.nodes)]);
    this.#nodes.clear();
    for (const [n, at] of Object.entries(nodes)) this.#nodes.set(n, Number(at));
    this.#sessions.clear();
    const dead: Array<[string, string]> = [];
    for (const [g, raw] of Object.entries(sessions)) {
      let s: RemoteSession;
      try {
        s = JSON.parse(raw) as RemoteSession;
      } catch {
        continue;
      }
      if (this.#alive(s.node)) this.#sessions.set(g, s);
      else dead.push([g, s.node]);
    }
    // A node killed leaves its entries behind; any survivor removes them (only while still that node's).
    for (const [g, node] of dead) await this.#cmd.eval(DEL_IF_MINE, 1, this.#keys.sessions, g, node);
    for (const [n, at] of this.#nodes) if (Date.now() - at > 10 * this.#timing.nodeTtlMs) await this.#cmd.hdel(this.#keys.nodes, n);
  }

  #receive(raw: string): void {
    let msg: { from: string; m: ClusterMessage };
    try {
      msg = JSON.parse(raw) as { from: string; m: ClusterMessage };
    } catch {
      this.#log.warn('cluster message not JSON: ignored');
      return;
    }
    if (msg.from === this.nodeId) return;
    this.#nodes.set(msg.from, Math.max(this.#nodes.get(msg.from) ?? 0, Date.now()));
    if (msg.m.t === 'session') {
      if (msg.m.live) this.#sessions.set(msg.m.gateway, { node: msg.from, ready: msg.m.ready });
      else if (this.#sessions.get(msg.m.gateway)?.node === msg.from) this.#sessions.delete(msg.m.gateway);
    }
    for (const h of this.#handlers) {
      try {
        h(msg.m, msg.from);
      } catch (e) {
        this.#log.error({ err: toError(e), t: msg.m.t }, 'cluster message handler threw');
      }
    }
  }
}
