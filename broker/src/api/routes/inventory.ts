import { z } from 'zod';
import { authorize } from '../../auth/authorize.ts';
import { HubErrorCode } from '../../errors.ts';
import { checkInventoryAgainst, formatInventory, parseInventory, type InventoryLookup, type InventoryRow } from '../../inventoryCsv.ts';
import type { Device, Registry } from '../../registry.ts';
import { ApiError, forbidden } from '../apiError.ts';
import { auditOf } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { errorBodySchema, route, type RouteTable } from '../route.ts';
import { districtIdSchema, schoolIdSchema } from '../schemas.ts';
import { schoolScope, scopedFilter } from '../scope.ts';

/**
 * A school's inventory CSV (broker/README.md, Inventory CSV): an import changes nothing unless
 * every row is valid, and then writes all of them in one transaction; an export is the same
 * columns, so that exporting and importing again changes nothing.
 */
const csvBody = z.custom<Buffer>((v) => Buffer.isBuffer(v), { message: 'a CSV file' }).meta({ type: 'string', format: 'binary', description: 'The inventory CSV: UTF-8 (with or without BOM), GB18030/GBK or UTF-16 with BOM' } as never);

const importReply = z
  .object({
    dryRun: z.boolean(),
    encoding: z.string(),
    created: z.number().int(),
    updated: z.number().int(),
    unchanged: z.number().int(),
    rows: z.number().int(),
  })
  .meta({ id: 'InventoryImport' });

type Plan = 'created' | 'updated' | 'unchanged';
const FIELDS = ['room', 'kind', 'model', 'vendor', 'serial', 'linkRole', 'capacityBps'] as const;

function planOf(row: InventoryRow, cur: Device | undefined): Plan {
  if (!cur) return 'created';
  return FIELDS.every((f) => cur[f] === row[f]) ? 'unchanged' : 'updated';
}

function apply(reg: Registry, row: InventoryRow, cur: Device | undefined, at: number): void {
  const fields = { room: row.room, model: row.model, vendor: row.vendor, serial: row.serial, linkRole: row.linkRole, capacityBps: row.capacityBps };
  if (!cur) {
    reg.createDevice({ id: row.id, school: row.school, kind: row.kind, ...fields }, at);
    return;
  }
  // A kind is changed only through the upsert (the link rule follows the kind).
  if (cur.kind !== row.kind) reg.upsertDevice({ id: row.id, school: row.school, room: row.room, kind: row.kind, link: row.linkRole === null || row.capacityBps === null ? null : { role: row.linkRole, capacityBps: row.capacityBps } }, at);
  reg.updateDevice(row.id, fields);
}

export function inventoryRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'post',
    path: '/inventory/import',
    summary: 'Import an inventory CSV: every row valid, or nothing imported (422 with each bad row)',
    tag: 'inventory',
    query: z.object({ dryRun: z.enum(['true', 'false']).optional().transform((v) => v === 'true').meta({ description: 'true: check and count, change nothing' }) }),
    body: csvBody,
    bodyMediaType: 'text/csv',
    responses: {
      200: { description: 'Imported (or, with dryRun, what an import would do)', schema: importReply },
      422: { description: 'Rows that are not valid (details.errors: line, column, code, reason); nothing imported', schema: errorBodySchema },
    },
    handler: (ctx) => {
      const reg = deps.registry();
      const p = ctx.principal;
      const dryRun = ctx.query.dryRun;
      const parsed = parseInventory(ctx.body);
      const lookup: InventoryLookup = {
        // Not there, not visible, or not the caller's to change: one answer, so existence does not leak.
        schoolVisible: (id) => {
          const s = reg.getSchool(id);
          return s !== undefined && authorize(p, 'device.write', schoolScope(s)) === 'allow';
        },
        roomExists: (school, room) => reg.getRoom(school, room) !== undefined,
        deviceHeldBy: (id) => {
          const d = reg.getDeviceRecord(id);
          return d && { school: d.school, retired: d.retiredAt !== null };
        },
      };
      const audit = auditOf(deps, p);
      // A school the caller sees but may not change: the request is refused (403), not the row,
      // which would tell a reader the school does not exist.
      const readOnly = [...new Set(parsed.rows.map((r) => r.school))].filter((id) => {
        const s = reg.getSchool(id);
        return s !== undefined && authorize(p, 'device.write', schoolScope(s)) === 'forbidden';
      });
      if (readOnly.length > 0) {
        const message = `${p.role} ${p.user} may not change the devices of school ${readOnly.join(', ')}`;
        if (!dryRun) audit.write({ action: 'inventory.import', target: 'inventory', district: p.district, school: p.school, detail: `${message}; nothing imported` }, 'forbidden');
        throw forbidden(message);
      }
      const errors = [...parsed.errors, ...checkInventoryAgainst(parsed.rows, lookup)].sort((a, b) => a.line - b.line);
      const encoding = parsed.encoding ?? 'unknown';
      if (errors.length > 0) {
        if (!dryRun) audit.write({ action: 'inventory.import', target: 'inventory', district: p.district, school: p.school, detail: `${errors.length} errors, nothing imported` }, 'invalid');
        throw new ApiError(422, HubErrorCode.INVENTORY_INVALID, `${errors.length} errors in the inventory; nothing was imported`, { errors, encoding });
      }
      const plans = parsed.rows.map((row) => {
        const cur = reg.getDeviceRecord(row.id);
        return { row, cur, plan: planOf(row, cur) };
      });
      const count = (k: Plan) => plans.filter((x) => x.plan === k).length;
      if (!dryRun) {
        const at = deps.now();
        reg.transaction(() => {
          for (const x of plans) if (x.plan !== 'unchanged') apply(reg, x.row, x.cur, at);
        });
        const bySchool = new Map<string, typeof plans>();
        for (const x of plans) bySchool.set(x.row.school, [...(bySchool.get(x.row.school) ?? []), x]);
        for (const [school, xs] of bySchool) {
          const n = (k: Plan) => xs.filter((x) => x.plan === k).length;
          if (n('created') + n('updated') === 0) continue;
          audit.write({ action: 'inventory.import', target: `school:${school}`, school, detail: `created ${n('created')}, updated ${n('updated')}, unchanged ${n('unchanged')} (${encoding})` }, 'ok');
        }
      }
      return { status: 200, body: { dryRun, encoding, created: count('created'), updated: count('updated'), unchanged: count('unchanged'), rows: plans.length } };
    },
  });

  route(table, {
    method: 'get',
    path: '/inventory/export',
    summary: 'The inventory CSV of a school, a district or the caller\'s whole scope (UTF-8 with BOM)',
    tag: 'inventory',
    query: z.object({ district: districtIdSchema.optional(), school: schoolIdSchema.optional() }),
    responses: { 200: { description: 'The inventory CSV', schema: z.string(), mediaType: 'text/csv' } },
    handler: (ctx) => {
      const reg = deps.registry();
      const f = scopedFilter(ctx, reg, ctx.query);
      const devices: Device[] = [];
      let cursor: string | undefined;
      do {
        const page = reg.listDevices({ ...f, limit: 1000, cursor });
        devices.push(...page.items);
        cursor = page.nextCursor ?? undefined;
      } while (cursor !== undefined);
      const rows = devices.map((d) => ({ school: d.school, room: d.room, id: d.id, kind: d.kind, model: d.model, vendor: d.vendor, serial: d.serial, linkRole: d.linkRole, capacityBps: d.capacityBps }));
      return { status: 200, body: formatInventory(rows), contentType: 'text/csv; charset=utf-8' };
    },
  });
}
