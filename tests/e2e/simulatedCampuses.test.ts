import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { track } from '../harness/children.ts';
import { PROJECT_ROOT, startHubProcess, type HubProcess } from '../harness/hubProcess.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { influxQuery } from '../harness/stack.ts';

/**
 * The compose topology on one machine: the hub's main and the simulated campuses' main as two
 * processes; the simulator registers the fleet through the hub's management API with the token
 * the hub's first start wrote beside its registry, and its gateways log in with the passwords
 * the hub made for them.
 */
describe('the campuses main against the hub main (the compose topology)', () => {
  let influx: InfluxInstance;
  let hub: HubProcess;
  let dir: string;

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'campuses-'));
    hub = await startHubProcess({ HUB_REGISTRY_PATH: join(dir, 'registry.sqlite'), INFLUX_URL: influx.url, INFLUX_DB: 'campuses', LOG_LEVEL: 'warn' }, join(dir, 'hub.log'));
  });
  afterAll(async () => {
    await hub?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('registers the fleet through the API, connects every school gateway and lands data for every district', async () => {
    const sim = track(
      spawn(process.execPath, [join(PROJECT_ROOT, 'device-sim/src/campusesMain.ts')], {
        env: {
          ...process.env,
          SIM_HUB_URL: `mqtt://127.0.0.1:${hub.mqttPort}`,
          SIM_API_URL: `http://127.0.0.1:${hub.httpPort}`,
          SIM_API_TOKEN_FILE: join(dir, 'admin-token'),
          SIM_SCHOOLS_PER_DISTRICT: '1',
          SIM_ROOMS_PER_SCHOOL: '1',
          SIM_VR_KITS_PER_SCHOOL: '0',
          SIM_CADENCE_SCALE: '0.05',
          LOG_LEVEL: 'warn',
        },
        stdio: 'ignore',
      }),
    );
    try {
      // Per school: 1 room × 2 + uplink + 1 switch = 4 devices; 6 schools.
      const devices = await waitFor('every device of every district in InfluxDB', async () => {
        const s = await influxQuery(influx.url, 'campuses', 'SELECT count(seq) FROM classroom_av, interactive_board, network_node GROUP BY device, district').catch(() => []);
        return new Set(s.map((x) => x.tags!['device'])).size === 24 ? s : undefined;
      }, { timeoutMs: 30_000, intervalMs: 250 });
      expect([...new Set(devices.map((x) => x.tags!['district']))].sort()).toEqual(SEED_DISTRICTS.map((d) => d.id).sort());
      const health = (await (await fetch(`http://127.0.0.1:${hub.httpPort}/health`)).json()) as { gatewaysOnline: number };
      expect(health.gatewaysOnline).toBe(6);
    } finally {
      await new Promise<void>((r) => {
        sim.once('exit', () => r());
        sim.kill('SIGTERM');
      });
    }
  });
});
