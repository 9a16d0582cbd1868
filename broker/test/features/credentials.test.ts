import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/passwords.ts';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { rawConnect } from '../../../tests/harness/rawMqtt.ts';
import { TEST_SCRYPT } from '../../../tests/harness/stack.ts';

/**
 * Rotations through the API on a real hub, whose new hashes have the default scrypt cost: a
 * gateway deleted and re-created in another district while its rotation hashes is not
 * touched; a revoked gateway's rotation says it is still revoked.
 */
describe('gateway rotation', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'hub_credentials');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });
  const login = (id: string, password: string) => rawConnect(rig.hub.mqttPort, { clientId: id, clean: true, username: id, password });

  it('refuses to rotate a gateway deleted and re-created in another district while the new password was hashed', async () => {
    const id = 'gw-yz-bashu';
    const otherHash = await hashPassword('pw-jiangbei', TEST_SCRYPT);
    const reg = rig.registry;
    const original = reg.getGateway.bind(reg);
    let moved = false;
    // The rotation reads the gateway once before it hashes: the move lands in the next turn, inside the hash.
    reg.getGateway = (gw) => {
      const row = original(gw);
      if (gw === id && !moved) {
        moved = true;
        setImmediate(() => {
          reg.deleteGateway(id);
          reg.createGateway(id, 'jb-s01', otherHash, Date.now());
        });
      }
      return row;
    };
    let r;
    try {
      r = await rig.call<{ password?: string }>('bashuIt', 'POST', `/gateways/${id}/rotate`);
    } finally {
      reg.getGateway = original;
    }
    expect(moved).toBe(true);
    expect(r.status).toBe(404);
    expect(r.body.password).toBeUndefined();
    expect(reg.getGateway(id)).toMatchObject({ school: 'jb-s01', district: '江北区', passwordHash: otherHash });
    expect(reg.listAudit({ target: `gateway:${id}` }).items[0]).toMatchObject({ action: 'gateway.rotate', outcome: 'not_found', school: 'yz-bashu', actor: 'user:u-bashuIt' });
    expect(await login(id, 'pw-jiangbei')).toBe(0);
  });

  it('rotates a revoked gateway, says it is still revoked, and its new password works once reinstated', async () => {
    const id = 'gw-yz-s02';
    expect((await rig.call('s02It', 'POST', `/gateways/${id}/revoke`)).status).toBe(200);
    const r = await rig.call<{ gateway: { revoked: boolean }; password: string }>('s02It', 'POST', `/gateways/${id}/rotate`);
    expect(r.status).toBe(200);
    expect(r.body.gateway.revoked).toBe(true);
    expect(await login(id, r.body.password)).toBe(4);
    expect((await rig.call('s02It', 'POST', `/gateways/${id}/reinstate`)).status).toBe(200);
    expect(await login(id, r.body.password)).toBe(0);
  });
});
