import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { track } from '../harness/children.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gatewayProcess.ts';
import { PROJECT_ROOT } from '../harness/mainProcess.ts';
import { freePort, waitFor } from '../harness/ports.ts';

function runSim(env: Record<string, string>) {
  let stderr = '';
  const child = track(spawn(process.execPath, [join(PROJECT_ROOT, 'device-sim/src/main.ts')], { env: { ...process.env, LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'ignore', 'pipe'] }));
  child.stderr!.on('data', (b: Buffer) => (stderr += b.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, exited, stderr: () => stderr };
}

/** `npm run sim`: the simulated devices alone, feeding a gateway's own main that runs elsewhere. */
describe('device-sim main (the simulated devices alone) against a gateway main', () => {
  let dir: string;
  let gw: GatewayProcess;
  let lanPort: number;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'sim-alone-'));
    lanPort = await freePort();
    // No hub answers: the gateway keeps what its LAN accepted in its outbox.
    gw = await startGatewayProcess(
      {
        GW_ID: 'gw-yz-s01',
        GW_DISTRICT: '渝中区',
        GW_SCHOOL: 'yz-s01',
        GW_PASSWORD: 'a-password-for-tests',
        GW_HUB_URL: `mqtt://127.0.0.1:${await freePort()}`,
        GW_LAN_PORT: String(lanPort),
        GW_OUTBOX_DIR: 'memory',
        GW_AVAILABILITY: 'false',
        LOG_LEVEL: 'warn',
      },
      await freePort(),
      join(dir, 'gateway.log'),
    );
  });
  afterAll(async () => {
    await gw?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("runs one school's devices against its gateway's LAN listener; every sample accepted is held in the outbox", async () => {
    const sim = runSim({ SIM_LAN_URL: `mqtt://127.0.0.1:${lanPort}`, SIM_SCHOOLS: 'yz-s01', SIM_SCHOOLS_PER_DISTRICT: '1', SIM_ROOMS_PER_SCHOOL: '1', SIM_VR_KITS_PER_SCHOOL: '0', SIM_CADENCE_SCALE: '0.02' });
    try {
      // 1 room × 2 + uplink + 1 switch = 4 devices, each sending every 0.6 s after a 5 s spread.
      const h = await waitFor('samples from the simulated devices at the gateway', async () => {
        const x = await gw.health();
        return x.samplesAccepted >= 12 ? x : undefined;
      }, { timeoutMs: 30_000, intervalMs: 200 });
      expect(h.samplesRejected).toBe(0);
      expect(h.connected).toBe(false);
    } finally {
      sim.child.kill('SIGTERM');
      expect(await sim.exited).toBe(0);
    }
    const after = await gw.health();
    expect(after.outbox.records).toBe(after.samplesAccepted);
  });

  it('refuses a school the fleet does not have, naming the variable, and exits 1', async () => {
    const sim = runSim({ SIM_SCHOOLS: 'yz-s01,zz-s09' });
    expect(await sim.exited).toBe(1);
    expect(sim.stderr()).toContain('SIM_SCHOOLS: no such school in the fleet: zz-s09');
  });
});
