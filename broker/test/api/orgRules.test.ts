import { createHash } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig, type PrincipalName } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { snapshot, WHO } from './orgHelpers.ts';
import { issueToken } from '../../src/auth/bootstrap.ts';
import { parseToken } from '../../src/auth/tokens.ts';

/**
 * The org endpoints' rules beyond the access matrix: what each principal's lists hold, the
 * 401s, a 400 naming the field for every kind of bad value, the 409s, who may create which
 * user, tokens shown once and stored as hashes, the audit log's scope, pagination.
 */
const YZ = encodeURIComponent('渝中区');
const JB = encodeURIComponent('江北区');
type PageBody<T> = { items: T[]; nextCursor: string | null };

describe('org endpoints: rules', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  let dir: string;
  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'org-rules-'));
    rig = await startApiRig(influx.url, 'api_org_rules', { registryPath: join(dir, 'registry.db') });
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const ids = async (who: PrincipalName, path: string): Promise<string[]> => {
    const r = await rig.call<PageBody<{ id: string }>>(who, 'GET', path);
    expect(r.status, `${who} ${path}`).toBe(200);
    return r.body.items.map((i) => i.id);
  };

  it('lists hold exactly the caller\'s scope', async () => {
    const D = { city: ['江北区', '渝中区'], yz: ['渝中区'], jb: ['江北区'] };
    const S = { city: ['jb-s01', 'yz-bashu', 'yz-s02'], yz: ['yz-bashu', 'yz-s02'], jb: ['jb-s01'], bashu: ['yz-bashu'], s02: ['yz-s02'] };
    const U = {
      city: ['u-bashuIt', 'u-bashuViewer', 'u-city', 'u-cityViewer', 'u-jbIt', 'u-jbOperator', 'u-s02It', 'u-yzOperator', 'u-yzViewer'],
      yz: ['u-bashuIt', 'u-bashuViewer', 'u-s02It', 'u-yzOperator', 'u-yzViewer'],
      jb: ['u-jbIt', 'u-jbOperator'],
      bashu: ['u-bashuIt', 'u-bashuViewer'],
      s02: ['u-s02It'],
      jbIt: ['u-jbIt'],
    };
    const want: Record<PrincipalName, [string[], string[], string[]]> = {
      city: [D.city, S.city, U.city],
      cityViewer: [D.city, S.city, U.city],
      yzOperator: [D.yz, S.yz, U.yz],
      yzViewer: [D.yz, S.yz, U.yz],
      jbOperator: [D.jb, S.jb, U.jb],
      bashuIt: [D.yz, S.bashu, U.bashu],
      bashuViewer: [D.yz, S.bashu, U.bashu],
      s02It: [D.yz, S.s02, U.s02],
      jbIt: [D.jb, S.jb, U.jbIt],
    };
    for (const who of WHO) {
      expect([await ids(who, '/districts'), await ids(who, '/schools'), await ids(who, '/users')], who).toEqual(want[who]);
    }
    expect(await ids('city', `/schools?district=${YZ}`)).toEqual(S.yz);
    expect(await ids('yzOperator', `/users?school=yz-s02`)).toEqual(U.s02);
    expect(await ids('city', '/districts?q=JIANG')).toEqual(['江北区']);
    expect(await ids('bashuIt', '/schools?q=nothing-like-it')).toEqual([]);
  });

  it('pagination of /schools with limit 1 walks every school of the scope exactly once', async () => {
    const walk = async (who: PrincipalName): Promise<string[]> => {
      const seen: string[] = [];
      let cursor: string | null = null;
      do {
        const r: { status: number; body: PageBody<{ id: string }> } = await rig.call(who, 'GET', `/schools?limit=1${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`);
        expect(r.status).toBe(200);
        expect(r.body.items.length).toBeLessThanOrEqual(1);
        seen.push(...r.body.items.map((i) => i.id));
        cursor = r.body.nextCursor;
      } while (cursor !== null);
      return seen;
    };
    expect(await walk('city')).toEqual(['jb-s01', 'yz-bashu', 'yz-s02']);
    expect(await walk('yzOperator')).toEqual(['yz-bashu', 'yz-s02']);
    expect(await walk('bashuIt')).toEqual(['yz-bashu']);
    const bad = await rig.call('city', 'GET', '/schools?limit=1&cursor=not-a-cursor');
    expect(bad.status).toBe(400);
  });

  it('401 for no token, a malformed, unknown, expired or revoked token, and a disabled user\'s token', async () => {
    const made = await rig.call<{ token: string }>('city', 'POST', '/users', { id: 'soon-disabled', role: 'viewer', district: '渝中区' });
    expect(made.status).toBe(201);
    rig.registry.disableUser('soon-disabled', Date.now()); // its token itself is not revoked
    const cases: Array<[Parameters<ApiRig['call']>[0], string]> = [
      [null, 'missing'],
      [{ token: 'not-a-token' }, 'malformed'],
      [{ token: `cit_0123456789abcdef_${'A'.repeat(43)}` }, 'unknown'],
      ['expired', 'expired'],
      ['revoked', 'revoked'],
      [{ token: made.body.token }, 'disabled'],
    ];
    for (const [who, reason] of cases) {
      const r = await rig.call(who, 'GET', '/me');
      expect([r.status, r.body], reason).toMatchObject([401, { code: 'HUB_ERR_UNAUTHENTICATED', details: { reason } }]);
    }
  });

  it('400 with details.issues naming the field for every kind of bad value, and nothing changed', async () => {
    const TT = { days: [1, 2, 3, 4, 5], start: '07:30', end: '18:00', timeZone: 'Asia/Shanghai' };
    const school = { id: 'new-school', district: '渝中区', nameZh: '新学校', nameEn: 'New' };
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/districts', { id: 'bad/id', nameZh: '坏', nameEn: 'Bad' }, 'id'],
      ['POST', '/districts', { id: 'bad id', nameZh: '坏', nameEn: 'Bad' }, 'id'],
      ['POST', '/districts', { id: 'ok', code: 'Not A Code', nameZh: '坏', nameEn: 'Bad' }, 'code'],
      ['PATCH', `/districts/${YZ}`, { code: '9starts-with-digit' }, 'code'],
      ['POST', '/districts', { id: 'ok', nameZh: '', nameEn: 'Bad' }, 'nameZh'],
      ['POST', '/schools', { ...school, id: 'a#b' }, 'id'],
      ['POST', '/schools', { ...school, uplinkCapacityBps: 0 }, 'uplinkCapacityBps'],
      ['POST', '/schools', { ...school, uplinkCapacityBps: -1000 }, 'uplinkCapacityBps'],
      ['POST', '/schools', { ...school, uplinkCapacityBps: 1.5 }, 'uplinkCapacityBps'],
      ['PATCH', '/schools/yz-bashu', { uplinkCapacityBps: 0 }, 'uplinkCapacityBps'],
      ['POST', '/schools', { ...school, timetable: { ...TT, days: [0] } }, 'timetable.days.0'],
      ['POST', '/schools', { ...school, rooms: [{ id: 'bad\nroom' }] }, 'rooms.0.id'],
      ['PUT', '/schools/yz-bashu/timetable', { ...TT, start: '25:00' }, 'start'],
      ['PUT', '/schools/yz-bashu/timetable', { ...TT, days: [] }, 'days'],
      ['PUT', '/schools/yz-bashu/timetable', { ...TT, lunch: '12:00' }, ''],
      ['POST', '/schools/yz-bashu/rooms', { id: 'tab\there' }, 'id'],
      ['POST', '/users', { id: 'user:x', role: 'viewer' }, 'id'],
      ['POST', '/users', { id: 'x', role: 'district_operator' }, 'district'],
      ['POST', '/users', { id: 'x', role: 'district_operator', district: '渝中区', school: 'yz-bashu' }, 'school'],
      ['POST', '/users', { id: 'x', role: 'city_admin', district: '渝中区' }, 'district'],
      ['POST', '/users', { id: 'x', role: 'school_it', district: '渝中区' }, 'school'],
      ['POST', '/users', { id: 'x', role: 'superuser' }, 'role'],
      ['POST', '/users', { id: 'x', role: 'viewer', school: 'yz-bashu', district: '江北区' }, 'district'],
      ['POST', '/users', { id: 'x', role: 'viewer', tokenTtlDays: -1 }, 'tokenTtlDays'],
    ];
    const before = snapshot(rig.registry);
    for (const [method, path, body, field] of cases) {
      const r = await rig.call<{ code: string; details: { issues: Array<{ in: string; path: string }> } }>('city', method, path, body);
      expect(r.status, `${method} ${path} ${JSON.stringify(body)}`).toBe(400);
      expect(r.body.code).toBe('HUB_ERR_BAD_REQUEST');
      expect(r.body.details.issues.map((i) => `${i.in}:${i.path}`), JSON.stringify(body)).toContain(`body:${field}`);
    }
    const badPath = await rig.call<{ details: { issues: Array<{ in: string; path: string }> } }>('city', 'GET', '/schools/a%2Fb');
    expect([badPath.status, badPath.body.details.issues[0]]).toMatchObject([400, { in: 'path', path: 'school' }]);
    expect(snapshot(rig.registry)).toBe(before);
  });

  it('409 for a duplicate district id or code, a district with schools, a school with devices, a room with devices; nothing changed', async () => {
    const cases: Array<[string, string, unknown, string]> = [
      ['POST', '/districts', { id: '渝中区', nameZh: '渝中区', nameEn: 'Again' }, 'exists'],
      ['POST', '/districts', { id: '沙坪坝区', code: 'yz', nameZh: '沙坪坝区', nameEn: 'Shapingba' }, 'exists'],
      ['PATCH', `/districts/${JB}`, { code: 'yz' }, 'exists'],
      ['DELETE', `/districts/${YZ}`, undefined, 'in_use'],
      ['DELETE', '/schools/yz-s02', undefined, 'in_use'],
      ['DELETE', '/schools/yz-bashu/rooms/server-room', undefined, 'in_use'],
      ['POST', '/schools', { id: 'yz-bashu', district: '渝中区', nameZh: '巴蜀小学', nameEn: 'Bashu' }, 'exists'],
      ['POST', '/schools/yz-bashu/rooms', { id: '301' }, 'exists'],
    ];
    const before = snapshot(rig.registry);
    for (const [method, path, body, reason] of cases) {
      const r = await rig.call('city', method, path, body);
      expect([r.status, r.body], `${method} ${path}`).toMatchObject([409, { code: 'HUB_ERR_REGISTRY_CONFLICT', details: { reason } }]);
    }
    // A school created with a room that is named twice: the school is not left behind.
    const twice = await rig.call('yzOperator', 'POST', '/schools', { id: 'half-made', district: '渝中区', nameZh: '半', nameEn: 'Half', rooms: [{ id: '1' }, { id: '1' }] });
    expect(twice.status).toBe(409);
    expect(snapshot(rig.registry)).toBe(before);
    expect(rig.registry.listAudit({ limit: 1 }).items[0]).toMatchObject({ actor: 'user:u-yzOperator', action: 'school.create', target: 'school:half-made', outcome: 'conflict' });
  });

  it('who may create which user: another district 404, a city admin 403 for a district operator; a school IT none (403)', async () => {
    const before = snapshot(rig.registry);
    const cases: Array<[PrincipalName, unknown, number]> = [
      ['yzOperator', { id: 'jb-viewer', role: 'viewer', district: '江北区' }, 404],
      ['yzOperator', { id: 'jb-op', role: 'district_operator', district: '江北区' }, 404],
      ['yzOperator', { id: 'jb-it', role: 'school_it', school: 'jb-s01' }, 404],
      ['yzOperator', { id: 'boss', role: 'city_admin' }, 403],
      ['yzOperator', { id: 'city-viewer-2', role: 'viewer' }, 403],
      ['bashuIt', { id: 'bashu-it-2', role: 'school_it', school: 'yz-bashu' }, 403],
      ['bashuIt', { id: 'bashu-viewer-2', role: 'viewer', school: 'yz-bashu' }, 403],
      ['bashuIt', { id: 's02-viewer', role: 'viewer', school: 'yz-s02' }, 404],
      ['city', { id: 'nowhere', role: 'viewer', school: 'no-such-school' }, 404],
    ];
    for (const [who, body, status] of cases) {
      const r = await rig.call(who, 'POST', '/users', body);
      expect(r.status, `${who} ${JSON.stringify(body)}`).toBe(status);
      expect(rig.registry.listAudit({ limit: 1 }).items[0]).toMatchObject({ actor: `user:u-${who}`, action: 'user.create', outcome: status === 404 ? 'not_found' : 'forbidden' });
    }
    expect(snapshot(rig.registry)).toBe(before);
  });

  it('POST /users: the token works at once, only its hash is stored, it is nowhere in the database; revoked by its owner it is refused', async () => {
    // Callers whose own tokens never expire: a new user's first token never outlives its maker's.
    const yzOperator = { token: issueToken(rig.registry, 'u-yzOperator', { name: 'no expiry', ttlMs: null }, Date.now()).token };
    const city = { token: issueToken(rig.registry, 'u-city', { name: 'no expiry', ttlMs: null }, Date.now()).token };
    const r = await rig.call<{ user: { id: string; district: string }; token: string; tokenId: string; expiresAt: number }>(yzOperator, 'POST', '/users', {
      id: 'alice',
      displayName: '王老师',
      role: 'school_it',
      school: 'yz-bashu',
      tokenTtlDays: 30,
    });
    expect(r.status).toBe(201);
    expect(r.body.user).toMatchObject({ id: 'alice', displayName: '王老师', role: 'school_it', district: '渝中区', school: 'yz-bashu', disabledAt: null, hasPassword: false });
    const [, id, secret] = /^cit_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/.exec(r.body.token)!;
    expect(r.body.tokenId).toBe(id);
    const row = rig.registry.getToken(id!)!;
    expect(row.user).toBe('alice');
    expect(r.body.expiresAt - row.createdAt).toBe(30 * 86_400_000);

    const me = await rig.call({ token: r.body.token }, 'GET', '/me');
    expect([me.status, me.body]).toEqual([200, { user: 'alice', role: 'school_it', district: '渝中区', school: 'yz-bashu', token: id, via: 'token' }]);

    // The registry file itself, read apart from the hub: the hash of the secret, never the secret.
    const db = new DatabaseSync(join(dir, 'registry.db'), { readOnly: true });
    try {
      const stored = db.prepare('SELECT secret_hash FROM api_tokens WHERE id = ?').get(id!) as { secret_hash: string };
      expect(stored.secret_hash).toBe(createHash('sha256').update(secret!).digest('hex'));
      const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").all() as Array<{ name: string }>).map((t) => t.name);
      expect(tables).toContain('api_tokens');
      for (const t of tables) {
        for (const rowValues of db.prepare(`SELECT * FROM "${t}"`).all() as Array<Record<string, unknown>>) {
          for (const v of Object.values(rowValues)) if (typeof v === 'string') expect(v.includes(secret!), `${t}: ${v}`).toBe(false);
        }
      }
    } finally {
      db.close();
    }

    const forever = await rig.call<{ expiresAt: number | null }>(city, 'POST', '/users', { id: 'bob', role: 'viewer', tokenTtlDays: 0 });
    expect([forever.status, forever.body.expiresAt]).toEqual([201, null]);
    // The rig's own city token expires within the hour: never is refused, 30 days is cut to it.
    const refused = await rig.call<{ code: string }>('city', 'POST', '/users', { id: 'carol', role: 'viewer', tokenTtlDays: 0 });
    expect([refused.status, refused.body.code, rig.registry.getUser('carol')]).toEqual([400, 'HUB_ERR_BAD_REQUEST', undefined]);
    const cut = await rig.call<{ expiresAt: number }>('city', 'POST', '/users', { id: 'dave', role: 'viewer', tokenTtlDays: 30 });
    expect([cut.status, cut.body.expiresAt]).toEqual([201, rig.registry.getToken(parseToken(rig.tokens.city)!.id)!.expiresAt]);

    const second = await rig.call<{ tokenId: string; token: string }>({ token: r.body.token }, 'POST', '/users/alice/tokens', { name: 'laptop' });
    expect(second.status).toBe(201);
    expect((await rig.call<{ items: Array<Record<string, unknown>> }>({ token: second.body.token }, 'GET', '/users/alice/tokens')).body.items).toEqual([
      expect.objectContaining({ id: id, name: 'initial', revokedAt: null }),
      expect.objectContaining({ id: second.body.tokenId, name: 'laptop', revokedAt: null }),
    ]);
    const revoke = await rig.call({ token: second.body.token }, 'DELETE', `/tokens/${id}`);
    expect(revoke.status).toBe(204);
    const after = await rig.call({ token: r.body.token }, 'GET', '/me');
    expect([after.status, after.body]).toMatchObject([401, { details: { reason: 'revoked' } }]);
    expect(rig.registry.listAudit({ limit: 1 }).items[0]).toMatchObject({ actor: 'user:alice', action: 'token.revoke', target: `token:${id}`, outcome: 'ok', district: '渝中区', school: 'yz-bashu' });

    // Disabling a user revokes every token it has.
    expect((await rig.call('yzOperator', 'DELETE', '/users/alice')).status).toBe(204);
    expect(rig.registry.listTokens('alice').every((t) => t.revokedAt !== null)).toBe(true);
    expect((await rig.call({ token: second.body.token }, 'GET', '/me')).status).toBe(401);
  });

  it('GET /audit: a school IT sees its school\'s entries only, a district operator its district\'s, newest first', async () => {
    expect((await rig.call('bashuIt', 'POST', '/schools/yz-bashu/rooms', { id: 'audit-room' })).status).toBe(201);
    expect((await rig.call('s02It', 'POST', '/schools/yz-s02/rooms', { id: 'audit-room' })).status).toBe(201);
    expect((await rig.call('jbOperator', 'PATCH', '/schools/jb-s01', { nameEn: 'Huaxin' })).status).toBe(200);
    expect((await rig.call('bashuIt', 'PATCH', '/schools/jb-s01', { nameEn: 'Taken' })).status).toBe(404);

    const everything = rig.registry.listAudit({ limit: 1000 }).items;
    const page = async (who: PrincipalName, q = '') => (await rig.call<PageBody<{ id: number; school?: string; district?: string }>>(who, 'GET', `/audit?limit=1000${q}`)).body.items;
    const bashu = await page('bashuIt');
    expect(bashu.length).toBeGreaterThan(0);
    expect(bashu.every((e) => e.school === 'yz-bashu')).toBe(true);
    expect(bashu.map((e) => e.id)).toEqual(everything.filter((e) => e.school === 'yz-bashu').map((e) => e.id));
    expect(bashu[0]).toMatchObject({ actor: 'user:u-bashuIt', action: 'room.create', target: 'room:yz-bashu/audit-room', outcome: 'ok', district: '渝中区' });
    const ys = bashu.map((e) => e.id);
    expect([...ys].sort((a, b) => b - a)).toEqual(ys);

    const yz = await page('yzOperator');
    expect(yz.map((e) => e.id)).toEqual(everything.filter((e) => e.district === '渝中区').map((e) => e.id));
    expect(yz.some((e) => e.school === 'yz-s02')).toBe(true);
    // The attempt on another district's school is the target's district's record, not the caller's.
    const jb = await page('jbIt');
    expect(jb[0]).toMatchObject({ actor: 'user:u-bashuIt', action: 'school.update', target: 'school:jb-s01', outcome: 'not_found' });
    expect(jb.every((e) => e.school === 'jb-s01')).toBe(true);

    expect((await page('city', '&actor=user:u-s02It')).map((e) => e.id)).toEqual(everything.filter((e) => e.actor === 'user:u-s02It').map((e) => e.id));
    expect((await rig.call('bashuIt', 'GET', '/audit?school=yz-s02')).status).toBe(404);
  });
});
