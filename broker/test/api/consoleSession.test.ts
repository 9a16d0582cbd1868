import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { PRINCIPALS, startApiRig, type ApiReply, type ApiRig, type PrincipalName } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { hashPassword } from '../../src/passwords.ts';
import { runAccessCase, snapshot, WHO, type AccessCase } from './orgHelpers.ts';

/**
 * Console sign-in through a real hub's HTTP listener: the session cookie, its CSRF token, its
 * end (sign-out, expiry on the hub's injected clock, a disabled user, a new password), the one
 * answer of every failed sign-in, the back-off, and the scope of a session (that of its user,
 * as with a token). Sessions last 15 min, 5 min idle; a user id backs off after 3 failures.
 */
const TTL_MS = 15 * 60_000;
const IDLE_MS = 5 * 60_000;
const PW = 'correct horse battery staple';
const COOKIE = /^cit_session=([0-9a-f]{16})_[A-Za-z0-9_-]{43}; HttpOnly; SameSite=Strict; Path=\/; Max-Age=900$/;

interface Session {
  cookie: string;
  id: string;
  csrf: string;
}

let influx: InfluxInstance;
let rig: ApiRig;
let t = Date.now();
const now = () => t;

beforeAll(async () => {
  influx = await startInflux();
  rig = await startApiRig(influx.url, 'hub_console_session', {
    now,
    hub: { consoleSessions: { ttlMs: TTL_MS, idleMs: IDLE_MS }, loginBackoff: { freeFailuresPerId: 3, freeFailuresPerAddress: 1e6, baseMs: 1000 } },
  });
  // Every principal's user gets the password, but jbIt: a user without one.
  for (const who of WHO) if (who !== 'jbIt') expect((await rig.call('city', 'PUT', `/users/u-${who}/password`, { password: PW })).status).toBe(204);
});
afterAll(async () => {
  await rig?.stop();
  await influx?.stop();
});

const signIn = (user: string, password = PW) => rig.call(null, 'POST', '/session', { user, password });
async function session(user: string, password = PW): Promise<Session> {
  const r = await signIn(user, password);
  expect(r.status, r.text).toBe(201);
  const set = r.headers.get('set-cookie')!;
  const m = COOKIE.exec(set)!;
  expect(m, set).not.toBeNull();
  return { cookie: set.slice(0, set.indexOf(';')), id: m[1]!, csrf: (r.body as { csrfToken: string }).csrfToken };
}
/** A request with the session's cookie, and its CSRF token unless `csrf` says otherwise. */
const as = (s: Session, method: string, path: string, body?: unknown, csrf: string | null = s.csrf): Promise<ApiReply> =>
  rig.call(null, method, path, body, { cookie: s.cookie, ...(csrf === null ? {} : { 'x-csrf-token': csrf }) });
const failures = (reason: string) => rig.hub.counters.get('api_auth_failures', { reason });
const signIns = (outcome: string) => rig.hub.counters.get('console_sign_ins', { outcome });

