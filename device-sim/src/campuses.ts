import type { Logger } from 'pino';
import { createGateway, type Gateway, type GatewayConfig } from '../../gateway/src/gateway.ts';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import type { Fleet } from './fleet.ts';
import { createSimulator, type Simulator, type SimulatorConfig } from './simulator.ts';

export interface Campuses {
  gateways: Gateway[];
  sim: Simulator;
  stop(): Promise<void>;
}

/**
 * The campus side of a simulated city: one real gateway per school (its own LAN listener on a
 * free loopback port, its own credentials to the hub) and the simulated devices behind it.
 */
export async function startSimulatedCampuses(opts: {
  fleet: Fleet;
  gatewayConfig: (school: Fleet['schools'][number]) => GatewayConfig;
  sim: SimulatorConfig;
  gatewayLog: Logger;
  simLog: Logger;
  onDelivered?: (records: OutboxRecord[], at: number) => void;
}): Promise<Campuses> {
  const gateways: Gateway[] = [];
  const lanPort = new Map<string, number>();
  for (const s of opts.fleet.schools) {
    const gw = createGateway(opts.gatewayConfig(s), {
      log: opts.gatewayLog,
      ...(opts.onDelivered ? { onDelivered: opts.onDelivered } : {}),
    });
    await gw.start();
    gateways.push(gw);
    lanPort.set(s.id, gw.lanPort);
  }
  const sim = createSimulator(opts.fleet, (s) => `mqtt://127.0.0.1:${lanPort.get(s.id)}`, opts.sim, { log: opts.simLog });
  await sim.start();
  return {
    gateways,
    sim,
    async stop() {
      await sim.stop();
      await Promise.all(gateways.map((g) => g.stop()));
    },
  };
}
