import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig, type PrincipalName } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { runAccessCase, statuses, WHO, type AccessCase } from './orgHelpers.ts';
import { fleetSnapshot } from './fleetHelpers.ts';

/**
 * Every fleet endpoint called as every principal. The expected statuses are worked out by hand
 * from the scope rule (docs/design.md#security): a device, gateway or command of yz-bashu (渝中区)
 * is hidden (404) from 江北区's principals and from yz-s02's IT; it is visible but not
 * changeable (403) for viewers. A refused call changes nothing (registry read back) and leaves
 * one audit entry naming the caller and the refusal; a refused command leaves no record.
 *
 * Columns: city yzOperator jbOperator bashuIt s02It jbIt cityViewer yzViewer bashuViewer
 */
const READ = '200 200 404 200 404 404 200 200 200';
const WRITE = (ok: number) => `${ok} ${ok} 404 ${ok} 404 404 403 403 403`;
const ALL = '200 200 200 200 200 200 200 200 200';

type Case = AccessCase;

const board = 'yz-bashu-301-board';
const own = (prefix: string) => (who: PrincipalName) => `${prefix}-${who.toLowerCase()}`;
const HASH = 'scrypt$1024$8$1$c2FsdA$aGFzaA';
const ids = (b: unknown) => (b as { items: Array<{ id: string }> }).items.map((i) => i.id);

/** Devices each principal sees (API_FLEET: yz-bashu 3, yz-s02 1, jb-s01 1). */
const SEEN: Record<PrincipalName, number> = { city: 5, yzOperator: 4, jbOperator: 1, bashuIt: 3, s02It: 1, jbIt: 1, cityViewer: 5, yzViewer: 4, bashuViewer: 3 };

const CASES: Case[] = [
  { name: 'GET /status', method: 'GET', path: () => '/status', expect: ALL, check: (_r, who, b) => expect((b as { devices: { total: number } }).devices.total).toBe(SEEN[who]) },
  { name: 'GET /devices', method: 'GET', path: () => '/devices', expect: ALL, check: (_r, who, b) => expect(ids(b)).toHaveLength(SEEN[who]) },
  { name: 'GET /devices?school=yz-bashu', method: 'GET', path: () => '/devices?school=yz-bashu', expect: READ, check: (_r, _w, b) => expect(ids(b)).toEqual(['yz-bashu-301-av', board, 'yz-bashu-uplink']) },
  { name: `GET /devices/${board}`, method: 'GET', path: () => `/devices/${board}`, expect: READ, check: (_r, _w, b) => expect(b).toMatchObject({ id: board, state: 'unknown', since: null, gateway: null, lastTelemetry: null }) },
  {
    name: 'POST /devices (into yz-bashu 301)',
    method: 'POST',
    path: () => '/devices',
    body: (who) => ({ id: own('d')(who), school: 'yz-bashu', room: '301', kind: 'vr_kit', serial: `SN-${who}` }),
    expect: WRITE(201),
    action: 'device.create',
    check: (rig, who) => expect(rig.registry.getDeviceRecord(own('d')(who))).toMatchObject({ school: 'yz-bashu', district: '渝中区', kind: 'vr_kit', serial: `SN-${who}` }),
  },
  {
    name: 'PATCH /devices/yz-bashu-301-av',
    method: 'PATCH',
    path: () => '/devices/yz-bashu-301-av',
    body: (who) => ({ serial: `AV-${who}` }),
    expect: WRITE(200),
    action: 'device.update',
    check: (rig, who) => expect(rig.registry.getDeviceRecord('yz-bashu-301-av')!.serial).toBe(`AV-${who}`),
  },
  {
    name: 'DELETE /devices/{one without history}',
    method: 'DELETE',
    path: (who) => `/devices/${own('x')(who)}`,
    setup: (rig, who) => void rig.registry.createDevice({ id: own('x')(who), school: 'yz-bashu', room: '301', kind: 'vr_kit', model: '', vendor: '', serial: '', linkRole: null, capacityBps: null }, Date.now()),
    expect: WRITE(204),
    action: 'device.delete',
    okAction: 'device.erase',
    check: (rig, who) => expect(rig.registry.getDeviceRecord(own('x')(who))).toBeUndefined(),
  },
  {
    name: 'POST /devices/{one of yz-bashu}/move to yz-s02 (needs both schools)',
    method: 'POST',
    path: (who) => `/devices/${own('m')(who)}/move`,
    setup: (rig, who) => void rig.registry.createDevice({ id: own('m')(who), school: 'yz-bashu', room: '301', kind: 'vr_kit', model: '', vendor: '', serial: '', linkRole: null, capacityBps: null }, Date.now()),
    body: () => ({ school: 'yz-s02', room: '101' }),
    // bashuIt may change the device but cannot see yz-s02: 404.
    expect: '200 200 404 404 404 404 403 403 403',
    action: 'device.move',
    okAlsoIn: 'yz-s02',
    check: (rig, who) => expect(rig.registry.getDeviceRecord(own('m')(who))).toMatchObject({ school: 'yz-s02', room: '101' }),
  },
  {
    name: `POST /devices/${board}/commands (its gateway not connected: rejected)`,
    method: 'POST',
    path: () => `/devices/${board}/commands`,
    body: () => ({ action: 'reboot' }),
    expect: WRITE(202),
    action: 'command.reboot',
    okOutcome: 'rejected',
    check: (rig, who, b) => expect(rig.registry.getCommand((b as { id: string }).id)).toMatchObject({ device: board, actor: `user:u-${who}`, status: 'rejected', detail: 'gateway not connected', school: 'yz-bashu' }),
  },
  { name: 'GET /commands', method: 'GET', path: () => '/commands', expect: ALL },
  { name: 'GET /commands?school=yz-bashu', method: 'GET', path: () => '/commands?school=yz-bashu', expect: READ },
  { name: 'GET /commands/c-bashu', method: 'GET', path: () => '/commands/c-bashu', expect: READ, check: (_r, _w, b) => expect(b).toMatchObject({ id: 'c-bashu', device: board }) },
  { name: 'GET /gateways', method: 'GET', path: () => '/gateways', expect: ALL },
  { name: 'GET /gateways?school=yz-bashu', method: 'GET', path: () => '/gateways?school=yz-bashu', expect: READ, check: (_r, _w, b) => expect(ids(b)).toEqual(['gw-yz-bashu']) },
  { name: 'GET /gateways/gw-yz-bashu', method: 'GET', path: () => '/gateways/gw-yz-bashu', expect: READ, check: (_r, _w, b) => expect(b).toMatchObject({ id: 'gw-yz-bashu', connection: 'never', bdSeq: null, health: null }) },
  {
    name: 'POST /gateways (for yz-bashu)',
    method: 'POST',
    path: () => '/gateways',
    body: (who) => ({ id: own('g')(who), school: 'yz-bashu' }),
    expect: WRITE(201),
    action: 'gateway.create',
    check: (rig, who, b) => {
      expect(rig.registry.getGatewayRecord(own('g')(who))).toMatchObject({ school: 'yz-bashu', revoked: false });
      expect(b).toMatchObject({ env: { GW_ID: own('g')(who), GW_DISTRICT: '渝中区', GW_SCHOOL: 'yz-bashu' } });
    },
  },
  ...(['rotate', 'revoke', 'reinstate'] as const).map(
    (op): Case => ({
      name: `POST /gateways/{one of yz-bashu}/${op}`,
      method: 'POST',
      path: (who) => `/gateways/${own(op)(who)}/${op}`,
      setup: (rig, who) => {
        rig.registry.createGateway(own(op)(who), 'yz-bashu', HASH, Date.now());
        if (op === 'reinstate') rig.registry.revokeGateway(own(op)(who));
      },
      expect: WRITE(200),
      action: `gateway.${op}`,
    }),
  ),
  {
    name: 'DELETE /gateways/{one of yz-bashu}',
    method: 'DELETE',
    path: (who) => `/gateways/${own('del')(who)}`,
    setup: (rig, who) => void rig.registry.createGateway(own('del')(who), 'yz-bashu', HASH, Date.now()),
    expect: WRITE(204),
    action: 'gateway.delete',
    check: (rig, who) => expect(rig.registry.getGatewayRecord(own('del')(who))).toBeUndefined(),
  },
  { name: 'GET /presence', method: 'GET', path: () => '/presence', expect: ALL },
  { name: 'GET /status?school=yz-bashu', method: 'GET', path: () => '/status?school=yz-bashu', expect: READ },
  { name: 'GET /figures/availability?school=yz-bashu', method: 'GET', path: () => '/figures/availability?school=yz-bashu', expect: READ },
  { name: 'GET /figures/bandwidth?school=yz-bashu', method: 'GET', path: () => '/figures/bandwidth?school=yz-bashu', expect: READ },
];

