import { dirname, join } from 'node:path';
import type { AedesPersistence } from 'aedes-persistence';
import type mqemitter from 'mqemitter';
import type { Logger } from 'pino';
import { ALL_PRESENCE_FILTER } from '../../protocol/src/topics.ts';
import { Lifecycle } from '../../runtime/src/lifecycle.ts';
import type { Actor } from './actor.ts';
import type { DispatchTable } from './dispatch.ts';
import { toError } from '../../runtime/src/errors.ts';
import { AEDES_HEARTBEAT_MS, Cluster, type ClusterConfig } from './cluster.ts';
import { hubLifecycleFault } from './errors.ts';
import { EventBus } from './eventBus.ts';
import { Commands, type CommandRequestInput, type SendOptions } from './features/commands.ts';
import { Credentials } from './features/credentials.ts';
import type { Feature } from './features/feature.ts';
import { GatewaySessions } from './features/gatewaySessions.ts';
import { HealthReports } from './features/healthReports.ts';
import { InventoryPublisher } from './features/inventoryPublisher.ts';
import { MinuteReports } from './features/minuteReports.ts';
import { PresenceEvents, PresencePublisher } from './features/presencePublisher.ts';
import { PresenceTracker } from './features/presenceTracker.ts';
import { RegistryWatch } from './features/registryWatch.ts';
import { StorageSetup } from './features/storageSetup.ts';
import { TelemetryIngest } from './features/telemetryIngest.ts';
import { HttpEndpoint, type HttpsConfig } from './http.ts';
import { InfluxAdmin } from './influx/admin.ts';
import { InfluxWriter, type InfluxWriterConfig } from './influx/writer.ts';
import type { IngestLimits } from './ingest.ts';
import type { MqttLimits } from './limits.ts';
import { createHubCounters, createHubHistograms, type HubCounters } from './metrics.ts';
import type { LoginBackoffPolicy } from './loginBackoff.ts';
import type { SessionPolicy } from './auth/sessions.ts';
import { MqttServer, type MqttServerDeps } from './mqttServer.ts';
import type { Presence } from './presence.ts';
import { Registry, type CommandRecord } from './registry.ts';
import { createApiRouter, type ApiRouter } from './api/app.ts';
import type { ApiDeps } from './api/deps.ts';
import { fleetRoutes } from './api/routes/fleet.ts';
import { orgRoutes } from './api/routes/org.ts';
import { bootstrapAdmin } from './auth/bootstrap.ts';
import type { TakeoverDamping } from './takeoverDamper.ts';

export interface HubConfig {
  mqttHost: string;
  /** 0 picks a free port; -1 turns plain TCP off. */
  mqttPort: number;
  /** MQTT over TLS and secure WebSocket (listeners.ts); off when absent. */
  mqttSecure?: MqttServerDeps['secure'];
  httpHost: string;
  /** 0 picks a free port; -1 disables the HTTP endpoint. */
  httpPort: number;
  /** The same app (API, console, health, metrics) over HTTPS with the hub's certificate; off when absent. */
  https?: HttpsConfig | undefined;
  registryPath: string;
  allowAnonymous: boolean;
  influx: InfluxWriterConfig;
  limits: IngestLimits;
  /** The MQTT listener's limits (limits.ts); each absent one takes its default. */
  mqttLimits?: Partial<MqttLimits> | undefined;
  /** When repeated takeovers of one gateway are damped (takeoverDamper.ts defaults where absent). */
  takeoverDamping?: Partial<TakeoverDamping> | undefined;
  /** Write `inventory` and `gateway_up` every minute; false: only when recordMinute is called. */
  minuteReports: boolean;
  /** The MQTT URL gateways are given (their env block); default mqtt://<mqttHost>:<mqttPort>. */
  publicMqttUrl?: string | undefined;
  /**
   * Where the first start writes the city admin's token (mode 600); default `admin-token` beside
   * the registry file; none for an in-memory registry unless given.
   */
  bootstrapTokenFile?: string | undefined;
  /** Back-off after failed MQTT logins; the defaults of broker/src/loginBackoff.ts where absent. */
  loginBackoff?: Partial<LoginBackoffPolicy> | undefined;
  /** How long gateways' login tickets are good (loginTickets.ts; 24 h when absent); 0: tickets off. */
  loginTicketTtlSec?: number | undefined;
  /** Console sessions' lifetime and idle limit; the defaults of broker/src/auth/sessions.ts where absent. Sign-in backs off by `loginBackoff`. */
  consoleSessions?: Partial<SessionPolicy> | undefined;
  /**
   * One node of a cluster on Redis (broker/README.md#clustering): Aedes' emitter and persistence
   * in Redis (unless `deps` gives them), sessions, command results, presence and the minute lock
   * shared. Absent: a hub on its own.
   */
  cluster?: ClusterConfig | undefined;
}

export interface HubDeps {
  log: Logger;
  /** An open registry to use instead of opening registryPath (tests, embedding). */
  registry?: Registry;
  now?: () => number;
  /** Aedes' persistence (memory by default): a shared one makes the hub one node of a cluster. */
  persistence?: AedesPersistence;
  /** Aedes' emitter (in-process by default), shared by the brokers of a cluster. */
  mq?: mqemitter.MQEmitter;
}

