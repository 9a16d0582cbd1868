import { z } from 'zod';
import { deviceIdSchema, topicIdSchema } from '../../../protocol/src/ids.ts';
import { timetableSchema } from '../../../protocol/src/schedule.ts';
import { districtCodeSchema, roleSchema, userIdSchema as registryUserId } from '../registryValues.ts';

/**
 * The entities of the management API as the OpenAPI document names them. Inputs reuse the
 * registry's own value rules (registryValues.ts, protocol ids), so that a value the API accepts
 * is one the registry accepts and the 400 names the field.
 */
export const nameSchema = z.string().min(1).max(200);
const ms = z.number().int().meta({ description: 'Unix time, ms' });
/** The largest link the product models, as the registry's rule. */
export const capacityBpsSchema = z.number().int().positive().max(400e9).meta({ description: 'bits per second, 1–400e9' });

export const districtIdSchema = topicIdSchema.meta({ id: 'DistrictId', description: 'A district id (a topic level; Chinese allowed)' });
export const schoolIdSchema = topicIdSchema.meta({ id: 'SchoolId', description: 'A school id (a topic level)' });
export const roomIdSchema = deviceIdSchema.meta({ id: 'RoomId', description: 'A room id (an InfluxDB tag value)' });
export const userIdSchema = registryUserId.meta({ id: 'UserId', description: 'A user id: it appears in audit actors as user:<id>' });

export const timetableBody = timetableSchema.meta({ id: 'Timetable', description: 'When classroom devices are expected up (docs/design.md#availability)' });

export const districtSchema = z
  .object({ id: districtIdSchema, code: districtCodeSchema.nullable(), nameZh: nameSchema, nameEn: nameSchema })
  .meta({ id: 'District' });

export const schoolSchema = z
  .object({
    id: schoolIdSchema,
    district: districtIdSchema,
    nameZh: nameSchema,
    nameEn: nameSchema,
    timetable: timetableBody.nullable().meta({ description: 'null: the default timetable' }),
    uplinkCapacityBps: capacityBpsSchema.nullable(),
    createdAt: ms,
  })
  .meta({ id: 'School' });

export const roomSchema = z.object({ school: schoolIdSchema, id: roomIdSchema, name: z.string().max(200) }).meta({ id: 'Room' });

export const userSchema = z
  .object({
    id: userIdSchema,
    displayName: z.string().max(200),
    role: roleSchema,
    district: districtIdSchema.nullable(),
    school: schoolIdSchema.nullable(),
    createdAt: ms,
    disabledAt: ms.nullable(),
    hasPassword: z.boolean(),
  })
  .meta({ id: 'User' });

export const tokenInfoSchema = z
  .object({ id: z.string(), user: userIdSchema, name: z.string(), createdAt: ms, expiresAt: ms.nullable(), revokedAt: ms.nullable(), lastUsedAt: ms.nullable() })
  .meta({ id: 'TokenInfo', description: 'An API token without its secret' });

export const newTokenSchema = z
  .object({ tokenId: z.string(), token: z.string().meta({ description: 'cit_<id>_<secret>: shown once, only its hash is kept' }), expiresAt: ms.nullable() })
  .meta({ id: 'NewToken' });

export const newUserSchema = z.object({ user: userSchema, ...newTokenSchema.shape }).meta({ id: 'NewUser' });

export const meSchema = z
  .object({
    user: userIdSchema,
    role: roleSchema,
    district: districtIdSchema.nullable(),
    school: schoolIdSchema.nullable(),
    token: z.string().nullable().meta({ description: 'The token id; null for a console session' }),
    via: z.enum(['token', 'session']),
  })
  .meta({ id: 'Me' });

export const sessionSchema = z
  .object({
    user: z.object({ id: userIdSchema, displayName: z.string(), role: roleSchema, district: districtIdSchema.nullable(), school: schoolIdSchema.nullable() }),
    csrfToken: z.string().meta({ description: 'Send as X-CSRF-Token with every change made with the session cookie' }),
    expiresAt: ms.meta({ description: 'The absolute end of the session (it also ends after an idle limit)' }),
  })
  .meta({ id: 'Session' });

export const auditRowSchema = z
  .object({
    id: z.number().int(),
    at: ms,
    actor: z.string().meta({ description: 'user:<id>, system:<name> or token:<id>' }),
    action: z.string(),
    target: z.string(),
    outcome: z.string(),
    detail: z.string().optional(),
    district: z.string().optional(),
    school: z.string().optional(),
  })
  .meta({ id: 'AuditRow' });
