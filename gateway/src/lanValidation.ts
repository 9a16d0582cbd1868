import { formatIssues, toError } from '../../runtime/src/errors.ts';
import { lanCommandResultSchema, type LanCommandResult } from '../../protocol/src/commands.ts';
import { deviceSampleSchema, type DeviceSample, type LanRefusalReason } from '../../protocol/src/telemetry.ts';

/** Why a LAN payload is refused (counted in samples_rejected{reason} for samples). */
export type PayloadRejection = Extract<LanRefusalReason, 'oversize_payload' | 'malformed_json' | 'invalid_sample'>;

export type Validated<T> = { ok: true; value: T } | { ok: false; reason: PayloadRejection; detail: string };

/** What validation needs of a schema (a zod schema, or a stand-in in tests). */
export interface PayloadSchema<T> {
  safeParse(data: unknown): { success: true; data: T } | { success: false; error: { issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }> } };
}

/**
 * A LAN payload → a typed value, or why not: larger than `maxBytes`, not JSON, or failing the
 * schema (a schema that throws counts as failing). Pure: the Aedes hooks only adapt it.
 */
export function validatePayload<T>(payload: Buffer | string, maxBytes: number, schema: PayloadSchema<T>): Validated<T> {
  const raw = Buffer.isBuffer(payload) ? payload : Buffer.from(payload);
  if (raw.length > maxBytes) return { ok: false, reason: 'oversize_payload', detail: `${raw.length} bytes` };
  let json: unknown;
  try {
    json = JSON.parse(raw.toString('utf8'));
  } catch {
    return { ok: false, reason: 'malformed_json', detail: 'not JSON' };
  }
  let parsed;
  try {
    parsed = schema.safeParse(json);
  } catch (e) {
    return { ok: false, reason: 'invalid_sample', detail: toError(e).message };
  }
  if (!parsed.success) return { ok: false, reason: 'invalid_sample', detail: formatIssues(parsed.error.issues) };
  return { ok: true, value: parsed.data };
}

/** A device sample published on lan/v1/telemetry. */
export function validateSample(payload: Buffer | string, maxBytes: number): Validated<DeviceSample> {
  return validatePayload(payload, maxBytes, deviceSampleSchema);
}

/** A device's answer to a command on lan/v1/cmdres; any refusal is counted as `invalid`. */
export function validateCommandResult(payload: Buffer | string, maxBytes: number): Validated<LanCommandResult> {
  return validatePayload(payload, maxBytes, lanCommandResultSchema);
}