/** The library API; what each member does is in broker/README.md. */
export interface Hub {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly mqttPort: number;
  /** The TLS and secure WebSocket ports; -1 when off. */
  readonly mqttTlsPort: number;
  readonly mqttWssPort: number;
  readonly httpPort: number;
  /** -1 when HTTPS is off. */
  readonly httpsPort: number;
  readonly counters: HubCounters;
  readonly presence: Presence;
  readonly events: PresenceEvents;
  readonly bus: EventBus;
  readonly registry: Registry;
  readonly writer: InfluxWriter;
  /** Database management and the InfluxQL the API and reports run (the `influx` client). */
  readonly admin: InfluxAdmin;
  recordMinute(atMs?: number): Promise<number>;
  sendCommand(c: CommandRequestInput, actor: Actor, opts?: SendOptions): Promise<CommandRecord>;
  isCommandReady(gateway: string): boolean;
  revokeGateway(id: string, actor: Actor): boolean;
  reinstateGateway(id: string, actor: Actor): boolean;
  rotateGatewayPassword(id: string, password: string, actor: Actor): Promise<boolean>;
}

/** The composition root: builds the hub's features, wires them, starts them in order and stops them in reverse. */
export function createHub(config: HubConfig, deps: HubDeps): Hub {
  // In a cluster every line names its node.
  const root = config.cluster ? deps.log.child({ node: config.cluster.nodeId }) : deps.log;
  const log = root.child({ module: 'hub' });
  const now = deps.now ?? Date.now;
  const life = new Lifecycle('hub', hubLifecycleFault);
  const counters = createHubCounters();
  // …and every metric.
  if (config.cluster) counters.registry.setDefaultLabels({ node: config.cluster.nodeId });
  const histograms = createHubHistograms(counters.registry);
  const bus = new EventBus((event, err) => {
    counters.inc('bus_listener_errors', { event });
    log.error({ err: toError(err), event }, 'an event-bus listener threw');
  });
  const child = (module: string): Logger => root.child({ module });
  const cluster = config.cluster ? new Cluster(config.cluster, child('cluster')) : undefined;
  const tracker = new PresenceTracker({ bus, cluster });
  const presence = tracker.presence;
  let registry = deps.registry;
  const reg = (): Registry => registry ?? (life.assertRunning('registry', true) as never);
  // A feature's logger names its own module (a child of `log` would name two): `child` above.
  const writer = new InfluxWriter(config.influx, child('influx'), { observeWrite: (s) => histograms.influxWrite.observe(s) });

  const i = config.influx;
  const admin = new InfluxAdmin({ url: i.url, database: i.database, username: i.username, password: i.password, requestTimeoutMs: i.requestTimeoutMs }, child('influx-admin'));
  const storage = new StorageSetup({ writer, schema: admin, log: child('storage') });
  const sessions = new GatewaySessions({ writer, isStaleDeath: (e) => tracker.isStaleDeath(e), bus, counters, log: child('sessions'), now, cluster });
  const ingest = new TelemetryIngest({ limits: config.limits, registry: reg, writer, bus, counters, log: child('ingest'), now });
  const health = new HealthReports({ writer, counters, now, cluster });
  let mqtt: MqttServer;
  const commands = new Commands({ registry: reg, writer, publisher: { publish: (...a) => mqtt.publish(...a) }, isCommandReady: (g) => sessions.isCommandReady(g), bus, counters, log: child('commands'), now, cluster });
  const table: DispatchTable = { telemetry: ingest.handle, state: sessions.handleState, health: health.handle, cmdres: commands.handleResult };
  mqtt = new MqttServer({ host: config.mqttHost, port: config.mqttPort, secure: config.mqttSecure, allowAnonymous: config.allowAnonymous, registry: reg, dispatch: table, bus, counters, histograms, log, persistence: deps.persistence ?? cluster?.persistence, mq: deps.mq ?? cluster?.mq, heartbeatMs: cluster && AEDES_HEARTBEAT_MS, limits: config.mqttLimits, loginBackoff: config.loginBackoff, takeoverDamping: config.takeoverDamping, ticketTtlSec: config.loginTicketTtlSec, now });
  const publisher = new PresencePublisher({ bus, presence, publisher: mqtt, counters, log: child('presence') });
  // A credential changed here drops its session on every node (the others' RegistryWatch would too, within a poll).
  const credentials = new Credentials({ registry: reg, closeSession: (g, why) => sessions.closeEverywhere(g, why), now });
  const registryWatch = new RegistryWatch({ registry: reg, bus, closeSession: (g, why) => sessions.close(g, why), counters, log: child('registry-watch') });
  const inventories = new InventoryPublisher({ registry: reg, bus, publisher: mqtt, counters, log: child('inventory'), retainedTopics: (f) => mqtt.retainedTopics(f) });
  const minutes = new MinuteReports({ timer: config.minuteReports, registry: reg, writer, isLive: (g) => sessions.isLive(g), claim: cluster && ((ts) => cluster.claimMinute(ts)), counters, log: child('minute'), now });
  const apiDeps: ApiDeps = {
    registry: reg,
    counters,
    log: child('api'),
    now,
    consoleSessions: config.consoleSessions,
    signInBackoff: config.loginBackoff,
    presence,
    bus,
    credentials,
    commands,
    sessions,
    health,
    admin,
    publicMqttUrl: () => config.publicMqttUrl ?? (mqtt.port < 0 && mqtt.tlsPort >= 0 ? `mqtts://${config.mqttHost}:${mqtt.tlsPort}` : `mqtt://${config.mqttHost}:${mqtt.port}`),
  };
  let api: ApiRouter | undefined;
  const http = new HttpEndpoint(
    { host: config.httpHost, port: config.httpPort, https: config.https },
    { counters, presence, log: child('http'), writer, connectedClients: () => mqtt.connectedClients, storageDegraded: () => storage.degradedReason, api: () => (api ??= createApiRouter(apiDeps, [orgRoutes, fleetRoutes])) },
  );
  const registryResource: Feature = {
    start: () => {
      const opened = registry === undefined;
      registry ??= new Registry(config.registryPath);
      const file = config.bootstrapTokenFile ?? (config.registryPath === ':memory:' ? undefined : join(dirname(config.registryPath), 'admin-token'));
      try {
        if (file !== undefined) bootstrapAdmin(registry, file, child('bootstrap'), now);
      } catch (e) {
        // Not started, so not stopped: the registry this start opened is closed here.
        if (opened) {
          registry.close();
          registry = undefined;
        }
        throw e;
      }
    },
    stop: () => (deps.registry ? undefined : registry?.close()),
  };
  const writerResource: Feature = { start: () => {}, stop: () => writer.stop() };
  const clusterResource: Feature = { start: async () => cluster?.start(), stop: async () => cluster?.stop() };
  // A node joining a cluster starts from the presence the others published (retained).
  const presenceSnapshot: Feature = {
    start: async () => {
      if (!cluster) return;
      for await (const p of cluster.persistence.createRetainedStream(ALL_PRESENCE_FILTER) as AsyncIterable<{ payload?: Buffer }>) {
        if (!p.payload || p.payload.length === 0) continue;
        try {
          tracker.loadDocument(JSON.parse(p.payload.toString('utf8')));
        } catch {
          log.warn('a retained presence document is not JSON: ignored');
        }
      }
    },
    stop: () => {},
  };
  // Stopped in reverse: timers and listeners first, then the broker (no more publishes), then
  // the writer (flushes what is queued), then the registry.
  const features: Feature[] = [registryResource, writerResource, clusterResource, storage, tracker, presenceSnapshot, sessions, ingest, health, commands, publisher, credentials, registryWatch, mqtt, inventories, http, minutes];
  const started: Feature[] = [];
  const running = (operation: string): void => life.assertRunning(operation);

  return {
    get mqttPort() {
      return mqtt.port;
    },
    get mqttTlsPort() {
      return mqtt.tlsPort;
    },
    get mqttWssPort() {
      return mqtt.wssPort;
    },
    get httpPort() {
      return http.port;
    },
    get httpsPort() {
      return http.httpsPort;
    },
    counters,
    presence,
    events: new PresenceEvents(bus),
    bus,
    get registry() {
      return reg();
    },
    writer,
    admin,

    async start() {
      life.beginStart();
      try {
        for (const f of features) {
          await f.start();
          started.push(f);
        }
      } catch (e) {
        // A hub that cannot start leaves nothing running (a port taken, a registry unreadable),
        // and its caller learns why it did not start, not why something did not stop.
        for (const f of started.reverse()) {
          try {
            await f.stop();
          } catch (stopErr) {
            log.error({ err: toError(stopErr) }, 'stopping after a failed start failed');
          }
        }
        started.length = 0;
        life.beginStop();
        life.stopped();
        throw e;
      }
      life.started();
      log.info({ mqttPort: mqtt.port, mqttTlsPort: mqtt.tlsPort, mqttWssPort: mqtt.wssPort, httpPort: http.port, allowAnonymous: config.allowAnonymous }, 'hub started');
    },

    async stop() {
      if (!life.beginStop()) return;
      for (const f of started.reverse()) await f.stop();
      started.length = 0;
      life.stopped();
      log.info('hub stopped');
    },

    // An operation waits for InfluxDB at most one request timeout, never for a whole outage.
    recordMinute: async (atMs) => (running('recordMinute'), minutes.record(atMs, config.influx.requestTimeoutMs)),
    sendCommand: async (c, actor, opts) => (running('sendCommand'), commands.send(c, actor, opts)),
    isCommandReady: (gateway) => sessions.isCommandReady(gateway),
    revokeGateway: (id, actor) => (running('revokeGateway'), credentials.revoke(id, actor)),
    reinstateGateway: (id, actor) => (running('reinstateGateway'), credentials.reinstate(id, actor)),
    rotateGatewayPassword: async (id, password, actor) => (running('rotateGatewayPassword'), credentials.rotatePassword(id, password, actor)),
  };
}
