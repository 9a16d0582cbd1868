import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/passwords.ts';
import { startApiRig, type ApiRig } from '../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../tests/harness/influx.ts';
import { rawConnect } from '../../tests/harness/rawMqtt.ts';

/**
 * An unknown gateway id is refused in the time a known one with a wrong password is: both run
 * one scrypt at the default cost. Compared as a ratio of means over interleaved attempts, so the
 * machine's speed does not enter.
 */
describe('login timing', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    // No back-off: every attempt here fails on purpose.
    rig = await startApiRig(influx.url, 'hub_login_timing', { hub: { loginBackoff: { freeFailuresPerId: 1e6, freeFailuresPerAddress: 1e6 } } });
    rig.registry.setGateway('gw-yz-s02', 'yz-s02', await hashPassword('pw-timing'), Date.now());
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  async function timed(id: string): Promise<number> {
    const t0 = performance.now();
    expect(await rawConnect(rig.hub.mqttPort, { clientId: id, clean: true, username: id, password: 'wrong' })).toBe(4);
    return performance.now() - t0;
  }

  it('takes about as long for an unknown id as for a known id with a wrong password', async () => {
    // The first known login teaches the hub the registry's scrypt parameters.
    await timed('gw-yz-s02');
    const known: number[] = [];
    const unknown: number[] = [];
    for (let i = 0; i < 30; i++) {
      known.push(await timed('gw-yz-s02'));
      unknown.push(await timed(`gw-nobody-${i}`));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    const ratio = mean(unknown) / mean(known);
    expect(ratio).toBeGreaterThan(0.5);
    expect(ratio).toBeLessThan(2);
  });
});
