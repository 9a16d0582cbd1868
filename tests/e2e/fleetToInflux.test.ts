import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS, deviceCount } from '../../device-sim/src/fleet.ts';
import { createSimulator, type Simulator } from '../../device-sim/src/simulator.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { influxQuery, startStack, type Stack } from '../harness/stack.ts';

const SAMPLES = 6;
const fleet = generateFleet({
  seed: 42,
  districts: SEED_DISTRICTS,
  schoolsPerDistrict: 2,
  roomsPerSchool: 2,
  vrKitsPerSchool: 1,
  accessSwitchesPerSchool: 1,
});
// Per school: 2 rooms × (AV + board) + 1 VR kit + uplink + 1 access switch = 7 devices.
const DEVICES_PER_SCHOOL = 7;

describe('simulated fleet → gateways → hub → InfluxDB', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let sim: Simulator;
  const db = 'e2e_fleet';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet });
    sim = createSimulator(
      fleet,
      (s) => `mqtt://127.0.0.1:${stack.gateways.get(s.id)!.lanPort}`,
      { seed: 42, cadenceScale: 0.001, samplesPerDevice: SAMPLES, startSpreadMs: 200 },
      { log: silentLogger() },
    );
    await sim.start();
    await sim.finished;
  });

  afterAll(async () => {
    await sim?.stop();
    await stack?.stop();
    await influx?.stop();
  });

  it('stores exactly as many points per device as the device produced', async () => {
    expect(deviceCount(fleet)).toBe(6 * 2 * DEVICES_PER_SCHOOL);
    expect(sim.totalAcked()).toBe(6 * 2 * DEVICES_PER_SCHOOL * SAMPLES);
    const counts = await waitFor('all points in InfluxDB', async () => {
      const series = await influxQuery(influx.url, db, 'SELECT count(seq) FROM /^(classroom_av|interactive_board|vr_kit|network_node)$/ GROUP BY device');
      const byDevice = new Map<string, number>();
      for (const s of series) byDevice.set(s.tags!['device']!, (byDevice.get(s.tags!['device']!) ?? 0) + Number(s.values[0]![1]));
      const total = [...byDevice.values()].reduce((a, b) => a + b, 0);
      return total === sim.totalAcked() ? byDevice : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(counts.size).toBe(deviceCount(fleet));
    for (const school of fleet.schools) {
      for (const d of school.devices) expect(counts.get(d.id), d.id).toBe(sim.acked.get(d.id));
    }
    expect(stack.hub.counters.total('records_rejected')).toBe(0);
  });

  it('answers per-district InfluxQL queries with the expected values', async () => {
    // Each device sent seq 0..5, so sum(seq) = 15 per device; 14 devices per district.
    const series = await influxQuery(influx.url, db, 'SELECT sum(seq), count(seq) FROM interactive_board, classroom_av, vr_kit, network_node GROUP BY district');
    const perDistrict = new Map<string, { sum: number; count: number }>();
    for (const s of series) {
      const cur = perDistrict.get(s.tags!['district']!) ?? { sum: 0, count: 0 };
      cur.sum += Number(s.values[0]![1]);
      cur.count += Number(s.values[0]![2]);
      perDistrict.set(s.tags!['district']!, cur);
    }
    expect([...perDistrict.keys()].sort()).toEqual(SEED_DISTRICTS.map((d) => d.id).sort());
    for (const d of SEED_DISTRICTS) {
      expect(perDistrict.get(d.id)).toEqual({ sum: 15 * 14, count: SAMPLES * 14 });
    }
    // School uplinks per district: 2, and one access switch per school.
    const uplinks = await influxQuery(influx.url, db, `SELECT count(octets_in) FROM network_node WHERE district = '渝中区' AND role = 'school_uplink' GROUP BY school`);
    expect(uplinks.map((s) => [s.tags!['school'], s.values[0]![1]])).toEqual([['yz-s01', SAMPLES], ['yz-s02', SAMPLES]]);
  });

  it('has each simulated device carry out the commands sent to it', async () => {
    const school = fleet.schools[0]!;
    const device = school.devices[0]!;
    const { id, status } = await stack.hub.sendCommand({ device: device.id, action: 'reboot' }, 'system:test');
    expect(status).toBe('sent');
    const row = await waitFor('the command answered', async () => {
      const r = await influxQuery(influx.url, db, `SELECT status, gateway FROM command WHERE "id" = '${id}'`);
      return r[0]?.values[0]?.[1] === 'done' ? r[0].values[0] : undefined;
    });
    expect(row.slice(1)).toEqual(['done', school.gateway]);
  });
});
