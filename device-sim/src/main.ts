import { createHmac } from 'node:crypto';
import { join } from 'node:path';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { loadConfigOrExit } from '../../runtime/src/envConfig.ts';
import { createRootLogger } from '../../runtime/src/logging.ts';
import { startSimulatedCampuses, type Campuses } from './campuses.ts';
import { loadSimConfig } from './config.ts';
import { deviceCount, generateFleet, parseDistrictList, SEED_DISTRICTS, type SimSchool } from './fleet.ts';
import { loadGatewayConfig } from '../../gateway/src/config.ts';
import { runService } from '../../runtime/src/service.ts';

const cfg = loadConfigOrExit(() => loadSimConfig());
const log = createRootLogger('device-sim', cfg.LOG_LEVEL);
const fleet = generateFleet({
  seed: cfg.SIM_SEED,
  districts: [...SEED_DISTRICTS, ...parseDistrictList(cfg.SIM_EXTRA_DISTRICTS)],
  schoolsPerDistrict: cfg.SIM_SCHOOLS_PER_DISTRICT,
  roomsPerSchool: cfg.SIM_ROOMS_PER_SCHOOL,
  vrKitsPerSchool: cfg.SIM_VR_KITS_PER_SCHOOL,
  accessSwitchesPerSchool: cfg.SIM_ACCESS_SWITCHES_PER_SCHOOL,
});
const passwordOf = (gateway: string) => createHmac('sha256', cfg.SIM_GATEWAY_SECRET).update(gateway).digest('base64url');

if (cfg.SIM_REGISTRY_PATH) {
  const registry = new Registry(cfg.SIM_REGISTRY_PATH);
  await provisionFleet(registry, fleet, passwordOf);
  registry.close();
  log.info({ registry: cfg.SIM_REGISTRY_PATH, gateways: fleet.schools.length }, 'simulated fleet provisioned');
}

// Each simulated gateway takes the gateway's own defaults (gateway/src/config.ts), with its
// identity, a free LAN port on loopback and its outbox in memory or, with SIM_OUTBOX_DIR, on disk.
const gatewayConfigOf = (s: SimSchool) =>
  loadGatewayConfig({
    GW_ID: s.gateway,
    GW_DISTRICT: s.district,
    GW_SCHOOL: s.id,
    GW_PASSWORD: passwordOf(s.gateway),
    GW_HUB_URL: cfg.SIM_HUB_URL,
    GW_LAN_PORT: '0',
    GW_OUTBOX_DIR: cfg.SIM_OUTBOX_DIR === 'memory' ? 'memory' : join(cfg.SIM_OUTBOX_DIR, s.gateway),
    GW_HEALTH_PORT: '-1',
  }).gateway;

let campuses: Campuses | undefined;
await runService('device-sim', log, {
  async start() {
    campuses = await startSimulatedCampuses({
      fleet,
      gatewayConfig: gatewayConfigOf,
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
