/**
 * The hub's broker alone, in its own process, for the broker benchmark (brokerPeerBench.ts):
 * broker/src/mqttServer.ts as the hub builds it — its listener limits and packet guard, gateway
 * logins checked against the registry's scrypt hashes, the publish ACL (policy.ts) and the per
 * gateway token bucket on every publish, the held-publish bookkeeping, the dispatch — with a
 * dispatch table whose every channel accepts at once: the hub routes the message to subscribers
 * and writes nothing to InfluxDB.
 *
 * Two things differ from a shipped hub, both said in tests/README.md: the publish rate limit is
 * raised (50/s per gateway would cap the closed-loop publishers, and Mosquitto has none), and the
 * benchmark's subscribers (client ids `bench-sub-…`, anonymous) may subscribe to gateways'
 * telemetry, which the hub's policy lets no client do (the hub itself is telemetry's only
 * reader). That check runs once per SUBSCRIBE, not per message.
 *
 *   PEER_REGISTRY_PATH  the provisioned registry; PEER_MQTT_PORT  the port (127.0.0.1)
 */
import { Aedes, type AedesOptions } from 'aedes';
import { EventBus } from '../../../broker/src/eventBus.ts';
import type { ChannelHandler, DispatchTable } from '../../../broker/src/dispatch.ts';
import { createHubCounters, createHubHistograms } from '../../../broker/src/metrics.ts';
import { MqttServer } from '../../../broker/src/mqttServer.ts';
import { Registry } from '../../../broker/src/registry.ts';
import { createRootLogger } from '../../../runtime/src/logging.ts';

const registryPath = process.env['PEER_REGISTRY_PATH'];
const port = Number(process.env['PEER_MQTT_PORT']);
if (!registryPath || !Number.isInteger(port) || port <= 0) {
  process.stderr.write('PEER_REGISTRY_PATH and PEER_MQTT_PORT must be set\n');
  process.exit(1);
}

export const BENCH_SUBSCRIBER_PREFIX = 'bench-sub-';

// The benchmark's observers may read gateways' topics; everyone else goes through the hub's own check.
const createBroker = Aedes.createBroker.bind(Aedes);
Aedes.createBroker = (opts?: Partial<AedesOptions>) => {
  const own = opts?.authorizeSubscribe;
  return createBroker({
    ...opts,
    ...(process.env['PEER_AEDES_CONCURRENCY'] ? { concurrency: Number(process.env['PEER_AEDES_CONCURRENCY']) } : {}),
    authorizeSubscribe: (client, sub, done) => (client?.id.startsWith(BENCH_SUBSCRIBER_PREFIX) ? done(null, sub) : own ? own(client, sub, done) : done(null, sub)),
  });
};

const log = createRootLogger('hub-broker', 'warn');
const registry = new Registry(registryPath);
const counters = createHubCounters();
const accept: ChannelHandler = () => 'accept';
const dispatch: DispatchTable = { telemetry: accept, state: accept, health: accept, cmdres: accept };
const server = new MqttServer({
  host: '127.0.0.1',
  port,
  allowAnonymous: true,
  registry: () => registry,
  dispatch,
  bus: new EventBus(),
  counters,
  histograms: createHubHistograms(counters.registry),
  log,
  limits: { publishRate: 1_000_000, publishBurst: 1_000_000 },
});
await server.start();
log.warn({ port: server.port }, 'hub broker listening');
const stop = (): void =>
  void server.stop().then(() => {
    registry.close();
    process.exit(0);
  });
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
