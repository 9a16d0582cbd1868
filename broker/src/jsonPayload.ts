import type { ZodType } from 'zod';

/** A JSON payload parsed with a schema; undefined when it is not JSON or does not match. */
export function parseJsonPayload<T>(schema: ZodType<T>, payload: Buffer): T | undefined {
  try {
    const r = schema.safeParse(JSON.parse(payload.toString('utf8')));
    return r.success ? r.data : undefined;
  } catch {
    return undefined;
  }
}
