import { describe, expect, it } from 'vitest';
import { authenticate, authorizePublish, authorizeSubscribe, type AuthenticateDeps, type ConnectRequest, type Identity } from '../src/policy.ts';
import type { GatewayRow } from '../src/registry.ts';

const ROWS: Record<string, GatewayRow> = {
  G01: { id: 'G01', school: 'S01', district: '渝中区', passwordHash: 'hash:pw-G01', revoked: false },
  G02: { id: 'G02', school: 'S01', district: '渝中区', passwordHash: 'hash:pw-G02', revoked: true },
};

/** Injected lookups; verifyPassword records its calls so we can see what was checked. */
function deps(allowAnonymous = false) {
  const verified: Array<[string, string]> = [];
  const d: AuthenticateDeps = {
    lookupGateway: (id) => ROWS[id],
    verifyPassword: async (pw, hash) => {
      verified.push([pw, hash]);
      return hash === `hash:${pw}`;
    },
    dummyHash: 'hash:dummy',
    allowAnonymous,
  };
  return { d, verified };
}

const req = (r: Partial<ConnectRequest>): ConnectRequest => ({
  clientId: 'G01',
  cleanSession: true,
  username: 'G01',
  password: Buffer.from('pw-G01'),
  ...r,
});

const AUTH_DENIED = { ok: false, code: 'HUB_ERR_AUTH_DENIED', reason: 'bad username or password', returnCode: 4 };

