import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ApiClient } from '../../cli/src/client.ts';
import { startApiRig, type ApiRig } from '../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../tests/harness/influx.ts';
import { provisionThroughApi } from '../src/apiProvision.ts';
import type { Fleet } from '../src/fleet.ts';

/** The simulator's registration through the hub's API, on a registry that already has things in it. */
describe('provisionThroughApi', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'sim_provision');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  it('registers what is new, keeps what exists, leaves a retired device out, and returns passwords that log in', async () => {
    // yz-bashu and its gateway exist already (the rig's city); one of its devices was retired.
    rig.registry.retireDevice('yz-bashu-301-av', Date.now());
    const fleet: Fleet = {
      districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
      schools: [
        { id: 'yz-bashu', name: '巴蜀小学', district: '渝中区', gateway: 'gw-yz-bashu', devices: [{ id: 'yz-bashu-301-av', kind: 'classroom_av', room: '301' }, { id: 'yz-bashu-302-board', kind: 'interactive_board', room: '302' }] },
        { id: 'yz-new', name: '新校', nameEn: 'New School', district: '渝中区', gateway: 'gw-yz-new', devices: [{ id: 'yz-new-uplink', kind: 'network_node', room: 'server-room', link: { role: 'school_uplink', capacityBps: 5e8 } }] },
      ],
    };
    const api = new ApiClient(rig.base.replace(/\/api\/v1$/, ''), () => rig.tokens.city);
    for (let run = 0; run < 2; run++) {
      const passwords = await provisionThroughApi(api, fleet);
      expect([...passwords.keys()]).toEqual(['gw-yz-bashu', 'gw-yz-new']);
      for (const [gateway, password] of passwords) {
        const school = gateway.slice(3);
        const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, { clientId: gateway, username: gateway, password, protocolVersion: 4, reconnectPeriod: 0 });
        await c.endAsync();
        expect(rig.registry.getGatewayRecord(gateway)?.school).toBe(school);
      }
    }
    expect(rig.registry.getDeviceRecord('yz-bashu-301-av')?.retiredAt).not.toBeNull();
    expect(rig.registry.getDeviceRecord('yz-bashu-302-board')).toMatchObject({ school: 'yz-bashu', room: '302', kind: 'interactive_board' });
    expect(rig.registry.getDeviceRecord('yz-new-uplink')).toMatchObject({ school: 'yz-new', linkRole: 'school_uplink', capacityBps: 5e8 });
    expect(rig.registry.getSchool('yz-new')).toMatchObject({ nameZh: '新校', nameEn: 'New School' });
  });
});
