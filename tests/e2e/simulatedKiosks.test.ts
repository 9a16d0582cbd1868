import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { createSimulator, type Simulator } from '../../device-sim/src/simulator.ts';
import { scienceKioskDataSchema } from '../../protocol/src/kinds.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * Science kiosks from the simulator through real gateways and the hub into InfluxDB: every
 * kiosk's acknowledged samples are stored, with fields in the kiosk schema's bounds, beside the
 * schools' other devices.
 */
const SAMPLES = 5;
const fleet = generateFleet({ seed: 13, districts: SEED_DISTRICTS.slice(0, 2), schoolsPerDistrict: 2, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0, kioskSchoolShare: 1 });
const kiosks = fleet.schools.flatMap((s) => s.devices).filter((d) => d.kind === 'science_kiosk');

describe('simulated science kiosks → gateways → hub → InfluxDB', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let sim: Simulator;
  const db = 'e2e_kiosks';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet });
    sim = createSimulator(fleet, (s) => `mqtt://127.0.0.1:${stack.gateways.get(s.id)!.lanPort}`, { seed: 13, cadenceScale: 0.001, samplesPerDevice: SAMPLES, startSpreadMs: 200 }, { log: silentLogger() });
    await sim.start();
    await sim.finished;
  });
  afterAll(async () => {
    await sim?.stop();
    await stack?.stop();
    await influx?.stop();
  });

  it("stores every sample each kiosk had acknowledged, within the schema's bounds", async () => {
    // One kiosk in the lobby of each of the 4 schools, besides its AV, board and uplink.
    expect(kiosks.map((k) => [k.id, k.room])).toEqual(fleet.schools.map((s) => [`${s.id}-kiosk`, 'lobby']));
    expect(kiosks.map((k) => sim.acked.get(k.id))).toEqual([SAMPLES, SAMPLES, SAMPLES, SAMPLES]);
    const series = await waitFor('every kiosk sample in InfluxDB', async () => {
      const s = await influxQuery(influx.url, db, 'SELECT power, screen_on, content_sync_age_s, free_disk_mib FROM science_kiosk GROUP BY device, school');
      return s.reduce((n, x) => n + x.values.length, 0) === kiosks.length * SAMPLES ? s : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(series.map((s) => [s.tags!['device'], s.tags!['school'], s.values.length]).sort()).toEqual(fleet.schools.map((s) => [`${s.id}-kiosk`, s.id, SAMPLES]).sort());
    for (const s of series) {
      for (const [, power, screenOn, contentSyncAgeS, freeDiskMiB] of s.values) {
        expect(scienceKioskDataSchema.safeParse({ power, screenOn, contentSyncAgeS, freeDiskMiB }).success).toBe(true);
      }
    }
    expect(stack.hub.counters.total('records_rejected')).toBe(0);
  });
});