describe('authenticate', () => {
  it('refuses an empty client id with a persistent session with CONNACK 2, before any credential check', async () => {
    const { d, verified } = deps(true);
    const r = await authenticate(req({ clientId: '', cleanSession: false }), d);
    expect(r).toEqual({ ok: false, code: 'HUB_ERR_EMPTY_CLIENT_ID', reason: 'empty client id with a persistent session', returnCode: 2 });
    expect(verified).toEqual([]);
  });

  it('admits an empty client id with a clean session and no username as anonymous when allowed', async () => {
    const { d } = deps(true);
    const r = await authenticate(req({ clientId: '', cleanSession: true, username: undefined, password: undefined }), d);
    expect(r).toEqual({ ok: true, value: { kind: 'anonymous' } });
  });

  it('refuses the same client with CONNACK 5 when anonymous clients are not allowed', async () => {
    const { d } = deps(false);
    const r = await authenticate(req({ clientId: '', cleanSession: true, username: undefined, password: undefined }), d);
    expect(r).toEqual({ ok: false, code: 'HUB_ERR_ANONYMOUS_DENIED', reason: 'anonymous clients are not allowed', returnCode: 5 });
  });

  it('treats an empty username as anonymous', async () => {
    expect(await authenticate(req({ username: '' }), deps(false).d)).toMatchObject({ ok: false, code: 'HUB_ERR_ANONYMOUS_DENIED', returnCode: 5 });
    expect(await authenticate(req({ clientId: 'observer', username: '' }), deps(true).d)).toEqual({ ok: true, value: { kind: 'anonymous' } });
  });

  it.each([
    ['a different client id', 'G01-laptop'],
    ['an empty client id with a clean session', ''],
  ])('refuses %s than the username with CONNACK 2', async (_what, clientId) => {
    const { d, verified } = deps();
    const r = await authenticate(req({ clientId }), d);
    expect(r).toEqual({ ok: false, code: 'HUB_ERR_CLIENT_ID_MISMATCH', reason: 'client id must equal the gateway id', returnCode: 2 });
    expect(verified).toEqual([]);
  });

  it('answers unknown gateway, revoked gateway, wrong password and missing password identically (CONNACK 4)', async () => {
    const unknown = deps();
    const revoked = deps();
    const wrong = deps();
    const missing = deps();
    const results = [
      await authenticate(req({ clientId: 'G99', username: 'G99', password: Buffer.from('pw-G99') }), unknown.d),
      await authenticate(req({ clientId: 'G02', username: 'G02', password: Buffer.from('pw-G02') }), revoked.d),
      await authenticate(req({ password: Buffer.from('pw-G02') }), wrong.d),
      await authenticate(req({ password: undefined }), missing.d),
    ];
    for (const r of results) expect(r).toEqual(AUTH_DENIED);
    // Each ran exactly one hash check (an unknown gateway's against the dummy hash), so timing
    // tells them apart no better than the answer; revoked refused even with its right password.
    expect(unknown.verified).toEqual([['pw-G99', 'hash:dummy']]);
    expect(revoked.verified).toEqual([['pw-G02', 'hash:pw-G02']]);
    expect(wrong.verified).toEqual([['pw-G02', 'hash:pw-G01']]);
    expect(missing.verified).toEqual([['', 'hash:pw-G01']]);
  });

  it('returns the identity from the registry row on success', async () => {
    const { d, verified } = deps();
    const r = await authenticate(req({}), d);
    expect(r).toEqual({ ok: true, value: { kind: 'gateway', district: '渝中区', school: 'S01', gateway: 'G01' } });
    expect(verified).toEqual([['pw-G01', 'hash:pw-G01']]);
  });

  it('takes a ticket-shaped password to the ticket check, never to a hash: its gateway from the check, refusals as HUB_ERR_TICKET_REFUSED with CONNACK 4', async () => {
    const seen: Array<[string, string]> = [];
    const { d, verified } = deps();
    d.checkTicket = (t, user) => {
      seen.push([t, user]);
      return t === 't1.good' ? { ok: true, gateway: ROWS['G01']!, expiresAt: 1, renew: false } : { ok: false, reason: 'bad_mac' };
    };
    expect(await authenticate(req({ password: Buffer.from('t1.good') }), d)).toEqual({ ok: true, value: { kind: 'gateway', district: '渝中区', school: 'S01', gateway: 'G01' } });
    expect(await authenticate(req({ password: Buffer.from('t1.forged') }), d)).toEqual({ ok: false, code: 'HUB_ERR_TICKET_REFUSED', reason: 'login ticket refused (bad_mac)', returnCode: 4 });
    expect(seen).toEqual([['t1.good', 'G01'], ['t1.forged', 'G01']]);
    expect(verified).toEqual([]);
    // Tickets off (no check given): refused, and still no hash.
    const off = deps();
    expect(await authenticate(req({ password: Buffer.from('t1.good') }), off.d)).toMatchObject({ ok: false, code: 'HUB_ERR_TICKET_REFUSED', returnCode: 4 });
    expect(off.verified).toEqual([]);
  });

  it('decodes the password as UTF-8', async () => {
    const rows: Record<string, GatewayRow> = { G03: { id: 'G03', school: 'S02', district: '江北区', passwordHash: 'hash:密码-1', revoked: false } };
    const r = await authenticate(
      { clientId: 'G03', cleanSession: false, username: 'G03', password: Buffer.from('密码-1', 'utf8') },
      { lookupGateway: (id) => rows[id], verifyPassword: async (pw, h) => h === `hash:${pw}`, dummyHash: 'hash:dummy', allowAnonymous: false },
    );
    expect(r).toEqual({ ok: true, value: { kind: 'gateway', district: '江北区', school: 'S02', gateway: 'G03' } });
  });

  // The registry changes while the password is checked: the row read before the check is stale.
  it.each([
    ['revoked', (row: GatewayRow): GatewayRow | undefined => ({ ...row, revoked: true })],
    ['rotated', (row: GatewayRow): GatewayRow | undefined => ({ ...row, passwordHash: 'hash:pw-new' })],
    ['deleted', (): GatewayRow | undefined => undefined],
    ['re-created with another password', (row: GatewayRow): GatewayRow | undefined => ({ ...row, school: 'S09', passwordHash: 'hash:pw-other' })],
  ])('refuses a gateway %s while its password was being checked', async (_what, change) => {
    let row: GatewayRow | undefined = { ...ROWS['G01']! };
    const r = await authenticate(req({}), {
      lookupGateway: () => row,
      verifyPassword: async (pw, hash) => {
        row = change(row!);
        return hash === `hash:${pw}`;
      },
      dummyHash: 'hash:dummy',
      allowAnonymous: false,
    });
    expect(r).toEqual(AUTH_DENIED);
  });

  it('takes the identity from the row read after the check', async () => {
    let row: GatewayRow | undefined = { ...ROWS['G01']! };
    const r = await authenticate(req({}), {
      lookupGateway: () => row,
      verifyPassword: async (pw, hash) => {
        row = { ...row!, school: 'S05', district: '江北区' };
        return hash === `hash:${pw}`;
      },
      dummyHash: 'hash:dummy',
      allowAnonymous: false,
    });
    expect(r).toEqual({ ok: true, value: { kind: 'gateway', district: '江北区', school: 'S05', gateway: 'G01' } });
  });
});

