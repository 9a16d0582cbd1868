import { z } from 'zod';
import { districtCodeSchema } from '../../registryValues.ts';
import type { Registry, School } from '../../registry.ts';
import { auditOf } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { notFound } from '../apiError.ts';
import { pageOf, pageQuery, route, type RouteTable } from '../route.ts';
import { capacityBpsSchema, districtIdSchema, districtSchema, nameSchema, roomIdSchema, roomSchema, schoolIdSchema, schoolSchema, timetableBody } from '../schemas.ts';
import { defined, districtIn, matchesQ, schoolIn, schoolScope } from '../scope.ts';
import { inventoryRoutes } from './inventory.ts';
import { sessionRoutes } from './session.ts';
import { userRoutes } from './users.ts';

/** Districts, schools, timetables, rooms, users and tokens, console sessions, the audit log, inventory CSV. */
export function orgRoutes(table: RouteTable, deps: ApiDeps): void {
  districtRoutes(table, deps);
  schoolRoutes(table, deps);
  roomRoutes(table, deps);
  userRoutes(table, deps);
  sessionRoutes(table, deps);
  inventoryRoutes(table, deps);
}

const qSchema = z.string().min(1).max(200).optional().meta({ description: 'Case-insensitive substring of the id or a name' });
const districtParams = z.object({ district: districtIdSchema });
const schoolParams = z.object({ school: schoolIdSchema });
const roomParams = z.object({ school: schoolIdSchema, room: roomIdSchema });
const deleted = { 204: { description: 'Deleted' } };

function districtRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'get',
    path: '/districts',
    summary: 'Districts in the caller\'s scope',
    tag: 'districts',
    query: pageQuery.extend({ q: qSchema }),
    responses: { 200: { description: 'A page of districts', schema: pageOf(districtSchema, 'DistrictPage') } },
    handler: ({ query, principal }) => {
      const reg = deps.registry();
      if (principal.district === null) return { status: 200, body: reg.listDistricts({ limit: query.limit, cursor: query.cursor, q: query.q }) };
      // A district or school principal sees its own district only: one page of at most one.
      const d = reg.getDistrict(principal.district);
      const items = d && query.cursor === undefined && matchesQ(query.q, [d.id, d.code, d.nameZh, d.nameEn]) ? [d] : [];
      return { status: 200, body: { items, nextCursor: null } };
    },
  });

  route(table, {
    method: 'post',
    path: '/districts',
    summary: 'Create a district (city admin)',
    tag: 'districts',
    body: z.strictObject({ id: districtIdSchema, code: districtCodeSchema.nullable().optional(), nameZh: nameSchema, nameEn: nameSchema }),
    responses: { 201: { description: 'Created', schema: districtSchema } },
    handler: (ctx) => {
      const b = ctx.body;
      const d = auditOf(deps, ctx.principal).run({ action: 'district.create', target: `district:${b.id}`, district: b.id }, () => {
        ctx.allow('district.write', {}, 'districts');
        return deps.registry().createDistrict({ id: b.id, code: b.code ?? null, nameZh: b.nameZh, nameEn: b.nameEn });
      });
      return { status: 201, body: d };
    },
  });

  route(table, {
    method: 'get',
    path: '/districts/{district}',
    summary: 'One district',
    tag: 'districts',
    params: districtParams,
    responses: { 200: { description: 'The district', schema: districtSchema } },
    handler: (ctx) => ({ status: 200, body: districtIn(ctx, deps.registry(), ctx.params.district) }),
  });

  route(table, {
    method: 'patch',
    path: '/districts/{district}',
    summary: 'Change a district\'s code or names (city admin)',
    tag: 'districts',
    params: districtParams,
    body: z.strictObject({ code: districtCodeSchema.nullable().optional(), nameZh: nameSchema.optional(), nameEn: nameSchema.optional() }),
    responses: { 200: { description: 'The district as changed', schema: districtSchema } },
    handler: (ctx) => {
      const id = ctx.params.district;
      const d = auditOf(deps, ctx.principal).run({ action: 'district.update', target: `district:${id}`, district: id }, () => {
        const reg = deps.registry();
        districtIn(ctx, reg, id);
        ctx.allow('district.write', { district: id }, `district ${id}`);
        return reg.updateDistrict(id, defined(ctx.body))!;
      });
      return { status: 200, body: d };
    },
  });

  route(table, {
    method: 'delete',
    path: '/districts/{district}',
    summary: 'Delete a district without schools or users (city admin)',
    tag: 'districts',
    params: districtParams,
    responses: deleted,
    handler: (ctx) => {
      const id = ctx.params.district;
      auditOf(deps, ctx.principal).run({ action: 'district.delete', target: `district:${id}`, district: id }, () => {
        const reg = deps.registry();
        districtIn(ctx, reg, id);
        ctx.allow('district.write', { district: id }, `district ${id}`);
        reg.deleteDistrict(id);
      });
      return { status: 204 };
    },
  });
}

