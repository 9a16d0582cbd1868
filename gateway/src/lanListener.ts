import { createServer, type Server } from 'node:net';
import { Aedes, type Client } from 'aedes';
import type { Logger } from 'pino';
import { formatIssues } from '../../runtime/src/errors.ts';
import { deviceSampleSchema, type DeviceSample } from '../../protocol/src/telemetry.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC, lanCommandResultSchema, type LanCommand, type LanCommandResult } from '../../protocol/src/commands.ts';
import type { IntakeRefusal } from './intake.ts';
import { listen } from './listen.ts';
import type { GatewayCounters } from './metrics.ts';

/**
 * The Will topic given to sessions that bring none. `$` topics are not matched by wildcard
 * subscriptions [MQTT-4.7.2-1], and the listener never publishes it anyway.
 */
const SESSION_LOST_TOPIC = '$gateway/session-lost';

export interface LanListenerConfig {
  host: string;
  port: number;
  maxSampleBytes: number;
}

/**
 * The MQTT listener devices on the campus LAN publish to. Each sample is validated here, at the
 * edge; the device's PUBACK is sent only after `accept` resolved (the sample is in the outbox).
 * A bad sample is acknowledged (retrying cannot fix it), counted and dropped.
 */
export class LanListener {
  readonly #cfg: LanListenerConfig;
  readonly #log: Logger;
  readonly #counters: GatewayCounters;
  readonly #accept: (s: DeviceSample, clientId: string) => Promise<IntakeRefusal | undefined>;
  readonly #onDisconnect: ((clientId: string, clean: boolean) => void) | undefined;
  readonly #onCommandResult: ((r: LanCommandResult, clientId: string) => void) | undefined;
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
    },
  ) {
    this.#cfg = cfg;
    this.#log = deps.log;
    this.#counters = deps.counters;
    this.#accept = deps.accept;
    this.#onDisconnect = deps.onDisconnect;
    this.#onCommandResult = deps.onCommandResult;
  }

  /** Sends a command to the devices on the LAN (QoS 1); the one it names acts on it. */
  sendCommand(c: LanCommand): void {
    this.#broker?.publish({ cmd: 'publish', topic: LAN_COMMAND_TOPIC, payload: Buffer.from(JSON.stringify(c)), qos: 1, retain: false, dup: false }, () => {});
  }

  async start(): Promise<void> {
    const counters = this.#counters;
    const log = this.#log;
    const cfg = this.#cfg;
    const accept = this.#accept;
    const onCommandResult = this.#onCommandResult;
    const lost = this.#lost;
    this.#broker = await Aedes.createBroker({
      // MQTT sends a session's Will on every end but a DISCONNECT [MQTT-3.1.2-8, -10], so every
      // session gets one (its own, or ours on a topic nobody sees): Aedes asking to publish it
      // is the documented sign that the session ended without a goodbye.
      preConnect(_client, packet, done) {
        packet.will ??= { topic: SESSION_LOST_TOPIC, payload: Buffer.alloc(0), qos: 0, retain: false };
        done(null, true);
      },
      authorizePublish(client, packet, done) {
        if (client?.closed) lost.add(client); // the Will of an ended session
        if (packet.topic === SESSION_LOST_TOPIC) {
          (packet as { refused?: boolean }).refused = true; // never forwarded
          return done(null);
        }
        if (packet.topic === LAN_COMMAND_TOPIC) {
          // Only the gateway sends commands.
          counters.inc('lan_publishes_denied', { topic: 'cmd' });
          return done(new Error('devices may not send commands'));
        }
        if (packet.topic === LAN_COMMAND_RESULT_TOPIC) {
          let result: LanCommandResult | undefined;
          const raw = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
          try {
            const p = raw.length <= cfg.maxSampleBytes ? lanCommandResultSchema.safeParse(JSON.parse(raw.toString('utf8'))) : undefined;
            if (p?.success) result = p.data;
          } catch {
            result = undefined;
          }
          if (!result) counters.inc('command_results_refused', { reason: 'invalid' });
          else onCommandResult?.(result, client?.id ?? '');
          (packet as { refused?: boolean }).refused = true; // consumed here, not forwarded
          return done(null);
        }
        if (packet.topic !== LAN_TELEMETRY_TOPIC) return done(null);
        const reject = (reason: string, detail: string) => {
          counters.inc('samples_rejected', { reason });
          log.debug({ clientId: client?.id, reason, detail }, 'sample refused');
          // Acknowledged but not forwarded: see authorizeForward below.
          (packet as { refused?: boolean }).refused = true;
          done(null);
        };
        const payload = Buffer.isBuffer(packet.payload) ? packet.payload : Buffer.from(packet.payload);
        if (payload.length > cfg.maxSampleBytes) return reject('oversize_payload', `${payload.length} bytes`);
        let json: unknown;
        try {
          json = JSON.parse(payload.toString('utf8'));
        } catch {
          return reject('malformed_json', 'not JSON');
        }
        let parsed;
        try {
          parsed = deviceSampleSchema.safeParse(json);
        } catch (e) {
          return reject('invalid_sample', e instanceof Error ? e.message : 'validation failed');
        }
        if (!parsed.success) return reject('invalid_sample', formatIssues(parsed.error.issues));
        accept(parsed.data, client?.id ?? '').then(
          (refused) => {
            if (refused) return reject(refused, `device ${parsed.data.device}`);
            counters.inc('samples_accepted');
            done(null);
          },
          (err: unknown) => {
            log.error({ err }, 'outbox append failed; device not acknowledged');
            done(err instanceof Error ? err : new Error(String(err)));
          },
        );
      },
      authorizeForward(_client, packet) {
        return (packet as { refused?: boolean }).refused ? null : packet;
      },
    });
    const onDisconnect = this.#onDisconnect;
    // Aedes asks to publish the Will before it reports the session gone (aedes lib/client.js).
    if (onDisconnect) this.#broker.on('clientDisconnect', (client) => onDisconnect(client.id, !lost.has(client)));
    this.#server = createServer(this.#broker.handle);
    this.port = await listen(this.#server, cfg.port, cfg.host, 'the LAN listener');
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
