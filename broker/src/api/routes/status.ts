import { z } from 'zod';
import { availabilityFigures, availabilityTotals, bandwidth, deviceMinutes, DISTRICT_UPLINK_BPS, filterConds, stateRuns, type TimeRange } from '../../../../storage/src/queries.ts';
import { authorize } from '../../auth/authorize.ts';
import type { Registry } from '../../registry.ts';
import { badRequest } from '../apiError.ts';
import type { ApiDeps } from '../deps.ts';
import { deviceIdParam, fleetStatusSchema, LIVE_STATES } from '../fleetSchemas.ts';
import { deviceIn, fromStorage, gatewayStatus, liveStates, withLive, type LiveState } from '../fleetState.ts';
import { route, type RouteTable } from '../route.ts';
import { districtIdSchema, schoolIdSchema } from '../schemas.ts';
import { scopedFilter } from '../scope.ts';

const DAY_MS = 86_400_000;
/** Registry pages read for one status answer (a city has tens of thousands of devices, not millions). */
const PAGE = 1000;

const scopeQuery = z.object({ district: districtIdSchema.optional(), school: schoolIdSchema.optional() });
/**
 * ISO 8601 as `Date.parse` reads it exactly: a date (UTC midnight), or a date and time with its
 * zone (`Z` or `±hh:mm`: without one it would be read in the hub's own time zone).
 */
const ISO_8601 = /^(\d{4})-(\d{2})-(\d{2})(?:T(\d{2}):(\d{2})(?::(\d{2})(?:\.\d{1,3})?)?(?:Z|[+-](\d{2}):(\d{2})))?$/;

/** A time of `ISO_8601` that names a real calendar instant (no 30 February, no 24:00); NaN otherwise. */
function isoInstant(v: string): number {
  const m = ISO_8601.exec(v);
  if (!m) return NaN;
  const [y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0] = m.slice(1).map((x) => (x === undefined ? undefined : Number(x))) as number[];
  const daysInMonth = new Date(Date.UTC(y!, mo!, 0)).getUTCDate();
  if (mo! < 1 || mo! > 12 || d! < 1 || d! > daysInMonth || h > 23 || mi > 59 || sec > 59 || oh > 23 || om > 59) return NaN;
  return Date.parse(v);
}
/** The range figures are asked for: nothing before the city had devices, nothing far ahead, at most 400 days. */
const EARLIEST_MS = Date.UTC(2000, 0, 1);
const AHEAD_MS = DAY_MS;
const MAX_SPAN_MS = 400 * DAY_MS;
const instant = z
  .string()
  .min(1)
  .max(40)
  .transform((v, ctx) => {
    const n = /^\d{1,15}$/.test(v) ? Number(v) : isoInstant(v);
    if (!Number.isFinite(n)) {
      ctx.addIssue({ code: 'custom', message: 'an ISO 8601 time or Unix ms' });
      return z.NEVER;
    }
    return n;
  })
  .optional();
const rangeQuery = scopeQuery.extend({ from: instant.meta({ description: 'ISO 8601 or Unix ms; 24 h before `to` by default' }), to: instant.meta({ description: 'ISO 8601 or Unix ms; now by default' }) });

const DEVICE_HISTORY_MAX_MS = 7 * DAY_MS;
const deviceAvailabilitySchema = z
  .object({
    device: z.string(),
    from: z.number(),
    to: z.number(),
    availability: z.number().nullable(),
    coverage: z.number(),
    upMinutes: z.number(),
    expectedMinutes: z.number(),
    observedMinutes: z.number(),
    runs: z.array(z.object({ from: z.number(), to: z.number(), state: z.enum(['up', 'down', 'off', 'unknown']) })),
  })
  .meta({ id: 'DeviceAvailability' });

