import { createServer } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { loadGatewayConfig } from '../src/config.ts';
import { createGateway, type Gateway, type GatewayConfig, type GatewayDeps } from '../src/gateway.ts';

/** A port nothing listens on (bound once, then released): an unreachable hub. */
export async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', () => r()));
  const port = (s.address() as { port: number }).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

/** A gateway's configuration from its own defaults: on loopback, memory outbox, the hub unreachable. */
export async function lanOnlyConfig(env: Record<string, string> = {}, over: Partial<GatewayConfig> = {}): Promise<GatewayConfig> {
  const c = loadGatewayConfig({
    GW_ID: 'gw-test',
    GW_DISTRICT: 'd1',
    GW_SCHOOL: 's1',
    GW_PASSWORD: 'password1',
    GW_HUB_URL: `mqtt://127.0.0.1:${await closedPort()}`,
    GW_RECONNECT_MS: '600000',
    GW_LAN_PORT: '0',
    GW_OUTBOX_DIR: 'memory',
    GW_HEALTH_PORT: '-1',
    GW_AVAILABILITY: 'false',
    ...env,
  });
  return { ...c.gateway, ...over };
}

/** A gateway whose hub is unreachable, so what is accepted stays in its outbox, plus LAN clients. */
export async function startLanOnly(config: GatewayConfig, deps: Partial<GatewayDeps> = {}): Promise<{
  gw: Gateway;
  device(clientId: string, opts?: mqtt.IClientOptions): Promise<MqttClient>;
  stop(): Promise<void>;
}> {
  const gw = createGateway(config, { log: silentLogger(), ...deps });
  await gw.start();
  const clients: MqttClient[] = [];
  return {
    gw,
    async device(clientId, opts = {}) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId, protocolVersion: 4, reconnectPeriod: 0, ...opts });
      clients.push(c);
      return c;
    },
    async stop() {
      for (const c of clients) await c.endAsync(true).catch(() => {});
      await gw.stop();
    },
  };
}

export const boardSample = (device: string, seq: number, ts: number, power: 'on' | 'off' = 'on') =>
  JSON.stringify({ device, kind: 'interactive_board', seq, ts, data: { power, touchOk: true, activeInput: 'ops', firmware: 'v1' } });

export const nodeSample = (device: string, seq: number, ts: number, octetsIn: bigint) =>
  JSON.stringify({ device, kind: 'network_node', seq, ts, data: { role: 'school_uplink', capacityBps: 1_000_000_000, octetsIn: String(octetsIn), octetsOut: '0', operUp: true } });

export async function publish(c: MqttClient, payload: string): Promise<void> {
  await c.publishAsync(LAN_TELEMETRY_TOPIC, payload, { qos: 1 });
}
