import type { Presence } from '../presence.ts';
import type { Device, Gateway, Registry } from '../registry.ts';
import { toError } from '../../../runtime/src/errors.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import { ApiError } from './apiError.ts';
import { outcomeOf, type Auditor, type Change } from './audit.ts';
import type { ApiDeps } from './deps.ts';
import { visible, type Ctx } from './scope.ts';

/**
 * What the fleet routes share: a device's and a gateway's live state, and lookups that answer
 * 404 alike for a record that does not exist and one outside the caller's scope.
 */

export type LiveState = 'up' | 'down' | 'off' | 'unknown';
export interface Live {
  state: LiveState;
  since: number | null;
  gateway: string | null;
}
export type DeviceStatus = Device & Live;

const NEVER: Live = { state: 'unknown', since: null, gateway: null };

/** Every device some gateway has reported, with its state now (`unknown` while its gateway is offline). */
export function liveStates(presence: Presence): Map<string, Live> {
  const out = new Map<string, Live>();
  for (const g of presence.list()) for (const d of presence.devicesOf(g.gateway)) out.set(d.device, { state: d.state, since: d.since, gateway: g.gateway });
  return out;
}

export const withLive = (d: Device, live: Map<string, Live>): DeviceStatus => ({ ...d, ...(live.get(d.id) ?? NEVER) });

const inItsSchool = (r: { district: string; school: string }) => ({ district: r.district, school: r.school });

export const deviceIn = (ctx: Ctx, reg: Registry, id: string): Device => visible(ctx, `device ${id}`, reg.getDeviceRecord(id), inItsSchool);

export const gatewayIn = (ctx: Ctx, reg: Registry, id: string): Gateway => visible(ctx, `gateway ${id}`, reg.getGatewayRecord(id), inItsSchool);

export function gatewayStatus(g: Gateway, deps: Pick<ApiDeps, 'presence' | 'sessions' | 'health'>) {
  const p = deps.presence.get(g.id);
  return {
    ...g,
    connection: deps.sessions.isLive(g.id) ? ('online' as const) : p ? ('offline' as const) : ('never' as const),
    bdSeq: p?.bdSeq ?? null,
    health: deps.health.last(g.id) ?? null,
  };
}

/**
 * The checks before a change that a feature audits itself (commands, credentials): a refusal
 * is written here with its outcome and rethrown; on success nothing is written.
 */
export function refusalAudited<T>(auditor: Auditor, c: Change, check: () => T): T {
  try {
    return check();
  } catch (e) {
    auditor.write({ ...c, detail: [c.detail, toError(e).message].filter(Boolean).join(': ') }, outcomeOf(e));
    throw e;
  }
}

/** The storage is needed to answer: its outage is a 503, never a guess. */
export async function fromStorage<T>(fn: () => Promise<T>): Promise<T> {
  try {
    return await fn();
  } catch (e) {
    // InfluxDB's own text names the database and the query: logged (as the cause), not answered.
    if (e instanceof HubError && e.code === HubErrorCode.INFLUX_UNAVAILABLE) throw new ApiError(503, HubErrorCode.UNAVAILABLE, 'InfluxDB is not available', {}, { cause: e });
    throw e;
  }
}
