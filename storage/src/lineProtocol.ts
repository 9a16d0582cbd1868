import { UNENCODABLE_BACKSLASH } from '../../protocol/src/ids.ts';
import { StorageError, StorageErrorCode } from './errors.ts';

/**
 * InfluxDB line protocol (v1 /write) with exact escaping:
 * - measurement: comma and space escaped;
 * - tag keys, tag values, field keys: comma, equals sign and space escaped;
 * - string field values: double quote and backslash escaped, inside double quotes;
 * - integers carry the `i` suffix, floats never do, so a field keeps one type.
 * Values that line protocol cannot carry (control characters in tags, NaN, ±Infinity) throw
 * a LineProtocolError rather than being written altered.
 */
export class LineProtocolError extends StorageError {
  /** Which rule refused it (`tag_control_character`, `int_out_of_range`…). */
  readonly reason: string;
  constructor(reason: string, message: string) {
    super(StorageErrorCode.UNENCODABLE, message);
    this.reason = reason;
  }
}

export type FieldValue =
  | { t: 'float'; v: number }
  | { t: 'int'; v: number | bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'string'; v: string };

export interface Point {
  measurement: string;
  tags: Record<string, string>;
  fields: Record<string, FieldValue>;
  /** Milliseconds since the epoch; written with precision=ms. */
  tsMs: number;
}

const TAG_CONTROL = /[\u0000-\u001f\u007f]/u;
/** Anything a tag needs escaped or refused for; most tags have none, and skip the rest. */
const TAG_SPECIAL = /[,= \\\u0000-\u001f\u007f]/u;
const STRING_SPECIAL = /["\\]/;

const NAME_SPECIAL = /[, \u0000-\u001f\u007f]/u;

export function escapeMeasurement(s: string): string {
  if (s.length > 0 && !NAME_SPECIAL.test(s)) return s;
  checkName(s, 'measurement');
  return s.replace(/[, ]/g, (c) => `\\${c}`);
}

/** Escapes a tag key, tag value or field key. */
export function escapeTag(s: string): string {
  if (s.length > 0 && !TAG_SPECIAL.test(s)) return s;
  if (s.length === 0) throw new LineProtocolError('empty_tag_value', 'tag keys and values must not be empty');
  if (TAG_CONTROL.test(s)) {
    throw new LineProtocolError('tag_control_character', `tag ${JSON.stringify(s)} contains a control character`);
  }
  if (UNENCODABLE_BACKSLASH.test(s)) {
    throw new LineProtocolError('tag_unencodable_backslash', `tag ${JSON.stringify(s)} has a backslash that line protocol cannot carry`);
  }
  return s.replace(/[,= ]/g, (c) => `\\${c}`);
}

export function escapeStringField(s: string): string {
  if (!STRING_SPECIAL.test(s)) return `"${s}"`;
  return `"${s.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

function checkName(s: string, what: string): void {
  if (s.length === 0 || TAG_CONTROL.test(s)) {
    throw new LineProtocolError('bad_name', `${what} ${JSON.stringify(s)} is empty or has a control character`);
  }
}

const INT64_MIN = -(1n << 63n);
const INT64_MAX = (1n << 63n) - 1n;

export function encodeFieldValue(f: FieldValue): string {
  switch (f.t) {
    case 'float':
      if (!Number.isFinite(f.v)) throw new LineProtocolError('non_finite_field', `float field ${f.v} is not finite`);
      return String(f.v);
    case 'int': {
      // A safe integer is within 64 bits: no BigInt needed.
      if (typeof f.v === 'number' && Number.isSafeInteger(f.v)) return `${f.v}i`;
      const b = typeof f.v === 'bigint' ? f.v : null;
      if (b === null || b < INT64_MIN || b > INT64_MAX) {
        throw new LineProtocolError('int_out_of_range', `integer field ${String(f.v)} is not a 64-bit integer`);
      }
      return `${b}i`;
    }
    case 'bool':
      return f.v ? 'true' : 'false';
    case 'string':
      return escapeStringField(f.v);
  }
}

/** One point as one line, tags sorted by key (what InfluxDB recommends for write speed). */
export function encodePoint(p: Point): string {
  if (!Number.isSafeInteger(p.tsMs)) throw new LineProtocolError('bad_timestamp', `timestamp ${p.tsMs} is not an integer`);
  let line = escapeMeasurement(p.measurement);
  for (const k of Object.keys(p.tags).sort()) {
    line += `,${escapeTag(k)}=${escapeTag(p.tags[k]!)}`;
  }
  const fieldKeys = Object.keys(p.fields);
  if (fieldKeys.length === 0) throw new LineProtocolError('no_fields', 'a point needs at least one field');
  line += ' ';
  line += fieldKeys.map((k) => `${escapeTag(k)}=${encodeFieldValue(p.fields[k]!)}`).join(',');
  return `${line} ${p.tsMs}`;
}
