import { z } from 'zod';
import { deviceIdSchema, topicIdSchema } from '../../protocol/src/ids.ts';
import { deviceKindSchema } from '../../protocol/src/kinds.ts';
import { RegistryInvalidError } from './errors.ts';

/**
 * The values the registry accepts, checked at its edge whatever the caller (a library call, the
 * API, a CSV import): ids by the protocol's rules, kinds from the product's list. Existence of a
 * referenced district or school is the registry's own check, against the database.
 */
const name = z.string().min(1).max(200);

export const districtValueSchema = z.object({ id: topicIdSchema, nameEn: name });
export const schoolValueSchema = z.object({ id: topicIdSchema, district: topicIdSchema, name });
export const gatewayValueSchema = z.object({ id: topicIdSchema, school: topicIdSchema, passwordHash: z.string().min(1) });
/** A room becomes an InfluxDB tag value, so it follows the same rules as a device id. */
export const deviceValueSchema = z.object({ id: deviceIdSchema, school: topicIdSchema, room: deviceIdSchema, kind: deviceKindSchema });

/** `value` parsed by `schema`, or HUB_ERR_REGISTRY_INVALID naming the first field at fault (under `prefix`). */
export function checkValue<T>(entity: string, id: unknown, schema: z.ZodType<T>, value: unknown, prefix?: string): T {
  const r = schema.safeParse(value);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const field = [...(prefix === undefined ? [] : [prefix]), ...issue.path.map(String)].join('.');
  throw new RegistryInvalidError(entity, String(id), field || '(value)', issue.message);
}
