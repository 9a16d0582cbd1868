import iconv from 'iconv-lite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { snapshot } from './orgHelpers.ts';

/**
 * Inventory CSV through the API against the real hub: a GB18030 file with Chinese names imports
 * exactly; a file with bad rows is refused whole (422, each row's line and code); a dry run
 * changes nothing; rows of a school the caller may not change are `unknown_school`; an export
 * imported again changes nothing. Devices are read back from the registry.
 */
const HEADER = 'school,room,id,kind,model,vendor,serial,link_role,capacity_bps';
const csv = (...lines: string[]) => new TextEncoder().encode([HEADER, ...lines].join('\r\n') + '\r\n');
const CSV_HEADERS = { 'content-type': 'text/csv' };
type ImportReply = { dryRun: boolean; encoding: string; created: number; updated: number; unchanged: number; rows: number };
type Refusal = { code: string; details: { errors: Array<{ line: number; code: string; column?: string; reason: string }> } };

describe('inventory import and export', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_org_inventory');
    const made = await rig.call('yzOperator', 'POST', '/schools', {
      id: '巴蜀二校',
      district: '渝中区',
      nameZh: '巴蜀小学二校区',
      nameEn: 'Bashu Primary, second campus',
      rooms: [{ id: '三年级二班', name: '三年级（2）班' }, { id: '机房' }],
    });
    expect(made.status).toBe(201);
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  const post = (who: Parameters<ApiRig['call']>[0], bytes: Uint8Array, dryRun?: boolean) =>
    rig.call<ImportReply & Refusal>(who, 'POST', `/inventory/import${dryRun === undefined ? '' : `?dryRun=${dryRun}`}`, bytes, CSV_HEADERS);

  it('a GB18030 file with Chinese school, room and vendor names imports exactly', async () => {
    const text = [
      HEADER,
      '巴蜀二校,三年级二班,巴蜀二校-三2-白板,interactive_board,希沃 F86EA,视源股份,SW-二-001,,',
      '巴蜀二校,三年级二班,巴蜀二校-三2-音视频,classroom_av,"DMPS3, 4K",快思聪 Crestron,CR-002,,',
      '巴蜀二校,机房,巴蜀二校-出口,network_node,华为 S5735,华为,HW-003,school_uplink,1000000000',
    ].join('\r\n');
    const bytes = iconv.encode(text, 'gb18030');
    expect(new TextDecoder('utf-8', { fatal: false }).decode(bytes)).not.toBe(text); // it really is not UTF-8
    const r = await post('yzOperator', bytes);
    expect([r.status, r.body]).toEqual([200, { dryRun: false, encoding: 'gb18030', created: 3, updated: 0, unchanged: 0, rows: 3 }]);
    const got = (id: string) => {
      const { createdAt: _, ...d } = rig.registry.getDeviceRecord(id)!;
      return d;
    };
    expect(got('巴蜀二校-三2-白板')).toEqual({ id: '巴蜀二校-三2-白板', school: '巴蜀二校', district: '渝中区', room: '三年级二班', kind: 'interactive_board', model: '希沃 F86EA', vendor: '视源股份', serial: 'SW-二-001', linkRole: null, capacityBps: null, retiredAt: null });
    expect(got('巴蜀二校-三2-音视频')).toEqual({ id: '巴蜀二校-三2-音视频', school: '巴蜀二校', district: '渝中区', room: '三年级二班', kind: 'classroom_av', model: 'DMPS3, 4K', vendor: '快思聪 Crestron', serial: 'CR-002', linkRole: null, capacityBps: null, retiredAt: null });
    expect(got('巴蜀二校-出口')).toEqual({ id: '巴蜀二校-出口', school: '巴蜀二校', district: '渝中区', room: '机房', kind: 'network_node', model: '华为 S5735', vendor: '华为', serial: 'HW-003', linkRole: 'school_uplink', capacityBps: 1_000_000_000, retiredAt: null });
    expect(rig.registry.listAudit({ limit: 1 }).items[0]).toMatchObject({ actor: 'user:u-yzOperator', action: 'inventory.import', target: 'school:巴蜀二校', outcome: 'ok', district: '渝中区', school: '巴蜀二校' });
  });

  it('a file with bad rows: 422 with each row\'s line and code, and the registry unchanged', async () => {
    const bytes = csv(
      'yz-bashu,301,new-1,projector,,,,,', // 2 unknown_kind
      'yz-bashu,server-room,new-2,network_node,,,,access,0', // 3 bad_capacity
      'yz-bashu,no-such-room,new-3,vr_kit,,,,,', // 4 unknown_room
      'yz-bashu,301,new-4,vr_kit,,,,,', // 5 fine
      'yz-bashu,301,new-4,vr_kit,,,,,', // 6 duplicate_id
      'no-such-school,301,new-5,vr_kit,,,,,', // 7 unknown_school
      'yz-bashu,301,jb-s01-201-vr,vr_kit,,,,,', // 8 held_by_other_school
      'yz-bashu,301,new-6,vr_kit,,,,school_uplink,', // 9 bad_link
      'yz-bashu,301,new-7,vr_kit', // 10 malformed (4 fields)
    );
    const before = snapshot(rig.registry);
    const r = await post('city', bytes);
    expect(r.status).toBe(422);
    expect(r.body.code).toBe('HUB_ERR_INVENTORY_INVALID');
    expect(r.body.details.errors.map((e) => [e.line, e.code])).toEqual([
      [2, 'unknown_kind'],
      [3, 'bad_capacity'],
      [4, 'unknown_room'],
      [6, 'duplicate_id'],
      [7, 'unknown_school'],
      [8, 'held_by_other_school'],
      [9, 'bad_link'],
      [10, 'malformed'],
    ]);
    // The holder of a device id is not named.
    expect(r.body.details.errors.find((e) => e.line === 8)!.reason.replace('jb-s01-201-vr', '')).not.toContain('jb-s01');
    expect(snapshot(rig.registry)).toBe(before);
    expect(rig.registry.listAudit({ limit: 1 }).items[0]).toMatchObject({ actor: 'user:u-city', action: 'inventory.import', outcome: 'invalid' });

    const columns = await post('city', new TextEncoder().encode('school,room,id,kind\r\nyz-bashu,301,x,vr_kit\r\n'));
    expect([columns.status, columns.body.details.errors.map((e) => [e.line, e.code])]).toEqual([422, [[1, 'columns']]]);
    expect(snapshot(rig.registry)).toBe(before);
  });

  it('dryRun=true changes nothing and reports the counts an import then gives', async () => {
    const bytes = csv(
      'yz-bashu,301,yz-bashu-301-board,interactive_board,,,,,', // as provisioned: unchanged
      'yz-bashu,301,yz-bashu-301-av,classroom_av,DMPS3,Crestron,CR-9,,', // new model: updated
      'yz-bashu,server-room,yz-bashu-core,network_node,S5735,华为,HW-9,access,10000000000', // created
      'yz-bashu,301,yz-bashu-301-vr,vr_kit,Pico 4,,,,', // created
    );
    const before = snapshot(rig.registry);
    const dry = await post('bashuIt', bytes, true);
    expect([dry.status, dry.body]).toEqual([200, { dryRun: true, encoding: 'utf-8', created: 2, updated: 1, unchanged: 1, rows: 4 }]);
    expect(snapshot(rig.registry)).toBe(before);

    const real = await post('bashuIt', bytes, false);
    expect([real.status, real.body]).toEqual([200, { dryRun: false, encoding: 'utf-8', created: 2, updated: 1, unchanged: 1, rows: 4 }]);
    expect(rig.registry.getDeviceRecord('yz-bashu-301-av')).toMatchObject({ model: 'DMPS3', vendor: 'Crestron', serial: 'CR-9', room: '301' });
    expect(rig.registry.getDeviceRecord('yz-bashu-core')).toMatchObject({ kind: 'network_node', linkRole: 'access', capacityBps: 10_000_000_000 });
    expect(rig.registry.listAudit({ limit: 1 }).items[0]).toMatchObject({ actor: 'user:u-bashuIt', target: 'school:yz-bashu', outcome: 'ok', detail: expect.stringMatching(/^created 2, updated 1, unchanged 1 \(utf-8\); via token [0-9a-f]{16}$/) });
    const again = await post('bashuIt', bytes);
    expect(again.body).toMatchObject({ created: 0, updated: 0, unchanged: 4 });
  });

  it('a school IT importing rows of another school, or of none: those rows are unknown_school alike; a viewer of the school is refused (403)', async () => {
    const bytes = csv('yz-bashu,301,ok-row,vr_kit,,,,,', 'yz-s02,101,other-school-row,vr_kit,,,,,', 'no-such-school,101,nowhere-row,vr_kit,,,,,');
    const before = snapshot(rig.registry);
    const r = await post('bashuIt', bytes);
    expect(r.status).toBe(422);
    const errs = r.body.details.errors;
    expect(errs.map((e) => [e.line, e.code, e.column])).toEqual([
      [3, 'unknown_school', 'school'],
      [4, 'unknown_school', 'school'],
    ]);
    // The same words for a school that exists elsewhere and one that does not.
    expect(errs[0]!.reason.replace('yz-s02', 'X')).toBe(errs[1]!.reason.replace('no-such-school', 'X'));
    const viewer = await post('bashuViewer', csv('yz-bashu,301,viewer-row,vr_kit,,,,,'));
    expect([viewer.status, viewer.body.code]).toEqual([403, 'HUB_ERR_FORBIDDEN']);
    expect(snapshot(rig.registry)).toBe(before);
  });

  it('export is scoped, UTF-8 with BOM and CRLF; export → import gives unchanged for every row', async () => {
    // The bytes as sent (a text decoder would drop the BOM).
    const whole = await fetch(`${rig.base}/inventory/export`, { headers: { authorization: `Bearer ${rig.tokens.city}` } });
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toBe('text/csv; charset=utf-8');
    const raw = new Uint8Array(await whole.arrayBuffer());
    expect([...raw.slice(0, 3)]).toEqual([0xef, 0xbb, 0xbf]);
    const lines = new TextDecoder('utf-8', { ignoreBOM: true }).decode(raw).split('\r\n');
    expect(lines[0]).toBe(`\uFEFF${HEADER}`);
    const n = rig.registry.deviceCount();
    expect(lines.filter((l) => l !== '').length).toBe(1 + n);

    const back = await post('city', raw);
    expect([back.status, back.body]).toEqual([200, { dryRun: false, encoding: 'utf-8-bom', created: 0, updated: 0, unchanged: n, rows: n }]);

    const bashu = await rig.call('bashuIt', 'GET', '/inventory/export');
    const schools = bashu.text.replace(/^\uFEFF/, '').split('\r\n').slice(1).filter(Boolean).map((l) => l.split(',')[0]);
    expect(schools.length).toBeGreaterThan(0);
    expect(new Set(schools)).toEqual(new Set(['yz-bashu']));
    expect((await rig.call('yzOperator', 'GET', '/inventory/export?school=巴蜀二校')).text).toContain('巴蜀二校-出口');
    expect((await rig.call('bashuIt', 'GET', '/inventory/export?school=jb-s01')).status).toBe(404);
    expect((await rig.call('jbOperator', 'GET', `/inventory/export?district=${encodeURIComponent('渝中区')}`)).status).toBe(404);
  });
});
