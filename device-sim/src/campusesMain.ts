import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ApiClient } from '../../cli/src/client.ts';
import { loadConfigOrExit } from '../../runtime/src/envConfig.ts';
import { createRootLogger } from '../../runtime/src/logging.ts';
import { runService } from '../../runtime/src/service.ts';
import { provisionThroughApi } from './apiProvision.ts';
import { startSimulatedCampuses, type Campuses } from './campuses.ts';
import { fleetOf, loadCampusesConfig } from './config.ts';
import { deviceCount } from './fleet.ts';
import { schoolGatewayConfig } from './schoolGateway.ts';

const cfg = loadConfigOrExit(() => loadCampusesConfig());
const log = createRootLogger('device-sim', cfg.LOG_LEVEL);
const fleet = fleetOf(cfg);

let campuses: Campuses | undefined;
await runService('device-sim', log, {
  async start() {
    // Registered the way a school's IT staff would, through the hub's API; each gateway's
    // password is the one the hub made for it (only its hash is kept there).
    const api = new ApiClient(cfg.SIM_API_URL.replace(/\/$/, ''), () => cfg.SIM_API_TOKEN ?? readFileSync(cfg.SIM_API_TOKEN_FILE, 'utf8').trim());
    const passwords = await provisionThroughApi(api, fleet);
    log.info({ api: cfg.SIM_API_URL, gateways: passwords.size, devices: deviceCount(fleet) }, 'simulated fleet registered through the API');
    campuses = await startSimulatedCampuses({
      fleet,
      gatewayConfig: (s) =>
        schoolGatewayConfig(s, cfg.SIM_HUB_URL, passwords.get(s.gateway)!, {
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
