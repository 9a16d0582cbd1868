import { createHmac } from 'node:crypto';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { loadConfigOrExit } from '../../protocol/src/envConfig.ts';
import { createRootLogger } from '../../protocol/src/logging.ts';
import { startSimulatedCampuses } from './campuses.ts';
import { loadSimConfig } from './config.ts';
import { deviceCount, generateFleet, parseDistrictList, SEED_DISTRICTS } from './fleet.ts';

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

const url = new URL(cfg.SIM_HUB_URL);
const campuses = await startSimulatedCampuses({
  fleet,
  gatewayConfig: (s) => ({
    gateway: s.gateway,
    district: s.district,
    school: s.id,
    password: passwordOf(s.gateway),
    hubUrl: url.toString(),
    lanHost: '127.0.0.1',
    lanPort: 0,
    batchMaxRecords: 500,
    batchMaxBytes: 900_000,
    lingerMs: 200,
    maxInflightBatches: 4,
    keepaliveSec: 30,
    reconnectMs: 1000,
    maxSampleBytes: 65_536,
    outboxMaxRecords: 2_000_000,
    replayRatePerSec: 2000,
    replayJitterMs: 10_000,
    replayInflightBatches: 2,
    healthHost: '127.0.0.1',
    healthPort: -1,
    healthIntervalMs: 30_000,
  }),
  sim: { seed: cfg.SIM_SEED, cadenceScale: cfg.SIM_CADENCE_SCALE, samplesPerDevice: 0, startSpreadMs: 5000 },
  gatewayLog: log,
  simLog: log,
});
log.info({ devices: deviceCount(fleet), gateways: campuses.gateways.length, hub: cfg.SIM_HUB_URL }, 'simulated campuses running');

let stopping = false;
async function shutdown(signal: string): Promise<void> {
  if (stopping) return;
  stopping = true;
  log.info({ signal }, 'stopping');
  await campuses.stop();
  process.exit(0);
}
process.on('SIGINT', () => void shutdown('SIGINT'));
process.on('SIGTERM', () => void shutdown('SIGTERM'));
