import { createServer, type Server } from 'node:net';
import { listen } from '../../runtime/src/ports.ts';
import { Aedes, type AuthenticateError, type Client, type PublishPacket, type Subscription } from 'aedes';
import type { AedesPersistence } from 'aedes-persistence';
import type mqemitter from 'mqemitter';
import type { Logger } from 'pino';
import { parseGatewayTopic } from '../../protocol/src/topics.ts';
import { dispatch, type DispatchTable } from './dispatch.ts';
import { HubError, HubErrorCode, listenError } from './errors.ts';
import type { EventBus } from './eventBus.ts';
import type { HubPublisher } from './features/presencePublisher.ts';
import { WarnThrottle } from './logThrottle.ts';
import type { HubCounters, HubHistograms } from './metrics.ts';
import { LoginBackoff, type LoginBackoffPolicy } from './loginBackoff.ts';
import { PasswordCheck } from './passwordCheck.ts';
import { authenticate, authorizePublish, authorizeSubscribe, type Identity } from './policy.ts';
import type { Registry } from './registry.ts';

/**
 * Held publishes of one client beyond which the hub stops reading it (TCP back-pressure). A
 * gateway's in-flight window (GW_MAX_INFLIGHT_BATCHES, 4 by default) stays well below it.
 */
const MAX_HELD_PER_CLIENT = 64;

export interface MqttServerDeps {
  host: string;
  /** 0 picks a free port. */
  port: number;
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
  /** Back-off after failed logins (loginBackoff.ts defaults where absent). */
  loginBackoff?: Partial<LoginBackoffPolicy> | undefined;
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
  readonly #passwords = new PasswordCheck();
  readonly #backoff: LoginBackoff;
  #broker: Aedes | undefined;
  #server: Server | undefined;
  port = -1;

  constructor(deps: MqttServerDeps) {
    this.#d = deps;
    this.#warn = new WarnThrottle(deps.log);
    this.#backoff = new LoginBackoff(deps.loginBackoff);
  }

  get connectedClients(): number {
    return this.#broker?.connectedClients ?? 0;
  }

  async start(): Promise<void> {
    const { persistence, mq } = this.#d;
    const broker = await Aedes.createBroker({
      ...(persistence ? { persistence } : {}),
      ...(mq ? { mq } : {}),
      preConnect: (client, packet, done) => void (this.#connectRequests.set(client, { clientId: packet.clientId, clean: packet.clean !== false }), done(null, true)),
      authenticate: (client, username, password, done) => this.#authenticate(client, username, password, done),
      authorizePublish: (client, packet, done) => this.#authorizePublish(client, packet, done),
      authorizeForward: (_client, packet) => (this.#refused.has(packet) ? null : packet),
      authorizeSubscribe: (client, sub, done) => this.#authorizeSubscribe(client, sub, done),
    });
    this.#broker = broker;
    broker.on('clientDisconnect', (client) => {
      const id = this.#identities.get(client);
      if (id?.kind === 'gateway') this.#d.bus.emitGatewayDisconnected({ gateway: id, session: client });
    });
    broker.on('subscribe', (subscriptions, client) => {
      const id = client ? this.#identities.get(client) : undefined;
      if (id?.kind === 'gateway') this.#d.bus.emitGatewaySubscribed({ gateway: id, session: client, filters: subscriptions.map((s) => s.topic) });
    });
    broker.on('clientError', (client, err) => this.#d.log.debug({ clientId: client.id, err }, 'client error'));
    const server = createServer(broker.handle);
    this.#server = server;
    try {
      this.port = await listen(server, this.#d.port, this.#d.host, (cause) => listenError('MQTT', this.#d.host, this.#d.port, cause));
    } catch (e) {
      // A start that fails leaves nothing behind (Aedes' timers included): the root does not
      // stop a feature whose start threw.
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    const server = this.#server;
    const serverClosed = server ? new Promise<void>((resolve) => server.close(() => resolve())) : Promise.resolve();
    const broker = this.#broker;
    if (broker) await new Promise<void>((resolve) => broker.close(() => resolve()));
    await serverClosed;
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
    const keys = { address: (client.conn as { remoteAddress?: string }).remoteAddress, id: username || undefined };
    const waitMs = this.#backoff.waitMs(keys);
    if (waitMs > 0) {
      // Refused before any hash is checked: a guesser costs the hub no scrypt while it waits.
      counters.inc('connections_refused', { code: HubErrorCode.LOGIN_BACKOFF });
      this.#warn.warn(`backoff:${keys.address}`, { clientId: req.clientId, username, address: keys.address, waitMs }, 'login backing off after repeated failures');
      return done(Object.assign(new HubError(HubErrorCode.LOGIN_BACKOFF, 'too many failed logins'), { returnCode: 3 }) as HubError & AuthenticateError, false);
    }
    authenticate(
      { clientId: req.clientId, cleanSession: req.clean, username, password },
      {
        lookupGateway: (id) => this.#passwords.seen(this.#d.registry().getGateway(id)),
        verifyPassword: this.#passwords.verify,
        dummyHash: this.#passwords.dummyHash,
        allowAnonymous: this.#d.allowAnonymous,
      },
    ).then((d) => {
      if (d.ok) {
        this.#identities.set(client, d.value);
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
      const err = new HubError(HubErrorCode.AUTH_UNAVAILABLE, 'server unavailable: the login could not be checked', { cause: e });
      log.error({ err }, 'authentication failed');
      done(Object.assign(err, { returnCode: 3 }) as HubError & AuthenticateError, false);
    });
  }

  /**
   * The ACL, then the channel's handler. The PUBACK goes out when `done` is called, so a
   * publish whose handler waits for InfluxDB is held unacknowledged as long as the write takes
   * (InfluxDB down: until it is back), and the session stays up.
   */
  #authorizePublish(client: Client | null, packet: PublishPacket, done: (err?: Error | null) => void): void {
    const identity = client ? this.#identities.get(client) : undefined;
    if (!client || !identity) return done(new HubError(HubErrorCode.PUBLISH_DENIED, 'not authenticated'));
    const d = authorizePublish(identity, packet.topic);
    if (!d.ok) {
      this.#d.counters.inc('publishes_denied', { code: d.code });
      this.#warn.warn(`deny:${client.id}`, { clientId: client.id, topic: packet.topic }, d.reason);
      return done(new HubError(d.code, d.reason));
    }
    const topic = identity.kind === 'gateway' ? parseGatewayTopic(packet.topic) : null;
    if (identity.kind !== 'gateway' || !topic) return done(null);
    const arrived = performance.now();
    const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
    const settle = this.#hold(client);
    void dispatch(this.#d.dispatch, { identity, topic, payload }).then((o) => {
      settle();
      if (!o.ok) return done(o.error);
      if (o.verdict !== 'accept') this.#refused.add(packet);
      if (o.verdict === 'refuse_unretained') packet.retain = false;
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

  #authorizeSubscribe(client: Client, sub: Subscription, done: (err: Error | null, sub: Subscription | null) => void): void {
    const identity = this.#identities.get(client);
    const d = identity ? authorizeSubscribe(identity, sub.topic) : { ok: false as const, reason: 'not authenticated' };
    if (d.ok) return done(null, sub);
    this.#d.counters.inc('subscriptions_denied');
    this.#d.log.warn({ clientId: client.id, filter: sub.topic }, d.reason);
    // [MQTT-3.9.3]: a refused subscription is answered with return code 0x80.
    done(null, null);
  }
}
