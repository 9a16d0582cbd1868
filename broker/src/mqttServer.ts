import type { IncomingMessage } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { AedesPersistence } from 'aedes-persistence';
import type mqemitter from 'mqemitter';
import type { Logger } from 'pino';
import type { LoginTicket } from '../../protocol/src/loginTicket.ts';
import { parseGatewayTopic, ticketTopic } from '../../protocol/src/topics.ts';
import { certAllows, clientCertOf } from './clientCert.ts';
import { dispatch, type DispatchTable } from './dispatch.ts';
import { HubError, HubErrorCode } from './errors.ts';
import type { EventBus } from './eventBus.ts';
import type { HubPublisher } from './features/presencePublisher.ts';
import { Listeners, type ListenersConfig } from './listeners.ts';
import { WarnThrottle } from '../../runtime/src/logThrottle.ts';
import { connectionsAllowed, DEFAULT_MQTT_LIMITS, guardStream, readOpenFileLimit, RetainedQuota, TokenBucket, type MqttLimits } from './limits.ts';
import type { HubCounters, HubHistograms } from './metrics.ts';
import { LoginBackoff, type LoginBackoffPolicy } from './loginBackoff.ts';
import { DEFAULT_TICKET_TTL_SEC, isTicket, LoginTickets, type TicketCheck } from './loginTickets.ts';
import { PasswordCheck } from './passwordCheck.ts';
import { authenticate, authorizePublish, authorizeSubscribe, type Identity } from './policy.ts';
import type { Registry } from './registry.ts';
import { DEFAULT_TAKEOVER_DAMPING, TakeoverDamper, type TakeoverDamping } from './takeoverDamper.ts';
import { redeliveryMarksDup } from './redelivery.ts';
import { indexRetained, memoryPersistence } from './retainedIndex.ts';
import { filterRefused } from './subscriptionFilters.ts';

/**
 * Held publishes of one client beyond which the hub stops reading it (TCP back-pressure). A
 * gateway's in-flight window (GW_MAX_INFLIGHT_BATCHES, 4 by default) stays well below it.
 */
const MAX_HELD_PER_CLIENT = 64;
/** The owner of the anonymous clients' shared retained quota (not a client id: those have no U+0000). */
const ANONYMOUS_RETAINED_OWNER = '\u0000anonymous';

export interface MqttServerDeps {
  host: string;
  /** 0 picks a free port; -1: no plain TCP listener. */
  port: number;
  /** The TLS and secure WebSocket listeners (listeners.ts); none when absent. */
  secure?: Omit<ListenersConfig, 'host' | 'tcpPort'> | undefined;
  allowAnonymous: boolean;
  registry: () => Registry;
  dispatch: DispatchTable;
  bus: EventBus;
  counters: HubCounters;
  histograms: HubHistograms;
  log: Logger;
  /** Aedes' persistence (retained messages, sessions, wills); memory when absent. */
  persistence?: AedesPersistence | undefined;
  /** Aedes' message emitter, shared between brokers of one cluster; in-process when absent. */
  mq?: mqemitter.MQEmitter | undefined;
  /** Packet size, CONNECT deadline, unauthenticated cap, publish rate (limits.ts); defaults when absent. */
  limits?: Partial<MqttLimits> | undefined;
  /** Back-off after failed logins (loginBackoff.ts defaults where absent). */
  loginBackoff?: Partial<LoginBackoffPolicy> | undefined;
  /** When repeated takeovers of one identity are damped (takeoverDamper.ts defaults where absent). */
  takeoverDamping?: Partial<TakeoverDamping> | undefined;
  /**
   * Aedes' heartbeat between brokers sharing an emitter (its default, 60 s, when absent): a
   * broker not heard from for three of them is dead, and the others publish its clients' wills.
   */
  heartbeatMs?: number | undefined;
  /** How long the login tickets the hub issues are good (loginTickets.ts; 24 h when absent); 0: no tickets issued nor accepted. */
  ticketTtlSec?: number | undefined;
  now?: () => number;
}

