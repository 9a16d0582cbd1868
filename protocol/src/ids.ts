import { z } from 'zod';

/**
 * InfluxDB 1.x line protocol unescapes only `\,`, `\=` and `\ ` in tag values and keeps every
 * other backslash literally, so a backslash before one of those (or at the end) cannot be
 * written back exactly. Such values are refused, never stored altered.
 */
export const UNENCODABLE_BACKSLASH = /\\(?=[ ,=\\]|$)/u;
const CONTROL = /[\u0000-\u001f\u007f-\u009f]/u;
/**
 * The device id rules as one regular expression, for the JSON Schema files (which cannot run
 * refinements): no control character, and every backslash followed by a character that is not a
 * space, comma, equals sign or backslash.
 */
export const DEVICE_ID_PATTERN = '^(?:[^\\u0000-\\u001f\\u007f-\\u009f\\\\]|\\\\(?=[^ ,=\\\\]))*$';
const backslashRule = {
  message: 'must not have a backslash before a space, comma, equals sign, backslash or the end',
};

/**
 * Registry ids for districts, schools and gateways appear as topic levels, so they exclude the
 * MQTT separators and wildcards [MQTT-4.7.1], whitespace and control characters. Chinese names
 * are allowed.
 */
export const topicIdSchema = z
  .string()
  .min(1)
  .max(64)
  .refine((s) => !/[/+#\s]/u.test(s) && !CONTROL.test(s), {
    message: 'must not contain /, +, #, whitespace or control characters',
  })
  .refine((s) => !UNENCODABLE_BACKSLASH.test(s), backslashRule);

/**
 * Device ids are assigned by vendors and installers; they travel in payloads, never in topics,
 * and become InfluxDB tag values. Control characters (newlines above all) cannot be carried in
 * line protocol tag values, so they are refused here rather than written half-right.
 */
export const deviceIdSchema = z
  .string()
  .min(1)
  .max(128)
  .refine((s) => !CONTROL.test(s), { message: 'must not contain control characters' })
  .refine((s) => !UNENCODABLE_BACKSLASH.test(s), backslashRule)
  .meta({ pattern: DEVICE_ID_PATTERN });

export type TopicId = z.infer<typeof topicIdSchema>;