/** Every page of a registry list, for a summary over the caller's scope. */
function all<T>(list: (cursor: string | undefined) => { items: T[]; nextCursor: string | null }): T[] {
  const out: T[] = [];
  let cursor: string | undefined;
  do {
    const p = list(cursor);
    out.push(...p.items);
    cursor = p.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return out;
}

const zeroStates = (): Record<LiveState, number> => Object.fromEntries(LIVE_STATES.map((s) => [s, 0])) as Record<LiveState, number>;

function rangeOf(q: { from?: number | undefined; to?: number | undefined }, now: number): TimeRange {
  const toMs = q.to ?? now;
  const fromMs = q.from ?? toMs - DAY_MS;
  for (const [k, v] of [['from', fromMs], ['to', toMs]] as const) {
    if (v < EARLIEST_MS || v > now + AHEAD_MS) throw badRequest(`\`${k}\` must lie between 2000-01-01 and a day from now`, { issues: [{ in: 'query', path: k, message: 'out of range' }] });
  }
  if (fromMs >= toMs) throw badRequest('`from` must be before `to`', { from: fromMs, to: toMs });
  if (toMs - fromMs > MAX_SPAN_MS) throw badRequest('the range spans more than 400 days', { from: fromMs, to: toMs });
  return { fromMs, toMs };
}


const schoolsOf = (reg: Registry, f: { district?: string; school?: string }) =>
  f.school !== undefined ? [reg.getSchool(f.school)!] : all((cursor) => reg.listSchools({ district: f.district, limit: PAGE, cursor }));

/** Presence, fleet status and the availability and bandwidth figures, narrowed to the caller's scope. */
export function statusRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'get',
    path: '/presence',
    summary: 'The presence document of each gateway in the caller\'s scope (as the retained presence/v1 topic gives it)',
    tag: 'status',
    responses: { 200: { description: 'Presence documents', schema: z.array(z.looseObject({ district: z.string(), school: z.string(), gateway: z.string() })).meta({ id: 'PresenceDocuments' }) } },
    handler: (ctx) => ({
      status: 200,
      body: deps.presence
        .list()
        .filter((g) => authorize(ctx.principal, 'read', { district: g.district, school: g.school }) === 'allow')
        .map((g) => deps.presence.document(g)),
    }),
  });

  route(table, {
    method: 'get',
    path: '/status',
    summary: 'Devices by state, kind and school; gateways online per school',
    tag: 'status',
    query: scopeQuery,
    responses: { 200: { description: 'The fleet now', schema: fleetStatusSchema } },
    handler: (ctx) => {
      const reg = deps.registry();
      const f = scopedFilter(ctx, reg, ctx.query);
      const live = liveStates(deps.presence);
      const devices = all((cursor) => reg.listDevices({ ...f, limit: PAGE, cursor })).map((d) => withLive(d, live));
      const gateways = all((cursor) => reg.listGateways({ ...f, limit: PAGE, cursor })).map((g) => gatewayStatus(g, deps));
      const byState = zeroStates();
      const byKind: Record<string, number> = {};
      const perSchool = new Map<string, Record<LiveState, number>>();
      for (const d of devices) {
        byState[d.state] += 1;
        byKind[d.kind] = (byKind[d.kind] ?? 0) + 1;
        const s = perSchool.get(d.school) ?? zeroStates();
        s[d.state] += 1;
        perSchool.set(d.school, s);
      }
      const schools = schoolsOf(reg, f).map((s) => ({
        school: s.id,
        district: s.district,
        nameZh: s.nameZh,
        nameEn: s.nameEn,
        devices: perSchool.get(s.id) ?? zeroStates(),
        gatewaysOnline: gateways.filter((g) => g.school === s.id && g.connection === 'online').length,
        gateways: gateways.filter((g) => g.school === s.id).length,
      }));
      return { status: 200, body: { devices: { total: devices.length, byState, byKind }, schools } };
    },
  });

  route(table, {
    method: 'get',
    path: '/figures/availability',
    summary: 'Availability and coverage per school over a range (docs/design.md#availability)',
    tag: 'status',
    query: rangeQuery,
    responses: { 200: { description: 'The figures', schema: z.looseObject({ from: z.number(), to: z.number() }).meta({ id: 'AvailabilityFigures' }) } },
    handler: async (ctx) => {
      const reg = deps.registry();
      const f = scopedFilter(ctx, reg, ctx.query);
      const range = rangeOf(ctx.query, deps.now());
      const rows = await fromStorage(() => deps.admin.query<{ school: string; up: number; expected: number; observed: number }>((t) => availabilityTotals(t, ['school'], filterConds(f)), range));
      const registered = new Map<string, number>();
      for (const c of reg.deviceCounts()) registered.set(c.school, (registered.get(c.school) ?? 0) + c.n);
      const schools = schoolsOf(reg, f).map((s) => {
        const r = rows.find((x) => x.school === s.id) ?? { up: 0, expected: 0, observed: 0 };
        return { school: s.id, district: s.district, ...availabilityFigures(r, registered.get(s.id) ?? 0, range) };
      });
      const sum = (k: 'upMinutes' | 'expectedMinutes' | 'observedMinutes') => schools.reduce((a, s) => a + s[k], 0);
      const total = availabilityFigures(
        { up: sum('upMinutes'), expected: sum('expectedMinutes'), observed: sum('observedMinutes') },
        schools.reduce((a, s) => a + (registered.get(s.school) ?? 0), 0),
        range,
      );
      return { status: 200, body: { from: range.fromMs, to: range.toMs, total, schools } };
    },
  });

  route(table, {
    method: 'get',
    path: '/devices/{device}/availability',
    summary: "One device's availability over a range (at most 7 days): its figures and its states as runs, unknown where nothing observed it",
    tag: 'status',
    params: z.object({ device: deviceIdParam }),
    query: z.object({ from: instant.meta({ description: 'ISO 8601 or Unix ms; 24 h before `to` by default' }), to: instant.meta({ description: 'ISO 8601 or Unix ms; now by default' }) }),
    responses: { 200: { description: 'The figures and the runs', schema: deviceAvailabilitySchema } },
    handler: async (ctx) => {
      const d = deviceIn(ctx, deps.registry(), ctx.params.device);
      const range = rangeOf(ctx.query, deps.now());
      if (range.toMs - range.fromMs > DEVICE_HISTORY_MAX_MS) throw badRequest('a device\'s history covers at most 7 days', { issues: [{ in: 'query', path: 'from', message: 'at most 7 days before `to`' }] });
      const rows = await fromStorage(() => deps.admin.query<{ time: Date; state: string; expected: number; up_expected: number }>((t) => deviceMinutes(t, d.id), range));
      const minutes = rows.map((r) => ({ ts: new Date(r.time).getTime(), state: r.state }));
      const totals = { up: rows.reduce((a, r) => a + r.up_expected, 0), expected: rows.reduce((a, r) => a + r.expected, 0), observed: rows.length };
      return { status: 200, body: { device: d.id, from: range.fromMs, to: range.toMs, ...availabilityFigures(totals, 1, range), runs: stateRuns(minutes, range) } };
    },
  });

  route(table, {
    method: 'get',
    path: '/figures/bandwidth',
    summary: 'Mean uplink bandwidth per school over a range, and per district (the sum of its school uplinks, against the 10 Gbit/s district uplink) for callers who see whole districts (docs/design.md#bandwidth)',
    tag: 'status',
    query: rangeQuery,
    responses: { 200: { description: 'The figures', schema: z.looseObject({ from: z.number(), to: z.number() }).meta({ id: 'BandwidthFigures' }) } },
    handler: async (ctx) => {
      const reg = deps.registry();
      const f = scopedFilter(ctx, reg, ctx.query);
      const range = rangeOf(ctx.query, deps.now());
      const rows = await fromStorage(() => deps.admin.query<{ school: string; in: number | null; out: number | null }>((t) => bandwidth('network_node', t, undefined, 'school', filterConds(f)), range));
      const schools = schoolsOf(reg, f).map((s) => {
        const r = rows.find((x) => x.school === s.id);
        return { school: s.id, district: s.district, uplinkCapacityBps: s.uplinkCapacityBps, inBps: r?.in ?? null, outBps: r?.out ?? null };
      });
      // A district's figure sums every school of it: only for callers who see them all, and
      // only when the question is not about one school.
      const whole = ctx.principal.school === null && f.school === undefined;
      const sums = whole ? await fromStorage(() => deps.admin.query<{ district: string; in: number | null; out: number | null }>((t) => bandwidth('network_node', t, undefined, 'district', filterConds(f)), range)) : [];
      const districts = whole
        ? [...new Set(schoolsOf(reg, f).map((s) => s.district))].sort().map((d) => {
            const r = sums.find((x) => x.district === d);
            const inBps = r?.in ?? null;
            const outBps = r?.out ?? null;
            return { district: d, inBps, outBps, capacityBps: DISTRICT_UPLINK_BPS, utilisationIn: inBps === null ? null : inBps / DISTRICT_UPLINK_BPS, utilisationOut: outBps === null ? null : outBps / DISTRICT_UPLINK_BPS };
          })
        : [];
      return { status: 200, body: { from: range.fromMs, to: range.toMs, schools, districts } };
    },
  });
}
