import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig, type PrincipalName } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { createUserWithToken } from '../../src/auth/bootstrap.ts';
import { runAccessCase, snapshot, type AccessCase } from './orgHelpers.ts';

/**
 * Every org endpoint called as every principal. The expected status of each is worked out by
 * hand from the scope rule (docs/design.md#security): outside the caller's scope → 404, inside
 * (or above) but not the role's → 403. A refused call changes nothing (the registry read back
 * is the same) and, for a change, leaves one audit entry naming the caller and the refusal.
 */
type Case = AccessCase;

let tokenOf: Partial<Record<PrincipalName, string>> = {};
const at = () => Date.now();
/** A viewer of yz-bashu made for one principal to act on. */
const victim = (rig: ApiRig, who: PrincipalName) => {
  const made = createUserWithToken(rig.registry, { id: `v-${who}`, role: 'viewer', school: 'yz-bashu' }, { name: 'victim', ttlMs: null }, at());
  tokenOf[who] = made.tokenId;
};
const TT = { days: [1, 2, 3, 4, 5, 6], start: '08:00', end: '17:30', timeZone: 'Asia/Shanghai' };

const CASES: Case[] = [
  { name: 'GET /me', method: 'GET', path: () => '/me', expect: '200 200 200 200 200 200 200 200 200', check: (_r, who, b) => expect(b).toMatchObject({ user: `u-${who}` }) },
  { name: 'GET /districts', method: 'GET', path: () => '/districts', expect: '200 200 200 200 200 200 200 200 200' },
  { name: 'GET /districts/渝中区', method: 'GET', path: () => `/districts/${encodeURIComponent('渝中区')}`, expect: '200 200 404 200 200 404 200 200 200' },
  { name: 'GET /districts/江北区', method: 'GET', path: () => `/districts/${encodeURIComponent('江北区')}`, expect: '200 404 200 404 404 200 200 404 404' },
  {
    name: 'POST /districts',
    method: 'POST',
    path: () => '/districts',
    body: (who) => ({ id: `d-${who}`, code: `d-${who.toLowerCase()}`.slice(0, 16), nameZh: `区${who}`, nameEn: who }),
    expect: '201 403 403 403 403 403 403 403 403',
    action: 'district.create',
    check: (rig, who) => expect(rig.registry.getDistrict(`d-${who}`)).toMatchObject({ nameEn: who }),
  },
  {
    name: 'PATCH /districts/江北区',
    method: 'PATCH',
    path: () => `/districts/${encodeURIComponent('江北区')}`,
    body: () => ({ nameEn: 'Jiangbei District' }),
    expect: '200 404 403 404 404 403 403 404 404',
    action: 'district.update',
    check: (rig) => expect(rig.registry.getDistrict('江北区')!.nameEn).toBe('Jiangbei District'),
  },
  { name: 'DELETE /districts/江北区 (it has a school)', method: 'DELETE', path: () => `/districts/${encodeURIComponent('江北区')}`, expect: '409 404 403 404 404 403 403 404 404', action: 'district.delete' },
  {
    name: 'DELETE /districts/{an empty one}',
    method: 'DELETE',
    path: (who) => `/districts/e-${who}`,
    setup: (rig, who) => void rig.registry.createDistrict({ id: `e-${who}`, code: null, nameZh: '空', nameEn: 'Empty' }),
    expect: '204 404 404 404 404 404 403 404 404',
    action: 'district.delete',
    check: (rig, who) => expect(rig.registry.getDistrict(`e-${who}`)).toBeUndefined(),
  },

  { name: 'GET /schools', method: 'GET', path: () => '/schools', expect: '200 200 200 200 200 200 200 200 200' },
  { name: 'GET /schools?district=江北区', method: 'GET', path: () => `/schools?district=${encodeURIComponent('江北区')}`, expect: '200 404 200 404 404 200 200 404 404' },
  { name: 'GET /schools/yz-bashu', method: 'GET', path: () => '/schools/yz-bashu', expect: '200 200 404 200 404 404 200 200 200' },
  {
    name: 'POST /schools (in 渝中区, with a room)',
    method: 'POST',
    path: () => '/schools',
    body: (who) => ({ id: `s-${who}`, district: '渝中区', nameZh: `学校${who}`, nameEn: who, rooms: [{ id: '101', name: '一年级一班' }] }),
    expect: '201 201 404 403 403 404 403 403 403',
    action: 'school.create',
    check: (rig, who) => {
      expect(rig.registry.getSchool(`s-${who}`)).toMatchObject({ district: '渝中区', nameEn: who, timetable: null, uplinkCapacityBps: null });
      expect(rig.registry.listRooms(`s-${who}`)).toEqual([{ school: `s-${who}`, id: '101', name: '一年级一班' }]);
    },
  },
  {
    name: 'PATCH /schools/yz-bashu',
    method: 'PATCH',
    path: () => '/schools/yz-bashu',
    body: (who) => ({ nameEn: `Bashu ${who}`, uplinkCapacityBps: 500_000_000 }),
    expect: '200 200 404 403 404 404 403 403 403',
    action: 'school.update',
    check: (rig, who) => expect(rig.registry.getSchool('yz-bashu')).toMatchObject({ nameEn: `Bashu ${who}`, nameZh: '巴蜀小学', uplinkCapacityBps: 500_000_000 }),
  },
  {
    name: 'PUT /schools/yz-bashu/timetable',
    method: 'PUT',
    path: () => '/schools/yz-bashu/timetable',
    setup: (rig) => void rig.registry.updateSchool('yz-bashu', { timetable: null }),
    body: () => TT,
    expect: '200 200 404 403 404 404 403 403 403',
    action: 'school.timetable.set',
    check: (rig) => expect(rig.registry.getSchool('yz-bashu')!.timetable).toEqual(TT),
  },
  {
    name: 'DELETE /schools/yz-bashu/timetable',
    method: 'DELETE',
    path: () => '/schools/yz-bashu/timetable',
    setup: (rig) => void rig.registry.updateSchool('yz-bashu', { timetable: TT }),
    expect: '200 200 404 403 404 404 403 403 403',
    action: 'school.timetable.clear',
    check: (rig) => expect(rig.registry.getSchool('yz-bashu')!.timetable).toBeNull(),
  },
  { name: 'DELETE /schools/yz-bashu (it has devices)', method: 'DELETE', path: () => '/schools/yz-bashu', expect: '409 409 404 403 404 404 403 403 403', action: 'school.delete' },
  {
    name: 'DELETE /schools/{an empty one in 渝中区}',
    method: 'DELETE',
    path: (who) => `/schools/es-${who}`,
    setup: (rig, who) => void rig.registry.createSchool({ id: `es-${who}`, district: '渝中区', nameZh: '空', nameEn: 'Empty', timetable: null, uplinkCapacityBps: null }, at()),
    // A school IT's or viewer's own school is not this one: it is outside their scope.
    expect: '204 204 404 404 404 404 403 403 404',
    action: 'school.delete',
    check: (rig, who) => expect(rig.registry.getSchool(`es-${who}`)).toBeUndefined(),
  },

  { name: 'GET /schools/yz-bashu/rooms', method: 'GET', path: () => '/schools/yz-bashu/rooms', expect: '200 200 404 200 404 404 200 200 200' },
  {
    name: 'POST /schools/yz-bashu/rooms',
    method: 'POST',
    path: () => '/schools/yz-bashu/rooms',
    body: (who) => ({ id: `r-${who}`, name: `教室${who}` }),
    expect: '201 201 404 201 404 404 403 403 403',
    action: 'room.create',
    check: (rig, who) => expect(rig.registry.getRoom('yz-bashu', `r-${who}`)).toEqual({ school: 'yz-bashu', id: `r-${who}`, name: `教室${who}` }),
  },
  {
    name: 'PATCH /schools/yz-bashu/rooms/301',
    method: 'PATCH',
    path: () => '/schools/yz-bashu/rooms/301',
    body: (who) => ({ name: `三年级${who}` }),
    expect: '200 200 404 200 404 404 403 403 403',
    action: 'room.update',
    check: (rig, who) => expect(rig.registry.getRoom('yz-bashu', '301')!.name).toBe(`三年级${who}`),
  },
  { name: 'DELETE /schools/yz-bashu/rooms/301 (it has devices)', method: 'DELETE', path: () => '/schools/yz-bashu/rooms/301', expect: '409 409 404 409 404 404 403 403 403', action: 'room.delete' },
  {
    name: 'DELETE /schools/yz-bashu/rooms/{an empty one}',
    method: 'DELETE',
    path: (who) => `/schools/yz-bashu/rooms/er-${who}`,
    setup: (rig, who) => void rig.registry.createRoom({ school: 'yz-bashu', id: `er-${who}`, name: '' }),
    expect: '204 204 404 204 404 404 403 403 403',
    action: 'room.delete',
    check: (rig, who) => expect(rig.registry.getRoom('yz-bashu', `er-${who}`)).toBeUndefined(),
  },

  { name: 'GET /users', method: 'GET', path: () => '/users', expect: '200 200 200 200 200 200 200 200 200' },
  { name: 'GET /users?district=江北区', method: 'GET', path: () => `/users?district=${encodeURIComponent('江北区')}`, expect: '200 404 200 404 404 200 200 404 404' },
  {
    name: 'POST /users (a viewer of yz-bashu)',
    method: 'POST',
    path: () => '/users',
    body: (who) => ({ id: `n-${who}`, role: 'viewer', school: 'yz-bashu' }),
    expect: '201 201 404 403 404 404 403 403 403',
    action: 'user.create',
    check: (rig, who, b) => {
      expect(rig.registry.getUser(`n-${who}`)).toMatchObject({ role: 'viewer', district: '渝中区', school: 'yz-bashu', disabledAt: null });
      expect(b).toMatchObject({ user: { id: `n-${who}` } });
    },
  },
  { name: 'GET /users/u-bashuIt', method: 'GET', path: () => '/users/u-bashuIt', expect: '200 200 404 200 404 404 200 200 200' },
  // A user above the caller's scope is not shown to it (users are shown inside the scope only).
  { name: 'GET /users/u-yzOperator', method: 'GET', path: () => '/users/u-yzOperator', expect: '200 200 404 404 404 404 200 200 404' },
  { name: 'GET /users/u-bashuIt/tokens', method: 'GET', path: () => '/users/u-bashuIt/tokens', expect: '200 200 404 200 404 404 200 200 200' },
  {
    name: 'DELETE /users/{a viewer of yz-bashu}',
    method: 'DELETE',
    path: (who) => `/users/v-${who}`,
    setup: victim,
    expect: '204 204 404 403 404 404 403 403 403',
    action: 'user.disable',
    check: (rig, who) => {
      expect(rig.registry.getUser(`v-${who}`)!.disabledAt).not.toBeNull();
      expect(rig.registry.getToken(tokenOf[who]!)!.revokedAt).not.toBeNull();
    },
  },
  {
    name: 'POST /users/{a viewer of yz-bashu}/tokens',
    method: 'POST',
    path: (who) => `/users/w-${who}/tokens`,
    setup: (rig, who) => void createUserWithToken(rig.registry, { id: `w-${who}`, role: 'viewer', school: 'yz-bashu' }, { ttlMs: null }, at()),
    body: () => ({ name: 'second', ttlDays: 7 }),
    expect: '201 201 404 403 404 404 403 403 403',
    action: 'token.create',
    check: (rig, who, b) => expect(rig.registry.listTokens(`w-${who}`).map((t) => t.id)).toContain((b as { tokenId: string }).tokenId),
  },
  {
    name: 'DELETE /tokens/{a token of a viewer of yz-bashu}',
    method: 'DELETE',
    path: (who) => `/tokens/${tokenOf[who]}`,
    setup: (rig, who) => {
      const made = createUserWithToken(rig.registry, { id: `t-${who}`, role: 'viewer', school: 'yz-bashu' }, { ttlMs: null }, at());
      tokenOf[who] = made.tokenId;
    },
    expect: '204 204 404 403 404 404 403 403 403',
    action: 'token.revoke',
    check: (rig, who) => expect(rig.registry.getToken(tokenOf[who]!)!.revokedAt).not.toBeNull(),
  },

  {
    name: 'POST /inventory/import (a row of yz-bashu)',
    method: 'POST',
    path: () => '/inventory/import',
    headers: { 'content-type': 'text/csv' },
    body: (who) => new TextEncoder().encode(`school,room,id,kind,model,vendor,serial,link_role,capacity_bps\nyz-bashu,301,i-${who},vr_kit,Pico,,,,\n`),
    // A school the caller cannot see is an unknown_school row (422); one it sees but may not change: 403.
    expect: '200 200 422 200 422 422 403 403 403',
    action: 'inventory.import',
    check: (rig, who) => expect(rig.registry.getDeviceRecord(`i-${who}`)).toMatchObject({ school: 'yz-bashu', room: '301', kind: 'vr_kit', model: 'Pico' }),
  },
  { name: 'GET /inventory/export?school=yz-bashu', method: 'GET', path: () => '/inventory/export?school=yz-bashu', expect: '200 200 404 200 404 404 200 200 200' },

  { name: 'GET /audit', method: 'GET', path: () => '/audit', expect: '200 200 200 200 200 200 200 200 200' },
  { name: 'GET /audit?school=jb-s01', method: 'GET', path: () => '/audit?school=jb-s01', expect: '200 404 200 404 404 200 200 404 404' },
];

describe('org endpoints × every principal', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_org_access');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  for (const c of CASES) it(`${c.name}: ${c.expect}`, () => runAccessCase(rig, c, snapshot));
});