/** A school by id for a change: 404 unless visible, then `action` allowed on it (else 403). */
function schoolFor(ctx: Parameters<typeof schoolIn>[0], reg: Registry, id: string, action: 'school.write' | 'device.write'): School {
  const s = schoolIn(ctx, reg, id);
  ctx.allow(action, schoolScope(s), `school ${id}`);
  return s;
}

function schoolRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'get',
    path: '/schools',
    summary: 'Schools in the caller\'s scope',
    tag: 'schools',
    query: pageQuery.extend({ district: districtIdSchema.optional(), q: qSchema }),
    responses: { 200: { description: 'A page of schools', schema: pageOf(schoolSchema, 'SchoolPage') } },
    handler: (ctx) => {
      const { query, principal } = ctx;
      const reg = deps.registry();
      if (query.district !== undefined) districtIn(ctx, reg, query.district);
      if (principal.school !== null) {
        const s = reg.getSchool(principal.school);
        const ok = s && query.cursor === undefined && (query.district === undefined || query.district === s.district) && matchesQ(query.q, [s.id, s.nameZh, s.nameEn]);
        return { status: 200, body: { items: ok ? [s] : [], nextCursor: null } };
      }
      const district = principal.district ?? query.district;
      return { status: 200, body: reg.listSchools({ limit: query.limit, cursor: query.cursor, q: query.q, district }) };
    },
  });

  route(table, {
    method: 'post',
    path: '/schools',
    summary: 'Create a school, with its rooms (city admin, the district\'s operator)',
    tag: 'schools',
    body: z.strictObject({
      id: schoolIdSchema,
      district: districtIdSchema,
      nameZh: nameSchema,
      nameEn: nameSchema,
      uplinkCapacityBps: capacityBpsSchema.nullable().optional(),
      timetable: timetableBody.nullable().optional(),
      rooms: z.array(z.strictObject({ id: roomIdSchema, name: z.string().max(200).optional() })).max(1000).optional(),
    }),
    responses: { 201: { description: 'Created', schema: schoolSchema } },
    handler: (ctx) => {
      const b = ctx.body;
      const s = auditOf(deps, ctx.principal).run({ action: 'school.create', target: `school:${b.id}`, district: b.district, school: b.id }, () => {
        ctx.allow('school.write', { district: b.district }, `district ${b.district}`);
        const reg = deps.registry();
        return reg.transaction(() => {
          const made = reg.createSchool({ id: b.id, district: b.district, nameZh: b.nameZh, nameEn: b.nameEn, timetable: b.timetable ?? null, uplinkCapacityBps: b.uplinkCapacityBps ?? null }, deps.now());
          for (const r of b.rooms ?? []) reg.createRoom({ school: b.id, id: r.id, name: r.name ?? '' });
          return made;
        });
      });
      return { status: 201, body: s };
    },
  });

  route(table, {
    method: 'get',
    path: '/schools/{school}',
    summary: 'One school',
    tag: 'schools',
    params: schoolParams,
    responses: { 200: { description: 'The school', schema: schoolSchema } },
    handler: (ctx) => ({ status: 200, body: schoolIn(ctx, deps.registry(), ctx.params.school) }),
  });

  route(table, {
    method: 'patch',
    path: '/schools/{school}',
    summary: 'Change a school\'s names or uplink capacity',
    tag: 'schools',
    params: schoolParams,
    body: z.strictObject({ nameZh: nameSchema.optional(), nameEn: nameSchema.optional(), uplinkCapacityBps: capacityBpsSchema.nullable().optional() }),
    responses: { 200: { description: 'The school as changed', schema: schoolSchema } },
    handler: (ctx) => {
      const id = ctx.params.school;
      const reg = deps.registry();
      const s = auditOf(deps, ctx.principal).run({ action: 'school.update', target: `school:${id}`, school: id }, () => {
        schoolFor(ctx, reg, id, 'school.write');
        return reg.updateSchool(id, defined(ctx.body))!;
      });
      return { status: 200, body: s };
    },
  });

  route(table, {
    method: 'delete',
    path: '/schools/{school}',
    summary: 'Delete a school without devices, gateways or users (its rooms go with it)',
    tag: 'schools',
    params: schoolParams,
    responses: deleted,
    handler: (ctx) => {
      const id = ctx.params.school;
      const reg = deps.registry();
      const district = reg.getSchool(id)?.district;
      auditOf(deps, ctx.principal).run({ action: 'school.delete', target: `school:${id}`, district, school: id }, () => {
        schoolFor(ctx, reg, id, 'school.write');
        reg.deleteSchool(id);
      });
      return { status: 204 };
    },
  });

  route(table, {
    method: 'put',
    path: '/schools/{school}/timetable',
    summary: 'Set a school\'s timetable',
    tag: 'schools',
    params: schoolParams,
    body: timetableBody,
    responses: { 200: { description: 'The school with its timetable', schema: schoolSchema } },
    handler: (ctx) => {
      const id = ctx.params.school;
      const reg = deps.registry();
      const s = auditOf(deps, ctx.principal).run({ action: 'school.timetable.set', target: `school:${id}`, school: id, detail: JSON.stringify(ctx.body) }, () => {
        schoolFor(ctx, reg, id, 'school.write');
        return reg.updateSchool(id, { timetable: ctx.body })!;
      });
      return { status: 200, body: s };
    },
  });

  route(table, {
    method: 'delete',
    path: '/schools/{school}/timetable',
    summary: 'Put a school back on the default timetable',
    tag: 'schools',
    params: schoolParams,
    responses: { 200: { description: 'The school, timetable null', schema: schoolSchema } },
    handler: (ctx) => {
      const id = ctx.params.school;
      const reg = deps.registry();
      const s = auditOf(deps, ctx.principal).run({ action: 'school.timetable.clear', target: `school:${id}`, school: id }, () => {
        schoolFor(ctx, reg, id, 'school.write');
        return reg.updateSchool(id, { timetable: null })!;
      });
      return { status: 200, body: s };
    },
  });
}

function roomRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'get',
    path: '/schools/{school}/rooms',
    summary: 'A school\'s rooms',
    tag: 'rooms',
    params: schoolParams,
    responses: { 200: { description: 'Every room of the school', schema: z.object({ items: z.array(roomSchema) }).meta({ id: 'RoomList' }) } },
    handler: (ctx) => {
      const reg = deps.registry();
      const s = schoolIn(ctx, reg, ctx.params.school);
      return { status: 200, body: { items: reg.listRooms(s.id) } };
    },
  });

  route(table, {
    method: 'post',
    path: '/schools/{school}/rooms',
    summary: 'Add a room to a school',
    tag: 'rooms',
    params: schoolParams,
    body: z.strictObject({ id: roomIdSchema, name: z.string().max(200).optional() }),
    responses: { 201: { description: 'Created', schema: roomSchema } },
    handler: (ctx) => {
      const { school } = ctx.params;
      const reg = deps.registry();
      const room = auditOf(deps, ctx.principal).run({ action: 'room.create', target: `room:${school}/${ctx.body.id}`, school }, () => {
        schoolFor(ctx, reg, school, 'device.write');
        return reg.createRoom({ school, id: ctx.body.id, name: ctx.body.name ?? '' });
      });
      return { status: 201, body: room };
    },
  });

  route(table, {
    method: 'patch',
    path: '/schools/{school}/rooms/{room}',
    summary: 'Rename a room',
    tag: 'rooms',
    params: roomParams,
    body: z.strictObject({ name: z.string().max(200) }),
    responses: { 200: { description: 'The room as changed', schema: roomSchema } },
    handler: (ctx) => {
      const { school, room } = ctx.params;
      const reg = deps.registry();
      const r = auditOf(deps, ctx.principal).run({ action: 'room.update', target: `room:${school}/${room}`, school }, () => {
        schoolFor(ctx, reg, school, 'device.write');
        const changed = reg.updateRoom(school, room, { name: ctx.body.name });
        if (!changed) throw notFound(`room ${room} of school ${school}`);
        return changed;
      });
      return { status: 200, body: r };
    },
  });

  route(table, {
    method: 'delete',
    path: '/schools/{school}/rooms/{room}',
    summary: 'Delete a room without devices',
    tag: 'rooms',
    params: roomParams,
    responses: deleted,
    handler: (ctx) => {
      const { school, room } = ctx.params;
      const reg = deps.registry();
      auditOf(deps, ctx.principal).run({ action: 'room.delete', target: `room:${school}/${room}`, school }, () => {
        schoolFor(ctx, reg, school, 'device.write');
        if (!reg.deleteRoom(school, room)) throw notFound(`room ${room} of school ${school}`);
      });
      return { status: 204 };
    },
  });
}