const ME: Identity = { kind: 'gateway', district: 'D1', school: 'S01', gateway: 'G01' };
const ANON: Identity = { kind: 'anonymous' };

describe('authorizePublish', () => {
  it.each([
    'campus/v1/D1/S01/G01/telemetry',
    'campus/v1/D1/S01/G01/state',
    'campus/v1/D1/S01/G01/cmdres/c-17',
    'campus/v1/D1/S01/G01/cmdres/a/b',
  ])('allows own %s', (topic) => {
    expect(authorizePublish(ME, topic)).toEqual({ ok: true });
  });

  it.each([
    ["another school's prefix", 'campus/v1/D1/S02/G01/telemetry'],
    ['another district', 'campus/v1/D2/S01/G01/telemetry'],
    ['another gateway', 'campus/v1/D1/S01/G02/state'],
    ['own command topic', 'campus/v1/D1/S01/G01/cmd/reboot'],
    ['own bare cmd level', 'campus/v1/D1/S01/G01/cmd'],
    ['a non-campus topic', 'lan/v1/telemetry'],
    ['an arbitrary topic', 'school/news'],
    ['a gateway id extending its own', 'campus/v1/D1/S01/G01-evil/telemetry'],
    ['a gateway id that is a prefix of its own', 'campus/v1/D1/S01/G0/telemetry'],
    ['an extra level after telemetry', 'campus/v1/D1/S01/G01/telemetry/extra'],
    ['an extra level after state', 'campus/v1/D1/S01/G01/state/x'],
    ['an extra level before the channel', 'campus/v1/D1/S01/G01/x/telemetry'],
    ['its bare prefix', 'campus/v1/D1/S01/G01'],
    ['the prefix with a trailing slash', 'campus/v1/D1/S01/G01/'],
    ['a wildcard level', 'campus/v1/D1/S01/+/telemetry'],
    // Tickets are the hub's to hand out: a gateway publishing one would offer it to nobody but itself, still refused.
    ['own ticket topic', 'campus/v1/D1/S01/G01/ticket'],
    ["another gateway's ticket topic", 'campus/v1/D1/S01/G02/ticket'],
  ])('denies %s', (_what, topic) => {
    expect(authorizePublish(ME, topic)).toEqual({ ok: false, code: 'HUB_ERR_PUBLISH_DENIED', reason: `may not publish to ${topic}` });
  });

  it('allows anonymous clients anything outside the hub root, nothing under it', () => {
    expect(authorizePublish(ANON, 'anything/else')).toEqual({ ok: true });
    expect(authorizePublish(ANON, 'campus/v2/x')).toEqual({ ok: true });
    for (const t of ['campus/v1/D1/S01/G01/cmd/reboot', 'campus/v1/D1/S01/G01/state', 'campus/v1/D1/S01/G01/telemetry', 'campus/v1', 'presence/v1/D1/S01/G01', 'events/v1/D1/S01/G01']) {
      expect(authorizePublish(ANON, t)).toEqual({ ok: false, code: 'HUB_ERR_PUBLISH_DENIED', reason: `anonymous clients may not publish to ${t}` });
    }
  });
});

