import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';

/**
 * A network node's SNMP target through the API: accepted on create and update, validated
 * (`snmpTargetSchema`, network nodes only), kept whole in the registry for the node's gateway
 * (`snmpTargetOf`), and never shown: every response and every audit entry has `{ set: true }`
 * where a community or key is.
 */
const COMMUNITY = 'sw-Community-4417';
const AUTH = 'auth-Secret-7789';
const PRIV = 'priv-Secret-1123';
const v2c = { address: '10.20.0.2', version: '2c', community: COMMUNITY, ifName: 'Gi0/48' };
const v3 = { address: 'core-sw.bashu.lan', port: 1161, version: '3', user: { name: 'campus', level: 'authPriv', authProtocol: 'sha256', authKey: AUTH, privProtocol: 'aes', privKey: PRIV }, ifIndex: 10048, pollIntervalMs: 60_000 };
const node = (id: string, snmp?: unknown) => ({ id, school: 'yz-bashu', room: 'server-room', kind: 'network_node', linkRole: 'access', capacityBps: 1e9, ...(snmp ? { snmp } : {}) });

describe('SNMP targets through the management API', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  const replies: string[] = [];
  const call = async (...args: Parameters<ApiRig['call']>) => {
    const r = await rig.call(...args);
    replies.push(JSON.stringify(r.body));
    return r;
  };
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_fleet_snmp');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  it('create: the target is kept whole for the gateway; the response shows each secret only as set', async () => {
    const r = await call('bashuIt', 'POST', '/devices', node('bashu-sw1', v2c));
    expect(r.status).toBe(201);
    expect((r.body as { snmp: unknown }).snmp).toEqual({ address: '10.20.0.2', port: 161, version: '2c', community: { set: true }, ifName: 'Gi0/48', pollIntervalMs: 30_000 });
    expect(rig.registry.snmpTargetOf('bashu-sw1')).toEqual({ ...v2c, port: 161, pollIntervalMs: 30_000 });
    const got = await call('bashuIt', 'GET', '/devices/bashu-sw1');
    expect((got.body as { snmp: unknown }).snmp).toEqual((r.body as { snmp: unknown }).snmp);
    const list = await call('bashuIt', 'GET', '/devices?kind=network_node');
    expect((list.body as { items: Array<{ id: string; snmp?: unknown }> }).items.find((d) => d.id === 'bashu-sw1')?.snmp).toMatchObject({ community: { set: true } });
  });

  it('update: a v3 target replaces it (secrets shown as set, an env:NAME reference by its name); null removes it', async () => {
    expect((await call('bashuIt', 'PATCH', '/devices/bashu-sw1', { snmp: v3 })).status).toBe(200);
    expect(rig.registry.snmpTargetOf('bashu-sw1')?.user?.privKey).toBe(PRIV);
    const r = await call('bashuIt', 'PATCH', '/devices/bashu-sw1', { snmp: { ...v3, user: { ...v3.user, privKey: 'env:GW_SNMP_SECRET_BASHU_PRIV' } } });
    expect(r.status).toBe(200);
    expect((r.body as { snmp: unknown }).snmp).toEqual({
      address: 'core-sw.bashu.lan',
      port: 1161,
      version: '3',
      user: { name: 'campus', level: 'authPriv', authProtocol: 'sha256', authKey: { set: true }, privProtocol: 'aes', privKey: { set: true, env: 'GW_SNMP_SECRET_BASHU_PRIV' } },
      ifIndex: 10048,
      pollIntervalMs: 60_000,
    });
    expect(rig.registry.snmpTargetOf('bashu-sw1')?.user).toMatchObject({ authKey: AUTH, privKey: 'env:GW_SNMP_SECRET_BASHU_PRIV' });
    // Changing something else keeps the target.
    expect((await call('bashuIt', 'PATCH', '/devices/bashu-sw1', { model: 'S5735' })).status).toBe(200);
    expect(rig.registry.snmpTargetOf('bashu-sw1')?.user?.authKey).toBe(AUTH);
    const removed = await call('bashuIt', 'PATCH', '/devices/bashu-sw1', { snmp: null });
    expect(removed.body).not.toHaveProperty('snmp');
    expect(rig.registry.snmpTargetOf('bashu-sw1')).toBeUndefined();
  });

  it('refuses an invalid target and a target on a device that is not a network node (400), changing nothing', async () => {
    const bad = await call('bashuIt', 'POST', '/devices', node('bashu-sw2', { ...v2c, community: undefined }));
    expect(bad.status).toBe(400);
    expect(rig.registry.getDeviceRecord('bashu-sw2')).toBeUndefined();
    const board = await call('bashuIt', 'POST', '/devices', { id: 'bashu-b9', school: 'yz-bashu', room: '301', kind: 'interactive_board', snmp: v2c });
    expect(board.status).toBe(400);
    expect(board.body).toMatchObject({ code: 'HUB_ERR_REGISTRY_INVALID' });
    expect(rig.registry.getDeviceRecord('bashu-b9')).toBeUndefined();
  });

  it('no response body and no audit entry holds a secret', () => {
    const audit = JSON.stringify(rig.registry.listAudit({ target: 'device:bashu-sw1', order: 'asc' }).items);
    expect(audit).toContain('device.update');
    for (const secret of [COMMUNITY, AUTH, PRIV]) {
      for (const body of replies) expect(body).not.toContain(secret);
      expect(audit).not.toContain(secret);
    }
  });
});
