import { z } from 'zod';
import { deviceIdSchema } from '../../../../protocol/src/ids.ts';
import { deviceKindSchema, linkRoleSchema, type DeviceKind } from '../../../../protocol/src/kinds.ts';
import { snmpTargetSchema, snmpTargetView } from '../../../../protocol/src/snmp.ts';
import { as, fieldOf, from, tagIs } from '../../../../storage/src/influxql.ts';
import { SCHEMA } from '../../../../storage/src/schema.ts';
import { authorize } from '../../auth/authorize.ts';
import { HubErrorCode, RegistryConflictError } from '../../errors.ts';
import type { Device, Registry } from '../../registry.ts';
import { ApiError, badRequest } from '../apiError.ts';
import { auditOf } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { deviceDetailSchema, deviceIdParam, deviceSchema, deviceStatusSchema, liveStateSchema } from '../fleetSchemas.ts';
import { deviceIn, fromStorage, liveStates, refusalAudited, withLive } from '../fleetState.ts';
import { pageOf, pageQuery, route, type RouteTable } from '../route.ts';
import { capacityBpsSchema, districtIdSchema, roomIdSchema, schoolIdSchema } from '../schemas.ts';
import { defined, schoolIn, scopedFilter } from '../scope.ts';
import { commandRoutes } from './commands.ts';
import { eventRoutes } from './events.ts';
import { gatewayRoutes } from './gateways.ts';
import { statusRoutes } from './status.ts';

/** Devices, gateways and their credentials, commands, fleet status and figures, the event stream. */
export function fleetRoutes(table: RouteTable, deps: ApiDeps): void {
  deviceRoutes(table, deps);
  commandRoutes(table, deps);
  gatewayRoutes(table, deps);
  statusRoutes(table, deps);
  eventRoutes(table, deps);
}

const deviceParams = z.object({ device: deviceIdParam });
/** Write-only secrets: a response shows `{ set: true }` in their place (fleetSchemas.ts). */
const snmpBody = snmpTargetSchema.meta({ id: 'SnmpTarget', description: 'How the school\'s gateway polls this network node; community, authKey and privKey may be `env:NAME` (read from the gateway\'s GW_SNMP_SECRET_* variables)' });
const text = z.string().max(200);
/** A `state` filter scans at most this many registry rows for one request. */
export const STATE_SCAN_ROWS = 5_000;

/** The device's newest telemetry point, from its kind's measurement (storage/README.md). */
async function lastTelemetry(deps: ApiDeps, d: Pick<Device, 'id' | 'kind'>): Promise<{ ts: number; data: Record<string, unknown> } | null> {
  const kind: DeviceKind = d.kind;
  const fields = Object.keys(SCHEMA[kind].fields) as Array<keyof (typeof SCHEMA)[typeof kind]['fields'] & string>;
  const q = from(kind)
    .select(...fields.map((f) => as(fieldOf(kind, f as never), f)))
    .where(tagIs(kind, 'device', d.id))
    .newestFirst()
    .limit(1)
    .build();
  const [row] = await fromStorage(() => deps.admin.query(q));
  if (!row) return null;
  const { time, ...rest } = row;
  const data = Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== null && v !== undefined));
  return { ts: time instanceof Date ? time.getTime() : Number(time), data };
}

/** Whether a device has a past to keep: a point in InfluxDB, a command, or a state its gateway reported. */
async function hasHistory(deps: ApiDeps, d: Device): Promise<boolean> {
  if (deps.registry().listCommands({ device: d.id, limit: 1 }).items.length > 0) return true;
  if (liveStates(deps.presence).has(d.id)) return true;
  if ((await lastTelemetry(deps, d)) !== null) return true;
  const q = from('availability').select(as(fieldOf('availability', 'up'), 'up')).where(tagIs('availability', 'device', d.id)).limit(1).build();
  return (await fromStorage(() => deps.admin.query(q))).length > 0;
}

export const DEVICE_SORT_KEYS = ['id', 'kind', 'room', 'school', 'state', 'since'] as const;
/** Matches a sorted listing orders in memory: beyond, the caller narrows the filter. */
export const SORT_MAX_ROWS = 50_000;