describe('authorizeSubscribe', () => {
  it.each(['campus/v1/D1/S01/G01/cmd/#', 'campus/v1/D1/S01/G01/cmd/reboot', 'campus/v1/D1/S01/G01/cmd/+', 'campus/v1/D1/S01/G01/inventory', 'campus/v1/D1/S01/G01/ticket'])('allows own %s', (filter) => {
    expect(authorizeSubscribe(ME, filter)).toEqual({ ok: true });
  });

  it.each([
    ['everything under the root', 'campus/v1/#'],
    ["every gateway's commands", 'campus/v1/+/+/+/cmd/#'],
    ["every gateway's commands in its school", 'campus/v1/D1/S01/+/cmd/#'],
    ["another gateway's commands", 'campus/v1/D1/S01/G02/cmd/#'],
    ['a gateway id extending its own', 'campus/v1/D1/S01/G01-evil/cmd/#'],
    ['own telemetry', 'campus/v1/D1/S01/G01/telemetry'],
    ['own command responses', 'campus/v1/D1/S01/G01/cmdres/#'],
    ['everything of its own', 'campus/v1/D1/S01/G01/#'],
    ['the global wildcard', '#'],
    // An inventory may carry SNMP secrets: only a gateway's own, by its exact topic.
    ["another gateway's inventory", 'campus/v1/D1/S01/G02/inventory'],
    ["every gateway's inventory in its school", 'campus/v1/D1/S01/+/inventory'],
    ['its inventory under another school', 'campus/v1/D1/S02/G01/inventory'],
    ['below its inventory', 'campus/v1/D1/S01/G01/inventory/#'],
    // A ticket is a credential: only a gateway's own, by its exact topic.
    ["another gateway's ticket", 'campus/v1/D1/S01/G02/ticket'],
    ["every gateway's ticket in its school", 'campus/v1/D1/S01/+/ticket'],
    ['its ticket under another school', 'campus/v1/D1/S02/G01/ticket'],
    ['below its ticket', 'campus/v1/D1/S01/G01/ticket/#'],
  ])('denies %s', (_what, filter) => {
    expect(authorizeSubscribe(ME, filter)).toEqual({ ok: false, code: 'HUB_ERR_SUBSCRIBE_DENIED', reason: `may not subscribe to ${filter}` });
  });

  it.each(['lab/#', 'lab/+/x', 'campus/v2/#', 'campus/v1', 'presence/v1/#', '+/v2/#'])('allows anonymous clients %s', (filter) => {
    expect(authorizeSubscribe(ANON, filter)).toEqual({ ok: true });
  });

  // Each could match some topic under campus/v1 (telemetry, states, commands), or is $SYS.
  it.each(['#', '+/#', 'campus/#', 'campus/v1/#', '+/v1/#', 'campus/+/D1/S01/G01/cmd/#', 'campus/v1/+/+/+/cmd/#', 'campus/v1/D1/S01/G01/telemetry', 'campus/v1/D1/S01/G01/inventory', 'campus/v1/D1/S01/G01/ticket', 'campus/v1/+/+/+/ticket', '$SYS/#', '$SYS/broker/clients'])(
    'refuses anonymous clients %s',
    (filter) => {
      expect(authorizeSubscribe(ANON, filter)).toEqual({ ok: false, code: 'HUB_ERR_SUBSCRIBE_DENIED', reason: `anonymous clients may not subscribe to ${filter}` });
    },
  );
});

describe('anonymous client ids', () => {
  const ANON_ID = { ok: false, code: 'HUB_ERR_ANONYMOUS_CLIENT_ID', reason: 'anonymous clients may not use a gateway id', returnCode: 2 };
  it.each([
    ['a registered gateway', 'G01'],
    ['a revoked gateway', 'G02'],
    ['an unregistered id of the gateway pattern', 'gw-yz-new'],
    ['the pattern in capitals', 'GW-yz-new'],
  ])("refuses an anonymous client with %s's id (CONNACK 2), never checking a password", async (_what, clientId) => {
    const { d, verified } = deps(true);
    expect(await authenticate(req({ clientId, username: undefined, password: undefined }), d)).toEqual(ANON_ID);
    expect(verified).toEqual([]);
  });

  it('admits an anonymous client with any other id', async () => {
    const { d } = deps(true);
    expect(await authenticate(req({ clientId: 'observer-1', username: undefined, password: undefined }), d)).toEqual({ ok: true, value: { kind: 'anonymous' } });
  });
});
