import mqtt, { type MqttClient } from 'mqtt';
import type { SimSchool } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway, type GatewayConfig } from '../../gateway/src/gateway.ts';
import { MemoryOutbox } from '../../gateway/src/outbox.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { waitFor } from './ports.ts';
import { gatewayConfig } from './stack.ts';
import { startTcpProxy, type TcpProxy } from './tcpProxy.ts';

/**
 * Schools a test drives by hand: each school's gateway in process, behind its own WAN link (a TCP
 * proxy the test can cut or hold), on the test's clock, with a memory outbox, and one MQTT client
 * per device on its LAN.
 */
export interface CampusRig {
  readonly gateways: Map<string, Gateway>;
  readonly proxies: Map<string, TcpProxy>;
  /** LAN clients by device id. */
  readonly clients: Map<string, MqttClient>;
  startSchool(s: SimSchool, opts?: { gateway?: Partial<GatewayConfig>; outboxRecords?: number }): Promise<Gateway>;
  /** Waits until the school's gateway holds nothing (every record acknowledged by the hub). */
  drained(s: SimSchool): Promise<void>;
  stop(): Promise<void>;
}

export function campusRig(hubPort: () => number, now: () => number): CampusRig {
  const gateways = new Map<string, Gateway>();
  const proxies = new Map<string, TcpProxy>();
  const clients = new Map<string, MqttClient>();
  return {
    gateways,
    proxies,
    clients,
    async startSchool(s, opts = {}) {
      const proxy = await startTcpProxy(hubPort());
      proxies.set(s.id, proxy);
      const gw = createGateway(gatewayConfig(s, proxy.port, opts.gateway), { log: silentLogger(), now, outbox: new MemoryOutbox(opts.outboxRecords ?? 1_000_000) });
      await gw.start();
      gateways.set(s.id, gw);
      for (const d of s.devices) clients.set(d.id, await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: d.id, protocolVersion: 4, reconnectPeriod: 0 }));
      return gw;
    },
    async drained(s) {
      await waitFor(`${s.id} outbox drained`, async () => (gateways.get(s.id)!.outbox.size() === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });
    },
    async stop() {
      for (const c of clients.values()) await c.endAsync(true).catch(() => {});
      for (const g of gateways.values()) await g.stop();
      for (const p of proxies.values()) await p.stop();
    },
  };
}
