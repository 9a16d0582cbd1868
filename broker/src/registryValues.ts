import { z } from 'zod';
import { ROLES, type Role } from './auth/authorize.ts';
import { deviceIdSchema, topicIdSchema } from '../../protocol/src/ids.ts';
import { deviceKindSchema, linkRoleSchema } from '../../protocol/src/kinds.ts';
import { snmpTargetSchema, type SnmpTarget } from '../../protocol/src/snmp.ts';
import { timetableSchema } from '../../protocol/src/schedule.ts';
import { RegistryInvalidError } from './errors.ts';

/**
 * The values the registry accepts, checked at its edge whatever the caller (a library call, the
 * API, a CSV import): ids by the protocol's rules, kinds from the product's list. Existence of a
 * referenced district or school is the registry's own check, against the database.
 */
const name = z.string().min(1).max(200);
/** The largest link the product models (a 400G backbone port), as `networkNodeDataSchema`. */
const capacity = z.number().int().positive().max(400e9);
const at = z.number().int().nonnegative();

/** A user id appears in audit actors (`user:<id>`), so it keeps to their characters. */
export const userIdSchema = z.string().regex(/^[A-Za-z0-9._@-]{1,64}$/, 'must be 1–64 letters, digits, ".", "_", "@" or "-"');
export const roleSchema = z.enum(ROLES as [Role, ...Role[]]);

export const districtCodeSchema = z.string().regex(/^[a-z][a-z0-9-]{0,15}$/, 'must be a lower-case letter then up to 15 of a-z, 0-9, -');

export const districtValueSchema = z.object({ id: topicIdSchema, nameEn: name, nameZh: name.optional(), code: districtCodeSchema.nullable().optional() });
export const districtSchema = z.object({ id: topicIdSchema, code: districtCodeSchema.nullable(), nameZh: name, nameEn: name });
export const schoolValueSchema = z.object({ id: topicIdSchema, district: topicIdSchema, name, nameEn: name.optional() });
export const schoolSchema = z.object({
  id: topicIdSchema,
  district: topicIdSchema,
  nameZh: name,
  nameEn: name,
  timetable: timetableSchema.nullable(),
  uplinkCapacityBps: capacity.nullable(),
});
export const gatewayValueSchema = z.object({ id: topicIdSchema, school: topicIdSchema, passwordHash: z.string().min(1) });
/** A room becomes an InfluxDB tag value, so it follows the same rules as a device id. */
export const roomSchema = z.object({ school: topicIdSchema, id: deviceIdSchema, name: z.string().max(200) });
export const deviceValueSchema = z.object({ id: deviceIdSchema, school: topicIdSchema, room: deviceIdSchema, kind: deviceKindSchema });

const linkFields = { linkRole: linkRoleSchema.nullable(), capacityBps: capacity.nullable() };
/** A network node carries its link's role and capacity (the denominators of utilisation); nothing else has one. */
function linkRule(v: { kind: string; linkRole: unknown; capacityBps: unknown }, ctx: z.RefinementCtx, required: boolean): void {
  if (v.kind === 'network_node') {
    if (!required && v.linkRole === null && v.capacityBps === null) return;
    if (v.linkRole === null) ctx.addIssue({ code: 'custom', path: ['linkRole'], message: 'required for a network_node' });
    if (v.capacityBps === null) ctx.addIssue({ code: 'custom', path: ['capacityBps'], message: 'required for a network_node' });
  } else {
    if (v.linkRole !== null) ctx.addIssue({ code: 'custom', path: ['linkRole'], message: `must be null for a ${v.kind}` });
    if (v.capacityBps !== null) ctx.addIssue({ code: 'custom', path: ['capacityBps'], message: `must be null for a ${v.kind}` });
  }
}
const deviceShape = z.object({
  ...deviceValueSchema.shape,
  model: z.string().max(200),
  vendor: z.string().max(200),
  serial: z.string().max(200),
  ...linkFields,
});
/** A device written by the management plane: a network node must name its link. */
export const deviceSchema = deviceShape.superRefine((v, ctx) => linkRule(v, ctx, true));
/** A device written by provisioning: a network node without a link is kept as migration 2 leaves old rows. */
export const provisionedDeviceSchema = deviceShape.superRefine((v, ctx) => linkRule(v, ctx, false));

export const userSchema = z
  .object({
    id: userIdSchema,
    displayName: z.string().max(200),
    role: roleSchema,
    district: topicIdSchema.nullable(),
    school: topicIdSchema.nullable(),
    createdAt: at,
  })
  .superRefine((u, ctx) => {
    const need = (field: 'district' | 'school', present: boolean) => {
      if (present && u[field] === null) ctx.addIssue({ code: 'custom', path: [field], message: `required for a ${u.role}` });
      if (!present && u[field] !== null) ctx.addIssue({ code: 'custom', path: [field], message: `must be null for a ${u.role}` });
    };
    if (u.role === 'city_admin') (need('district', false), need('school', false));
    else if (u.role === 'district_operator') (need('district', true), need('school', false));
    else if (u.role === 'school_it') need('school', true);
  });

export const tokenSchema = z.object({
  id: z.string().min(1).max(128),
  user: userIdSchema,
  name: z.string().max(200),
  secretHash: z.string().min(1),
  createdAt: at,
  expiresAt: at.nullable(),
});

export const COMMAND_STATUSES = ['sent', 'rejected', 'done', 'failed', 'expired', 'no_result'] as const;
export const commandSchema = z.object({
  id: z.string().min(1).max(128),
  device: deviceIdSchema,
  district: topicIdSchema,
  school: topicIdSchema,
  gateway: topicIdSchema,
  action: z.string().min(1).max(64),
  input: z.string().min(1).max(64).nullable(),
  ttlMs: z.number().int().positive(),
  actor: z.string().min(1).max(200),
  idempotencyKey: z.string().min(1).max(200).nullable(),
  requestHash: z.string().min(1).nullable(),
  status: z.enum(COMMAND_STATUSES),
  detail: z.string().nullable(),
  issuedAt: at,
  updatedAt: at,
});

export const pageLimitSchema = z.number().int().min(1).max(1000);

/** `value` parsed by `schema`, or HUB_ERR_REGISTRY_INVALID naming the first field at fault (under `prefix`). */
/** A device's SNMP target as written: only a network node has one; `null` or absent is none. */
export function checkSnmpTarget(id: string, kind: string, snmp: unknown): SnmpTarget | null {
  if (snmp === undefined || snmp === null) return null;
  if (kind !== 'network_node') throw new RegistryInvalidError('device', id, 'snmp', `only a network_node is polled over SNMP, not a ${kind}`);
  return checkValue('device', id, snmpTargetSchema, snmp, 'snmp');
}

export function checkValue<T>(entity: string, id: unknown, schema: z.ZodType<T>, value: unknown, prefix?: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = [...(prefix === undefined ? [] : [prefix]), ...issue.path.map(String)].join('.');
  throw new RegistryInvalidError(entity, String(id), field || '(value)', issue.message);
}
