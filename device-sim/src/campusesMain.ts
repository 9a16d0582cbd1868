import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { loadConfigOrExit } from '../../runtime/src/envConfig.ts';
import { createRootLogger } from '../../runtime/src/logging.ts';
import { runService } from '../../runtime/src/service.ts';
import { startSimulatedCampuses, type Campuses } from './campuses.ts';
import { fleetOf, loadCampusesConfig } from './config.ts';
import { deviceCount } from './fleet.ts';
import { schoolGatewayConfig } from './schoolGateway.ts';

const cfg = loadConfigOrExit(() => loadCampusesConfig());
const log = createRootLogger('device-sim', cfg.LOG_LEVEL);
const fleet = fleetOf(cfg);
const passwordOf = (gateway: string) => createHmac('sha256', cfg.SIM_GATEWAY_SECRET).update(gateway).digest('base64url');

if (cfg.SIM_REGISTRY_PATH) {
  const registry = new Registry(cfg.SIM_REGISTRY_PATH);
  await provisionFleet(registry, fleet, passwordOf, 'system:sim');
  registry.close();
  log.info({ registry: cfg.SIM_REGISTRY_PATH, gateways: fleet.schools.length }, 'simulated fleet provisioned');
}

let campuses: Campuses | undefined;
await runService('device-sim', log, {
  async start() {
    campuses = await startSimulatedCampuses({
      fleet,
      gatewayConfig: (s) =>
        schoolGatewayConfig(s, cfg.SIM_HUB_URL, passwordOf(s.gateway), {
          GW_OUTBOX_DIR: cfg.SIM_OUTBOX_DIR === 'memory' ? 'memory' : join(cfg.SIM_OUTBOX_DIR, s.gateway),
        }),
      sim: { seed: cfg.SIM_SEED, cadenceScale: cfg.SIM_CADENCE_SCALE, samplesPerDevice: 0, startSpreadMs: 5000 },
      gatewayLog: log,
      simLog: log,
    });
    log.info({ devices: deviceCount(fleet), gateways: campuses.gateways.length, hub: cfg.SIM_HUB_URL }, 'simulated campuses running');
  },
  async stop() {
    await campuses?.stop();
  },
});
