import { readFileSync } from 'node:fs';
import { ConfigError, loadConfigOrExit } from '../../runtime/src/envConfig.ts';
import { createRootLogger } from '../../runtime/src/logging.ts';
import { runService } from '../../runtime/src/service.ts';
import { fleetOf, lanUrlOf, loadSimConfig } from './config.ts';
import { SIM_ERR, SimError } from './errors.ts';
import { deviceCount, fleetFromInventory, onlySchools } from './fleet.ts';

function readInventory(path: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (e) {
    throw new ConfigError(`SIM_INVENTORY: ${path} cannot be read: ${(e as Error).message}`);
  }
}
import { createSimulator, type Simulator } from './simulator.ts';

// The simulated devices alone, each connecting to its school's gateway LAN listener, which runs
// elsewhere (gateway/src/main.ts); campusesMain.ts runs the gateways too.
const cfg = loadConfigOrExit(() => loadSimConfig());
const log = createRootLogger('device-sim', cfg.LOG_LEVEL);
const fleet = loadConfigOrExit(() => {
  try {
    const all = cfg.SIM_INVENTORY === undefined ? fleetOf(cfg) : fleetFromInventory(readInventory(cfg.SIM_INVENTORY));
    return onlySchools(all, cfg.SIM_SCHOOLS);
  } catch (e) {
    if (e instanceof SimError) throw new ConfigError(`${e.code === SIM_ERR.BAD_INVENTORY ? 'SIM_INVENTORY' : 'SIM_SCHOOLS'}: ${e.message}`);
    throw e;
  }
});

let sim: Simulator | undefined;
await runService('device-sim', log, {
  async start() {
    sim = createSimulator(fleet, (s) => lanUrlOf(cfg.SIM_LAN_URL, s), { seed: cfg.SIM_SEED, cadenceScale: cfg.SIM_CADENCE_SCALE, samplesPerDevice: 0, startSpreadMs: 5000 }, { log });
    await sim.start();
    log.info({ devices: deviceCount(fleet), schools: fleet.schools.length, lan: cfg.SIM_LAN_URL }, 'simulated devices running');
  },
  async stop() {
    await sim?.stop();
  },
});