describe('console sign-in', () => {
  it('sets an HttpOnly, SameSite=Strict cookie (not Secure over plain HTTP) and answers the user, a CSRF token and the end', async () => {
    const okBefore = signIns('ok');
    const r = await signIn('u-bashuIt');
    expect(r.status).toBe(201);
    expect(r.headers.get('set-cookie')).toMatch(COOKIE);
    expect(r.body).toEqual({ user: { id: 'u-bashuIt', displayName: '', role: 'school_it', district: '渝中区', school: 'yz-bashu' }, csrfToken: expect.stringMatching(/^[A-Za-z0-9_-]{32}$/), expiresAt: t + TTL_MS });
    expect(signIns('ok')).toBe(okBefore + 1);
    const id = COOKIE.exec(r.headers.get('set-cookie')!)![1]!;
    expect(rig.registry.listAudit({ target: 'user:u-bashuIt', limit: 1 }).items[0]).toMatchObject({ actor: 'user:u-bashuIt', action: 'session.sign_in', outcome: 'ok', detail: `from 127.0.0.1; via session ${id}`, school: 'yz-bashu' });
    // Only the secret's hash is stored.
    const row = rig.registry.getSession(id)!;
    expect(r.headers.get('set-cookie')).not.toContain(row.secretHash);
    expect(row).toMatchObject({ user: 'u-bashuIt', createdAt: t, expiresAt: t + TTL_MS, lastSeenAt: t, revokedAt: null });
  });

  it('takes JSON only (415)', async () => {
    const r = await rig.call(null, 'POST', '/session', undefined, { 'content-type': 'application/x-www-form-urlencoded' });
    expect(r.status).toBe(415);
  });

  it('GET /session answers the same body with the same CSRF token; a token is not a session', async () => {
    const s = await session('u-yzOperator');
    const r = await as(s, 'GET', '/session', undefined, null);
    expect(r.status).toBe(200);
    expect(r.body).toEqual({ user: { id: 'u-yzOperator', displayName: '', role: 'district_operator', district: '渝中区', school: null }, csrfToken: s.csrf, expiresAt: t + TTL_MS });
    expect((await rig.call('yzOperator', 'GET', '/session')).status).toBe(401);
    expect((await rig.call(null, 'GET', '/session')).status).toBe(401);
  });

  it('authenticates /me as the session (token null, via session); a token still says via token, and wins over a cookie', async () => {
    const s = await session('u-bashuViewer');
    expect((await as(s, 'GET', '/me', undefined, null)).body).toEqual({ user: 'u-bashuViewer', role: 'viewer', district: '渝中区', school: 'yz-bashu', token: null, via: 'session' });
    const byToken = await rig.call('city', 'GET', '/me');
    expect(byToken.body).toMatchObject({ user: 'u-city', token: expect.stringMatching(/^[0-9a-f]{16}$/), via: 'token' });
    const both = await rig.call('city', 'GET', '/me', undefined, { cookie: s.cookie });
    expect(both.body).toMatchObject({ user: 'u-city', via: 'token' });
  });

  it('opens the event stream with the cookie; the stream ends at the next event once the session is signed out', async () => {
    const s = await session('u-bashuIt');
    const ac = new AbortController();
    const res = await fetch(`${rig.base}/events`, { headers: { cookie: s.cookie }, signal: ac.signal });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const reader = res.body!.getReader();
    let text = '';
    const until = async (what: string) => {
      while (!text.includes(what)) {
        const { value, done } = await reader.read();
        if (done) return false;
        text += new TextDecoder().decode(value);
      }
      return true;
    };
    const outcome = (id: string) => rig.hub.bus.emitCommandOutcome({ id, district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', device: 'yz-bashu-301-board', action: 'reboot', status: 'done' });
    try {
      expect(await until(': connected')).toBe(true);
      outcome('before-sign-out');
      expect(await until('before-sign-out')).toBe(true);
      const closed = rig.hub.counters.get('api_stream_closed', { reason: 'token' });
      expect((await as(s, 'DELETE', '/session')).status).toBe(204);
      outcome('after-sign-out');
      expect(await until('after-sign-out')).toBe(false);
      expect(rig.hub.counters.get('api_stream_closed', { reason: 'token' })).toBe(closed + 1);
    } finally {
      ac.abort();
      await reader.cancel().catch(() => {});
    }
  });
});

describe('CSRF', () => {
  it('refuses a change with the cookie but without the X-CSRF-Token, or with another (403, counted, nothing written); a token needs none', async () => {
    const s = await session('u-city');
    const before = rig.hub.counters.get('api_csrf_refused');
    const body = (id: string) => ({ id, code: id, nameZh: id, nameEn: id });
    let r = await as(s, 'POST', '/districts', body('csrf-a'), null);
    expect(r.status).toBe(403);
    expect(r.body).toMatchObject({ code: 'HUB_ERR_CSRF' });
    r = await as(s, 'POST', '/districts', body('csrf-a'), 'x'.repeat(32));
    expect(r.status).toBe(403);
    expect(rig.hub.counters.get('api_csrf_refused')).toBe(before + 2);
    expect(rig.registry.getDistrict('csrf-a')).toBeUndefined();
    r = await as(s, 'POST', '/districts', body('csrf-a'));
    expect(r.status).toBe(201);
    expect(rig.registry.listAudit({ target: 'district:csrf-a', limit: 1 }).items[0]).toMatchObject({ actor: 'user:u-city', action: 'district.create', outcome: 'ok', detail: `via session ${s.id}` });
    expect((await rig.call('city', 'POST', '/districts', body('csrf-b'))).status).toBe(201);
    expect(rig.hub.counters.get('api_csrf_refused')).toBe(before + 2);
  });
});

describe('the end of a session', () => {
  it('sign-out (with CSRF) revokes it and clears the cookie; the cookie is refused after', async () => {
    const s = await session('u-yzViewer');
    expect((await as(s, 'DELETE', '/session', undefined, null)).status).toBe(403);
    const r = await as(s, 'DELETE', '/session');
    expect(r.status).toBe(204);
    expect(r.headers.get('set-cookie')).toBe('cit_session=; HttpOnly; SameSite=Strict; Path=/; Max-Age=0');
    expect(rig.registry.getSession(s.id)!.revokedAt).toBe(t);
    const revoked = failures('revoked');
    const after = await as(s, 'GET', '/me', undefined, null);
    expect(after.status).toBe(401);
    expect(after.body).toMatchObject({ code: 'HUB_ERR_UNAUTHENTICATED', details: { reason: 'revoked' } });
    expect(failures('revoked')).toBe(revoked + 1);
    expect(rig.registry.listAudit({ target: 'user:u-yzViewer', limit: 1 }).items[0]).toMatchObject({ action: 'session.sign_out', outcome: 'ok', detail: `via session ${s.id}` });
  });

  it('expires after the idle limit without a request, and at the absolute limit however used', async () => {
    const idle = await session('u-cityViewer');
    t += IDLE_MS - 1;
    expect((await as(idle, 'GET', '/me', undefined, null)).status).toBe(200);
    t += IDLE_MS - 1; // idle again just short of the limit since that request
    expect((await as(idle, 'GET', '/me', undefined, null)).status).toBe(200);
    const expired = failures('expired');
    t += IDLE_MS;
    const r = await as(idle, 'GET', '/me', undefined, null);
    expect(r.body).toMatchObject({ code: 'HUB_ERR_UNAUTHENTICATED', details: { reason: 'expired' } });
    expect(failures('expired')).toBe(expired + 1);

    const busy = await session('u-cityViewer');
    const end = t + TTL_MS;
    while (t + 4 * 60_000 < end) {
      t += 4 * 60_000;
      expect((await as(busy, 'GET', '/me', undefined, null)).status).toBe(200);
    }
    t = end;
    expect((await as(busy, 'GET', '/me', undefined, null)).body).toMatchObject({ details: { reason: 'expired' } });
  });

  it("stops working at once when its user is disabled (by another process: the registry alone)", async () => {
    rig.registry.createUser({ id: 'u-leaver', displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
    rig.registry.setUserPassword('u-leaver', await hashPassword(PW));
    const s = await session('u-leaver');
    expect((await as(s, 'GET', '/me', undefined, null)).status).toBe(200);
    rig.registry.disableUser('u-leaver', t);
    expect((await as(s, 'GET', '/me', undefined, null)).body).toMatchObject({ code: 'HUB_ERR_UNAUTHENTICATED', details: { reason: 'disabled' } });
  });

  it('DELETE /users revokes the user\'s sessions', async () => {
    rig.registry.createUser({ id: 'u-gone', displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
    rig.registry.setUserPassword('u-gone', await hashPassword(PW));
    const s = await session('u-gone');
    expect((await rig.call('city', 'DELETE', '/users/u-gone')).status).toBe(204);
    expect(rig.registry.getSession(s.id)!.revokedAt).toBe(t);
  });
});

describe('passwords', () => {
  it('setting one\'s own (with the current one) keeps this session and ends the others; the old password no longer signs in', async () => {
    const a = await session('u-s02It');
    const b = await session('u-s02It');
    const next = 'a new and longer passphrase';
    let r = await as(a, 'PUT', '/users/u-s02It/password', { password: next, currentPassword: 'not the password' });
    expect(r.status).toBe(403);
    expect(rig.registry.listAudit({ target: 'user:u-s02It', limit: 1 }).items[0]).toMatchObject({ action: 'user.password.set', outcome: 'forbidden' });
    expect((await as(a, 'PUT', '/users/u-s02It/password', { password: 'short', currentPassword: PW })).status).toBe(400);
    expect((await as(a, 'PUT', '/users/u-s02It/password', { password: 'x'.repeat(257), currentPassword: PW })).status).toBe(400);
    r = await as(a, 'PUT', '/users/u-s02It/password', { password: next, currentPassword: PW });
    expect(r.status).toBe(204);
    expect(rig.registry.listAudit({ target: 'user:u-s02It', limit: 1 }).items[0]).toMatchObject({ actor: 'user:u-s02It', action: 'user.password.set', outcome: 'ok', detail: `via session ${a.id}` });
    expect((await as(a, 'GET', '/me', undefined, null)).status).toBe(200);
    expect((await as(b, 'GET', '/me', undefined, null)).body).toMatchObject({ details: { reason: 'revoked' } });
    expect((await signIn('u-s02It', PW)).status).toBe(401);
    await session('u-s02It', next);
    // Back, for the other tests: an administrator of its scope sets it, and every session ends.
    expect((await rig.call('yzOperator', 'PUT', '/users/u-s02It/password', { password: PW })).status).toBe(204);
    expect((await as(a, 'GET', '/me', undefined, null)).status).toBe(401);
  });

  it('needs user.write on the user\'s scope otherwise (404 outside it, 403 inside without the right)', async () => {
    expect((await rig.call('jbOperator', 'PUT', '/users/u-bashuIt/password', { password: PW })).status).toBe(404);
    expect((await rig.call('bashuIt', 'PUT', '/users/u-bashuViewer/password', { password: PW })).status).toBe(403);
    // Its own without the current one: school IT has no user.write.
    expect((await rig.call('bashuIt', 'PUT', '/users/u-bashuIt/password', { password: PW })).status).toBe(403);
  });
});

describe('failed sign-ins', () => {
  it('answer one identical 401 for an unknown user, a wrong password, no password and a disabled user', async () => {
    rig.registry.createUser({ id: 'u-off', displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
    rig.registry.setUserPassword('u-off', await hashPassword(PW));
    rig.registry.disableUser('u-off', t);
    const failed = signIns('failed');
    const lastAudit = rig.registry.listAudit({ limit: 1 }).items[0]!.id;
    const replies = [await signIn('u-nobody'), await signIn('u-bashuIt', 'wrong password!'), await signIn('u-jbIt', PW), await signIn('u-off', PW)];
    expect(replies.map((r) => r.status)).toEqual([401, 401, 401, 401]);
    for (const r of replies) {
      expect(r.text).toBe(replies[0]!.text);
      expect(r.headers.get('set-cookie')).toBeNull();
    }
    expect(replies[0]!.body).toMatchObject({ code: 'HUB_ERR_SIGN_IN_FAILED' });
    expect(signIns('failed')).toBe(failed + 4);
    // Known users' failures are on record (their scope sees them); an unknown id is not a target.
    const entries = rig.registry.listAudit({ order: 'asc', limit: 100 }).items.filter((e) => e.id > lastAudit);
    expect(entries.map((e) => [e.target, e.action, e.outcome, e.detail])).toEqual([
      ['user:u-bashuIt', 'session.sign_in_failed', 'forbidden', 'wrong password; from 127.0.0.1'],
      ['user:u-jbIt', 'session.sign_in_failed', 'forbidden', 'no password set; from 127.0.0.1'],
      ['user:u-off', 'session.sign_in_failed', 'forbidden', 'user disabled; from 127.0.0.1'],
    ]);
  });

  it('take as long whatever the case: one scrypt for an unknown user, no password or a disabled user as for a wrong password', async () => {
    const hash = await hashPassword(PW);
    for (let i = 0; i < 12; i++) {
      rig.registry.createUser({ id: `u-nopw-${i}`, displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
      rig.registry.createUser({ id: `u-dis-${i}`, displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
      rig.registry.setUserPassword(`u-dis-${i}`, hash);
      rig.registry.disableUser(`u-dis-${i}`, t);
    }
    const timed = async (user: string, password: string) => {
      const t0 = performance.now();
      expect((await signIn(user, password)).status).toBe(401);
      return performance.now() - t0;
    };
    const ms: Record<'unknown' | 'wrong' | 'none' | 'disabled', number[]> = { unknown: [], wrong: [], none: [], disabled: [] };
    // Fresh ids, and a good sign-in after each wrong one, so that no id backs off.
    for (let i = 0; i < 12; i++) {
      ms.wrong.push(await timed('u-bashuViewer', 'a wrong password'));
      expect((await signIn('u-bashuViewer')).status).toBe(201);
      ms.unknown.push(await timed(`u-ghost-${i}`, PW));
      ms.none.push(await timed(`u-nopw-${i}`, PW));
      ms.disabled.push(await timed(`u-dis-${i}`, PW));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    for (const k of ['unknown', 'none', 'disabled'] as const) {
      const ratio = mean(ms[k]) / mean(ms.wrong);
      expect([k, ratio > 0.5 && ratio < 2]).toEqual([k, true]);
    }
  });

  it('back off after 3 failures of one user id: 429 with Retry-After before any hash is checked, even for the right password', async () => {
    rig.registry.createUser({ id: 'u-guessed', displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
    rig.registry.setUserPassword('u-guessed', await hashPassword(PW));
    // freeFailuresPerId 3: failures 1-3 cost nothing; the 4th sets a wait of baseMs (1 s).
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await signIn('u-guessed', `wrong guess ${i}`)).status);
    expect(statuses).toEqual([401, 401, 401, 401]);
    const backoff = signIns('backoff');
    const r = await signIn('u-guessed');
    expect(r.status).toBe(429);
    expect(r.headers.get('retry-after')).toBe('1');
    expect(r.body).toMatchObject({ code: 'HUB_ERR_SIGN_IN_BACKOFF', details: { retryAfterS: 1 } });
    expect(signIns('backoff')).toBe(backoff + 1);

    // No hash checked: a backed-off attempt takes a fraction of a checked one (a ratio of means
    // over interleaved attempts; the checked ones by ids never seen, each one dummy scrypt).
    const timed = async (user: string, status: number) => {
      const t0 = performance.now();
      expect((await signIn(user, 'wrong guess')).status).toBe(status);
      return performance.now() - t0;
    };
    const refused: number[] = [];
    const checked: number[] = [];
    for (let i = 0; i < 15; i++) {
      refused.push(await timed('u-guessed', 429));
      checked.push(await timed(`u-stranger-${i}`, 401));
    }
    const mean = (xs: number[]) => xs.reduce((a, b) => a + b, 0) / xs.length;
    expect(mean(refused) / mean(checked)).toBeLessThan(0.5);

    t += 1000;
    expect((await signIn('u-guessed')).status).toBe(201);
  });
});

describe('guesses sent all at once', () => {
  it('30 wrong sign-ins for one user at the same moment: as many checked as one after another (4), the rest 429', async () => {
    rig.registry.createUser({ id: 'u-parallel', displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
    rig.registry.setUserPassword('u-parallel', await hashPassword(PW));
    const failed = signIns('failed');
    const statuses = await Promise.all(Array.from({ length: 30 }, (_, i) => signIn('u-parallel', `parallel guess ${i}`).then((r) => r.status)));
    // freeFailuresPerId 3: the checks under way count as failures, so the 5th finds 4 "failures" and waits.
    expect(statuses.filter((x) => x === 401)).toHaveLength(4);
    expect(statuses.filter((x) => x === 429)).toHaveLength(26);
    expect(signIns('failed') - failed).toBe(4);
    t += 1000;
    expect((await signIn('u-parallel')).status).toBe(201);
  });

  it('a wrong current password backs off as a sign-in does: a session left open is no way to guess it', async () => {
    rig.registry.createUser({ id: 'u-self', displayName: '', role: 'viewer', district: null, school: null, createdAt: t });
    rig.registry.setUserPassword('u-self', await hashPassword(PW));
    const s = await session('u-self');
    const change = (currentPassword: string) => as(s, 'PUT', '/users/u-self/password', { password: 'another long passphrase', currentPassword });
    const statuses = [];
    for (let i = 0; i < 4; i++) statuses.push((await change(`guess ${i}`)).status);
    expect(statuses).toEqual([403, 403, 403, 403]);
    const r = await change(PW);
    expect([r.status, r.headers.get('retry-after'), (r.body as { code: string }).code]).toEqual([429, '1', 'HUB_ERR_SIGN_IN_BACKOFF']);
    // The same count as sign-in's: the user cannot sign in meanwhile either.
    expect((await signIn('u-self')).status).toBe(429);
    t += 1000;
    expect((await change(PW)).status).toBe(204);
  });
});

describe('the scope of a session', () => {
  let sessions: Partial<Record<PrincipalName, Session>> = {};
  beforeAll(async () => {
    sessions = {};
    for (const who of WHO) if (who !== 'jbIt') sessions[who] = await session(`u-${who}`);
    // jbIt has no password until now.
    await rig.call('city', 'PUT', '/users/u-jbIt/password', { password: PW });
    sessions.jbIt = await session('u-jbIt');
  });

  /** The rig with every principal calling through its session (cookie and CSRF token) instead of its token. */
  const bySession = (): ApiRig => ({
    ...rig,
    call: (who, method, path, body, headers = {}) => {
      if (typeof who !== 'string' || !(who in PRINCIPALS)) throw new Error(`not a principal: ${String(who)}`);
      const s = sessions[who as PrincipalName]!;
      return rig.call(null, method, path, body, { cookie: s.cookie, 'x-csrf-token': s.csrf, ...headers });
    },
  });

  // The statuses are those a token of the same user gets (orgAccess, fleetAccess).
  const CASES: AccessCase[] = [
    { name: 'GET /me', method: 'GET', path: () => '/me', expect: '200 200 200 200 200 200 200 200 200', check: (_r, who, b) => expect(b).toMatchObject({ user: `u-${who}`, via: 'session' }) },
    { name: 'GET /devices/yz-bashu-301-board', method: 'GET', path: () => '/devices/yz-bashu-301-board', expect: '200 200 404 200 404 404 200 200 200' },
    { name: 'GET /devices/jb-s01-201-vr', method: 'GET', path: () => '/devices/jb-s01-201-vr', expect: '200 404 200 404 404 200 200 404 404' },
    {
      name: 'PATCH /schools/yz-bashu',
      method: 'PATCH',
      path: () => '/schools/yz-bashu',
      body: (who) => ({ nameEn: `Bashu ${who}` }),
      expect: '200 200 404 403 404 404 403 403 403',
      action: 'school.update',
      check: (r, who) => expect(r.registry.getSchool('yz-bashu')!.nameEn).toBe(`Bashu ${who}`),
    },
  ];
  for (const c of CASES) it(`${c.name}: as a token would`, async () => runAccessCase(bySession(), c, snapshot));

  it('and a token of the same user gets the same statuses', async () => {
    for (const c of CASES.filter((k) => k.action === undefined)) {
      for (const who of WHO) {
        const byToken = await rig.call(who, c.method, c.path(who));
        const bySess = await bySession().call(who, c.method, c.path(who));
        expect([c.name, who, bySess.status]).toEqual([c.name, who, byToken.status]);
      }
    }
  });
});
