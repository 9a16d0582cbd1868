import { connect, createServer, type Server, type Socket } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { createUserWithToken } from '../../src/auth/bootstrap.ts';
import { MAX_STREAMS_PER_USER } from '../../src/api/routes/events.ts';
import { STATE_SCAN_ROWS } from '../../src/api/routes/fleet.ts';
import { gatewayState, observe } from './fleetHelpers.ts';

/**
 * The management API's edges: the event stream follows its token and its client, a change
 * re-checks its scope after waiting on InfluxDB, nobody disables itself, a token never outlives
 * its maker's, a conflict tells nothing of a school the caller cannot see, authentication comes
 * before the body, client faults stay 4xx, figure ranges are bounded, and a filtered list does
 * bounded work.
 */
type Err = { code: string; message: string; details: Record<string, unknown> };
const DB = 'api_hardening';

/** A loopback proxy in front of InfluxDB that can hold its answers (to widen an await) or refuse every connection. */
async function startGate(target: number): Promise<{ port: number; hold(): void; release(): void; down(on: boolean): void; requests: number; stop(): Promise<void> }> {
  const sockets = new Set<Socket>();
  let held = false;
  let isDown = false;
  const waiting: Array<() => void> = [];
  const gate = {
    port: 0,
    requests: 0,
    hold: () => void (held = true),
    release: () => {
      held = false;
      for (const w of waiting.splice(0)) w();
    },
    down: (on: boolean) => {
      isDown = on;
      if (on) for (const s of sockets) s.destroy();
    },
    stop: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    },
  };
  const server: Server = createServer((client) => {
    if (isDown) return void client.destroy();
    const up = connect(target, '127.0.0.1');
    sockets.add(client).add(up);
    client.on('data', (b) => {
      if (held) gate.requests += 1;
      up.write(b);
    });
    up.on('data', (b) => (held ? waiting.push(() => client.write(b)) : client.write(b)));
    const end = () => (client.destroy(), up.destroy(), sockets.delete(client), sockets.delete(up));
    client.on('close', end).on('error', end);
    up.on('close', end).on('error', end);
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  gate.port = (server.address() as { port: number }).port;
  return gate;
}

const tokenIdOf = (token: string): string => token.split('_')[1]!;
const dev = (rig: ApiRig, id: string, school: string, room: string) =>
  rig.registry.createDevice({ id, school, room, kind: 'vr_kit', model: '', vendor: '', serial: '', linkRole: null, capacityBps: null }, Date.now());

describe('management API hardening', () => {
  let influx: InfluxInstance;
  let gate: Awaited<ReturnType<typeof startGate>>;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    gate = await startGate(Number(new URL(influx.url).port));
    rig = await startApiRig(`http://127.0.0.1:${gate.port}`, DB);
  });
  afterAll(async () => {
    await rig?.stop();
    await gate?.stop();
    await influx?.stop();
  });

  /** An event stream of a fresh user (its own stream count), read as text. */
  async function stream(token: string) {
    const ac = new AbortController();
    const res = await fetch(`${rig.base}/events`, { headers: { authorization: `Bearer ${token}` }, signal: ac.signal });
    const reader = res.body!.getReader();
    let text = '';
    return {
      status: res.status,
      /** Reads until the stream ends: what it carried after `: connected`. */
      async rest(): Promise<string> {
        for (;;) {
          const { value, done } = await reader.read();
          if (done) return text;
          text += new TextDecoder().decode(value);
        }
      },
      async until(needle: string): Promise<void> {
        while (!text.includes(needle)) {
          const { value, done } = await reader.read();
          if (done) throw new Error(`stream ended before ${needle}`);
          text += new TextDecoder().decode(value);
        }
      },
      close: async () => (ac.abort(), await reader.cancel().catch(() => {})),
    };
  }
  const outcome = (id: string) => rig.hub.bus.emitCommandOutcome({ id, district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', device: 'yz-bashu-301-board', action: 'reboot', status: 'done' });

  it('GET /events ends at the next event once its token is revoked, expires or its user is disabled', async () => {
    const closedBefore = rig.hub.counters.get('api_stream_closed', { reason: 'token' });
    const cases: Array<[string, (user: string, tokenId: string) => void, number]> = [
      ['revoked', (_u, t) => rig.registry.revokeToken(t, Date.now()), 3_600_000],
      ['disabled', (u) => rig.registry.disableUser(u, Date.now()), 3_600_000],
      ['expired', () => {}, 300],
    ];
    for (const [name, end, ttlMs] of cases) {
      const made = createUserWithToken(rig.registry, { id: `sse-${name}`, role: 'viewer', district: '渝中区', school: 'yz-bashu' }, { name: 'sse', ttlMs }, Date.now());
      const s = await stream(made.token);
      expect(s.status).toBe(200);
      await s.until(': connected');
      outcome(`before-${name}`);
      await s.until(`before-${name}`);
      end(made.user.id, made.tokenId);
      if (name === 'expired') await new Promise((r) => setTimeout(r, ttlMs + 50));
      outcome(`after-${name}`);
      const rest = await s.rest();
      expect(rest, name).not.toContain(`after-${name}`);
      await s.close();
    }
    expect(rig.hub.counters.get('api_stream_closed', { reason: 'token' }) - closedBefore).toBe(3);
  });

  it(`GET /events: at most ${MAX_STREAMS_PER_USER} open streams per user (429 HUB_ERR_TOO_MANY_STREAMS), a closed one frees its place; HEAD answers at once`, async () => {
    const made = createUserWithToken(rig.registry, { id: 'sse-many', role: 'viewer', district: null, school: null }, { name: 'sse', ttlMs: 3_600_000 }, Date.now());
    const open = [];
    for (let i = 0; i < MAX_STREAMS_PER_USER; i++) open.push(await stream(made.token));
    expect(open.map((s) => s.status)).toEqual(Array(MAX_STREAMS_PER_USER).fill(200));
    const over = await rig.call<Err>({ token: made.token }, 'GET', '/events');
    expect([over.status, over.body.code]).toEqual([429, 'HUB_ERR_TOO_MANY_STREAMS']);
    // Another user is not counted against this one.
    const other = await stream(rig.tokens.cityViewer);
    expect(other.status).toBe(200);
    await other.close();
    await open.pop()!.close();
    await expect.poll(async () => {
      const s = await stream(made.token);
      await s.close();
      return s.status;
    }).toBe(200);
    for (const s of open) await s.close();
    const head = await fetch(`${rig.base}/events`, { method: 'HEAD', headers: { authorization: `Bearer ${made.token}` } });
    expect([head.status, head.headers.get('content-type'), await head.text()]).toEqual([200, 'text/event-stream; charset=utf-8', '']);
  });

  it('GET /events closes the stream of a client that stops reading once over a MiB is queued for it', async () => {
    const before = rig.hub.counters.get('api_stream_closed', { reason: 'backpressure' });
    const sock = connect(Number(new URL(rig.base).port), '127.0.0.1');
    await new Promise<void>((r) => sock.once('connect', () => r()));
    let closed = false;
    sock.on('close', () => void (closed = true)).on('error', () => {});
    sock.write(`GET /api/v1/events HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${rig.tokens.city}\r\n\r\n`);
    await new Promise<void>((r) => sock.once('data', () => r()));
    sock.pause(); // reads nothing more
    const big = 'x'.repeat(64 * 1024);
    for (let i = 0; i < 2000 && rig.hub.counters.get('api_stream_closed', { reason: 'backpressure' }) === before; i++) {
      rig.hub.bus.emitCommandOutcome({ id: `bp-${i}`, district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', device: 'yz-bashu-301-board', action: 'reboot', status: 'failed', detail: big });
      if (i % 50 === 0) await new Promise((r) => setImmediate(r));
    }
    expect(rig.hub.counters.get('api_stream_closed', { reason: 'backpressure' }) - before).toBe(1);
    sock.resume();
    await expect.poll(() => closed).toBe(true);
  });

  it('DELETE /devices/{id}: a device moved out of the caller\'s scope while its history was looked up is left alone (404)', async () => {
    dev(rig, 'race-1', 'yz-bashu', '301');
    gate.hold();
    gate.requests = 0;
    const pending = rig.call<Err>('bashuIt', 'DELETE', '/devices/race-1');
    await expect.poll(() => gate.requests).toBeGreaterThan(0);
    rig.registry.moveDevice('race-1', { school: 'yz-s02', room: '101' });
    gate.release();
    const r = await pending;
    expect([r.status, r.body.code]).toEqual([404, 'HUB_ERR_NOT_FOUND']);
    expect(rig.registry.getDeviceRecord('race-1')).toMatchObject({ school: 'yz-s02', room: '101', retiredAt: null });
  });

  it('DELETE /users/{id}: nobody disables itself (403); another city admin may be disabled', async () => {
    const self = await rig.call<Err>('city', 'DELETE', '/users/u-city');
    expect([self.status, self.body.code, self.body.message]).toEqual([403, 'HUB_ERR_FORBIDDEN', 'user u-city may not disable itself']);
    expect(rig.registry.getUser('u-city')!.disabledAt).toBeNull();
    const itSelf = await rig.call<Err>('yzOperator', 'DELETE', '/users/u-yzOperator');
    expect(itSelf.status).toBe(403);
    createUserWithToken(rig.registry, { id: 'ca-2', role: 'city_admin', district: null, school: null }, { name: 't', ttlMs: null }, Date.now());
    expect((await rig.call('city', 'DELETE', '/users/ca-2')).status).toBe(204);
    expect(rig.registry.getUser('ca-2')!.disabledAt).not.toBeNull();
  });

  it('POST /users/{id}/tokens: never outlives the caller\'s token; the audit entry names the token that acted', async () => {
    const callerToken = rig.registry.getToken(tokenIdOf(rig.tokens.bashuIt))!;
    const forever = await rig.call<Err>('bashuIt', 'POST', '/users/u-bashuIt/tokens', { ttlDays: 0 });
    expect([forever.status, forever.body.code]).toEqual([400, 'HUB_ERR_BAD_REQUEST']);
    const long = await rig.call<{ tokenId: string; expiresAt: number | null }>('bashuIt', 'POST', '/users/u-bashuIt/tokens', { ttlDays: 30 });
    expect([long.status, long.body.expiresAt]).toEqual([201, callerToken.expiresAt]);
    // An admin minting for a school IT: the same bound, and the entry says which token.
    const forIt = await rig.call<{ expiresAt: number | null }>('city', 'POST', '/users/u-bashuIt/tokens', { ttlDays: 0 });
    expect(forIt.status).toBe(400);
    const never = createUserWithToken(rig.registry, { id: 'ca-never', role: 'city_admin', district: null, school: null }, { name: 't', ttlMs: null }, Date.now());
    const fromNever = await rig.call<{ tokenId: string; expiresAt: number | null }>({ token: never.token }, 'POST', '/users/u-bashuIt/tokens', { ttlDays: 0 });
    expect([fromNever.status, fromNever.body.expiresAt]).toEqual([201, null]);
    const entry = rig.registry.listAudit({ actor: 'user:ca-never', limit: 1 }).items[0]!;
    expect([entry.action, entry.outcome, entry.detail]).toEqual(['token.create', 'ok', `via token ${never.tokenId}`]);
  });

  it('POST /devices: another school\'s retired id is held_by_other_school, with no time and no school for who cannot see it', async () => {
    dev(rig, 'ret-1', 'yz-bashu', '301');
    rig.registry.retireDevice('ret-1', 1_234_567);
    const jb = await rig.call<Err>('jbIt', 'POST', '/devices', { id: 'ret-1', school: 'jb-s01', room: '201', kind: 'vr_kit' });
    expect([jb.status, jb.body.details]).toEqual([409, { entity: 'device', id: 'ret-1', reason: 'held_by_other_school' }]);
    expect(jb.body.message).toBe('device "ret-1" is held by another school; device ids are city-wide');
    const entry = rig.registry.listAudit({ actor: 'user:u-jbIt', target: 'device:ret-1', limit: 1 }).items[0]!;
    expect(entry.detail).not.toMatch(/1234567|yz-bashu|retired/);
    const op = await rig.call<Err>('yzOperator', 'POST', '/devices', { id: 'ret-1', school: 'yz-s02', room: '101', kind: 'vr_kit' });
    expect(op.body.details).toMatchObject({ reason: 'held_by_other_school', heldBy: 'yz-bashu' });
    const same = await rig.call<Err>('bashuIt', 'POST', '/devices', { id: 'ret-1', school: 'yz-bashu', room: '301', kind: 'vr_kit' });
    expect(same.body.details).toMatchObject({ reason: 'retired' });
  });

  it('authenticates before reading a body: 401, not 400 or 413', async () => {
    const bad = await rig.call<Err>(null, 'POST', '/devices', undefined, { 'content-type': 'application/json' });
    expect(bad.status).toBe(401);
    for (const body of ['{not json', JSON.stringify({ pad: 'x'.repeat(2 * 1024 * 1024) })]) {
      const r = await fetch(`${rig.base}/devices`, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
      expect([r.status, ((await r.json()) as Err).code]).toEqual([401, 'HUB_ERR_UNAUTHENTICATED']);
    }
    expect((await fetch(`${rig.base}/openapi.json`)).status).toBe(200);
  });

  it('client faults Express and body-parser find stay 4xx: a bad percent-encoding, an unsupported or corrupt content-encoding', async () => {
    const internalBefore = rig.hub.counters.get('api_requests', { method: 'GET', route: '/devices/:device', status: '500' });
    const pct = await rig.call<Err>('city', 'GET', '/devices/%E0%A4%A');
    expect([pct.status, pct.body.code]).toEqual([400, 'HUB_ERR_BAD_REQUEST']);
    const enc = await rig.call<Err>('city', 'POST', '/devices', '{}', { 'content-encoding': 'compress' });
    expect([enc.status, enc.body.code]).toEqual([415, 'HUB_ERR_UNSUPPORTED_MEDIA_TYPE']);
    const gz = await fetch(`${rig.base}/devices`, { method: 'POST', headers: { authorization: `Bearer ${rig.tokens.city}`, 'content-type': 'application/json', 'content-encoding': 'gzip' }, body: 'not gzip at all' });
    expect(gz.status).toBeGreaterThanOrEqual(400);
    expect(gz.status).toBeLessThan(500);
    expect(rig.hub.counters.get('api_requests', { method: 'GET', route: '/devices/:device', status: '500' })).toBe(internalBefore);
  });

  it('/figures/*: from and to ISO 8601 or ms within 2000-01-01 .. now + 1 day, from < to, at most 400 days; a 503 does not carry InfluxDB\'s text', async () => {
    const now = Date.now();
    const q = (from: string, to?: string) => rig.call<Err>('city', 'GET', `/figures/availability?from=${encodeURIComponent(from)}${to === undefined ? '' : `&to=${encodeURIComponent(to)}`}`);
    for (const [from, to] of [
      ['1e21', undefined],
      ['1000000000000000000000', undefined],
      ['Tue, 01 Dec 2026 00:00:00 GMT', undefined],
      ['12/01/2026', undefined],
      // Not a calendar instant (Date.parse would roll them over), and a time without its zone.
      ['2026-02-30', undefined],
      ['2026-02-29T08:00Z', undefined],
      ['2026-01-01T24:00Z', undefined],
      ['2026-01-01T08:00:60Z', undefined],
      ['2026-01-01T08:00+24:00', undefined],
      ['2026-01-01T08:00', undefined],
      ['946684799999', String(now)], // a ms before 2000
      [String(now - 1000), String(now + 2 * 86_400_000)],
      [String(now - 401 * 86_400_000), String(now)],
      [String(now), String(now - 1000)],
    ] as const) {
      const r = await q(from, to);
      expect([from, r.status, r.body.code]).toEqual([from, 400, 'HUB_ERR_BAD_REQUEST']);
    }
    expect((await q(new Date(now - 3_600_000).toISOString(), new Date(now).toISOString())).status).toBe(200);
    // A leap day, a date alone (UTC midnight) and a zone offset are instants.
    expect((await q('2024-02-29', '2024-03-01T08:00+08:00')).status).toBe(200);
    expect((await q(String(now - 400 * 86_400_000), String(now))).status).toBe(200);
    gate.down(true);
    try {
      const r = await q(String(now - 3_600_000));
      expect([r.status, r.body.code, r.body.message]).toEqual([503, 'HUB_ERR_UNAVAILABLE', 'InfluxDB is not available']);
      expect(r.text).not.toContain(DB);
    } finally {
      gate.down(false);
    }
  });

  it('POST /inventory/import: a viewer of a school it sees is refused (403); a school outside its scope stays unknown_school', async () => {
    const csv = (...rows: string[]) => new TextEncoder().encode(['school,room,id,kind,model,vendor,serial,link_role,capacity_bps', ...rows, ''].join('\n'));
    const post = (who: 'yzViewer' | 'bashuIt', body: Uint8Array) => rig.call<Err>(who, 'POST', '/inventory/import', body, { 'content-type': 'text/csv' });
    const seen = await post('yzViewer', csv('yz-bashu,301,v-row,vr_kit,,,,,', 'jb-s01,201,v-row-2,vr_kit,,,,,'));
    expect([seen.status, seen.body.code]).toEqual([403, 'HUB_ERR_FORBIDDEN']);
    const unseen = await post('yzViewer', csv('jb-s01,201,v-row-2,vr_kit,,,,,'));
    expect([unseen.status, (unseen.body.details['errors'] as Array<{ code: string }>).map((e) => e.code)]).toEqual([422, ['unknown_school']]);
    expect(rig.registry.getDeviceRecord('v-row')).toBeUndefined();
  });
});

describe('GET /devices?state= does bounded work', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_state_scan');
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  it(`reads at most ${STATE_SCAN_ROWS} registry rows per request: a page may be empty, with a cursor to go on from`, async () => {
    const n = STATE_SCAN_ROWS + 200;
    rig.registry.transaction(() => {
      for (let i = 0; i < n; i++) dev(rig, `scan-${String(i).padStart(5, '0')}`, 'yz-s02', '101');
    });
    const at = Date.now();
    gatewayState(rig, 'gw-yz-s02', 'online', 1, at);
    const up = [`scan-${String(n - 2).padStart(5, '0')}`, `scan-${String(n - 1).padStart(5, '0')}`];
    for (const id of up) observe(rig, 'gw-yz-s02', id, 'vr_kit', 'up', at);
    type P = { items: Array<{ id: string; state: string }>; nextCursor: string | null };
    const first = await rig.call<P>('city', 'GET', '/devices?state=up&limit=1');
    expect([first.status, first.body.items, first.body.nextCursor === null]).toEqual([200, [], false]);
    const got: string[] = [];
    let cursor = first.body.nextCursor;
    let pages = 1;
    while (cursor !== null) {
      const p = await rig.call<P>('city', 'GET', `/devices?state=up&limit=1&cursor=${encodeURIComponent(cursor)}`);
      got.push(...p.body.items.map((d) => d.id));
      cursor = p.body.nextCursor;
      pages += 1;
    }
    expect(got).toEqual(up);
    expect(pages).toBeGreaterThanOrEqual(3);
  });
});