/** How a gateway's session logged in, and whether it is to be handed a (new) ticket. */
interface Login {
  method: 'password' | 'ticket';
  wantsTicket: boolean;
}

/**
 * Aedes on TCP. Its hooks are adapters: connection and ACL decisions come from policy.ts,
 * gateways' publishes go through the dispatch table, sessions are announced on the bus.
 */
export class MqttServer implements HubPublisher {
  readonly #d: MqttServerDeps;
  readonly #warn: WarnThrottle;
  readonly #identities = new WeakMap<Client, Identity>();
  readonly #connectRequests = new WeakMap<Client, { clientId: string; clean: boolean }>();
  /** Publishes acknowledged but refused: Aedes does not forward them. */
  readonly #refused = new WeakSet<object>();
  readonly #held = new WeakMap<Client, number>();
  readonly #limits: MqttLimits;
  /** Sockets accepted and not yet authenticated, and how each one leaves that count. */
  #pending = 0;
  readonly #leavePending = new WeakMap<Client, () => void>();
  readonly #buckets = new WeakMap<Client, TokenBucket>();
  /** Peer addresses, read at accept: a destroyed socket no longer has one. */
  readonly #remotes = new WeakMap<object, string>();
  readonly #retained: RetainedQuota;
  readonly #anonymousRetained: RetainedQuota;
  readonly #passwords = new PasswordCheck();
  readonly #backoff: LoginBackoff;
  readonly #damper: TakeoverDamper;
  /** Per gateway id, its last accepted connection (one entry per gateway at most). */
  readonly #accepted = new Map<string, Client>();
  readonly #logins = new WeakMap<Client, Login>();
  /** Per registry (tests give a hub a new one), the tickets under its secret. */
  readonly #tickets = new WeakMap<Registry, LoginTickets>();
  readonly #now: () => number;
  #broker: Aedes | undefined;
  /** What Aedes stores retained messages in (the hub lists the inventories an earlier run left). */
  #persistence: AedesPersistence | undefined;
  #listeners: Listeners | undefined;
  port = -1;
  tlsPort = -1;
  wssPort = -1;

  constructor(deps: MqttServerDeps) {
    this.#d = deps;
    this.#warn = new WarnThrottle(deps.log);
    this.#limits = { ...DEFAULT_MQTT_LIMITS, ...deps.limits };
    this.#retained = new RetainedQuota(this.#limits.maxRetainedPerClient, this.#limits.maxRetainedBytesPerClient);
    this.#anonymousRetained = new RetainedQuota(this.#limits.maxRetainedAnonymous, this.#limits.maxRetainedBytesAnonymous);
    this.#backoff = new LoginBackoff(deps.loginBackoff);
    this.#damper = new TakeoverDamper({ ...DEFAULT_TAKEOVER_DAMPING, ...deps.takeoverDamping });
    this.#now = deps.now ?? Date.now;
  }

