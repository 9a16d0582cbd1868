import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../src/passwords.ts';
import { Registry } from '../../src/registry.ts';
import { exampleData } from '../../../protocol/src/kinds.ts';
import { telemetryTopic } from '../../../protocol/src/topics.ts';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { rawConnect } from '../../../tests/harness/rawMqtt.ts';
import { gatewayPassword, TEST_SCRYPT } from '../../../tests/harness/stack.ts';

/**
 * Another process's registry (a second Registry object on the same file, as the CLI would open)
 * revokes, rotates or removes a connected gateway: the hub drops the live session by itself,
 * and the old credentials no longer log in.
 */
describe('registry changes made by another process', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  let other: Registry;
  let dir: string;
  const clients: MqttClient[] = [];
  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'hub-registry-watch-'));
    const path = join(dir, 'registry.sqlite');
    rig = await startApiRig(influx.url, 'hub_registry_watch', { registryPath: path });
    other = new Registry(path);
  });
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true);
    other?.close();
    await rig?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  /** A gateway's session that never reconnects, and a promise of its close. */
  async function connected(id: string): Promise<{ closed: Promise<void> }> {
    const c = mqtt.connect(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, { clientId: id, username: id, password: gatewayPassword(id), reconnectPeriod: 0, clean: true });
    clients.push(c);
    await new Promise<void>((resolve, reject) => (c.once('connect', () => resolve()), c.once('error', reject)));
    return { closed: new Promise<void>((resolve) => c.once('close', () => resolve())) };
  }
  const dropped = (reason: string) => rig.hub.counters.get('sessions_dropped_by_registry', { reason });
  const login = (id: string, password = gatewayPassword(id)) => rawConnect(rig.hub.mqttPort, { clientId: id, clean: true, username: id, password });

  it('drops a gateway revoked elsewhere, which then cannot log in', async () => {
    const s = await connected('gw-yz-bashu');
    expect(other.revokeGateway('gw-yz-bashu')).toBe(true);
    await s.closed;
    expect(dropped('revoked')).toBe(1);
    expect(await login('gw-yz-bashu')).toBe(4);
  });

  it('drops a gateway whose password was rotated elsewhere; the new one logs in, the old one not', async () => {
    const s = await connected('gw-yz-s02');
    other.rotateGatewayHash('gw-yz-s02', await hashPassword('pw-new-s02', TEST_SCRYPT), Date.now());
    await s.closed;
    expect(dropped('rotated')).toBe(1);
    expect(await login('gw-yz-s02')).toBe(4);
    expect(await login('gw-yz-s02', 'pw-new-s02')).toBe(0);
  });

  it('refuses the telemetry of a device retired elsewhere from the next poll on, though the hub had it cached', async () => {
    const c = mqtt.connect(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, { clientId: 'gw-jb-s01', username: 'gw-jb-s01', password: gatewayPassword('gw-jb-s01'), reconnectPeriod: 0, clean: true });
    await new Promise<void>((resolve, reject) => (c.once('connect', () => resolve()), c.once('error', reject)));
    const topic = telemetryTopic({ district: '江北区', school: 'jb-s01', gateway: 'gw-jb-s01' });
    const send = (seq: number): Promise<unknown> => {
      const ts = Date.now();
      const records = [{ device: 'jb-s01-201-vr', kind: 'vr_kit', seq, ts, rx: ts, data: exampleData('vr_kit') }];
      return c.publishAsync(topic, JSON.stringify({ v: 1, gateway: 'gw-jb-s01', batch: `b${seq}`, records }), { qos: 1 });
    };
    const unknown = () => rig.hub.counters.get('records_rejected', { reason: 'unknown_device' });
    const before = unknown();
    await send(1);
    expect(unknown()).toBe(before);
    other.retireDevice('jb-s01-201-vr', Date.now());
    // The registry is polled every 300 ms; a second is plenty, and far short of any cache's lifetime.
    await new Promise((r) => setTimeout(r, 1000));
    await send(2);
    expect(unknown()).toBe(before + 1);
    await c.endAsync();
  });

  it('drops a gateway removed elsewhere, and leaves the others connected', async () => {
    const s = await connected('gw-jb-s01');
    other.appendAudit({ at: Date.now(), actor: 'system:test', action: 'noop', target: 'fleet:none', outcome: 'ok' });
    // A change that touches no live gateway closes nothing.
    await new Promise((r) => setTimeout(r, 800));
    expect(clients.at(-1)!.connected).toBe(true);
    expect(other.deleteGateway('gw-jb-s01')).toBe(true);
    await s.closed;
    expect(dropped('removed')).toBe(1);
    expect(await login('gw-jb-s01')).toBe(4);
  });
});
