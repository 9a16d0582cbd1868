import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { provisionFleet } from '../src/provision.ts';
import { Registry, type CommandRecord, type Device, type DeviceWrite } from '../src/registry.ts';

let dir: string;
let file: string;
let reg: Registry;

const TABLES = ['districts', 'schools', 'rooms', 'devices', 'gateways', 'users', 'api_tokens', 'commands', 'audit_log'];
/** Every row of every table, read through a second connection: what a refused write must leave. */
function snapshot(): Record<string, unknown[]> {
  const db = new DatabaseSync(file);
  try {
    return Object.fromEntries(TABLES.map((t) => [t, db.prepare(`SELECT * FROM ${t} ORDER BY rowid`).all()]));
  } finally {
    db.close();
  }
}
const conflict = (reason: string, extra: Record<string, unknown> = {}) => expect.objectContaining({ code: 'HUB_ERR_REGISTRY_CONFLICT', reason, ...extra });
const invalid = (entity: string, field: string) => expect.objectContaining({ code: 'HUB_ERR_REGISTRY_INVALID', entity, field });

const T0 = 1_700_000_000_000;
const av = (id: string, school: string, room: string, extra: Partial<DeviceWrite> = {}) => ({ id, school, room, kind: 'classroom_av' as const, model: '', vendor: '', serial: '', linkRole: null, capacityBps: null, ...extra });

beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registry-mgmt-'));
  file = join(dir, 'registry.sqlite');
  reg = new Registry(file);
  reg.createDistrict({ id: '渝中区', code: 'yz', nameZh: '渝中区', nameEn: 'Yuzhong' });
  reg.createDistrict({ id: '江北区', code: 'jb', nameZh: '江北区', nameEn: 'Jiangbei' });
  reg.createSchool({ id: 'S01', district: '渝中区', nameZh: '巴蜀小学', nameEn: 'Bashu Primary', timetable: null, uplinkCapacityBps: 1e9 }, T0);
  reg.createSchool({ id: 'S02', district: '江北区', nameZh: '新村实验小学', nameEn: 'Xincun Primary', timetable: null, uplinkCapacityBps: null }, T0);
  for (const [school, room] of [['S01', '101'], ['S01', '102'], ['S02', '201']] as const) reg.createRoom({ school, id: room, name: `room ${room}` });
});
afterEach(() => {
  reg.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('Registry pages', () => {
  beforeEach(() => {
    // 7 devices, created out of order: the pages follow the id.
    for (const [id, school, room, serial] of [
      ['D5', 'S01', '101', 'sn-005'],
      ['D1', 'S01', '101', 'SN-001'],
      ['D7', 'S02', '201', 'sn-007'],
      ['D3', 'S01', '102', 'sn-003'],
      ['D2', 'S02', '201', 'sn-002'],
      ['D6', 'S01', '102', 'xx-006'],
      ['D4', 'S01', '101', 'sn-004'],
    ] as const) reg.createDevice(av(id, school, room, { serial }), T0);
  });

  it('walks 7 devices 3 at a time: 3, 3, 1 items, every id once, in order', () => {
    const pages: string[][] = [];
    let cursor: string | undefined;
    do {
      const page = reg.listDevices({ limit: 3, cursor });
      pages.push(page.items.map((d) => d.id));
      cursor = page.nextCursor ?? undefined;
    } while (cursor !== undefined);
    expect(pages).toEqual([['D1', 'D2', 'D3'], ['D4', 'D5', 'D6'], ['D7']]);
  });

  it('gives a null nextCursor when the page ends the listing exactly', () => {
    const first = reg.listDevices({ limit: 7 });
    expect(first.items).toHaveLength(7);
    expect(first.nextCursor).toBeNull();
  });

  it('combines filters (AND), and q matches a serial whatever its case', () => {
    expect(reg.listDevices({ limit: 100, school: 'S01', room: '101' }).items.map((d) => d.id)).toEqual(['D1', 'D4', 'D5']);
    expect(reg.listDevices({ limit: 100, district: '江北区' }).items.map((d) => d.id)).toEqual(['D2', 'D7']);
    expect(reg.listDevices({ limit: 100, q: 'sn-00' }).items.map((d) => d.id)).toEqual(['D1', 'D2', 'D3', 'D4', 'D5', 'D7']);
    expect(reg.listDevices({ limit: 100, q: 'SN-00', school: 'S01', room: '102' }).items.map((d) => d.id)).toEqual(['D3']);
    expect(reg.listDevices({ limit: 100, kind: 'vr_kit' }).items).toEqual([]);
    expect(reg.listDevices({ limit: 100, ids: ['D6', 'D2', 'nope'] }).items.map((d) => d.id)).toEqual(['D2', 'D6']);
    const filtered = reg.listDevices({ limit: 2, school: 'S01', q: 'sn' });
    expect(filtered.items.map((d) => d.id)).toEqual(['D1', 'D3']);
    expect(reg.listDevices({ limit: 2, school: 'S01', q: 'sn', cursor: filtered.nextCursor! }).items.map((d) => d.id)).toEqual(['D4', 'D5']);
  });

  it('joins the district of a device from its school', () => {
    expect(reg.listDevices({ limit: 1, ids: ['D7'] }).items).toEqual([
      { id: 'D7', school: 'S02', district: '江北区', room: '201', kind: 'classroom_av', model: '', vendor: '', serial: 'sn-007', linkRole: null, capacityBps: null, createdAt: T0, retiredAt: null },
    ]);
  });

  it('refuses a bad cursor and a limit outside 1..1000', () => {
    expect(() => reg.listDevices({ limit: 3, cursor: 'not-a-cursor' })).toThrow(invalid('device', 'cursor'));
    expect(() => reg.listDevices({ limit: 3, cursor: Buffer.from('[1,2]').toString('base64url') })).toThrow(invalid('device', 'cursor'));
    expect(() => reg.listDevices({ limit: 0 })).toThrow(invalid('device', 'limit'));
    expect(() => reg.listDevices({ limit: 1001 })).toThrow(invalid('device', 'limit'));
    expect(reg.listDevices({ limit: 1000 }).items).toHaveLength(7);
  });

  it('pages districts, schools and gateways by id, with their filters', () => {
    reg.createGateway('G2', 'S02', 'h', T0);
    reg.createGateway('G1', 'S01', 'h', T0 + 1);
    expect(reg.listDistricts({ limit: 1 }).items.map((d) => d.id)).toEqual(['江北区']);
    expect(reg.listDistricts({ limit: 10, q: 'YUZ' }).items.map((d) => d.id)).toEqual(['渝中区']);
    expect(reg.listSchools({ limit: 10, district: '江北区' }).items.map((s) => s.id)).toEqual(['S02']);
    expect(reg.listSchools({ limit: 10, q: '巴蜀' }).items.map((s) => s.id)).toEqual(['S01']);
    expect(reg.listGateways({ limit: 10 }).items).toEqual([
      { id: 'G1', school: 'S01', district: '渝中区', revoked: false, createdAt: T0 + 1, rotatedAt: null },
      { id: 'G2', school: 'S02', district: '江北区', revoked: false, createdAt: T0, rotatedAt: null },
    ]);
    expect(reg.listGateways({ limit: 10, district: '江北区' }).items.map((g) => g.id)).toEqual(['G2']);
  });
});

describe('Registry conflicts leave the database unchanged', () => {
  it('refuses an existing id, a taken district code, and names the reason', () => {
    reg.createDevice(av('AV-1', 'S01', '101'), T0);
    reg.createGateway('G1', 'S01', 'h', T0);
    const before = snapshot();
    expect(() => reg.createDistrict({ id: '渝中区', code: null, nameZh: 'x', nameEn: 'x' })).toThrow(conflict('exists', { entity: 'district' }));
    expect(() => reg.createDistrict({ id: '北碚区', code: 'yz', nameZh: '北碚区', nameEn: 'Beibei' })).toThrow(conflict('exists', { entity: 'district', id: '北碚区' }));
    expect(() => reg.updateDistrict('江北区', { code: 'yz' })).toThrow(conflict('exists'));
    expect(() => reg.createSchool({ id: 'S01', district: '江北区', nameZh: 'x', nameEn: 'x', timetable: null, uplinkCapacityBps: null }, T0)).toThrow(conflict('exists', { entity: 'school' }));
    expect(() => reg.createRoom({ school: 'S01', id: '101', name: 'again' })).toThrow(conflict('exists', { entity: 'room' }));
    expect(() => reg.createGateway('G1', 'S02', 'h2', T0)).toThrow(conflict('exists', { entity: 'gateway' }));
    expect(() => reg.createDevice(av('AV-1', 'S01', '102'), T0)).toThrow(conflict('exists', { entity: 'device' }));
    expect(() => reg.createDevice(av('AV-1', 'S02', '201'), T0)).toThrow(conflict('held_by_other_school', { heldBy: 'S01' }));
    expect(snapshot()).toEqual(before);
  });

  it('refuses a retired device id, and erasing it frees the id', () => {
    reg.createDevice(av('AV-1', 'S01', '101'), T0);
    reg.retireDevice('AV-1', T0 + 5);
    const before = snapshot();
    expect(() => reg.createDevice(av('AV-1', 'S02', '201'), T0)).toThrow(conflict('retired'));
    expect(snapshot()).toEqual(before);
    expect(reg.deleteDevice('AV-1')).toBe(true);
    expect(reg.createDevice(av('AV-1', 'S02', '201'), T0 + 9).school).toBe('S02');
  });

  it('refuses to delete what is still referred to', () => {
    reg.createDevice(av('AV-1', 'S01', '101'), T0);
    reg.createGateway('G2', 'S02', 'h', T0);
    reg.createUser({ id: 'u1', displayName: 'U', role: 'district_operator', district: '江北区', school: null, createdAt: T0 });
    const before = snapshot();
    expect(() => reg.deleteDistrict('渝中区')).toThrow(conflict('in_use', { entity: 'district' }));
    expect(() => reg.deleteSchool('S01')).toThrow(conflict('in_use', { entity: 'school' })); // a device
    expect(() => reg.deleteSchool('S02')).toThrow(conflict('in_use', { entity: 'school' })); // a gateway
    expect(() => reg.deleteRoom('S01', '101')).toThrow(conflict('in_use', { entity: 'room' }));
    reg.retireDevice('AV-1', T0);
    expect(() => reg.deleteRoom('S01', '101')).toThrow(conflict('in_use')); // retired devices keep their room
    expect(snapshot()).toEqual({ ...before, devices: [{ ...(before['devices']![0] as object), retired_at: T0 }] });
  });

  it('deletes an unused room, and a school with its rooms', () => {
    expect(reg.deleteRoom('S01', '102')).toBe(true);
    expect(reg.deleteRoom('S01', '102')).toBe(false);
    reg.createSchool({ id: 'S03', district: '渝中区', nameZh: '三', nameEn: 'Three', timetable: null, uplinkCapacityBps: null }, T0);
    reg.createRoom({ school: 'S03', id: 'a', name: '' });
    expect(reg.deleteSchool('S03')).toBe(true);
    expect(reg.listRooms('S03')).toEqual([]);
    expect(reg.getSchool('S03')).toBeUndefined();
    expect(reg.deleteSchool('S03')).toBe(false);
  });
});

describe('Registry devices: school and room', () => {
  it('upsertDevice refuses a device id another school holds; the device stays in the first school', () => {
    reg.upsertDevice({ id: 'AV-1', school: 'S01', room: '101', kind: 'classroom_av' });
    expect(reg.getDevice('AV-1')?.school).toBe('S01'); // cached
    const before = snapshot();
    expect(() => reg.upsertDevice({ id: 'AV-1', school: 'S02', room: '201', kind: 'classroom_av' })).toThrow(conflict('held_by_other_school', { entity: 'device', id: 'AV-1', heldBy: 'S01' }));
    expect(snapshot()).toEqual(before);
    expect(reg.getDevice('AV-1')).toEqual({ id: 'AV-1', school: 'S01', room: '101', kind: 'classroom_av' });
    // the same school: room and kind change, and the named room is created
    reg.upsertDevice({ id: 'AV-1', school: 'S01', room: '新楼-3', kind: 'interactive_board' });
    expect(reg.getDevice('AV-1')).toEqual({ id: 'AV-1', school: 'S01', room: '新楼-3', kind: 'interactive_board' });
    expect(reg.listRooms('S01').map((r) => r.id)).toEqual(['101', '102', '新楼-3']);
  });

  it('provisioning a fleet whose device another school holds loads nothing', async () => {
    reg.upsertDevice({ id: 'AV-1', school: 'S01', room: '101', kind: 'classroom_av' });
    const fleet = { districts: [{ id: '江北区', nameEn: 'Jiangbei' }], schools: [{ id: 'S02', name: '新村实验小学', district: '江北区', gateway: 'G9', devices: [{ id: 'AV-1', kind: 'classroom_av' as const, room: '201' }] }] };
    await expect(provisionFleet(reg, fleet, () => 'pw', 'system:test', { N: 1024, r: 8, p: 1 })).rejects.toMatchObject({ code: 'HUB_ERR_REGISTRY_CONFLICT', heldBy: 'S01' });
    expect(reg.getGatewayRecord('G9')).toBeUndefined();
    expect(reg.getDeviceRecord('AV-1')?.school).toBe('S01');
  });

  it('provisioning gives network nodes their link and districts their code', async () => {
    const fleet = {
      districts: [{ id: '北碚区', nameEn: 'Beibei', code: 'bb' }],
      schools: [{ id: 'bb-s01', name: '北碚一中', nameEn: 'Beibei No. 1', district: '北碚区', gateway: 'gw-bb-s01', devices: [{ id: 'bb-s01-uplink', kind: 'network_node' as const, room: 'server-room', link: { role: 'school_uplink' as const, capacityBps: 300e6 } }] }],
    };
    await provisionFleet(reg, fleet, () => 'pw', 'system:test', { N: 1024, r: 8, p: 1 });
    expect(reg.getDistrict('北碚区')).toEqual({ id: '北碚区', code: 'bb', nameZh: '北碚区', nameEn: 'Beibei' });
    expect(reg.getSchool('bb-s01')).toMatchObject({ nameZh: '北碚一中', nameEn: 'Beibei No. 1' });
    expect(reg.getDeviceRecord('bb-s01-uplink')).toMatchObject({ district: '北碚区', room: 'server-room', linkRole: 'school_uplink', capacityBps: 300e6 });
    expect(reg.listRooms('bb-s01')).toEqual([{ school: 'bb-s01', id: 'server-room', name: '' }]);
  });

  it('createDevice and moveDevice need a room of the school; nothing is written otherwise', () => {
    const before = snapshot();
    expect(() => reg.createDevice(av('AV-1', 'S01', '201'), T0)).toThrow(invalid('device', 'room')); // 201 is S02's
    expect(() => reg.createDevice(av('AV-1', 'S99', '101'), T0)).toThrow(invalid('device', 'school'));
    expect(snapshot()).toEqual(before);
    reg.createDevice(av('AV-1', 'S01', '101'), T0);
    expect(() => reg.moveDevice('AV-1', { school: 'S02', room: '101' })).toThrow(invalid('device', 'room'));
    expect(reg.getDevice('AV-1')).toEqual({ id: 'AV-1', school: 'S01', room: '101', kind: 'classroom_av' });
    expect(reg.moveDevice('AV-1', { school: 'S02', room: '201' })).toMatchObject({ school: 'S02', district: '江北区', room: '201' });
    expect(reg.getDevice('AV-1')).toEqual({ id: 'AV-1', school: 'S02', room: '201', kind: 'classroom_av' });
    expect(reg.updateDevice('AV-1', { model: 'EB-X51', vendor: 'Epson', serial: 'X1' })).toMatchObject({ model: 'EB-X51', vendor: 'Epson', serial: 'X1', room: '201' });
    expect(reg.moveDevice('nope', { school: 'S02', room: '201' })).toBeUndefined();
  });

  it('a network node needs its link role and capacity; other kinds have none', () => {
    const nn = { id: 'NN-1', school: 'S01', room: '101', kind: 'network_node' as const, model: '', vendor: '', serial: '' };
    expect(() => reg.createDevice({ ...nn, linkRole: null, capacityBps: null }, T0)).toThrow(invalid('device', 'linkRole'));
    expect(() => reg.createDevice({ ...nn, linkRole: 'access', capacityBps: null }, T0)).toThrow(invalid('device', 'capacityBps'));
    expect(() => reg.createDevice({ ...nn, linkRole: 'access', capacityBps: 400e9 + 1 }, T0)).toThrow(invalid('device', 'capacityBps'));
    expect(() => reg.createDevice({ ...nn, linkRole: 'access', capacityBps: 1.5 }, T0)).toThrow(invalid('device', 'capacityBps'));
    expect(() => reg.createDevice(av('AV-1', 'S01', '101', { capacityBps: 1e9 }), T0)).toThrow(invalid('device', 'capacityBps'));
    expect(() => reg.createDevice(av('AV-1', 'S01', '101', { linkRole: 'access' }), T0)).toThrow(invalid('device', 'linkRole'));
    expect(reg.deviceCount()).toBe(0);
    expect(reg.createDevice({ ...nn, linkRole: 'access', capacityBps: 400e9 }, T0)).toMatchObject({ linkRole: 'access', capacityBps: 400e9 });
    expect(() => reg.updateDevice('NN-1', { capacityBps: null })).toThrow(invalid('device', 'capacityBps'));
  });

  it('a retired device is unknown to the hot path and to the counts, but its record stays', () => {
    reg.createDevice(av('AV-1', 'S01', '101'), T0);
    reg.createDevice(av('AV-2', 'S01', '101'), T0);
    expect(reg.getDevice('AV-1')).toBeDefined(); // cached
    expect(reg.retireDevice('AV-1', T0 + 100)?.retiredAt).toBe(T0 + 100);
    expect(reg.retireDevice('AV-1', T0 + 200)?.retiredAt).toBe(T0 + 100);
    expect(reg.getDevice('AV-1')).toBeUndefined();
    expect(reg.getDeviceRecord('AV-1')).toMatchObject({ id: 'AV-1', retiredAt: T0 + 100 });
    expect(reg.deviceCount()).toBe(1);
    expect(reg.deviceCounts()).toEqual([{ district: '渝中区', school: 'S01', kind: 'classroom_av', n: 1 }]);
    expect(reg.listDevices({ limit: 10 }).items.map((d) => d.id)).toEqual(['AV-2']);
    expect(reg.listDevices({ limit: 10, includeRetired: true }).items.map((d) => d.id)).toEqual(['AV-1', 'AV-2']);
    expect(reg.retireDevice('nope', T0)).toBeUndefined();
  });
});

describe('Registry values of the management plane', () => {
  it('refuses bad names, codes, capacities and timetables, naming the field', () => {
    expect(() => reg.createDistrict({ id: '北碚区', code: 'BB', nameZh: '北碚区', nameEn: 'Beibei' })).toThrow(invalid('district', 'code'));
    expect(() => reg.createDistrict({ id: '北碚区', code: 'b'.repeat(17), nameZh: '北碚区', nameEn: 'Beibei' })).toThrow(invalid('district', 'code'));
    expect(() => reg.createDistrict({ id: '北碚区', code: null, nameZh: '', nameEn: 'Beibei' })).toThrow(invalid('district', 'nameZh'));
    expect(() => reg.createDistrict({ id: '北碚区', code: null, nameZh: '北碚区', nameEn: 'x'.repeat(201) })).toThrow(invalid('district', 'nameEn'));
    const s = { id: 'S03', district: '渝中区', nameZh: '三', nameEn: 'Three', timetable: null, uplinkCapacityBps: null };
    expect(() => reg.createSchool({ ...s, nameEn: '' }, T0)).toThrow(invalid('school', 'nameEn'));
    expect(() => reg.createSchool({ ...s, uplinkCapacityBps: 0 }, T0)).toThrow(invalid('school', 'uplinkCapacityBps'));
    expect(() => reg.createSchool({ ...s, district: '北碚区' }, T0)).toThrow(invalid('school', 'district'));
    expect(() => reg.createSchool({ ...s, timetable: { days: [8], start: '08:00', end: '16:00', timeZone: 'Asia/Shanghai' } }, T0)).toThrow(invalid('school', 'timetable.days.0'));
    expect(() => reg.createRoom({ school: 'S01', id: 'a\nb', name: '' })).toThrow(invalid('room', 'id'));
    expect(() => reg.createRoom({ school: 'S99', id: 'r', name: '' })).toThrow(invalid('room', 'school'));
    expect(reg.listDistricts({ limit: 10 }).items).toHaveLength(2);
    expect(reg.getSchool('S03')).toBeUndefined();
  });

  it('updates a school and a district, keeping what the patch leaves out', () => {
    const t = { days: [1, 2, 3, 4, 5], start: '08:00', end: '16:00', timeZone: 'Asia/Shanghai' };
    expect(reg.updateSchool('S01', { nameEn: 'Bashu', timetable: t })).toEqual({ id: 'S01', district: '渝中区', nameZh: '巴蜀小学', nameEn: 'Bashu', timetable: t, uplinkCapacityBps: 1e9, createdAt: T0 });
    expect(reg.timetableOf('S01')).toEqual(t);
    // provisioning again rewrites the name only
    reg.upsertSchool({ id: 'S01', district: '渝中区', name: '巴蜀' });
    expect(reg.getSchool('S01')).toEqual({ id: 'S01', district: '渝中区', nameZh: '巴蜀', nameEn: 'Bashu', timetable: t, uplinkCapacityBps: 1e9, createdAt: T0 });
    expect(reg.updateDistrict('江北区', { code: null, nameEn: 'Jiangbei District' })).toEqual({ id: '江北区', code: null, nameZh: '江北区', nameEn: 'Jiangbei District' });
    expect(reg.updateSchool('S99', { nameEn: 'x' })).toBeUndefined();
    expect(reg.updateRoom('S01', '101', { name: '一楼' })).toEqual({ school: 'S01', id: '101', name: '一楼' });
  });
});

describe('Registry users: role and scope', () => {
  const u = (role: string, district: string | null, school: string | null, id = 'u1') => ({ id, displayName: 'Someone', role: role as never, district, school, createdAt: T0 });

  it('accepts each role with the scope it needs; a school user gets its school\'s district', () => {
    expect(reg.createUser(u('city_admin', null, null, 'a'))).toEqual({ id: 'a', displayName: 'Someone', role: 'city_admin', district: null, school: null, createdAt: T0, disabledAt: null, hasPassword: false });
    expect(reg.createUser(u('district_operator', '江北区', null, 'b'))).toMatchObject({ district: '江北区', school: null });
    expect(reg.createUser(u('school_it', null, 'S02', 'c'))).toMatchObject({ district: '江北区', school: 'S02' });
    expect(reg.createUser(u('school_it', '江北区', 'S02', 'c2'))).toMatchObject({ district: '江北区', school: 'S02' });
    expect(reg.createUser(u('viewer', null, null, 'd'))).toMatchObject({ district: null, school: null });
    expect(reg.createUser(u('viewer', '渝中区', null, 'e'))).toMatchObject({ district: '渝中区', school: null });
    expect(reg.createUser(u('viewer', null, 'S01', 'f'))).toMatchObject({ district: '渝中区', school: 'S01' });
    expect(reg.userCount()).toBe(7);
    expect(reg.listUsers({ limit: 10, district: '江北区' }).items.map((x) => x.id)).toEqual(['b', 'c', 'c2']);
    expect(reg.listUsers({ limit: 10, school: 'S01' }).items.map((x) => x.id)).toEqual(['f']);
  });

  it('refuses a scope that does not fit the role, or that does not exist', () => {
    expect(() => reg.createUser(u('city_admin', '渝中区', null))).toThrow(invalid('user', 'district'));
    expect(() => reg.createUser(u('city_admin', null, 'S01'))).toThrow(invalid('user', 'school'));
    expect(() => reg.createUser(u('district_operator', null, null))).toThrow(invalid('user', 'district'));
    expect(() => reg.createUser(u('district_operator', '渝中区', 'S01'))).toThrow(invalid('user', 'school'));
    expect(() => reg.createUser(u('school_it', '渝中区', null))).toThrow(invalid('user', 'school'));
    expect(() => reg.createUser(u('school_it', '渝中区', 'S02'))).toThrow(invalid('user', 'district')); // S02 is in 江北区
    expect(() => reg.createUser(u('viewer', '江北区', 'S01'))).toThrow(invalid('user', 'district'));
    expect(() => reg.createUser(u('root', null, null))).toThrow(invalid('user', 'role'));
    expect(() => reg.createUser(u('district_operator', '北碚区', null))).toThrow(invalid('user', 'district'));
    expect(() => reg.createUser(u('school_it', null, 'S99'))).toThrow(invalid('user', 'school'));
    expect(reg.userCount()).toBe(0);
    reg.createUser(u('viewer', null, null));
    const before = snapshot();
    expect(() => reg.createUser(u('viewer', null, null))).toThrow(conflict('exists', { entity: 'user' }));
    expect(snapshot()).toEqual(before);
  });

  it('passwords, disabling and tokens', () => {
    reg.createUser(u('viewer', null, null));
    expect(reg.userPasswordHash('u1')).toBeUndefined();
    expect(reg.setUserPassword('u1', 'scrypt$hash')).toBe(true);
    expect(reg.getUser('u1')?.hasPassword).toBe(true);
    expect(reg.userPasswordHash('u1')).toBe('scrypt$hash');
    expect(reg.setUserPassword('u1', null)).toBe(true);
    expect(reg.getUser('u1')?.hasPassword).toBe(false);
    expect(reg.setUserPassword('nope', 'h')).toBe(false);
    expect(reg.disableUser('u1', T0 + 1)).toBe(true);
    expect(reg.disableUser('u1', T0 + 2)).toBe(true);
    expect(reg.getUser('u1')?.disabledAt).toBe(T0 + 1);
    expect(reg.disableUser('nope', T0)).toBe(false);

    reg.createToken({ id: 't2', user: 'u1', name: 'ci', secretHash: 'h2', createdAt: T0 + 2, expiresAt: null });
    reg.createToken({ id: 't1', user: 'u1', name: 'cli', secretHash: 'h1', createdAt: T0 + 1, expiresAt: T0 + 1000 });
    expect(() => reg.createToken({ id: 't1', user: 'u1', name: 'x', secretHash: 'h', createdAt: T0, expiresAt: null })).toThrow(conflict('exists', { entity: 'token' }));
    expect(() => reg.createToken({ id: 't3', user: 'nobody', name: 'x', secretHash: 'h', createdAt: T0, expiresAt: null })).toThrow(invalid('token', 'user'));
    reg.touchToken('t1', T0 + 50);
    expect(reg.revokeToken('t2', T0 + 60)).toBe(true);
    expect(reg.revokeToken('t9', T0 + 60)).toBe(false);
    expect(reg.getToken('t1')).toEqual({ id: 't1', user: 'u1', name: 'cli', secretHash: 'h1', createdAt: T0 + 1, expiresAt: T0 + 1000, revokedAt: null, lastUsedAt: T0 + 50 });
    expect(reg.listTokens('u1')).toEqual([
      { id: 't1', user: 'u1', name: 'cli', createdAt: T0 + 1, expiresAt: T0 + 1000, revokedAt: null, lastUsedAt: T0 + 50 },
      { id: 't2', user: 'u1', name: 'ci', createdAt: T0 + 2, expiresAt: null, revokedAt: T0 + 60, lastUsedAt: null },
    ]);
  });
});

describe('Registry gateways of the management plane', () => {
  it('rotation sets the hash and rotatedAt and keeps a revocation; delete erases', () => {
    reg.createGateway('G1', 'S01', 'h1', T0);
    reg.revokeGateway('G1');
    expect(reg.rotateGatewayHash('G1', 'h2', T0 + 7)).toBe(true);
    expect(reg.getGateway('G1')).toEqual({ id: 'G1', school: 'S01', district: '渝中区', passwordHash: 'h2', revoked: true });
    expect(reg.getGatewayRecord('G1')).toEqual({ id: 'G1', school: 'S01', district: '渝中区', revoked: true, createdAt: T0, rotatedAt: T0 + 7 });
    expect(reg.rotateGatewayHash('G9', 'h', T0)).toBe(false);
    expect(() => reg.rotateGatewayHash('G1', '', T0)).toThrow(invalid('gateway', 'passwordHash'));
    expect(() => reg.createGateway('G2', 'S99', 'h', T0)).toThrow(invalid('gateway', 'school'));
    expect(reg.deleteGateway('G1')).toBe(true);
    expect(reg.getGateway('G1')).toBeUndefined();
    expect(reg.deleteGateway('G1')).toBe(false);
  });
});

describe('Registry commands', () => {
  const cmd = (id: string, issuedAt: number, extra: Partial<CommandRecord> = {}): CommandRecord => ({
    id, device: 'AV-1', district: '渝中区', school: 'S01', gateway: 'G1', action: 'reboot', input: null, ttlMs: 30_000, actor: 'user:alice',
    idempotencyKey: null, requestHash: null, status: 'sent', detail: null, issuedAt, updatedAt: issuedAt, ...extra,
  });

  it('refuses a second command with the same actor and idempotency key, and finds the first by it', () => {
    reg.insertCommand(cmd('c1', T0, { idempotencyKey: 'k1', requestHash: 'rh' }));
    const before = snapshot();
    expect(() => reg.insertCommand(cmd('c2', T0 + 1, { idempotencyKey: 'k1' }))).toThrow(conflict('exists', { entity: 'command', id: 'c2' }));
    expect(() => reg.insertCommand(cmd('c1', T0 + 1))).toThrow(conflict('exists', { id: 'c1' }));
    expect(snapshot()).toEqual(before);
    reg.insertCommand(cmd('c3', T0 + 2, { idempotencyKey: 'k1', actor: 'user:bob' })); // another actor's key
    reg.insertCommand(cmd('c4', T0 + 3));
    reg.insertCommand(cmd('c5', T0 + 4)); // no key: never a conflict
    expect(reg.commandByKey('user:alice', 'k1')?.id).toBe('c1');
    expect(reg.commandByKey('user:bob', 'k1')?.id).toBe('c3');
    expect(reg.commandByKey('user:carol', 'k1')).toBeUndefined();
  });

  it('never overwrites a final status, with sent or another final one (the first outcome stands)', () => {
    reg.insertCommand(cmd('c1', T0));
    expect(reg.updateCommand('c1', 'done', 'rebooted', T0 + 10)).toBe(true);
    expect(reg.updateCommand('c1', 'sent', null, T0 + 11)).toBe(false);
    expect(reg.getCommand('c1')).toMatchObject({ status: 'done', detail: 'rebooted', updatedAt: T0 + 10 });
    expect(reg.updateCommand('c1', 'no_result', 'hub stopped', T0 + 12)).toBe(false);
    expect(reg.getCommand('c1')).toMatchObject({ status: 'done', detail: 'rebooted', updatedAt: T0 + 10 });
    expect(reg.updateCommand('nope', 'done', null, T0)).toBe(false);
    reg.insertCommand(cmd('c2', T0));
    expect(reg.updateCommand('c2', 'sent', 'acknowledged', T0 + 1)).toBe(true);
  });

  it('lists newest first, with filters, in pages', () => {
    reg.insertCommand(cmd('a', T0 + 1));
    reg.insertCommand(cmd('b', T0 + 3, { school: 'S02', district: '江北区' }));
    reg.insertCommand(cmd('c', T0 + 2));
    reg.insertCommand(cmd('d', T0 + 2, { device: 'AV-2' }));
    const first = reg.listCommands({ limit: 2 });
    expect(first.items.map((c) => c.id)).toEqual(['b', 'd']);
    expect(reg.listCommands({ limit: 2, cursor: first.nextCursor! }).items.map((c) => c.id)).toEqual(['c', 'a']);
    expect(reg.listCommands({ limit: 10, school: 'S01' }).items.map((c) => c.id)).toEqual(['d', 'c', 'a']);
    expect(reg.listCommands({ limit: 10, district: '渝中区', device: 'AV-1' }).items.map((c) => c.id)).toEqual(['c', 'a']);
  });
});

describe('Registry audit scope', () => {
  it('stores district and school, lists newest first with filters and pages', () => {
    reg.appendAudit({ at: 1, actor: 'user:a', action: 'device.create', target: 'device:D1', outcome: 'ok', district: '渝中区', school: 'S01' });
    reg.appendAudit({ at: 2, actor: 'user:b', action: 'device.create', target: 'device:D2', outcome: 'ok', district: '江北区', school: 'S02' });
    reg.appendAudit({ at: 3, actor: 'user:a', action: 'district.update', target: 'district:渝中区', outcome: 'ok', district: '渝中区' });
    reg.appendAudit({ at: 4, actor: 'system:cli', action: 'gateway.revoke', target: 'gateway:G1', outcome: 'ok' });
    expect(reg.listAudit().items.map((r) => r.id)).toEqual([4, 3, 2, 1]);
    expect(reg.listAudit({ district: '渝中区' }).items).toEqual([
      { id: 3, at: 3, actor: 'user:a', action: 'district.update', target: 'district:渝中区', outcome: 'ok', district: '渝中区' },
      { id: 1, at: 1, actor: 'user:a', action: 'device.create', target: 'device:D1', outcome: 'ok', district: '渝中区', school: 'S01' },
    ]);
    expect(reg.listAudit({ school: 'S02' }).items.map((r) => r.id)).toEqual([2]);
    expect(reg.listAudit({ actor: 'user:a', school: 'S01' }).items.map((r) => r.id)).toEqual([1]);
    const p1 = reg.listAudit({ limit: 3 });
    expect(p1.items.map((r) => r.id)).toEqual([4, 3, 2]);
    expect(reg.listAudit({ limit: 3, cursor: p1.nextCursor! })).toEqual({ items: [expect.objectContaining({ id: 1 })], nextCursor: null });
    const asc = reg.listAudit({ limit: 3, order: 'asc' });
    expect(reg.listAudit({ limit: 3, order: 'asc', cursor: asc.nextCursor! }).items.map((r) => r.id)).toEqual([4]);
    expect(() => reg.listAudit({ cursor: '!!' })).toThrow(invalid('audit', 'cursor'));
    const deviceCursor = Buffer.from(JSON.stringify(['D1'])).toString('base64url');
    expect(() => reg.listAudit({ cursor: deviceCursor })).toThrow(invalid('audit', 'cursor'));
  });
});