  get connectedClients(): number {
    return this.#broker?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const { mq } = this.#d;
    // The memory persistence (this process's alone) gets its retained messages indexed by topic
    // level: a subscription no longer scans every retained topic (retainedIndex.ts).
    const persistence = redeliveryMarksDup(this.#d.persistence ?? indexRetained(memoryPersistence()));
    this.#persistence = persistence;
    const broker = await Aedes.createBroker({
      persistence,
      ...(mq ? { mq } : {}),
      connectTimeout: this.#limits.connectTimeoutMs,
      queueLimit: this.#limits.maxQueuedBeforeConnack,
      maxInflightInbound: this.#limits.maxInflightQos2,
      ...(this.#d.heartbeatMs === undefined ? {} : { heartbeatInterval: this.#d.heartbeatMs }),
      preConnect: (client, packet, done) => void (this.#connectRequests.set(client, { clientId: packet.clientId, clean: packet.clean !== false }), done(null, true)),
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.#authorizePublish(client, packet, done),
      authorizeForward: (_client, packet) => (this.#refused.has(packet) ? null : packet),
      authorizeSubscribe: (client, sub, done) => this.#authorizeSubscribe(client, sub, done),
    });
    this.#broker = broker;
    broker.on('clientDisconnect', (client) => {
      if (this.#accepted.get(client.id) === client) this.#accepted.delete(client.id);
      const id = this.#identities.get(client);
      if (id?.kind === 'gateway') this.#d.bus.emitGatewayDisconnected({ gateway: id, session: client });
    });
    broker.on('subscribe', (subscriptions, client) => {
      const id = client ? this.#identities.get(client) : undefined;
      if (id?.kind === 'gateway') this.#d.bus.emitGatewaySubscribed({ gateway: id, session: client, filters: subscriptions.map((s) => s.topic) });
      if (id?.kind === 'gateway' && client && subscriptions.some((s) => s.topic === ticketTopic(id))) this.#handTicket(client, id);
    });
    broker.on('clientError', (client, err) => {
      this.#d.log.debug({ clientId: client.id, err }, 'client error');
      this.#aedesLimit(client, err);
    });
    broker.on('connectionError', (client, err) => this.#aedesLimit(client, err));
    // Aedes' own failures (a dead node's wills not published, the persistence unreachable): logged, never a crash.
    (broker as unknown as NodeJS.EventEmitter).on('error', (err: Error) => this.#warn.warn('broker-error', { err }, 'broker error'));
    this.#checkOpenFiles();
    const secure = this.#d.secure ?? { tlsPort: -1, wssPort: -1, wssPath: '/mqtt', reloadCheckMs: 1000 };
    const listeners = new Listeners({ host: this.#d.host, tcpPort: this.#d.port, ...secure }, { counters: this.#d.counters, log: this.#d.log });
    this.#listeners = listeners;
    try {
      // Every listener's connections go through the same limits (the accept cap, the packet guard).
      await listeners.start((stream, req) => this.#accept(broker, stream, req));
      ({ tcpPort: this.port, tlsPort: this.tlsPort, wssPort: this.wssPort } = listeners);
    } catch (e) {
      // A start that fails leaves nothing behind (Aedes' timers included): the root does not
      // stop a feature whose start threw.
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    const serverClosed = this.#listeners?.stop() ?? Promise.resolve();
    const broker = this.#broker;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await serverClosed;
  }

  /** The topics holding a retained message that match `filter`, read from Aedes' persistence. */
  async *retainedTopics(filter: string): AsyncGenerator<string> {
    const persistence = this.#persistence;
    if (!this.#broker || !persistence) throw new HubError(HubErrorCode.NOT_STARTED, 'MQTT server not started');
    for await (const packet of persistence.createRetainedStream(filter) as AsyncIterable<{ topic: string; payload?: Buffer }>) {
      // An empty retained payload is a deletion; a persistence may still list it.
      if (packet.payload && packet.payload.length > 0) yield packet.topic;
    }
  }

  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }): Promise<void> {
    const broker = this.#broker;
    if (!broker) return Promise.reject(new HubError(HubErrorCode.NOT_STARTED, 'MQTT server not started'));
    return new Promise<void>((resolve, reject) =>
      broker.publish({ cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain, dup: false }, (err) => (err ? reject(err) : resolve())),
    );
  }

  #authenticate(client: Client, username: string | undefined, password: Buffer | undefined, done: (err: AuthenticateError | null, success: boolean | null) => void): void {
    const { counters, log } = this.#d;
    const req = this.#connectRequests.get(client) ?? { clientId: client.id, clean: true };
    const cert = clientCertOf(client.conn);
    if (!certAllows(cert, req.clientId, username)) {
      counters.inc('connections_refused', { code: HubErrorCode.CLIENT_CERT_MISMATCH });
      log.warn({ clientId: req.clientId, username, certNames: cert?.names, code: HubErrorCode.CLIENT_CERT_MISMATCH }, 'client certificate names another gateway');
      return done(Object.assign(new HubError(HubErrorCode.CLIENT_CERT_MISMATCH, 'client certificate names another gateway'), { returnCode: 5 }) as HubError & AuthenticateError, false);
    }
    // The peer's address as read at accept (a secure WebSocket stream has none of its own).
    const address = this.#remotes.get(client.conn)?.replace(/:\d+$/, '') ?? (client.conn as { remoteAddress?: string }).remoteAddress;
    const keys = { address, id: username || undefined };
    // A ticket costs no hash and cannot be guessed: it is not held back by the failures of
    // password guesses (which would otherwise let a guesser lock the real gateway out), and a
    // refused one is no guess either.
    const ticketLogin = this.#ticketsOn() && password !== undefined && isTicket(password.toString('utf8'));
    const waitMs = ticketLogin ? 0 : this.#backoff.waitMs(keys);
    if (waitMs > 0) {
      // Refused before any hash is checked: a guesser costs the hub no scrypt while it waits.
      counters.inc('connections_refused', { code: HubErrorCode.LOGIN_BACKOFF });
      this.#warn.warn(`backoff:${keys.address}`, { clientId: req.clientId, username, address: keys.address, waitMs }, 'login backing off after repeated failures');
      return done(Object.assign(new HubError(HubErrorCode.LOGIN_BACKOFF, 'too many failed logins'), { returnCode: 3 }) as HubError & AuthenticateError, false);
    }
    // Counted as a failure until it is known: CONNECTs sent all at once get no more checks than in turn.
    const release = ticketLogin ? () => {} : this.#backoff.begin(keys);
    let ticket: TicketCheck | undefined;
    authenticate(
      { clientId: req.clientId, cleanSession: req.clean, username, password },
      {
        lookupGateway: (id) => this.#passwords.seen(this.#d.registry().getGateway(id)),
        verifyPassword: async (pw, hash) => {
          const matched = await this.#passwords.verify(pw, hash);
          // Counted once it ran: a login refused by a full check queue cost no hash.
          counters.inc('password_checks');
          return matched;
        },
        dummyHash: this.#passwords.dummyHash,
        allowAnonymous: this.#d.allowAnonymous,
        checkTicket: this.#ticketsOn() ? (t, user) => (ticket = this.#loginTickets().check(t, user, (id) => this.#d.registry().getGateway(id))) : undefined,
      },
    ).then((d) => {
      release();
      if (ticket && !ticket.ok) counters.inc('tickets_refused', { reason: ticket.reason });
      if (d.ok && d.value.kind === 'gateway' && this.#refusedTakeover(req.clientId, d.value)) {
        return done(Object.assign(new HubError(HubErrorCode.SESSION_CONFLICT, 'another connection of this gateway is live'), { returnCode: 2 }) as HubError & AuthenticateError, false);
      }
      if (d.ok) {
        this.#leavePending.get(client)?.();
        this.#identities.set(client, d.value);
        if (d.value.kind === 'gateway') {
          this.#accepted.set(req.clientId, client);
          const method = ticket?.ok ? 'ticket' : 'password';
          this.#logins.set(client, { method, wantsTicket: this.#ticketsOn() && (method === 'password' || (ticket?.ok === true && ticket.renew)) });
          counters.inc('gateway_logins', { method });
        }
        if (d.value.kind === 'gateway') this.#d.bus.emitGatewayConnected({ gateway: d.value, session: client });
        counters.inc('connections_accepted', { kind: d.value.kind });
        this.#backoff.succeeded(keys);
        return done(null, true);
      }
      counters.inc('connections_refused', { code: d.code });
      if (d.code === HubErrorCode.AUTH_DENIED) this.#backoff.failed(keys);
      log.warn({ clientId: req.clientId, username, code: d.code }, d.reason);
      const err = new HubError(d.code, d.reason) as HubError & AuthenticateError;
      err.returnCode = d.returnCode ?? 5;
      done(err, false);
    }, (e: unknown) => {
      release();
      const err = new HubError(HubErrorCode.AUTH_UNAVAILABLE, 'server unavailable: the login could not be checked', { cause: e });
      counters.inc('connections_refused', { code: HubErrorCode.AUTH_UNAVAILABLE });
      // A full check queue is load, not a fault: one line per interval, however many logins it refuses.
      if (e instanceof HubError && e.code === HubErrorCode.AUTH_UNAVAILABLE) this.#warn.warn('login-queue', { clientId: req.clientId, code: e.code }, 'login refused (CONNACK 3): too many logins being checked');
      else log.error({ err }, 'authentication failed');
      done(Object.assign(err, { returnCode: 3 }) as HubError & AuthenticateError, false);
    });
  }

  #ticketsOn(): boolean {
    return this.#ticketTtlSec() > 0;
  }

  #ticketTtlSec(): number {
    return this.#d.ticketTtlSec ?? DEFAULT_TICKET_TTL_SEC;
  }

  #loginTickets(): LoginTickets {
    const reg = this.#d.registry();
    let t = this.#tickets.get(reg);
    if (!t) {
      const secret = reg.hubSecret('login_ticket_key');
      if (!secret) throw new HubError(HubErrorCode.REGISTRY_INVALID, 'the registry holds no login_ticket_key (migration 7)');
      this.#tickets.set(reg, (t = new LoginTickets(secret, { ttlSec: this.#ticketTtlSec(), now: this.#now })));
    }
    return t;
  }

  /**
   * Once a gateway that logged in with its password (or with a ticket near its expiry) subscribes
   * to its ticket topic: a new ticket for it, as the registry holds it now, QoS 1, not retained.
   * At most one per session. The ticket never goes in a log line.
   */
  #handTicket(client: Client, gateway: Identity & { kind: 'gateway' }): void {
    const login = this.#logins.get(client);
    if (!login?.wantsTicket || client.closed) return;
    login.wantsTicket = false;
    const gw = this.#d.registry().getGateway(gateway.gateway);
    if (!gw || gw.revoked) return;
    const { ticket, expiresAt } = this.#loginTickets().issue(gw);
    const body: LoginTicket = { v: 1, ticket, expiresAt };
    this.publish(ticketTopic(gateway), Buffer.from(JSON.stringify(body)), { qos: 1, retain: false }).then(
      () => this.#d.counters.inc('tickets_issued', { on: login.method }),
      (err: unknown) => {
        this.#d.counters.inc('ticket_issue_failures');
        this.#d.log.warn({ gateway: gateway.gateway, err: { message: err instanceof Error ? err.message : String(err) } }, 'login ticket not handed to the gateway');
      },
    );
  }

  /**
   * A gateway login while another connection of it is live: a takeover, or refused when the
   * identity flaps between two devices (takeoverDamper.ts). Either way announced on the bus,
   * which writes it for the shared-credentials alert.
   */
  #refusedTakeover(clientId: string, gateway: Identity & { kind: 'gateway' }): boolean {
    // The connection this login would take over: the last one accepted, as recorded in the turn
    // that accepted it (Aedes registers a client only some turns later, so its own map would
    // miss a login accepted and not yet registered).
    const live = this.#accepted.get(clientId);
    if (!live || live.closed) return false;
    // A session whose publishes the hub is holding (InfluxDB slow or down) may be one its device
    // gave up on: its new connection is the same device coming back, not a second one.
    if ((this.#held.get(live) ?? 0) > 0) return false;
    const { counters, log } = this.#d;
    const v = this.#damper.login(gateway.gateway, this.#now());
    this.#d.bus.emitSessionConflict({ gateway, outcome: v.outcome, damped: v.damped });
    if (v.outcome === 'takeover') {
      if (v.startsHold) {
        counters.inc('sessions_damped', { gateway: gateway.gateway });
        log.warn({ gateway: gateway.gateway, code: HubErrorCode.SESSION_CONFLICT }, 'repeated takeovers: two devices share this gateway\'s credentials; further logins are refused while a session is live');
      }
      return false;
    }
    counters.inc('connections_refused', { code: HubErrorCode.SESSION_CONFLICT });
    this.#warn.warn(`conflict:${gateway.gateway}`, { gateway: gateway.gateway, code: HubErrorCode.SESSION_CONFLICT }, 'login refused: another device is using this gateway\'s credentials');
    return true;
  }

  /**
   * The ACL, then the channel's handler. The PUBACK goes out when `done` is called, so a
   * publish whose handler waits for InfluxDB is held unacknowledged as long as the write takes
   * (InfluxDB down: until it is back), and the session stays up.
   */
  #authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    if (!client) return this.#orphanWill(packet, done);
    const identity = this.#identities.get(client);
    if (!identity) return done(new HubError(HubErrorCode.PUBLISH_DENIED, 'not authenticated'));
    const d = authorizePublish(identity, packet.topic);
    if (!d.ok) {
      this.#d.counters.inc('publishes_denied', { code: d.code });
      this.#warn.warn(`deny:${client.id}`, { clientId: client.id, topic: packet.topic }, d.reason);
      return done(new HubError(d.code, d.reason));
    }
    const wait = this.#throttle(client);
    if (wait > 0) return void setTimeout(() => this.#handlePublish(client, identity, packet, done), wait);
    this.#handlePublish(client, identity, packet, done);
  }

  /**
   * A publish without a client is Aedes' own: in a cluster, the Last Will of a client of a node
   * found dead, published by a survivor (aedes.js, _clearWills). A gateway's death is handled as
   * that gateway's state (recorded once, at the node that publishes it; a stale one ignored), if
   * the registry still has the gateway at that address; any other will is published as an
   * anonymous client's would be; what is not allowed is acknowledged, not forwarded or retained.
   */
  #orphanWill(packet: PublishPacket, done: (err?: Error | null) => void): void {
    const refuse = (): void => {
      this.#refused.add(packet);
      packet.retain = false;
      done(null);
    };
    const topic = parseGatewayTopic(packet.topic);
    if (!topic) return authorizePublish({ kind: 'anonymous' }, packet.topic).ok ? done(null) : refuse();
    const row = this.#d.registry().getGateway(topic.gateway);
    if (topic.channel !== 'state' || !row || row.school !== topic.school || row.district !== topic.district) return refuse();
    const identity = { kind: 'gateway' as const, district: topic.district, school: topic.school, gateway: topic.gateway };
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    void dispatch(this.#d.dispatch, { identity, topic, payload }).then((o) => (o.ok && o.verdict === 'accept' ? done(null) : refuse()));
  }

  #handlePublish(client: Client, identity: Identity, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const topic = identity.kind === 'gateway' ? parseGatewayTopic(packet.topic) : null;
    if (identity.kind !== 'gateway' || !topic) {
      this.#admitRetained(client, packet);
      return done(null);
    }
    const arrived = performance.now();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    if (this.#oversize(client, topic.channel, payload.length)) {
      this.#refused.add(packet);
      packet.retain = false;
      return done(null);
    }
    const settle = this.#hold(client);
    void dispatch(this.#d.dispatch, { identity, topic, payload }).then((o) => {
      settle();
      if (!o.ok) return done(o.error);
      if (o.verdict !== 'accept') this.#refused.add(packet);
      // Aedes stores a retained publish whatever authorizeForward says, and serves it to later
      // subscribers as another object: a refused one must not be retained at all.
      if (o.verdict !== 'accept') packet.retain = false;
      else this.#admitRetained(client, packet);
      if (topic.channel === 'telemetry' && packet.qos > 0) this.#d.histograms.pubackLatency.observe((performance.now() - arrived) / 1000);
      done(null);
    });
  }

  /**
   * Keeps reading a client while one of its publishes is held. Aedes reads a client's next
   * packets only once every packet of the last socket read is done, so two publishes held from
   * one read would also hold its PINGREQs, and the session would die of its keepalive. Resuming
   * the client (Aedes' Client.resume, which reads on) once per held publish lets its other
   * packets flow; past MAX_HELD_PER_CLIENT the hub stops reading it until some are done.
   */
  #hold(client: Client): () => void {
    let settled = false;
    const held = (this.#held.get(client) ?? 0) + 1;
    this.#held.set(client, held);
    // Not from inside Aedes' parse loop, which this hook runs in.
    setImmediate(() => {
      if (!settled && !client.closed && held <= MAX_HELD_PER_CLIENT) (client as Client & { resume(): void }).resume();
    });
    return () => {
      settled = true;
      this.#held.set(client, (this.#held.get(client) ?? 1) - 1);
    };
  }

  /** A state, health or command-result payload over its channel's limit (telemetry's is ingest's): counted and logged. */
  #oversize(client: Client, channel: string, bytes: number): boolean {
    const l = this.#limits;
    const max = channel === 'state' ? l.maxStateBytes : channel === 'health' ? l.maxHealthBytes : channel === 'cmdres' ? l.maxCmdresBytes : Infinity;
    if (bytes <= max) return false;
    this.#d.counters.inc('messages_rejected', { reason: 'oversize_payload' });
    this.#warn.warn(`oversize:${client.id}`, { clientId: client.id, channel, bytes, max, reason: 'oversize_payload' }, `${channel} payload over its limit: refused`);
    return true;
  }

  /** Applies the retained quota to a publish about to be stored: over it, the message goes out live only. */
  #admitRetained(client: Client, packet: PublishPacket): void {
    if (!packet.retain) return;
    const bytes = typeof packet.payload === 'string' ? Buffer.byteLength(packet.payload) : packet.payload.length;
    // Anonymous clients are held to their client id's quota and to one shared by all of them.
    const pooled = this.#identities.get(client)?.kind === 'anonymous';
    const pool = this.#anonymousRetained;
    const quota = !this.#retained.fits(client.id, packet.topic, bytes) ? 'client' : pooled && !pool.fits(ANONYMOUS_RETAINED_OWNER, packet.topic, bytes) ? 'anonymous_pool' : undefined;
    if (quota === undefined) {
      this.#retained.commit(client.id, packet.topic, bytes);
      // Every store passes through the pool too, so a topic a gateway takes over leaves it.
      pool.commit(ANONYMOUS_RETAINED_OWNER, packet.topic, pooled ? bytes : 0);
      return;
    }
    packet.retain = false;
    this.#d.counters.inc('retained_refused', { quota });
    this.#warn.warn(`retained:${client.id}`, { clientId: client.id, topic: packet.topic, bytes, reason: 'retained_quota', quota }, 'retained-message quota reached: delivered, not retained');
  }

  /**
   * The per-client publish rate: a publish past the bucket is delayed, not dropped. Its PUBACK
   * waits with it, and Aedes reads no further packet of a client while one of its last read is
   * undone, so a flooding client is slowed by TCP back-pressure and nobody else is.
   */
  #throttle(client: Client): number {
    const now = performance.now();
    let bucket = this.#buckets.get(client);
    if (!bucket) this.#buckets.set(client, (bucket = new TokenBucket(this.#limits.publishRate, this.#limits.publishBurst, now)));
    const wait = bucket.take(now);
    if (wait > 0) {
      this.#d.counters.inc('publishes_throttled');
      this.#warn.warn(`throttle:${client.id}`, { clientId: client.id, reason: 'publish_rate', rate: this.#limits.publishRate, waitMs: Math.round(wait) }, 'publish rate limit: slowing the client');
    }
    return wait;
  }

  /**
   * A new socket: refused when too many are still unauthenticated (each holds a file and memory
   * and gives nothing), otherwise counted until it authenticates or closes, and read through the
   * packet guard.
   */
  /** A connection of any listener (TCP, TLS, secure WebSocket: then the address is its request's socket's). */
  #accept(broker: Aedes, stream: Duplex, req?: IncomingMessage): void {
    const sock = stream as Socket;
    const lim = this.#limits;
    const from = req?.socket ?? sock;
    this.#remotes.set(sock, `${from.remoteAddress}:${from.remotePort}`);
    if (this.#pending >= lim.maxPendingConnections) return this.#cut(sock, null, 'pending_cap', { pending: this.#pending });
    this.#pending++;
    let counted = true;
    const leave = (): void => {
      if (counted) this.#pending--;
      counted = false;
    };
    sock.once('close', leave);
    let client: Client | undefined;
    guardStream(sock, lim.maxPacketBytes, (v) => this.#cut(sock, client ?? null, v.reason, v));
    client = broker.handle(sock, req as never);
    this.#leavePending.set(client, leave);
  }

  /** The limits Aedes enforces itself (it closes the connection): counted and logged, recognised by their messages. */
  #aedesLimit(client: Client, err: Error): void {
    const m = err.message;
    const reason = m === 'connect did not arrive in time' ? 'connect_timeout' : m === 'Client queue limit reached' ? 'queue_limit' : m.startsWith('maxInflightInbound exceeded') ? 'inflight_limit' : null;
    if (reason) this.#cut(client.conn as Socket, client, reason, {});
  }

  /** Closes a connection over a limit: counted, and logged with who and why. */
  #cut(sock: Socket | undefined, client: Client | null, reason: string, detail: object): void {
    this.#d.counters.inc('connections_cut', { reason });
    const remote = sock ? (this.#remotes.get(sock) ?? `${sock.remoteAddress}:${sock.remotePort}`) : undefined;
    this.#warn.warn(`cut:${reason}:${remote?.replace(/:\d+$/, '')}`, { clientId: client?.id ?? undefined, remote, reason, ...detail }, `connection closed: ${reason}`);
    sock?.destroy();
  }

  /** Node cannot raise the open-file limit: the hub says at start what it allows. */
  #checkOpenFiles(): void {
    const limit = readOpenFileLimit();
    if (!limit) return void this.#d.log.info('open-file limit unknown (no /proc/self/limits)');
    const allowed = connectionsAllowed(limit);
    const detail = { softLimit: limit.soft, hardLimit: limit.hard, connectionsAllowed: allowed, maxPendingConnections: this.#limits.maxPendingConnections };
    if (allowed < this.#limits.maxPendingConnections * 4) this.#d.log.warn(detail, 'open-file limit is low for the MQTT listener: raise `ulimit -n` (LimitNOFILE)');
    else this.#d.log.info(detail, 'open-file limit');
  }

  #authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub: Subscription | null) => void): void {
    const identity = this.#identities.get(client);
    const refusedBy = filterRefused(this.#limits.refusedSubscriptions, sub.topic);
    const d = refusedBy !== undefined
      ? { ok: false as const, reason: `subscription filter refused by configuration (${refusedBy})` }
      : identity ? authorizeSubscribe(identity, sub.topic) : { ok: false as const, reason: 'not authenticated' };
    if (d.ok) return done(null, sub);
    this.#d.counters.inc('subscriptions_denied', { reason: refusedBy !== undefined ? 'refused_filter' : 'acl' });
    this.#d.log.warn({ clientId: client.id, filter: sub.topic }, d.reason);
    // [MQTT-3.9.3]: a refused subscription is answered with return code 0x80.
    done(null, null);
  }
}
