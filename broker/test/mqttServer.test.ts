import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../src/passwords.ts';
import { startApiRig, type ApiRig } from '../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../tests/harness/influx.ts';
import { rawConnect } from '../../tests/harness/rawMqtt.ts';

/**
 * A login races a change of the gateway's credentials, on a real hub: the password is hashed at
 * the default scrypt cost, so the check takes long enough for the change to land inside it.
 * The change is made from the login's first registry read (the next turn of the event loop),
 * so it always falls between the read and the accept.
 */
describe('a login in progress when its gateway is revoked or deleted', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'hub_login_race');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  /** Connects as `id` and runs `change` once the hub has read the gateway's row. */
  async function loginDuring(id: string, change: () => void): Promise<number | 'closed'> {
    const password = `pw-race-${id}`;
    rig.registry.setGateway(id, 'yz-s02', await hashPassword(password), Date.now());
    const reg = rig.registry;
    const original = reg.getGateway.bind(reg);
    let fired = false;
    reg.getGateway = (gw) => {
      const row = original(gw);
      if (gw === id && !fired) {
        fired = true;
        setImmediate(change);
      }
      return row;
    };
    try {
      const code = await rawConnect(rig.hub.mqttPort, { clientId: id, clean: true, username: id, password });
      expect(fired).toBe(true);
      return code;
    } finally {
      reg.getGateway = original;
    }
  }

  it('refuses the login of a gateway revoked while its password was checked', async () => {
    const before = rig.registry.listAudit({ target: 'gateway:gw-race-1' }).items.length;
    expect(await loginDuring('gw-race-1', () => rig.hub.revokeGateway('gw-race-1', 'user:u-city'))).toBe(4);
    expect(rig.registry.listAudit({ target: 'gateway:gw-race-1' }).items.length).toBe(before + 1);
  });

  it('refuses the login of a gateway deleted while its password was checked', async () => {
    expect(await loginDuring('gw-race-2', () => void rig.registry.deleteGateway('gw-race-2'))).toBe(4);
    expect(rig.registry.getGateway('gw-race-2')).toBeUndefined();
  });

  it('still accepts a login nothing changed during', async () => {
    expect(await loginDuring('gw-race-3', () => {})).toBe(0);
  });
});
