import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { gatewayInventorySchema, type GatewayInventory } from '../../../protocol/src/inventory.ts';
import { DEFAULT_TIMETABLE } from '../../../protocol/src/schedule.ts';
import { inventoryTopic } from '../../../protocol/src/topics.ts';
import { waitFor } from '../../../runtime/src/ports.ts';
import { Registry } from '../../src/registry.ts';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { gatewayPassword } from '../../../tests/harness/stack.ts';

/**
 * Each gateway's inventory on its own retained topic: at start, and again (a higher revision,
 * only for the gateway whose school changed) after a write through the API and after a write by
 * another process (a second Registry on the same file, as the CLI opens it).
 */
describe('the hub publishes each gateway its inventory', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  let other: Registry;
  let dir: string;
  let client: MqttClient;
  const got: Array<GatewayInventory | null> = [];
  const bashu = { district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu' };
  const published = (kind: string) => rig.hub.counters.get('inventories_published', { kind });
  const nth = (n: number) => waitFor(`inventory message ${n}`, async () => got[n - 1], { timeoutMs: 5000, intervalMs: 20 });

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'hub-inventory-'));
    const path = join(dir, 'registry.sqlite');
    rig = await startApiRig(influx.url, 'hub_inventory', { registryPath: path });
    other = new Registry(path);
    client = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, { clientId: 'gw-yz-bashu', username: 'gw-yz-bashu', password: gatewayPassword('gw-yz-bashu'), reconnectPeriod: 0, clean: true });
    client.on('message', (_t, p) => got.push(p.length === 0 ? null : gatewayInventorySchema.parse(JSON.parse(p.toString()))));
    const granted = await client.subscribeAsync(inventoryTopic(bashu), { qos: 1 });
    expect(granted[0]!.qos).toBe(1);
  });
  afterAll(async () => {
    await client?.endAsync(true);
    other?.close();
    await rig?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('has the retained inventory of the school at start: kind, room, link, timetable', async () => {
    const first = (await nth(1))!;
    expect(first).toMatchObject({ v: 1, gateway: 'gw-yz-bashu', timetable: DEFAULT_TIMETABLE });
    expect(first.devices).toEqual([
      { id: 'yz-bashu-301-av', kind: 'classroom_av', room: '301' },
      { id: 'yz-bashu-301-board', kind: 'interactive_board', room: '301' },
      { id: 'yz-bashu-uplink', kind: 'network_node', room: 'server-room', link: { role: 'school_uplink', capacityBps: 1e9 } },
    ]);
    // One per gateway of the fleet (three schools, three gateways).
    expect(published('inventory')).toBe(3);
  });

  it('publishes it again after a device is added through the API, with a higher revision, for that gateway only', async () => {
    const res = await rig.call('bashuIt', 'POST', '/devices', { id: 'yz-bashu-301-vr', school: 'yz-bashu', room: '301', kind: 'vr_kit' });
    expect(res.status).toBe(201);
    const second = (await nth(2))!;
    expect(second.revision).toBeGreaterThan(got[0]!.revision);
    expect(second.devices.map((d) => d.id)).toEqual(['yz-bashu-301-av', 'yz-bashu-301-board', 'yz-bashu-301-vr', 'yz-bashu-uplink']);
    expect(published('inventory')).toBe(4);
  });

  it('publishes it again after another process retires a device and changes the timetable', async () => {
    other.retireDevice('yz-bashu-301-av', Date.now());
    const third = (await nth(3))!;
    expect(third.revision).toBeGreaterThan(got[1]!.revision);
    expect(third.devices.map((d) => d.id)).toEqual(['yz-bashu-301-board', 'yz-bashu-301-vr', 'yz-bashu-uplink']);
    const timetable = { days: [1, 2, 3, 4, 5, 6], start: '08:00', end: '17:00', timeZone: 'Asia/Shanghai' };
    other.setTimetable('yz-bashu', timetable);
    const fourth = (await nth(4))!;
    expect(fourth.timetable).toEqual(timetable);
    expect(fourth.revision).toBeGreaterThan(third.revision);
    expect(published('inventory')).toBe(6);
  });

  it('clears the retained inventory of a gateway deleted, and publishes nothing for a write that changes no inventory', async () => {
    other.appendAudit({ at: Date.now(), actor: 'system:test', action: 'noop', target: 'fleet:none', outcome: 'ok' });
    other.deleteGateway('gw-jb-s01');
    await waitFor('cleared', async () => (published('cleared') === 1 ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
    expect(published('inventory')).toBe(6);
    // A gateway created for that school is published its inventory; the bashu gateway saw none of this.
    rig.registry.createGateway('gw-jb-s01b', 'jb-s01', 'x'.repeat(20), Date.now());
    await waitFor('new gateway published', async () => (published('inventory') === 7 ? true : undefined), { timeoutMs: 5000, intervalMs: 20 });
    expect(got.length).toBe(4);
  });
});
