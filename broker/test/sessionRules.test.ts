import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../tests/harness/influx.ts';
import { rawConnect } from '../../tests/harness/rawMqtt.ts';
import { gatewayPassword } from '../../tests/harness/stack.ts';

/** HUB_ALLOW_ANONYMOUS on a real hub: an anonymous client cannot pose as a gateway or read the gateways' topics. */
describe('anonymous mode', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'hub_anonymous', { hub: { allowAnonymous: true } });
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  it("refuses an anonymous client under a connected gateway's id (CONNACK 2), and the gateway's session stays", async () => {
    const id = 'gw-yz-s02';
    const gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, { clientId: id, username: id, password: gatewayPassword(id), protocolVersion: 4, reconnectPeriod: 0, clean: false });
    try {
      expect(await rawConnect(rig.hub.mqttPort, { clientId: id, clean: false })).toBe(2);
      expect(await rawConnect(rig.hub.mqttPort, { clientId: 'gw-not-registered', clean: true })).toBe(2);
      expect(rig.hub.counters.get('connections_refused', { code: 'HUB_ERR_ANONYMOUS_CLIENT_ID' })).toBe(2);
      expect(gw.connected).toBe(true);
    } finally {
      await gw.endAsync(true);
    }
  });

  it("grants an anonymous client its own topics, and refuses the gateways' and $SYS (SUBACK 0x80)", async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, { clientId: 'observer-1', protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const codes: number[] = [];
      for (const f of ['lab/#', 'campus/v1/#', '#', 'campus/v1/+/+/+/cmd/#', '$SYS/#']) {
        const granted = await c.subscribeAsync(f, { qos: 1 }).then(
          (g) => g.map((x) => x.qos),
          (e: { packet?: { granted?: number[] } }) => e.packet?.granted ?? [-1],
        );
        codes.push(...granted);
      }
      expect(codes).toEqual([1, 128, 128, 128, 128]);
      expect(rig.hub.counters.get('subscriptions_denied', { reason: 'acl' })).toBe(4);
    } finally {
      await c.endAsync(true);
    }
  });
});

describe('session takeover', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'hub_takeover');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  it('lets a second connection of a gateway take over, and counts each takeover', async () => {
    const id = 'gw-jb-s01';
    const opts = { clientId: id, username: id, password: gatewayPassword(id), protocolVersion: 4 as const, reconnectPeriod: 0 };
    const first = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, opts);
    const firstClosed = new Promise<void>((r) => first.once('close', () => r()));
    const second = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, opts);
    try {
      await firstClosed;
      expect(second.connected).toBe(true);
      expect(rig.hub.counters.get('session_takeovers', { gateway: id })).toBe(1);
    } finally {
      await second.endAsync(true);
      await first.endAsync(true);
    }
  });
});
