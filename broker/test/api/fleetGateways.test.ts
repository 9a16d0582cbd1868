import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadGatewayConfig } from '../../../gateway/src/config.ts';
import { createGateway, type Gateway } from '../../../gateway/src/gateway.ts';
import { silentLogger } from '../../../runtime/src/logging.ts';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { rawConnect } from '../../../tests/harness/rawMqtt.ts';

/**
 * Gateway credentials through the API, against a real gateway: the env block a create prints
 * is all a gateway needs to log in and take commands; a rotation drops the live session at
 * once and only the new password works; a revocation drops it and it cannot log in again.
 */
interface Credentials {
  gateway: { id: string; connection: string };
  password: string;
  env: Record<string, string>;
  envBlock: string;
}

/** A gateway run from an env block as printed (plus the test's own fast timers and in-memory outbox). */
function gatewayFrom(envBlock: string): Gateway {
  const env = Object.fromEntries(envBlock.trim().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  const cfg = loadGatewayConfig({ ...env, GW_LAN_PORT: '0', GW_OUTBOX_DIR: 'memory', GW_HEALTH_PORT: '-1', GW_RECONNECT_MS: '100', GW_RECONNECT_MAX_MS: '1000', GW_HEALTH_INTERVAL_MS: '1000', GW_AVAILABILITY: 'false' }).gateway;
  return createGateway(cfg, { log: silentLogger() });
}

describe('gateway credentials through the management API, with a real gateway', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  const running: Gateway[] = [];
  /** The passwords the API gave, in order. */
  const passwords: string[] = [];
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_fleet_gateways');
  });
  afterAll(async () => {
    for (const g of running) await g.stop().catch(() => {});
    await rig?.stop();
    await influx?.stop();
  });
  const login = (id: string, password: string) => rawConnect(rig.hub.mqttPort, { clientId: id, clean: true, username: id, password });

  it('creates a gateway whose printed env block logs in and takes commands; its health shows in GET /gateways', async () => {
    const r = await rig.call<Credentials>('s02It', 'POST', '/gateways', { id: 'gw-yz-s02-b', school: 'yz-s02' });
    expect(r.status).toBe(201);
    const c = r.body;
    expect(c.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(c.env).toEqual({ GW_ID: 'gw-yz-s02-b', GW_DISTRICT: '渝中区', GW_SCHOOL: 'yz-s02', GW_PASSWORD: c.password, GW_HUB_URL: `mqtt://127.0.0.1:${rig.hub.mqttPort}` });
    expect(c.envBlock).toBe(Object.entries(c.env).map(([k, v]) => `${k}=${v}\n`).join(''));
    expect(c.gateway).toMatchObject({ id: 'gw-yz-s02-b', connection: 'never' });
    expect(JSON.stringify(rig.registry.listAudit({ target: 'gateway:gw-yz-s02-b' }).items)).not.toContain(c.password);
    passwords.push(c.password);
    const gw = gatewayFrom(c.envBlock);
    running.push(gw);
    await gw.start();
    await expect.poll(() => rig.hub.isCommandReady('gw-yz-s02-b'), { timeout: 10_000 }).toBe(true);
    await expect
      .poll(async () => (await rig.call<{ connection: string; health: unknown }>('s02It', 'GET', '/gateways/gw-yz-s02-b')).body, { timeout: 10_000 })
      .toMatchObject({ connection: 'online', health: { outboxRecords: expect.any(Number), replayActive: false } });
    const listed = (await rig.call<{ items: Array<{ id: string }> }>('s02It', 'GET', '/gateways')).body.items.map((g) => g.id);
    expect(listed).toEqual(['gw-yz-s02', 'gw-yz-s02-b']);
    expect(rig.registry.listAudit({ target: 'gateway:gw-yz-s02-b' }).items).toMatchObject([{ actor: 'user:u-s02It', action: 'gateway.create', outcome: 'ok', district: '渝中区', school: 'yz-s02' }]);
    // The same id again: a conflict, nothing changed.
    expect((await rig.call('city', 'POST', '/gateways', { id: 'gw-yz-s02-b', school: 'yz-bashu' })).body).toMatchObject({ code: 'HUB_ERR_REGISTRY_CONFLICT', details: { reason: 'exists' } });
    expect(rig.registry.getGatewayRecord('gw-yz-s02-b')!.school).toBe('yz-s02');
  });

  it('rotates: the live session is dropped at once, the old password refused, the new one works', async () => {
    const old = running[0]!;
    const before = (await rig.call<Credentials>('s02It', 'POST', '/gateways/gw-yz-s02-b/rotate')).body;
    expect(before.password).toMatch(/^[A-Za-z0-9_-]{32}$/);
    await expect.poll(() => rig.hub.isCommandReady('gw-yz-s02-b'), { timeout: 1000 }).toBe(false);
    await old.stop();
    expect(await login('gw-yz-s02-b', passwords[0]!)).toBe(4); // bad user name or password
    expect(await login('gw-yz-s02-b', before.password)).toBe(0);
    passwords.push(before.password);
    const first = rig.registry.listAudit({ target: 'gateway:gw-yz-s02-b', order: 'asc' }).items;
    expect(first.map((e) => [e.action, e.outcome])).toEqual([['gateway.create', 'ok'], ['gateway.create', 'conflict'], ['gateway.rotate', 'ok']]);
    expect(rig.registry.getGatewayRecord('gw-yz-s02-b')!.rotatedAt).toBeTypeOf('number');
    const gw = gatewayFrom(before.envBlock);
    running.push(gw);
    await gw.start();
    await expect.poll(() => rig.hub.isCommandReady('gw-yz-s02-b'), { timeout: 10_000 }).toBe(true);
  });

  it('revokes: the live session is dropped within a second and the gateway cannot log in again; reinstate lets it back', async () => {
    const gw = running[running.length - 1]!;
    const r = await rig.call<{ revoked: boolean }>('s02It', 'POST', '/gateways/gw-yz-s02-b/revoke');
    expect([r.status, r.body.revoked]).toEqual([200, true]);
    await expect.poll(() => rig.hub.isCommandReady('gw-yz-s02-b'), { timeout: 1000 }).toBe(false);
    await expect.poll(() => gw.uplinkConnected, { timeout: 1000 }).toBe(false);
    // Its reconnect attempts (every 100 ms) are refused.
    await new Promise((res) => setTimeout(res, 500));
    expect([gw.uplinkConnected, rig.hub.isCommandReady('gw-yz-s02-b')]).toEqual([false, false]);
    expect(await login('gw-yz-s02-b', passwords[1]!)).toBe(4); // refused as the hub refuses any revoked gateway
    expect((await rig.call<{ connection: string }>('s02It', 'GET', '/gateways/gw-yz-s02-b')).body.connection).toBe('offline');
    expect((await rig.call('bashuIt', 'POST', '/gateways/gw-yz-s02-b/reinstate')).status).toBe(404);
    expect((await rig.call('s02It', 'POST', '/gateways/gw-yz-s02-b/reinstate')).status).toBe(200);
    expect(await login('gw-yz-s02-b', passwords[1]!)).toBe(0);
    // A gateway refused at login does not retry (mqtt.js stops on a CONNACK refusal): start it again.
    await gw.stop();
    const again = gatewayFrom(`GW_ID=gw-yz-s02-b\nGW_DISTRICT=渝中区\nGW_SCHOOL=yz-s02\nGW_PASSWORD=${passwords[1]!}\nGW_HUB_URL=mqtt://127.0.0.1:${rig.hub.mqttPort}\n`);
    running.push(again);
    await again.start();
    await expect.poll(() => rig.hub.isCommandReady('gw-yz-s02-b'), { timeout: 10_000 }).toBe(true);
    expect((await rig.call('s02It', 'DELETE', '/gateways/gw-yz-s02-b')).status).toBe(204);
    await expect.poll(() => rig.hub.isCommandReady('gw-yz-s02-b'), { timeout: 1000 }).toBe(false);
    expect(rig.registry.getGatewayRecord('gw-yz-s02-b')).toBeUndefined();
    expect(rig.registry.listAudit({ target: 'gateway:gw-yz-s02-b', order: 'asc' }).items.map((e) => [e.actor, e.action, e.outcome])).toEqual([
      ['user:u-s02It', 'gateway.create', 'ok'],
      ['user:u-city', 'gateway.create', 'conflict'],
      ['user:u-s02It', 'gateway.rotate', 'ok'],
      ['user:u-s02It', 'gateway.revoke', 'ok'],
      ['user:u-bashuIt', 'gateway.reinstate', 'not_found'],
      ['user:u-s02It', 'gateway.reinstate', 'ok'],
      ['user:u-s02It', 'gateway.delete', 'ok'],
    ]);
  });
});
