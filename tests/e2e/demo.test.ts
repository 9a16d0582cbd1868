import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deviceCount, generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { PROJECT_ROOT } from '../harness/hubProcess.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { influxQuery } from '../harness/stack.ts';

describe('npm run demo', () => {
  let influx: InfluxInstance;
  let dir: string;
  let output = '';
  let exitCode: number | null = null;

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'campus-demo-'));
    const child = spawn(process.execPath, [join(PROJECT_ROOT, 'scripts/demo.ts')], {
      env: {
        ...process.env,
        INFLUX_URL: influx.url,
        INFLUX_DB: 'demo_check',
        DEMO_DATA_DIR: dir,
        DEMO_DURATION_S: '20',
        DEMO_SEED: '11',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    child.stdout.on('data', (b: Buffer) => (output += b.toString()));
    child.stderr.on('data', (b: Buffer) => (output += b.toString()));
    exitCode = await new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  }, 90_000);
  afterAll(async () => {
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('gets data from every simulated device of every district into InfluxDB within its first 20 s', async () => {
    expect(exitCode, output).toBe(0);
    // Defaults: 6 districts × 2 schools × (4 rooms × 2 + 2 VR kits + uplink + 1 switch) = 144.
    const fleet = generateFleet({ seed: 11, districts: SEED_DISTRICTS, schoolsPerDistrict: 2, roomsPerSchool: 4, vrKitsPerSchool: 2, accessSwitchesPerSchool: 1 });
    expect(deviceCount(fleet)).toBe(144);
    const series = await influxQuery(influx.url, 'demo_check', 'SELECT count(seq) FROM classroom_av, interactive_board, vr_kit, network_node GROUP BY device, district');
    const devices = new Set(series.map((s) => s.tags!['device']));
    expect(devices.size).toBe(144);
    const districts = new Set(series.map((s) => s.tags!['district']));
    expect([...districts].sort()).toEqual(SEED_DISTRICTS.map((d) => d.id).sort());
    expect(output).toContain('InfluxDB   ' + influx.url);
    expect(output).toMatch(/DEMO_SUMMARY \{"devices":144,/);
  });

  it('runs Node-RED with the flows, its secrets generated once and kept private', () => {
    expect(output).toMatch(/Node-RED {3}editor http:\/\/127\.0\.0\.1:\d+\/admin/);
    // The console's address and where the city admin's password is (never the password).
    expect(output).toMatch(/Console {4}http:\/\/127\.0\.0\.1:\d+\/console\/ \(user admin, password in \S+CONSOLE_ADMIN_PASSWORD/);
    for (const name of ['NODE_RED_ADMIN_PASSWORD', 'NODE_RED_CREDENTIAL_SECRET', 'NODERED_ALERT_WEBHOOK_PASSWORD']) {
      const st = statSync(join(dir, 'secrets', name));
      expect([st.mode & 0o777, st.size], name).toEqual([0o600, 24]);
      // Printed where it is, never what it is.
      expect(output).not.toContain(readFileSync(join(dir, 'secrets', name), 'utf8'));
    }
  });
});
