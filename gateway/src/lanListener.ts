import { createServer, type Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import type { PublishPacket } from 'aedes';
import { toError } from '../../runtime/src/errors.ts';
import type { DeviceSample, LanError } from '../../protocol/src/telemetry.ts';
import { LAN_ERROR_TOPIC, LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import type { Refusal } from './deviceFaults.ts';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC, type LanCommand, type LanCommandResult } from '../../protocol/src/commands.ts';
import { GatewayError, GatewayErrorCode, listenError } from './errors.ts';
import type { IntakeRefusal } from './intake.ts';
import { validateCommandResult, validateSample } from './lanValidation.ts';
import { listen } from '../../runtime/src/ports.ts';
import type { GatewayCounters } from './metrics.ts';

/**
 * The Will topic given to sessions that bring none. `$` topics are not matched by wildcard
 * subscriptions [MQTT-4.7.2-1], and the listener never publishes it anyway.
 */
const SESSION_LOST_TOPIC = '$gateway/session-lost';

/** A publish the listener consumed or refused: acknowledged, never forwarded. */
type Refusable = { refused?: boolean };

export interface LanListenerConfig {
  host: string;
  port: number;
  maxSampleBytes: number;
}

/**
 * The MQTT listener devices on the campus LAN publish to. Each sample is validated at the edge
 * (lanValidation.ts); the device's PUBACK is sent only after `accept` resolved (the sample is in the outbox).
 * A bad sample is acknowledged (retrying cannot fix it), counted and dropped, and the refusal
 * reported to `onRefused` (which answers the device on lan/v1/err). Only the gateway publishes
 * on lan/v1/cmd and lan/v1/err; any client may subscribe to them.
 */
export class LanListener {
  readonly #cfg: LanListenerConfig;
  readonly #log: Logger;
  readonly #counters: GatewayCounters;
  readonly #accept: (s: DeviceSample, clientId: string) => Promise<IntakeRefusal | undefined>;
  readonly #onDisconnect: ((clientId: string, clean: boolean) => void) | undefined;
  readonly #onCommandResult: ((r: LanCommandResult, clientId: string) => void) | undefined;
  readonly #onRefused: ((r: Refusal) => void) | undefined;
  #broker: Aedes | undefined;
  /** Sessions that ended without a DISCONNECT (their Will was due). */
  readonly #lost = new WeakSet<Client>();
  #server: Server | undefined;
  port = -1;

  constructor(
    cfg: LanListenerConfig,
    deps: {
      log: Logger;
      counters: GatewayCounters;
      /** Takes a valid sample in: resolves once it is in the outbox, or to why it is refused. */
      accept: (s: DeviceSample, clientId: string) => Promise<IntakeRefusal | undefined>;
      /** A device session ended; `clean` when it sent DISCONNECT. */
      onDisconnect?: (clientId: string, clean: boolean) => void;
      /** A device answered a command (on lan/v1/cmdres), on the session `clientId`. */
      onCommandResult?: (r: LanCommandResult, clientId: string) => void;
      /** A sample failed validation (Intake reports its own refusals). */
      onRefused?: (r: Refusal) => void;
    },
  ) {
    this.#cfg = cfg;
    this.#log = deps.log;
    this.#counters = deps.counters;
    this.#accept = deps.accept;
    this.#onDisconnect = deps.onDisconnect;
    this.#onCommandResult = deps.onCommandResult;
    this.#onRefused = deps.onRefused;
  }

  /** Sends a command to the devices on the LAN (QoS 1); the one it names acts on it. */
  sendCommand(c: LanCommand): void {
    this.#broker?.publish({ cmd: 'publish', topic: LAN_COMMAND_TOPIC, payload: Buffer.from(JSON.stringify(c)), qos: 1, retain: false, dup: false }, () => {});
  }

  /** Tells the devices on the LAN why a device's message was refused (QoS 1); the one it names reads it. */
  sendError(e: LanError): void {
    this.#broker?.publish({ cmd: 'publish', topic: LAN_ERROR_TOPIC, payload: Buffer.from(JSON.stringify(e)), qos: 1, retain: false, dup: false }, () => {});
  }

  async start(): Promise<void> {
    const lost = this.#lost;
    this.#broker = await Aedes.createBroker({
      // MQTT sends a session's Will on every end but a DISCONNECT [MQTT-3.1.2-8, -10], so every
      // session gets one (its own, or ours on a topic nobody sees): Aedes asking to publish it
      // is the documented sign that the session ended without a goodbye.
      preConnect(_client, packet, done) {
        packet.will ??= { topic: SESSION_LOST_TOPIC, payload: Buffer.alloc(0), qos: 0, retain: false };
        done(null, true);
      },
      authorizePublish: (client, packet, done) => this.#authorizePublish(client, packet, done),
      authorizeForward: (_client, packet) => ((packet as Refusable).refused ? null : packet),
    });
    const onDisconnect = this.#onDisconnect;
    // Aedes asks to publish the Will before it reports the session gone (aedes lib/client.js).
    if (onDisconnect) this.#broker.on('clientDisconnect', (client) => onDisconnect(client.id, !lost.has(client)));
    this.#server = createServer(this.#broker.handle);
    try {
      const { host, port } = this.#cfg;
      this.port = await listen(this.#server, port, host, (cause) => listenError('the LAN listener', host, port, cause));
    } catch (e) {
      // A start that fails leaves nothing behind (Aedes' timers included): the root does not
      // stop a part whose start threw.
      await this.stop();
      throw e;
    }
  }

  /**
   * Every publish on the LAN. `done(null)` lets it through unless marked refused (then it is
   * acknowledged but not forwarded: see authorizeForward); `done(err)` closes the session.
   */
  #authorizePublish(client: Client | null, packet: PublishPacket, done: (err: Error | null) => void): void {
    if (client?.closed) this.#lost.add(client); // the Will of an ended session
    const refuse = () => {
      (packet as Refusable).refused = true;
      done(null);
    };
    const clientId = client?.id ?? '';
    switch (packet.topic) {
      case SESSION_LOST_TOPIC:
        return refuse();
      case LAN_COMMAND_TOPIC:
        // Only the gateway sends commands.
        this.#counters.inc('lan_publishes_denied', { topic: 'cmd' });
        return done(new GatewayError(GatewayErrorCode.LAN_PUBLISH_DENIED, 'devices may not send commands'));
      case LAN_ERROR_TOPIC:
        // Only the gateway tells devices why they were refused: a forged refusal is refused.
        this.#counters.inc('lan_publishes_denied', { topic: 'err' });
        return done(new GatewayError(GatewayErrorCode.LAN_PUBLISH_DENIED, 'devices may not send refusals'));
      case LAN_COMMAND_RESULT_TOPIC: {
        const v = validateCommandResult(packet.payload, this.#cfg.maxSampleBytes);
        if (v.ok) this.#onCommandResult?.(v.value, clientId);
        else this.#counters.inc('command_results_refused', { reason: 'invalid' });
        return refuse(); // consumed here, not forwarded
      }
      case LAN_TELEMETRY_TOPIC:
        break;
      default:
        return done(null);
    }
    const rejected = (reason: string, detail: string) => {
      this.#counters.inc('samples_rejected', { reason });
      this.#log.debug({ clientId, reason, detail }, 'sample refused');
      refuse();
    };
    const v = validateSample(packet.payload, this.#cfg.maxSampleBytes);
    if (!v.ok) {
      this.#onRefused?.({ device: namedDevice(packet.payload, this.#cfg.maxSampleBytes) ?? clientId, reason: v.reason, detail: v.detail });
      return rejected(v.reason, v.detail);
    }
    this.#accept(v.value, clientId).then(
      (refused) => {
        if (refused) return rejected(refused, `device ${v.value.device}`);
        this.#counters.inc('samples_accepted');
        done(null);
      },
      (err: unknown) => {
        this.#log.error({ err }, 'outbox append failed; device not acknowledged');
        done(toError(err));
      },
    );
  }

  async stop(): Promise<void> {
    const server = this.#server;
    const broker = this.#broker;
    this.#server = undefined;
    this.#broker = undefined;
    const closed = server ? new Promise<void>((r) => server.close(() => r())) : Promise.resolve();
    if (broker) await new Promise<void>((r) => broker.close(() => r()));
    await closed;
  }
}

/**
 * The device an invalid sample names (so its refusal reaches it on lan/v1/err), when the payload
 * is JSON with a short string `device`; otherwise the caller names the session's client id.
 */
function namedDevice(payload: Buffer | string, maxBytes: number): string | undefined {
  if (payload.length > maxBytes) return undefined;
  try {
    const d = (JSON.parse(payload.toString()) as { device?: unknown } | null)?.device;
    return typeof d === 'string' && d.length > 0 && d.length <= 128 ? d : undefined;
  } catch {
    return undefined;
  }
}
