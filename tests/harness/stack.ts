import type { AedesPersistence } from 'aedes-persistence';
import type { MQEmitter } from 'mqemitter';
import type { Logger } from 'pino';
import { createHub, type Hub, type HubConfig } from '../../broker/src/hub.ts';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { createGateway, type Gateway, type GatewayConfig } from '../../gateway/src/gateway.ts';
import type { Fleet } from '../../device-sim/src/fleet.ts';
import { schoolGatewayConfig } from '../../device-sim/src/schoolGateway.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';

/** Cheap scrypt for tests: the cost parameters do not change what is being tested. */
export const TEST_SCRYPT = { N: 1024, r: 8, p: 1 };

export const gatewayPassword = (gateway: string): string => `pw-${gateway}-Ω`;

export function hubConfig(influxUrl: string, database: string, over: Partial<HubConfig> = {}): HubConfig {
  return {
    mqttHost: '127.0.0.1',
    mqttPort: 0,
    httpHost: '127.0.0.1',
    httpPort: 0,
    registryPath: ':memory:',
    allowAnonymous: false,
    influx: { url: influxUrl, database, maxLines: 5000, lingerMs: 10, attempts: 3, requestTimeoutMs: 10_000 },
    limits: { maxPayloadBytes: 1_048_576, maxFutureMs: 300_000, maxAgeMs: 400 * 86_400_000 },
    // Tests record inventory and gateway states by hand (hub.recordMinute), never on the wall clock.
    minuteReports: false,
    // Every test connects from 127.0.0.1 and many refuse logins on purpose (revoked, rotated):
    // login back-off is tested on its own, with its own settings (loginBackoffHub.test.ts).
    loginBackoff: { freeFailuresPerId: 1e6, freeFailuresPerAddress: 1e6 },
    ...over,
  };
}

/**
 * A gateway's configuration for tests: a simulated school's gateway (device-sim's
 * schoolGatewayConfig: loopback, free LAN port, outbox in memory, no health endpoint) with quick
 * reconnects and no replay jitter; `over` changes any of it.
 */
export function gatewayConfig(
  school: { id: string; district: string; gateway: string },
  hubPort: number,
  over: Partial<GatewayConfig> = {},
): GatewayConfig {
  const defaults = schoolGatewayConfig(school, `mqtt://127.0.0.1:${hubPort}`, gatewayPassword(school.gateway), {
    GW_BATCH_LINGER_MS: '20',
    GW_RECONNECT_MS: '200',
    // Outages in tests last seconds: a low cap keeps the back-off from outlasting them.
    GW_RECONNECT_MAX_MS: '1000',
    GW_REPLAY_JITTER_MS: '0',
    GW_REPLAY_RATE: '5000',
    // Tests record availability by hand (gateway.sampleAvailability), never on the wall clock.
    GW_AVAILABILITY: 'false',
  });
  return { ...defaults, ...over };
}

export interface Stack {
  hub: Hub;
  registry: Registry;
  gateways: Map<string, Gateway>;
  stop(): Promise<void>;
}

/** A hub (in process, real sockets) with the fleet provisioned, and one gateway per school. */
export async function startStack(opts: {
  influxUrl: string;
  database: string;
  fleet: Fleet;
  log?: Logger;
  hub?: Partial<HubConfig>;
  gateway?: Partial<GatewayConfig>;
  onDelivered?: (records: OutboxRecord[], at: number) => void;
  /** false: provision the fleet but start no gateway (a test plays the gateway). */
  withGateways?: boolean;
  /** The hub's clock (it stamps gateway state, health and inventory points). */
  now?: () => number;
  /** Aedes' persistence for the hub (a test reads what it retained from it). */
  persistence?: AedesPersistence;
  /** Aedes' message emitter for the hub (a test sees what the broker routes on it). */
  mq?: MQEmitter;
}): Promise<Stack> {
  const log = opts.log ?? silentLogger();
  const registry = new Registry(':memory:');
  await provisionFleet(registry, opts.fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
  const hub = createHub(hubConfig(opts.influxUrl, opts.database, opts.hub), { log, registry, ...(opts.now ? { now: opts.now } : {}), ...(opts.persistence ? { persistence: opts.persistence } : {}), ...(opts.mq ? { mq: opts.mq } : {}) });
  await hub.start();
  const gateways = new Map<string, Gateway>();
  for (const s of opts.withGateways === false ? [] : opts.fleet.schools) {
    const gw = createGateway(gatewayConfig(s, hub.mqttPort, opts.gateway), {
      log,
      ...(opts.onDelivered ? { onDelivered: opts.onDelivered } : {}),
    });
    await gw.start();
    gateways.set(s.id, gw);
  }
  return {
    hub,
    registry,
    gateways,
    async stop() {
      await Promise.all([...gateways.values()].map((g) => g.stop()));
      await hub.stop();
      registry.close();
    },
  };
}

/** Runs InfluxQL against the v1 API and returns the first statement's series (see influx.ts). */
export { influxQL as influxQuery } from './influx.ts';
