import type { Fleet } from '../../device-sim/src/fleet.ts';
import { createHub, type Hub, type HubConfig } from '../../broker/src/hub.ts';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { createUserWithToken, issueToken } from '../../broker/src/auth/bootstrap.ts';
import type { Role } from '../../broker/src/auth/authorize.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { gatewayPassword, hubConfig, TEST_SCRYPT } from './stack.ts';

/**
 * A real hub (in process, real sockets, real InfluxDB) for management API tests, with a small
 * city in two districts and one token per role and scope, plus an expired and a revoked one.
 */
export const API_FLEET: Fleet = {
  districts: [
    { id: '渝中区', nameEn: 'Yuzhong', code: 'yz' },
    { id: '江北区', nameEn: 'Jiangbei', code: 'jb' },
  ],
  schools: [
    {
      id: 'yz-bashu',
      name: '巴蜀小学',
      district: '渝中区',
      gateway: 'gw-yz-bashu',
      devices: [
        { id: 'yz-bashu-301-board', kind: 'interactive_board', room: '301' },
        { id: 'yz-bashu-301-av', kind: 'classroom_av', room: '301' },
        { id: 'yz-bashu-uplink', kind: 'network_node', room: 'server-room', link: { role: 'school_uplink', capacityBps: 1e9 } },
      ],
    },
    {
      id: 'yz-s02',
      name: '人和街小学',
      district: '渝中区',
      gateway: 'gw-yz-s02',
      devices: [{ id: 'yz-s02-101-board', kind: 'interactive_board', room: '101' }],
    },
    {
      id: 'jb-s01',
      name: '华新小学',
      district: '江北区',
      gateway: 'gw-jb-s01',
      devices: [{ id: 'jb-s01-201-vr', kind: 'vr_kit', room: '201' }],
    },
  ],
};

/** Each principal the tests call as: role and scope. */
export const PRINCIPALS = {
  city: { role: 'city_admin', district: null, school: null },
  yzOperator: { role: 'district_operator', district: '渝中区', school: null },
  jbOperator: { role: 'district_operator', district: '江北区', school: null },
  bashuIt: { role: 'school_it', district: '渝中区', school: 'yz-bashu' },
  s02It: { role: 'school_it', district: '渝中区', school: 'yz-s02' },
  jbIt: { role: 'school_it', district: '江北区', school: 'jb-s01' },
  cityViewer: { role: 'viewer', district: null, school: null },
  yzViewer: { role: 'viewer', district: '渝中区', school: null },
  bashuViewer: { role: 'viewer', district: '渝中区', school: 'yz-bashu' },
} as const satisfies Record<string, { role: Role; district: string | null; school: string | null }>;
export type PrincipalName = keyof typeof PRINCIPALS;

export interface ApiReply<T = unknown> {
  status: number;
  body: T;
  headers: Headers;
  text: string;
}

export interface ApiRig {
  hub: Hub;
  registry: Registry;
  /** http://127.0.0.1:<port>/api/v1 */
  base: string;
  tokens: Record<PrincipalName | 'expired' | 'revoked', string>;
  /** A request as `who` (a principal's name, a raw token, or null for none); JSON in and out. */
  call<T = unknown>(who: PrincipalName | 'expired' | 'revoked' | { token: string } | null, method: string, path: string, body?: unknown, headers?: Record<string, string>): Promise<ApiReply<T>>;
  stop(): Promise<void>;
}

export async function startApiRig(influxUrl: string, database: string, opts: { fleet?: Fleet; hub?: Partial<HubConfig>; /** A file instead of memory (a test that reads the database itself). */ registryPath?: string; /** The hub's clock (sessions' expiry). */ now?: () => number } = {}): Promise<ApiRig> {
  const registry = new Registry(opts.registryPath ?? ':memory:');
  await provisionFleet(registry, opts.fleet ?? API_FLEET, gatewayPassword, 'system:test', TEST_SCRYPT);
  const now = Date.now();
  const tokens = {} as ApiRig['tokens'];
  for (const [name, p] of Object.entries(PRINCIPALS)) {
    tokens[name as PrincipalName] = createUserWithToken(registry, { id: `u-${name}`, role: p.role, district: p.district, school: p.school }, { name: 'test', ttlMs: 3_600_000 }, now).token;
  }
  // Both are the Bashu school IT user's: the user is fine, the tokens are not.
  tokens.expired = issueToken(registry, 'u-bashuIt', { name: 'expired', ttlMs: 1 }, now - 10_000).token;
  const revoked = issueToken(registry, 'u-bashuIt', { name: 'revoked', ttlMs: null }, now);
  registry.revokeToken(revoked.row.id, now);
  tokens.revoked = revoked.token;

  const hub = createHub(hubConfig(influxUrl, database, opts.hub), { log: silentLogger(), registry, ...(opts.now ? { now: opts.now } : {}) });
  await hub.start();
  const base = `http://127.0.0.1:${hub.httpPort}/api/v1`;
  return {
    hub,
    registry,
    base,
    tokens,
    async call(who, method, path, body, headers = {}) {
      const token = who === null ? undefined : typeof who === 'string' ? tokens[who] : who.token;
      const res = await fetch(`${base}${path}`, {
        method,
        headers: {
          ...(token ? { authorization: `Bearer ${token}` } : {}),
          ...(body !== undefined && !(body instanceof Uint8Array) ? { 'content-type': 'application/json' } : {}),
          ...headers,
        },
        ...(body === undefined ? {} : { body: body instanceof Uint8Array ? body : JSON.stringify(body) }),
      });
      const text = await res.text();
      let parsed: unknown = text;
      if ((res.headers.get('content-type') ?? '').includes('application/json')) parsed = JSON.parse(text);
      return { status: res.status, body: parsed as never, headers: res.headers, text };
    },
    async stop() {
      await hub.stop();
      registry.close();
    },
  };
}