/**
 * One page of the whole matching list in another order than the registry's (the live state and
 * its time are not in the registry): every match read, ordered (ties by id), and paged by
 * position. A cursor is the position of the page's first item (`o<n>`); the list may change
 * between pages, as any list read live does.
 */
function sortedPage(
  reg: Registry,
  f: Omit<Parameters<Registry['listDevices']>[0], 'limit' | 'cursor'>,
  live: ReturnType<typeof liveStates>,
  o: { state: string | undefined; sort: (typeof DEVICE_SORT_KEYS)[number]; order: 'asc' | 'desc'; limit: number; cursor: string | undefined },
): { items: ReturnType<typeof withLive>[]; nextCursor: string | null } {
  const at = o.cursor === undefined ? 0 : /^o(\d{1,9})$/.exec(o.cursor)?.[1];
  if (at === undefined) throw badRequest('not a cursor of a sorted device list', { issues: [{ in: 'query', path: 'cursor', message: 'a nextCursor of the same sorted listing' }] });
  const all: ReturnType<typeof withLive>[] = [];
  let next: string | undefined;
  do {
    const page = reg.listDevices({ ...f, limit: 1000, cursor: next });
    for (const d of page.items) {
      const s = withLive(d, live);
      if (o.state === undefined || s.state === o.state) all.push(s);
    }
    if (all.length > SORT_MAX_ROWS) throw badRequest(`more than ${SORT_MAX_ROWS} devices match: narrow the filter (district, school, kind, room, state) to sort them`, { issues: [{ in: 'query', path: 'sort', message: 'too many matches to sort' }] });
    next = page.nextCursor ?? undefined;
  } while (next !== undefined);
  const key = (d: ReturnType<typeof withLive>): string | number => (o.sort === 'since' ? (d.since ?? -1) : d[o.sort]);
  const dir = o.order === 'asc' ? 1 : -1;
  all.sort((a, b) => {
    const x = key(a);
    const y = key(b);
    return (x < y ? -1 : x > y ? 1 : a.id < b.id ? -1 : a.id > b.id ? 1 : 0) * dir;
  });
  const start = Number(at);
  const items = all.slice(start, start + o.limit);
  return { items, nextCursor: start + o.limit < all.length ? `o${start + o.limit}` : null };
}

function deviceRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'get',
    path: '/devices',
    summary: 'Devices in the caller\'s scope, with their live state',
    tag: 'devices',
    query: pageQuery.extend({
      district: districtIdSchema.optional(),
      school: schoolIdSchema.optional(),
      kind: deviceKindSchema.optional(),
      room: roomIdSchema.optional(),
      state: liveStateSchema.optional(),
      q: z.string().min(1).max(200).optional().meta({ description: 'Case-insensitive substring of the id, model, vendor or serial' }),
      includeRetired: z.enum(['true', 'false']).optional().transform((v) => v === 'true'),
      sort: z.enum(DEVICE_SORT_KEYS).default('id').meta({ description: 'The order of the whole list (ties by id); other than id ascending, at most 50,000 matches' }),
      order: z.enum(['asc', 'desc']).default('asc'),
    }),
    responses: { 200: { description: 'A page of devices', schema: pageOf(deviceStatusSchema, 'DeviceStatusPage') } },
    handler: (ctx) => {
      const reg = deps.registry();
      const { limit, cursor, state, kind, room, q, includeRetired, sort, order } = ctx.query;
      const f = { ...scopedFilter(ctx, reg, ctx.query), kind, room, q, includeRetired };
      const live = liveStates(deps.presence);
      if (sort !== 'id' || order !== 'asc') return { status: 200, body: sortedPage(reg, f, live, { state, sort, order, limit, cursor }) };
      if (state === undefined) {
        const page = reg.listDevices({ ...f, limit, cursor });
        return { status: 200, body: { items: page.items.map((d) => withLive(d, live)), nextCursor: page.nextCursor } };
      }
      // At most STATE_SCAN_ROWS registry rows per request: a page may hold fewer items than
      // `limit` (none, even) with a nextCursor to go on from. When a registry page holds more
      // matches than are missing, the rows up to the last one taken are read again for their cursor.
      const items: ReturnType<typeof withLive>[] = [];
      let next: string | null | undefined = cursor;
      let budget = STATE_SCAN_ROWS;
      do {
        const page = reg.listDevices({ ...f, limit: Math.min(1000, budget), cursor: next ?? undefined });
        let cut = page.items.length - 1;
        for (let i = 0; i < page.items.length; i++) {
          const s = withLive(page.items[i]!, live);
          if (s.state !== state) continue;
          items.push(s);
          if (items.length === limit) {
            cut = i;
            break;
          }
        }
        next = cut < page.items.length - 1 ? reg.listDevices({ ...f, limit: cut + 1, cursor: next ?? undefined }).nextCursor : page.nextCursor;
        budget -= cut + 1;
      } while (next !== null && items.length < limit && budget > 0);
      return { status: 200, body: { items, nextCursor: next ?? null } };
    },
  });

  route(table, {
    method: 'post',
    path: '/devices',
    summary: 'Register a device in a room of a school',
    tag: 'devices',
    body: z.strictObject({
      id: deviceIdSchema,
      school: schoolIdSchema,
      room: roomIdSchema,
      kind: deviceKindSchema,
      model: text.optional(),
      vendor: text.optional(),
      serial: text.optional(),
      linkRole: linkRoleSchema.nullable().optional(),
      capacityBps: capacityBpsSchema.nullable().optional(),
      snmp: snmpBody.optional(),
    }),
    responses: { 201: { description: 'Registered', schema: deviceSchema } },
    handler: (ctx) => {
      const b = ctx.body;
      const reg = deps.registry();
      const d = auditOf(deps, ctx.principal).run({ action: 'device.create', target: `device:${b.id}`, school: b.school }, () => {
        const s = schoolIn(ctx, reg, b.school);
        ctx.allow('device.write', { district: s.district, school: s.id }, `school ${s.id}`);
        try {
          return reg.createDevice({ id: b.id, school: b.school, room: b.room, kind: b.kind, model: b.model ?? '', vendor: b.vendor ?? '', serial: b.serial ?? '', linkRole: b.linkRole ?? null, capacityBps: b.capacityBps ?? null, snmp: b.snmp ?? null }, deps.now());
        } catch (e) {
          if (!(e instanceof RegistryConflictError)) throw e;
          // A retired id of another school is that school's, like a live one (and its retirement
          // is not told to who may not see the school), as the inventory import says it.
          const holder = e.reason === 'retired' ? reg.getDeviceRecord(b.id)?.school : e.heldBy;
          if (e.reason === 'held_by_other_school' || (holder !== undefined && holder !== b.school)) throw heldElsewhere(ctx.principal, b.id, holder, reg.getSchool(holder ?? '')?.district);
          throw e;
        }
      });
      return { status: 201, body: d };
    },
  });

  route(table, {
    method: 'get',
    path: '/devices/{device}',
    summary: 'One device: its record, live state and newest telemetry',
    tag: 'devices',
    params: deviceParams,
    responses: { 200: { description: 'The device', schema: deviceDetailSchema } },
    handler: async (ctx) => {
      const d = deviceIn(ctx, deps.registry(), ctx.params.device);
      const status = withLive(d, liveStates(deps.presence));
      return { status: 200, body: { ...status, lastTelemetry: await lastTelemetry(deps, d) } };
    },
  });

  route(table, {
    method: 'patch',
    path: '/devices/{device}',
    summary: 'Change a device\'s room, model, vendor, serial, link or SNMP target',
    tag: 'devices',
    params: deviceParams,
    body: z.strictObject({
      room: roomIdSchema.optional(),
      model: text.optional(),
      vendor: text.optional(),
      serial: text.optional(),
      linkRole: linkRoleSchema.nullable().optional(),
      capacityBps: capacityBpsSchema.nullable().optional(),
      snmp: snmpBody.nullable().optional().meta({ description: 'The whole target, its secrets included; null removes it' }),
    }),
    responses: { 200: { description: 'The device as changed', schema: deviceSchema } },
    handler: (ctx) => {
      const id = ctx.params.device;
      const reg = deps.registry();
      const cur = reg.getDeviceRecord(id);
      // The audit log keeps what changed, never a secret: the target as the API shows it.
      const { snmp, ...fields } = ctx.body;
      const detail = JSON.stringify({ ...fields, ...(snmp !== undefined ? { snmp: snmp && snmpTargetView(snmp) } : {}) });
      const d = auditOf(deps, ctx.principal).run({ action: 'device.update', target: `device:${id}`, school: cur?.school, detail }, () => {
        const dev = deviceIn(ctx, reg, id);
        ctx.allow('device.write', { district: dev.district, school: dev.school }, `device ${id}`);
        return reg.updateDevice(id, defined(ctx.body))!;
      });
      return { status: 200, body: d };
    },
  });

  route(table, {
    method: 'delete',
    path: '/devices/{device}',
    summary: 'Retire a device with history (kept, its telemetry refused), or erase one without',
    tag: 'devices',
    params: deviceParams,
    responses: {
      200: { description: 'Retired: it has history', schema: z.object({ retired: z.literal(true), device: deviceSchema }).meta({ id: 'Retired' }) },
      204: { description: 'Erased: it had no history' },
    },
    handler: async (ctx) => {
      const id = ctx.params.device;
      const reg = deps.registry();
      const auditor = auditOf(deps, ctx.principal);
      const cur = reg.getDeviceRecord(id);
      const change = { action: 'device.delete', target: `device:${id}`, school: cur?.school };
      const writable = (): Device => {
        const d = deviceIn(ctx, reg, id);
        ctx.allow('device.write', { district: d.district, school: d.school }, `device ${id}`);
        return d;
      };
      const dev = refusalAudited(auditor, change, writable);
      // Asked before the change (InfluxDB may be slow); the change itself is synchronous, and
      // checked again, as the device may have moved out of the caller's reach meanwhile.
      const keep = dev.retiredAt !== null || (await hasHistory(deps, dev));
      const after = { ...change, school: reg.getDeviceRecord(id)?.school };
      if (!keep) {
        auditor.run({ ...after, action: 'device.erase' }, () => (writable(), reg.deleteDevice(id)));
        return { status: 204 };
      }
      const retired = auditor.run({ ...after, action: 'device.retire' }, () => (writable(), reg.retireDevice(id, deps.now())!));
      return { status: 200, body: { retired: true, device: retired } };
    },
  });

  route(table, {
    method: 'post',
    path: '/devices/{device}/move',
    summary: 'Move a device to a room of another (or the same) school: the caller must be able to change both',
    tag: 'devices',
    params: deviceParams,
    body: z.strictObject({ school: schoolIdSchema, room: roomIdSchema }),
    responses: { 200: { description: 'The device where it now is', schema: deviceSchema } },
    handler: (ctx) => {
      const id = ctx.params.device;
      const reg = deps.registry();
      const cur = reg.getDeviceRecord(id);
      const to = ctx.body;
      const detail = `from ${cur ? `${cur.school}/${cur.room}` : '?'} to ${to.school}/${to.room}`;
      const auditor = auditOf(deps, ctx.principal);
      const d = auditor.run({ action: 'device.move', target: `device:${id}`, school: cur?.school, detail }, () => {
        const dev = deviceIn(ctx, reg, id);
        ctx.allow('device.write', { district: dev.district, school: dev.school }, `device ${id}`);
        const s = schoolIn(ctx, reg, to.school);
        ctx.allow('device.write', { district: s.district, school: s.id }, `school ${s.id}`);
        return reg.moveDevice(id, to)!;
      });
      // The destination's readers see the device arrive: one entry per school.
      if (cur && cur.school !== d.school) auditor.write({ action: 'device.move', target: `device:${id}`, school: d.school, detail }, 'ok');
      return { status: 200, body: d };
    },
  });
}

/** 409 held_by_other_school, naming the holder only to a caller who may see it. */
function heldElsewhere(p: Parameters<typeof authorize>[0], id: string, heldBy: string | undefined, holderDistrict: string | undefined): ApiError {
  const visible = heldBy !== undefined && holderDistrict !== undefined && authorize(p, 'read', { district: holderDistrict, school: heldBy }) === 'allow';
  return new ApiError(
    409,
    HubErrorCode.REGISTRY_CONFLICT,
    `device ${JSON.stringify(id)} is held by ${visible ? `school ${JSON.stringify(heldBy)}` : 'another school'}; device ids are city-wide`,
    { entity: 'device', id, reason: 'held_by_other_school', ...(visible ? { heldBy } : {}) },
  );
}
