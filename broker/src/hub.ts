import { EventEmitter } from 'node:events';
import { createServer, type Server } from 'node:net';
import type { Server as HttpServer } from 'node:http';
import { Aedes, type Client, type AuthenticateError } from 'aedes';
import type { Logger } from 'pino';
import type { ZodType } from 'zod';
import { createHubCounters, type HubCounters } from './metrics.ts';
import { toError } from '../../runtime/src/errors.ts';
import { gatewayStateSchema } from '../../protocol/src/gatewayState.ts';
import { gatewayHealthSchema } from '../../protocol/src/gatewayHealth.ts';
import { randomBytes } from 'node:crypto';
import { COMMAND_ACTIONS, commandRequestSchema, commandResultSchema, type CommandAction, type CommandRequest } from '../../protocol/src/commands.ts';
import { commandFilter, commandRequestTopic, eventsTopic, parseGatewayTopic, presenceTopic } from '../../protocol/src/topics.ts';
import { HubError, HubErrorCode } from './errors.ts';
import { createHttpApp } from './http.ts';
import { encodePoint, type FieldValue } from './influx/lineProtocol.ts';
import { InfluxWriter, type InfluxWriterConfig } from './influx/writer.ts';
import { ingestTelemetry, type IngestLimits } from './ingest.ts';
import { hashPassword, verifyPassword } from './passwords.ts';
import { authenticate, authorizePublish, authorizeSubscribe, type Identity } from './policy.ts';
import { Presence, type PresenceEvent } from './presence.ts';
import { Registry } from './registry.ts';

const MINUTE_MS = 60_000;

export interface HubConfig {
  mqttHost: string;
  /** 0 picks a free port. */
  mqttPort: number;
  httpHost: string;
  /** 0 picks a free port; -1 disables the HTTP endpoint. */
  httpPort: number;
  registryPath: string;
  allowAnonymous: boolean;
  influx: InfluxWriterConfig;
  limits: IngestLimits;
  /**
   * Every minute, write the registry's device counts (`inventory`, the denominator of coverage)
   * and every active gateway's connection state (`gateway_up`). false: only when recordMinute is
   * called (tests that drive the clock).
   */
  minuteReports: boolean;
}

export interface HubDeps {
  log: Logger;
  /** An open registry to use instead of opening registryPath (tests, embedding). */
  registry?: Registry;
  now?: () => number;
}

export interface Hub {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly mqttPort: number;
  readonly httpPort: number;
  readonly counters: HubCounters;
  readonly presence: Presence;
  /** 'presence' events (PresenceEvent), as published on events/v1/…; for in-process consumers. */
  readonly events: EventEmitter;
  readonly registry: Registry;
  readonly writer: InfluxWriter;
  /**
   * Writes, stamped with the minute `atMs` (default: the current minute), the registered devices
   * per district, school and kind (`inventory`) and whether each active gateway is connected to
   * this hub (`gateway_up`). Returns the number of points.
   */
  recordMinute(atMs?: number): Promise<number>;
  /**
   * Sends a command to a registered device through its school's gateway (DESIGN §4): a request
   * with an id and a TTL; the gateway answers done, failed, expired or rejected. Every command
   * and its outcome are written to `command`. Refused (HUB_ERR_COMMAND_REFUSED) for an unknown
   * device or action; `rejected` at once when the gateway is not connected.
   */
  sendCommand(c: { device: string; action: CommandAction; ttlMs?: number }): Promise<{ id: string; status: 'sent' | 'rejected'; detail?: string }>;
  /** Whether the gateway's current session has subscribed to its commands (it takes them). */
  isCommandReady(gateway: string): boolean;
  /** Revokes a gateway's credentials and drops its live session at once. */
  revokeGateway(id: string): boolean;
  /** Sets a new password for a gateway and drops its live session, which must log in again. */
  rotateGatewayPassword(id: string, password: string): Promise<boolean>;
}

