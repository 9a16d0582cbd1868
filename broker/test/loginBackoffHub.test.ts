import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../tests/harness/influx.ts';
import { rawConnect } from '../../tests/harness/rawMqtt.ts';
import { gatewayPassword } from '../../tests/harness/stack.ts';

/** Failed logins of one gateway id back it off on a real hub: refused with CONNACK 3, counted, even with the right password. */
describe('login back-off on the hub', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    // A minute's wait after the second failure: longer than the test, so nothing depends on the clock.
    rig = await startApiRig(influx.url, 'hub_login_backoff', { hub: { loginBackoff: { freeFailuresPerId: 2, freeFailuresPerAddress: 1000, baseMs: 60_000 } } });
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });
  const login = (id: string, password: string) => rawConnect(rig.hub.mqttPort, { clientId: id, clean: true, username: id, password });
  const refused = (code: string) => rig.hub.counters.get('connections_refused', { code });

  it('refuses a gateway id after repeated wrong passwords, then even its right one; other ids are unaffected', async () => {
    const id = 'gw-yz-s02';
    expect(await login(id, gatewayPassword(id))).toBe(0);
    // Two failures are free; the third is still checked, and starts the wait.
    expect([await login(id, 'guess-1'), await login(id, 'guess-2'), await login(id, 'guess-3')]).toEqual([4, 4, 4]);
    expect(await login(id, gatewayPassword(id))).toBe(3);
    expect(await login(id, 'guess-4')).toBe(3);
    expect(refused('HUB_ERR_LOGIN_BACKOFF')).toBe(2);
    expect(refused('HUB_ERR_AUTH_DENIED')).toBe(3);
    expect(await login('gw-jb-s01', gatewayPassword('gw-jb-s01'))).toBe(0);
  });

  it('wrong passwords sent all at once get no more checks than sent one after another', async () => {
    const id = 'gw-yz-bashu';
    const denied = refused('HUB_ERR_AUTH_DENIED');
    const backoff = refused('HUB_ERR_LOGIN_BACKOFF');
    const codes = await Promise.all(Array.from({ length: 20 }, (_, i) => login(id, `parallel-${i}`)));
    // Free 2: the checks under way count as failures, so the 4th finds 3 and backs off, as in turn.
    expect(codes.filter((c) => c === 4)).toHaveLength(3);
    expect(codes.filter((c) => c === 3)).toHaveLength(17);
    expect([refused('HUB_ERR_AUTH_DENIED') - denied, refused('HUB_ERR_LOGIN_BACKOFF') - backoff]).toEqual([3, 17]);
  });

  it('a full check queue refuses with CONNACK 3, each refusal counted', async () => {
    const unavailable = refused('HUB_ERR_AUTH_UNAVAILABLE');
    // Distinct unknown ids (each costs a check against the dummy hash): more than the queue holds.
    const codes = await Promise.all(Array.from({ length: 300 }, (_, i) => login(`gw-nobody-${i}`, 'x')));
    const full = codes.filter((c) => c === 3).length;
    expect(full).toBeGreaterThan(0);
    expect(codes.filter((c) => c !== 3 && c !== 4 && c !== 5)).toEqual([]);
    expect(refused('HUB_ERR_AUTH_UNAVAILABLE') - unavailable).toBe(full);
  });
});