describe('fleet endpoints × every principal', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_fleet_access');
    const at = Date.now();
    rig.registry.insertCommand({ id: 'c-bashu', device: board, district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', action: 'reboot', input: null, ttlMs: 60_000, actor: 'system:test', idempotencyKey: null, requestHash: null, status: 'done', detail: null, issuedAt: at, updatedAt: at });
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  for (const c of CASES) it(`${c.name}: ${c.expect}`, () => runAccessCase(rig, c, fleetSnapshot, 'yz-bashu'));

  it(`GET /events: ${ALL}, and the stream's listeners go with the client`, async () => {
    const baseline = rig.hub.bus.listenerCount('commandOutcome');
    const got: Record<string, number> = {};
    for (const who of WHO) {
      const ac = new AbortController();
      const res = await fetch(`${rig.base}/events`, { headers: { authorization: `Bearer ${rig.tokens[who]}` }, signal: ac.signal });
      got[who] = res.status;
      ac.abort();
      await res.body?.cancel().catch(() => {});
    }
    expect(got).toEqual(statuses(ALL));
    await expect.poll(() => rig.hub.bus.listenerCount('commandOutcome')).toBe(baseline);
  });

  it('refuses every fleet endpoint without a valid token (expired, revoked, none)', async () => {
    for (const who of ['expired', 'revoked', null] as const) {
      for (const [m, p] of [['GET', '/devices'], ['POST', `/devices/${board}/commands`], ['GET', '/gateways'], ['GET', '/events'], ['GET', '/presence']] as const) {
        const r = await rig.call(who, m, p, m === 'POST' ? { action: 'reboot' } : undefined);
        expect([who, m, p, r.status, (r.body as { code: string }).code]).toEqual([who, m, p, 401, 'HUB_ERR_UNAUTHENTICATED']);
      }
    }
  });
});