/** The hub: Aedes on TCP, authentication and ACL by school, ingest to InfluxDB. */
export function createHub(config: HubConfig, deps: HubDeps): Hub {
  const log = deps.log.child({ module: 'hub' });
  const now = deps.now ?? Date.now;
  const counters = createHubCounters();
  const presence = new Presence();
  const emitter = new EventEmitter();
  const ownsRegistry = deps.registry === undefined;
  let registry: Registry | undefined = deps.registry;
  const writer = new InfluxWriter(config.influx, log.child({ module: 'influx' }));
  const identities = new WeakMap<Client, Identity>();
  const connectRequests = new WeakMap<Client, { clientId: string; clean: boolean }>();
  const liveGateways = new Map<string, Client>();
  const refusedPackets = new WeakSet<object>();
  const lastWarn = new Map<string, number>();
  let broker: Aedes | undefined;
  let server: Server | undefined;
  let http: HttpServer | undefined;
  let mqttPort = -1;
  let httpPort = -1;
  let stopped = false;
  let minuteTimer: NodeJS.Timeout | undefined;

  const reg = (): Registry => {
    if (!registry) throw new Error('hub not started');
    return registry;
  };

  function warnRateLimited(key: string, obj: object, msg: string): void {
    const t = Date.now();
    if ((lastWarn.get(key) ?? 0) + 5000 > t) return void log.debug(obj, msg);
    lastWarn.set(key, t);
    log.warn(obj, msg);
  }

  /** Returns false when the whole message was refused (it is then not forwarded either). */
  async function handleTelemetry(identity: Identity & { kind: 'gateway' }, payload: Buffer): Promise<boolean> {
    const result = ingestTelemetry(identity, payload, config.limits, {
      lookupDevice: (id) => reg().getDevice(id),
      timetableOf: (school) => reg().timetableOf(school),
      now,
    });
    counters.inc('messages_received', { channel: 'telemetry' });
    if (result.messageRejected) counters.inc('messages_rejected', { reason: result.rejections[0]!.reason });
    else for (const r of result.rejections) counters.inc('records_rejected', { reason: r.reason });
    if (result.rejections.length > 0) {
      warnRateLimited(identity.gateway, {
        gateway: identity.gateway,
        rejected: result.rejections.length,
        accepted: result.lines.length,
        first: result.rejections[0],
      }, 'telemetry refused');
    }
    if (result.lines.length === 0) return !result.messageRejected;
    const w = await writer.write(result.lines);
    counters.inc('records_written', {}, result.lines.length - w.refused);
    if (w.refused > 0) counters.inc('records_rejected', { reason: 'influx_refused' }, w.refused);
    const changes = result.liveAvailability.flatMap((a) => presence.applyDevice(identity, a.device, a.deviceKind, a.state, a.ts));
    if (changes.length > 0) announce(identity, changes);
    return true;
  }

  /** Publishes presence changes: the events, then the gateway's retained presence document. */
  function announce(gw: { district: string; school: string; gateway: string }, events: PresenceEvent[]): void {
    for (const ev of events) {
      counters.inc('presence_events', { type: ev.type });
      emitter.emit('presence', ev);
      broker?.publish({ cmd: 'publish', topic: eventsTopic(gw), payload: Buffer.from(JSON.stringify(ev)), qos: 0, retain: false, dup: false }, () => {});
    }
    const doc = { ...presence.get(gw.gateway), ...gw, devices: presence.devicesOf(gw.gateway) };
    broker?.publish({ cmd: 'publish', topic: presenceTopic(gw), payload: Buffer.from(JSON.stringify(doc)), qos: 0, retain: true, dup: false }, () => {});
  }

  /** Returns false for a state update that must be dropped (invalid or stale death). */
  async function handleState(identity: Identity & { kind: 'gateway' }, payload: Buffer): Promise<boolean> {
    const state = parseJsonPayload(gatewayStateSchema, payload);
    if (!state) {
      counters.inc('messages_rejected', { reason: 'bad_state' });
      return false;
    }
    const entry = { ...state, district: identity.district, school: identity.school, gateway: identity.gateway };
    const events = presence.applyGateway(entry);
    if (events === null) {
      counters.inc('stale_deaths_ignored');
      log.info({ gateway: identity.gateway, bdSeq: entry.bdSeq }, 'stale gateway death ignored');
      return false;
    }
    log.info({ gateway: identity.gateway, state: entry.state, bdSeq: entry.bdSeq }, 'gateway state');
    const line = encodePoint({
      measurement: 'gateway_state',
      tags: { district: identity.district, school: identity.school, gateway: identity.gateway },
      // `up` repeats `online` as 1/0, for aggregating the event log (the dashboards and rules read
      // gateway_up, written every minute).
      fields: { online: { t: 'bool', v: entry.state === 'online' }, up: { t: 'int', v: entry.state === 'online' ? 1 : 0 }, bd_seq: { t: 'int', v: entry.bdSeq } },
      tsMs: now(),
    });
    await writer.write([line]);
    if (events.length > 0) announce(identity, events);
    return true;
  }

  async function recordMinute(atMs?: number): Promise<number> {
    const ts = atMs ?? Math.floor(now() / MINUTE_MS) * MINUTE_MS;
    const lines = [
      ...reg()
        .deviceCounts()
        .map((c) => encodePoint({ measurement: 'inventory', tags: { district: c.district, school: c.school, kind: c.kind }, fields: { devices: { t: 'int', v: c.n } }, tsMs: ts })),
      // Written every minute, not only on a birth or death: a dashboard's range always holds the
      // current state, and a gateway that never came back after a hub restart reads 0.
      ...reg()
        .activeGateways()
        .map((g) =>
          encodePoint({ measurement: 'gateway_up', tags: { district: g.district, school: g.school, gateway: g.gateway }, fields: { up: { t: 'int', v: liveGateways.has(g.gateway) ? 1 : 0 } }, tsMs: ts }),
        ),
    ];
    if (lines.length > 0) await writer.write(lines);
    return lines.length;
  }

  function minuteTick(atMs?: number): void {
    recordMinute(atMs).catch((e: unknown) => {
      counters.inc('minute_report_failures');
      log.warn({ err: toError(e) }, 'inventory and gateway states not written');
    });
  }

  function scheduleMinute(): void {
    const t = now();
    minuteTimer = setTimeout(() => {
      if (stopped) return;
      minuteTick();
      scheduleMinute();
    }, MINUTE_MS - (t % MINUTE_MS) + 1);
    minuteTimer.unref();
  }

  function commandPoint(g: { district: string; school: string; gateway: string }, device: string, action: string, issuedAt: number, fields: Record<string, FieldValue>): string {
    // One point per command, at its issue time: the result rewrites its status in place.
    return encodePoint({ measurement: 'command', tags: { district: g.district, school: g.school, gateway: g.gateway, device, action }, fields, tsMs: issuedAt });
  }

  /** Commands sent and not answered yet, by id; `no_result` is written if none comes within TTL + grace. */
  const pendingCommands = new Map<string, { gw: { district: string; school: string; gateway: string }; req: CommandRequest; timer: NodeJS.Timeout }>();
  const COMMAND_RESULT_GRACE_MS = 2000;
  /** Gateways subscribed to their command topic on their current session. */
  const commandReady = new Set<string>();
  const str = (v: string): FieldValue => ({ t: 'string', v });

  async function sendCommand(c: { device: string; action: CommandAction; ttlMs?: number }): Promise<{ id: string; status: 'sent' | 'rejected'; detail?: string }> {
    if (!(COMMAND_ACTIONS as readonly string[]).includes(c.action)) throw new HubError(HubErrorCode.COMMAND_REFUSED, `unknown action ${String(c.action)}`);
    const dev = reg().getDevice(c.device);
    if (!dev) throw new HubError(HubErrorCode.COMMAND_REFUSED, `device ${c.device} is not in the registry`);
    const gw = reg().activeGateways().find((g) => g.school === dev.school);
    if (!gw) throw new HubError(HubErrorCode.COMMAND_REFUSED, `school ${dev.school} has no active gateway`);
    const parsed = commandRequestSchema.safeParse({ v: 1, id: randomBytes(12).toString('base64url'), device: c.device, action: c.action, issuedAt: now(), ttlMs: c.ttlMs ?? 60_000 });
    if (!parsed.success) throw new HubError(HubErrorCode.COMMAND_REFUSED, `invalid command: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const req = parsed.data;
    if (!commandReady.has(gw.gateway)) {
      counters.inc('commands', { status: 'rejected' });
      await writer.write([commandPoint(gw, req.device, req.action, req.issuedAt, { id: str(req.id), status: str('rejected'), detail: str('gateway not connected'), ttl_ms: { t: 'int', v: req.ttlMs } })]);
      return { id: req.id, status: 'rejected', detail: 'gateway not connected' };
    }
    await writer.write([commandPoint(gw, req.device, req.action, req.issuedAt, { id: str(req.id), status: str('sent'), ttl_ms: { t: 'int', v: req.ttlMs } })]);
    // Pending before it is published, so that a quick answer finds it. If neither the request
    // nor its result comes through in time, whether the device acted is not known: no_result.
    const timer = setTimeout(() => {
      pendingCommands.delete(req.id);
      counters.inc('commands', { status: 'no_result' });
      writer
        .write([commandPoint(gw, req.device, req.action, req.issuedAt, { id: str(req.id), status: str('no_result'), detail: str('no result from the gateway within the TTL') })])
        .catch((e: unknown) => log.warn({ err: toError(e), id: req.id }, 'command outcome not written'));
    }, req.ttlMs + COMMAND_RESULT_GRACE_MS);
    timer.unref();
    pendingCommands.set(req.id, { gw, req, timer });
    try {
      await new Promise<void>((resolve, reject) =>
        broker!.publish({ cmd: 'publish', topic: commandRequestTopic(gw), payload: Buffer.from(JSON.stringify(req)), qos: 1, retain: false, dup: false }, (err) => (err ? reject(err) : resolve())),
      );
    } catch (e) {
      clearTimeout(timer);
      pendingCommands.delete(req.id);
      await writer.write([commandPoint(gw, req.device, req.action, req.issuedAt, { id: str(req.id), status: str('rejected'), detail: str('not published') })]);
      throw e;
    }
    counters.inc('commands', { status: 'sent' });
    log.info({ id: req.id, device: req.device, action: req.action, gateway: gw.gateway }, 'command sent');
    return { id: req.id, status: 'sent' };
  }

  /**
   * A gateway's command result, written over its command's point. Only for a command this hub
   * sent to that gateway and still waits for, and for its device and action: anything else
   * (unknown or already final, another gateway's, altered) is refused and counted.
   */
  async function handleCommandResult(identity: Identity & { kind: 'gateway' }, payload: Buffer): Promise<boolean> {
    counters.inc('messages_received', { channel: 'cmdres' });
    const r = parseJsonPayload(commandResultSchema, payload);
    const p = r ? pendingCommands.get(r.id) : undefined;
    if (!r || !p || p.gw.gateway !== identity.gateway || p.req.device !== r.device || p.req.action !== r.action || p.req.issuedAt !== r.issuedAt) {
      counters.inc('messages_rejected', { reason: 'bad_command_result' });
      log.warn({ gateway: identity.gateway, id: r?.id }, 'command result refused: not a command this hub waits for from this gateway');
      return false;
    }
    clearTimeout(p.timer);
    pendingCommands.delete(r.id);
    await writer.write([
      commandPoint(p.gw, p.req.device, p.req.action, p.req.issuedAt, { id: str(r.id), status: str(r.status), detail: str(r.detail ?? ''), finished_at: { t: 'int', v: r.at } }),
    ]);
    counters.inc('commands', { status: r.status });
    log.info({ id: r.id, device: r.device, status: r.status }, 'command result');
    return true;
  }

  /** Returns false for a health report that was refused (it is then not forwarded). */
  async function handleHealth(identity: Identity & { kind: 'gateway' }, payload: Buffer): Promise<boolean> {
    counters.inc('messages_received', { channel: 'health' });
    const h = parseJsonPayload(gatewayHealthSchema, payload);
    if (!h) {
      counters.inc('messages_rejected', { reason: 'bad_health' });
      return false;
    }
    const int = (v: number) => ({ t: 'int' as const, v });
    const line = encodePoint({
      measurement: 'gateway_health',
      tags: { district: identity.district, school: identity.school, gateway: identity.gateway },
      fields: {
        outbox_records: int(h.outbox.records),
        outbox_waiting_live: int(h.outbox.waitingLive),
        outbox_waiting_backlog: int(h.outbox.waitingBacklog),
        outbox_bytes: int(h.outbox.bytes),
        outbox_oldest_age_ms: int(h.outbox.oldestAgeMs),
        outbox_dropped: int(h.outbox.dropped),
        replay_active: { t: 'bool', v: h.replay.active },
        replay_remaining: int(h.replay.remaining),
        replay_sent: int(h.replay.sent),
        last_uplink_ok_at: int(h.lastUplinkOkAt),
        samples_accepted: int(h.samplesAccepted),
        samples_rejected: int(h.samplesRejected),
        bd_seq: int(h.bdSeq),
      },
      tsMs: now(),
    });
    await writer.write([line]);
    return true;
  }

  return {
    get mqttPort() {
      return mqttPort;
    },
    get httpPort() {
      return httpPort;
    },
    counters,
    presence,
    events: emitter,
    get registry() {
      return reg();
    },
    writer,

    revokeGateway(id: string): boolean {
      const changed = reg().revokeGateway(id);
      const client = liveGateways.get(id);
      if (client) {
        log.info({ gateway: id }, 'credentials revoked: closing live session');
        client.close();
      }
      return changed;
    },

    async rotateGatewayPassword(id: string, password: string): Promise<boolean> {
      const gw = reg().getGateway(id);
      if (!gw) return false;
      reg().setGateway(id, gw.school, await hashPassword(password));
      const client = liveGateways.get(id);
      if (client) {
        log.info({ gateway: id }, 'credentials rotated: closing live session');
        client.close();
      }
      return true;
    },

    async start() {
      registry ??= new Registry(config.registryPath);
      await writer.ensureDatabase();
      broker = await Aedes.createBroker({
        preConnect(client, packet, done) {
          connectRequests.set(client, { clientId: packet.clientId, clean: packet.clean !== false });
          done(null, true);
        },
        authenticate(client, username, password, done) {
          const req = connectRequests.get(client) ?? { clientId: client.id, clean: true };
          authenticate(
            { clientId: req.clientId, cleanSession: req.clean, username, password },
            { lookupGateway: (id) => reg().getGateway(id), verifyPassword, allowAnonymous: config.allowAnonymous },
          ).then((d) => {
            if (d.ok) {
              identities.set(client, d.value);
              if (d.value.kind === 'gateway') liveGateways.set(d.value.gateway, client);
              counters.inc('connections_accepted', { kind: d.value.kind });
              return done(null, true);
            }
            counters.inc('connections_refused', { code: d.code });
            log.warn({ clientId: req.clientId, username, code: d.code }, d.reason);
            const err = new HubError(d.code, d.reason) as HubError & AuthenticateError;
            err.returnCode = d.returnCode ?? 5;
            done(err, false);
          }, (e: unknown) => {
            log.error({ err: toError(e) }, 'authentication failed');
            done(Object.assign(new Error('server unavailable'), { returnCode: 3 }) as AuthenticateError, false);
          });
        },
        authorizePublish(client, packet, done) {
          const identity = client ? identities.get(client) : undefined;
          if (!identity) return done(new Error('not authenticated'));
          const d = authorizePublish(identity, packet.topic);
          if (!d.ok) {
            counters.inc('publishes_denied', { code: d.code });
            warnRateLimited(`deny:${client?.id}`, { clientId: client?.id, topic: packet.topic }, d.reason);
            return done(new HubError(d.code, d.reason));
          }
          if (identity.kind !== 'gateway') return done(null);
          const t = parseGatewayTopic(packet.topic);
          const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
          if (t?.channel === 'telemetry') {
            handleTelemetry(identity, payload).then((readable) => {
              // Acknowledged (a resend cannot fix it) but not forwarded to subscribers.
              if (!readable) refusedPackets.add(packet);
              done(null);
            }, (e: unknown) => done(toError(e)));
          } else if (t?.channel === 'health') {
            handleHealth(identity, payload).then((ok) => {
              if (!ok) refusedPackets.add(packet);
              done(null);
            }, (e: unknown) => done(toError(e)));
          } else if (t?.channel === 'cmdres') {
            handleCommandResult(identity, payload).then((ok) => {
              if (!ok) refusedPackets.add(packet);
              done(null);
            }, (e: unknown) => done(toError(e)));
          } else if (t?.channel === 'state') {
            handleState(identity, payload).then(
              (keep) => {
                if (!keep) {
                  // Invalid or a stale death: acknowledged (MQTT 3.1.1 has no negative PUBACK),
                  // but neither retained nor forwarded, so the state in force stays.
                  packet.retain = false;
                  refusedPackets.add(packet);
                }
                done(null);
              },
              (e: unknown) => done(toError(e)),
            );
          } else {
            done(null);
          }
        },
        authorizeForward(_client, packet) {
          return refusedPackets.has(packet) ? null : packet;
        },
        authorizeSubscribe(client, sub, done) {
          const identity = identities.get(client);
          const d = identity ? authorizeSubscribe(identity, sub.topic) : { ok: false as const, reason: 'not authenticated', code: 'HUB_ERR_SUBSCRIBE_DENIED' };
          if (d.ok) return done(null, sub);
          counters.inc('subscriptions_denied');
          log.warn({ clientId: client.id, filter: sub.topic }, d.reason);
          // [MQTT-3.9.3]: a refused subscription is answered with return code 0x80.
          done(null, null);
        },
      });
      broker.on('clientDisconnect', (client) => {
        const id = identities.get(client);
        if (id?.kind === 'gateway' && liveGateways.get(id.gateway) === client) {
          liveGateways.delete(id.gateway);
          commandReady.delete(id.gateway);
        }
      });
      // A gateway takes commands once its session has subscribed to them (after CONNACK).
      broker.on('subscribe', (subscriptions, client) => {
        const id = client ? identities.get(client) : undefined;
        if (id?.kind === 'gateway' && liveGateways.get(id.gateway) === client && subscriptions.some((sub) => sub.topic === commandFilter(id))) commandReady.add(id.gateway);
      });
      broker.on('clientError', (client, err) => log.debug({ clientId: client.id, err }, 'client error'));

      server = createServer(broker.handle);
      await new Promise<void>((resolve, reject) => {
        server!.once('error', reject);
        server!.listen(config.mqttPort, config.mqttHost, () => resolve());
      });
      mqttPort = (server.address() as { port: number }).port;
      if (config.httpPort >= 0) {
        const app = createHttpApp({ counters, presence, writer, broker });
        await new Promise<void>((resolve, reject) => {
          http = app.listen(config.httpPort, config.httpHost, (err?: Error) => (err ? reject(err) : resolve()));
        });
        httpPort = (http!.address() as { port: number }).port;
      }
      if (config.minuteReports) {
        // The minute the hub starts in, at once (gateways connected so far count as up; the
        // next minute corrects any that are still reconnecting), then every minute.
        minuteTick();
        scheduleMinute();
      }
      log.info({ mqttPort, httpPort, allowAnonymous: config.allowAnonymous }, 'hub started');
    },

    recordMinute,
    sendCommand,
    isCommandReady: (gateway: string) => commandReady.has(gateway),

    async stop() {
      if (stopped) return;
      stopped = true;
      clearTimeout(minuteTimer);
      for (const p of pendingCommands.values()) clearTimeout(p.timer);
      if (http) {
        const h = http;
        const closed = new Promise<void>((resolve) => h.close(() => resolve()));
        h.closeAllConnections();
        await closed;
      }
      const serverClosed = server ? new Promise<void>((resolve) => server!.close(() => resolve())) : Promise.resolve();
      if (broker) await new Promise<void>((resolve) => broker!.close(() => resolve()));
      await serverClosed;
      await writer.stop();
      if (ownsRegistry) registry?.close();
      log.info('hub stopped');
    },
  };
}

/** A JSON payload parsed with a schema; undefined when it is not JSON or does not match. */
function parseJsonPayload<T>(schema: ZodType<T>, payload: Buffer): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(payload.toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
