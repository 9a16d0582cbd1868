import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig, type PrincipalName } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point } from '../../../storage/src/point.ts';
import { fleetSnapshot, gatewayState, observe } from './fleetHelpers.ts';

/**
 * Devices through the API: ids are city-wide, so a second school's registration of an id is
 * a conflict that names the holder only to who may see it; a move between schools is explicit
 * and audited; a device with history is retired, one without erased; lists page and filter;
 * the event stream carries the caller's scope only.
 */
type Page = { items: Array<{ id: string; state: string; school: string }>; nextCursor: string | null };
const board = 'yz-bashu-301-board';
const vr = (id: string, school: string, room: string, extra: Record<string, unknown> = {}) => ({ id, school, room, kind: 'vr_kit', ...extra });

describe('devices through the management API', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_fleet_devices');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  it('refuses a device id another school holds (409 held_by_other_school), naming the holder only to who can see it', async () => {
    const before = fleetSnapshot(rig.registry);
    const jb = await rig.call('jbIt', 'POST', '/devices', { id: board, school: 'jb-s01', room: '201', kind: 'interactive_board' });
    expect(jb.status).toBe(409);
    expect(jb.body).toMatchObject({ code: 'HUB_ERR_REGISTRY_CONFLICT', details: { entity: 'device', id: board, reason: 'held_by_other_school' } });
    expect((jb.body as { details: Record<string, unknown> }).details).not.toHaveProperty('heldBy');
    expect((jb.body as { message: string }).message).not.toContain('school "yz-bashu"');
    const s02 = await rig.call('s02It', 'POST', '/devices', { id: board, school: 'yz-s02', room: '101', kind: 'interactive_board' });
    expect([s02.status, (s02.body as { details: Record<string, unknown> }).details['heldBy']]).toEqual([409, undefined]);
    // A district operator sees both schools: told who holds it.
    const op = await rig.call('yzOperator', 'POST', '/devices', { id: board, school: 'yz-s02', room: '101', kind: 'interactive_board' });
    expect(op.body).toMatchObject({ details: { reason: 'held_by_other_school', heldBy: 'yz-bashu' } });
    // The holder itself: it exists.
    const same = await rig.call('bashuIt', 'POST', '/devices', { id: board, school: 'yz-bashu', room: '301', kind: 'interactive_board' });
    expect(same.body).toMatchObject({ code: 'HUB_ERR_REGISTRY_CONFLICT', details: { reason: 'exists' } });
    expect(fleetSnapshot(rig.registry)).toBe(before);
    expect(rig.registry.getDeviceRecord(board)).toMatchObject({ school: 'yz-bashu', room: '301' });
    const audit = rig.registry.listAudit({ target: `device:${board}`, order: 'asc' }).items.map((e) => [e.actor, e.action, e.outcome, e.school]);
    expect(audit).toEqual([
      ['user:u-jbIt', 'device.create', 'conflict', 'jb-s01'],
      ['user:u-s02It', 'device.create', 'conflict', 'yz-s02'],
      ['user:u-yzOperator', 'device.create', 'conflict', 'yz-s02'],
      ['user:u-bashuIt', 'device.create', 'conflict', 'yz-bashu'],
    ]);
    // The audit entry a jb-s01 reader may see does not name the holder either.
    expect(rig.registry.listAudit({ target: `device:${board}`, order: 'asc' }).items[0]!.detail).not.toContain('school "yz-bashu"');
  });

  it('moves a device between schools only explicitly, audited with from and to; refused unless the caller can change both', async () => {
    expect((await rig.call('bashuIt', 'POST', '/devices', vr('mv-1', 'yz-bashu', '301'))).status).toBe(201);
    const refused = await rig.call('bashuIt', 'POST', '/devices/mv-1/move', { school: 'yz-s02', room: '101' });
    expect(refused.status).toBe(404); // yz-s02 does not exist for yz-bashu's IT
    const toJb = await rig.call('yzOperator', 'POST', '/devices/mv-1/move', { school: 'jb-s01', room: '201' });
    expect(toJb.status).toBe(404);
    expect(rig.registry.getDeviceRecord('mv-1')).toMatchObject({ school: 'yz-bashu', room: '301' });
    const moved = await rig.call('yzOperator', 'POST', '/devices/mv-1/move', { school: 'yz-s02', room: '101' });
    expect([moved.status, moved.body]).toMatchObject([200, { id: 'mv-1', school: 'yz-s02', district: '渝中区', room: '101' }]);
    const city = await rig.call('city', 'POST', '/devices/mv-1/move', { school: 'jb-s01', room: '201' });
    expect(city.body).toMatchObject({ school: 'jb-s01', district: '江北区' });
    const audit = rig.registry.listAudit({ target: 'device:mv-1', order: 'asc' }).items.map((e) => [e.actor, e.action, e.outcome, e.detail]);
    // Each entry names the token that acted; a move is written in the source and the destination school.
    const via = (who: PrincipalName) => `via token ${rig.tokens[who].split('_')[1]}`;
    expect(audit).toEqual([
      ['user:u-bashuIt', 'device.create', 'ok', via('bashuIt')],
      ['user:u-bashuIt', 'device.move', 'not_found', `from yz-bashu/301 to yz-s02/101: school yz-s02 not found; ${via('bashuIt')}`],
      ['user:u-yzOperator', 'device.move', 'not_found', `from yz-bashu/301 to jb-s01/201: school jb-s01 not found; ${via('yzOperator')}`],
      ['user:u-yzOperator', 'device.move', 'ok', `from yz-bashu/301 to yz-s02/101; ${via('yzOperator')}`],
      ['user:u-yzOperator', 'device.move', 'ok', `from yz-bashu/301 to yz-s02/101; ${via('yzOperator')}`],
      ['user:u-city', 'device.move', 'ok', `from yz-s02/101 to jb-s01/201; ${via('city')}`],
      ['user:u-city', 'device.move', 'ok', `from yz-s02/101 to jb-s01/201; ${via('city')}`],
    ]);
    const schools = rig.registry.listAudit({ target: 'device:mv-1', order: 'asc' }).items.filter((e) => e.outcome === 'ok' && e.action === 'device.move').map((e) => [e.district, e.school]);
    expect(schools).toEqual([['渝中区', 'yz-bashu'], ['渝中区', 'yz-s02'], ['渝中区', 'yz-s02'], ['江北区', 'jb-s01']]);
  });

  it('retires a device with history (a command, a point in InfluxDB, a reported state) and erases one without', async () => {
    for (const id of ['rt-cmd', 'rt-point', 'rt-seen', 'rt-none']) expect((await rig.call('bashuIt', 'POST', '/devices', vr(id, 'yz-bashu', '301'))).status).toBe(201);
    const at = Date.now();
    rig.registry.insertCommand({ id: 'c-rt', device: 'rt-cmd', district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', action: 'reboot', input: null, ttlMs: 60_000, actor: 'system:test', idempotencyKey: null, requestHash: null, status: 'done', detail: null, issuedAt: at, updatedAt: at });
    await rig.hub.writer.write([encodePoint(point('vr_kit', { district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', device: 'rt-point', kind: 'vr_kit', room: '301' }, { seq: 7, battery_pct: 81.5, charging: false, in_session: true }, at - 60_000))]);
    gatewayState(rig, 'gw-yz-bashu', 'online', 1, at);
    observe(rig, 'gw-yz-bashu', 'rt-seen', 'vr_kit', 'up', at);

    const shown = await rig.call('bashuViewer', 'GET', '/devices/rt-point');
    expect(shown.body).toMatchObject({ id: 'rt-point', lastTelemetry: { ts: at - 60_000, data: { seq: 7, battery_pct: 81.5, charging: false, in_session: true } } });

    for (const id of ['rt-cmd', 'rt-point', 'rt-seen']) {
      const r = await rig.call('bashuIt', 'DELETE', `/devices/${id}`);
      expect([id, r.status, (r.body as { retired: boolean }).retired]).toEqual([id, 200, true]);
      expect(rig.registry.getDeviceRecord(id)!.retiredAt).toBeTypeOf('number');
      expect(rig.registry.getDevice(id)).toBeUndefined(); // its telemetry is refused as unknown
    }
    const erased = await rig.call('bashuIt', 'DELETE', '/devices/rt-none');
    expect([erased.status, rig.registry.getDeviceRecord('rt-none')]).toEqual([204, undefined]);
    expect(rig.registry.listAudit({ target: 'device:rt-none' }).items.map((e) => e.action)).toEqual(['device.erase', 'device.create']);
    expect(rig.registry.listAudit({ target: 'device:rt-cmd' }).items.map((e) => e.action)).toEqual(['device.retire', 'device.create']);

    const listed = (await rig.call<Page>('bashuIt', 'GET', '/devices?q=rt-')).body.items.map((d) => d.id);
    expect(listed).toEqual([]);
    const withRetired = (await rig.call<Page>('bashuIt', 'GET', '/devices?q=rt-&includeRetired=true')).body.items.map((d) => d.id);
    expect(withRetired).toEqual(['rt-cmd', 'rt-point', 'rt-seen']);
    // The id stays taken.
    expect((await rig.call('bashuIt', 'POST', '/devices', vr('rt-cmd', 'yz-bashu', '301'))).body).toMatchObject({ details: { reason: 'retired' } });
  });

  it('pages (limit 2 walks every device exactly once) and filters by kind, school, q (serial) and state', async () => {
    const walk = async (who: PrincipalName, query: string): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | null = null;
      let pages = 0;
      do {
        const r: { body: Page } = await rig.call<Page>(who, 'GET', `/devices?limit=2${query}${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.body.items.length).toBeLessThanOrEqual(2);
        seen.push(...r.body.items.map((d) => d.id));
        cursor = r.body.nextCursor;
        pages += 1;
      } while (cursor !== null && pages < 100);
      return seen;
    };
    const everything = rig.registry.listDevices({ limit: 1000 }).items.map((d) => d.id);
    const walked = await walk('city', '');
    expect(walked).toEqual(everything);
    expect(new Set(walked).size).toBe(walked.length);
    expect(await walk('yzOperator', '&kind=interactive_board')).toEqual(['yz-bashu-301-board', 'yz-s02-101-board']);
    expect(await walk('city', '&kind=interactive_board&school=yz-s02')).toEqual(['yz-s02-101-board']);
    expect(await walk('jbIt', '&kind=interactive_board')).toEqual([]);
    expect((await rig.call('jbIt', 'GET', '/devices?school=yz-bashu')).status).toBe(404);

    expect((await rig.call('bashuIt', 'PATCH', '/devices/yz-bashu-301-av', { serial: 'SN-AV-7781', vendor: 'Epson' })).status).toBe(200);
    expect(await walk('bashuViewer', '&q=av-77')).toEqual(['yz-bashu-301-av']);
    expect(await walk('s02It', '&q=av-77')).toEqual([]);

    // Live states: yz-bashu's gateway reports the board up and the AV off; the uplink never.
    const at = Date.now();
    gatewayState(rig, 'gw-yz-bashu', 'online', 2, at);
    observe(rig, 'gw-yz-bashu', board, 'interactive_board', 'up', at);
    observe(rig, 'gw-yz-bashu', 'yz-bashu-301-av', 'classroom_av', 'off', at);
    expect(await walk('bashuIt', '&state=up')).toEqual([board]);
    expect(await walk('bashuIt', '&state=off')).toEqual(['yz-bashu-301-av']);
    expect(await walk('bashuIt', '&state=unknown')).toEqual(['yz-bashu-uplink']);
    const one = (await rig.call<{ state: string; since: number; gateway: string }>('bashuIt', 'GET', `/devices/${board}`)).body;
    expect([one.state, one.since, one.gateway]).toEqual(['up', at, 'gw-yz-bashu']);
    const status = (await rig.call<{ devices: { byState: Record<string, number> }; schools: Array<{ school: string; devices: Record<string, number> }> }>('bashuIt', 'GET', '/status')).body;
    expect(status.devices.byState).toEqual({ up: 1, down: 0, off: 1, unknown: 1 });
    expect(status.schools.map((s) => [s.school, s.devices])).toEqual([['yz-bashu', { up: 1, down: 0, off: 1, unknown: 1 }]]);
    // The gateway goes offline: its devices are unknown.
    gatewayState(rig, 'gw-yz-bashu', 'offline', 2, at + 1);
    expect(await walk('bashuIt', '&state=unknown')).toEqual(['yz-bashu-301-av', board, 'yz-bashu-uplink']);
  });

  it('streams presence changes and command outcomes of the caller\'s scope only, and removes its listeners on close', async () => {
    const baseline = [rig.hub.bus.listenerCount('presenceChanged'), rig.hub.bus.listenerCount('commandOutcome')];
    const ac = new AbortController();
    const res = await fetch(`${rig.base}/events`, { headers: { authorization: `Bearer ${rig.tokens.bashuIt}` }, signal: ac.signal });
    expect([res.status, res.headers.get('content-type')]).toEqual([200, 'text/event-stream; charset=utf-8']);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (needle: string): Promise<void> => {
      while (!text.includes(needle)) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`stream ended before ${needle}`);
        text += new TextDecoder().decode(value);
      }
    };
    await until(': connected');
    expect([rig.hub.bus.listenerCount('presenceChanged'), rig.hub.bus.listenerCount('commandOutcome')]).toEqual([baseline[0]! + 1, baseline[1]! + 1]);
    const at = Date.now();
    // Other schools' first: anything of theirs would come before yz-bashu's.
    gatewayState(rig, 'gw-jb-s01', 'online', 1, at);
    gatewayState(rig, 'gw-yz-s02', 'online', 1, at);
    observe(rig, 'gw-yz-s02', 'yz-s02-101-board', 'interactive_board', 'down', at);
    gatewayState(rig, 'gw-yz-bashu', 'online', 3, at);
    // A gateway state is announced once its point is written (after the others' announcements).
    await until('gateway_online');
    rig.hub.bus.emitCommandOutcome({ id: 'c-s02', district: '渝中区', school: 'yz-s02', gateway: 'gw-yz-s02', device: 'yz-s02-101-board', action: 'reboot', status: 'done' });
    rig.hub.bus.emitCommandOutcome({ id: 'c-bashu', district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', device: board, action: 'reboot', status: 'failed', detail: 'busy' });
    await until('"c-bashu"');
    const events = text
      .split('\n\n')
      .filter((b) => b.startsWith('event: '))
      .map((b) => {
        const [ev, data] = b.split('\n');
        return [ev!.slice('event: '.length), JSON.parse(data!.slice('data: '.length)) as Record<string, unknown>] as const;
      });
    expect(events.map(([e, d]) => [e, d['school'], d['type'] ?? d['status']])).toEqual([
      ['presence', 'yz-bashu', 'gateway_online'],
      ['command', 'yz-bashu', 'failed'],
    ]);
    ac.abort();
    await reader.cancel().catch(() => {});
    await expect.poll(() => [rig.hub.bus.listenerCount('presenceChanged'), rig.hub.bus.listenerCount('commandOutcome')]).toEqual(baseline);
  });

  it('registers a science kiosk like any device, lists it by kind, and refuses a kind the protocol does not have', async () => {
    const kiosk = { id: 'yz-bashu-lobby-kiosk', school: 'yz-bashu', room: '301', kind: 'science_kiosk' };
    expect((await rig.call('bashuIt', 'POST', '/devices', kiosk)).status).toBe(201);
    const listed = await rig.call<Page>('bashuIt', 'GET', '/devices?kind=science_kiosk');
    expect(listed.body.items.map((d) => [d.id, d.school])).toEqual([['yz-bashu-lobby-kiosk', 'yz-bashu']]);
    expect((await rig.call('bashuIt', 'POST', '/devices', { ...kiosk, id: 'yz-bashu-toaster', kind: 'toaster' })).status).toBe(400);
  });
});
