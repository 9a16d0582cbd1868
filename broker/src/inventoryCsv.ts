import { parse, type CsvError, type InfoRecord } from 'csv-parse/sync';
import { stringify } from 'csv-stringify/sync';
import { z } from 'zod';
import { deviceIdSchema, topicIdSchema } from '../../protocol/src/ids.ts';
import { DEVICE_KINDS, LINK_ROLES, deviceKindSchema, linkRoleSchema, type DeviceKind, type LinkRole } from '../../protocol/src/kinds.ts';

/**
 * A school's device inventory as CSV: decoding, parsing, checking and formatting, with no I/O.
 * The management API and the CLI do the reading and the registry writes (broker/README.md,
 * "Inventory CSV").
 */
export const INVENTORY_COLUMNS = ['school', 'room', 'id', 'kind', 'model', 'vendor', 'serial', 'link_role', 'capacity_bps'] as const;
type Column = (typeof INVENTORY_COLUMNS)[number];

export interface InventoryRow {
  line: number;
  school: string;
  room: string;
  id: string;
  kind: DeviceKind;
  model: string;
  vendor: string;
  serial: string;
  linkRole: LinkRole | null;
  capacityBps: number | null;
}
export type InventoryErrorCode =
  | 'encoding'
  | 'columns'
  | 'malformed'
  | 'unknown_kind'
  | 'bad_id'
  | 'bad_room'
  | 'bad_link'
  | 'bad_capacity'
  | 'duplicate_id'
  | 'unknown_school'
  | 'unknown_room'
  | 'held_by_other_school'
  | 'retired'
  | 'empty';
export interface RowError {
  line: number;
  column?: string;
  reason: string;
  code: InventoryErrorCode;
}
export type InventoryEncoding = 'utf-8' | 'utf-8-bom' | 'gb18030' | 'utf-16le' | 'utf-16be';

/** The registry's bound on network_node capacities (`networkNodeDataSchema`). */
const MAX_CAPACITY_BPS = 400e9;
const text200 = z.string().max(200);

function decodeWith(label: string, bytes: Uint8Array): string | undefined {
  try {
    // ignoreBOM false: the decoder drops its own BOM.
    return new TextDecoder(label, { fatal: true }).decode(bytes);
  } catch {
    return undefined;
  }
}

/** Bytes → text: UTF-16 and UTF-8 by their BOM, then UTF-8, then GB18030 (a superset of GBK). */
export function decodeInventoryBytes(bytes: Uint8Array): { text: string; encoding: InventoryEncoding } | { error: RowError } {
  const [b0, b1, b2] = bytes;
  const candidates: Array<[string, InventoryEncoding]> =
    b0 === 0xff && b1 === 0xfe
      ? [['utf-16le', 'utf-16le']]
      : b0 === 0xfe && b1 === 0xff
        ? [['utf-16be', 'utf-16be']]
        : b0 === 0xef && b1 === 0xbb && b2 === 0xbf
          ? [['utf-8', 'utf-8-bom']]
          : // Chinese text in GB18030 is almost never valid UTF-8, so UTF-8 is tried first.
            [['utf-8', 'utf-8'], ['gb18030', 'gb18030']];
  for (const [label, encoding] of candidates) {
    const text = decodeWith(label, bytes);
    // A GB18030 file may carry its own BOM (84 31 95 33), which its decoder keeps.
    if (text !== undefined) return { text: text.startsWith('\uFEFF') ? text.slice(1) : text, encoding };
  }
  const tried = candidates.map(([, e]) => e).join(' or ');
  return { error: { line: 1, code: 'encoding', reason: `the file is not valid ${tried}` } };
}

/** Byte offsets of the last byte of every line break (CRLF, LF or a lone CR) in UTF-8 bytes. */
function lineBreakEnds(buf: Uint8Array): number[] {
  const ends: number[] = [];
  for (let i = 0; i < buf.length; i++) {
    if (buf[i] === 0x0a || (buf[i] === 0x0d && buf[i + 1] !== 0x0a)) ends.push(i);
  }
  return ends;
}

/** The 1-based line of the byte at `offset`. */
function lineAt(breakEnds: readonly number[], offset: number): number {
  let lo = 0;
  let hi = breakEnds.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (breakEnds[mid]! < offset) lo = mid + 1;
    else hi = mid;
  }
  return lo + 1;
}

function countBreaks(s: string): number {
  return (s.match(/\r\n|\n|\r/g) ?? []).length;
}

type Event = { kind: 'record'; fields: string[]; line: number } | { kind: 'skip'; line: number; reason: string };

const UNREADABLE_REST = 'nothing after it can be read';
/** csv-parse's own messages give its line count, which can differ from ours (above). */
const QUOTE_REASONS: Partial<Record<string, string>> = {
  CSV_QUOTE_NOT_CLOSED: `a quoted field opened here is not closed by the end of the file; ${UNREADABLE_REST}`,
  INVALID_OPENING_QUOTE: 'a quote inside an unquoted field (quote the whole field and double the quote: "a""b")',
  CSV_INVALID_CLOSING_QUOTE: 'a quoted field is followed by more text before the next comma',
};

/**
 * csv-parse counts a CRLF inside a quoted field as two lines, so record lines are computed here
 * from its byte offsets: the record's last line, less the line breaks inside its fields.
 */
function readRecords(buf: Buffer): Event[] {
  const breaks = lineBreakEnds(buf);
  const events: Event[] = [];
  const firstContentLine = (from: number): number => {
    let i = from;
    while (buf[i] === 0x0a || buf[i] === 0x0d) i++;
    return lineAt(breaks, i);
  };
  parse(buf, {
    relax_column_count: true,
    skip_empty_lines: true,
    skip_records_with_empty_values: true,
    skip_records_with_error: true,
    on_skip: (err: CsvError | undefined) => {
      if (err === undefined) return undefined;
      // A record skipped for a quote error starts after the last record read (`bytes`).
      const at = (err as CsvError & { bytes?: number }).bytes ?? 0;
      const line = firstContentLine(at);
      const last = events.at(-1);
      if (last?.kind === 'skip' && last.line === line) {
        // After a quote error csv-parse may read the rest of the file as one field: one error.
        if (err.code === 'CSV_QUOTE_NOT_CLOSED') last.reason += `; ${UNREADABLE_REST}`;
        return undefined;
      }
      const reason = QUOTE_REASONS[err.code] ?? `${err.code}: ${err.message}`;
      events.push({ kind: 'skip', line, reason });
      return undefined;
    },
    on_record: (record: string[], info: InfoRecord) => {
      // `bytes` is past the record's own line break, so the byte before it is on its last line.
      const line = lineAt(breaks, info.bytes - 1) - record.reduce((n, f) => n + countBreaks(f), 0);
      events.push({ kind: 'record', fields: record, line });
      return null;
    },
  });
  return events;
}

function malformed(e: Event): RowError {
  return { line: e.line, code: 'malformed', reason: e.kind === 'skip' ? e.reason : 'unreadable' };
}

function headerError(fields: readonly string[], line: number): RowError | undefined {
  const names = fields.map((f) => f.trim().toLowerCase());
  const known = new Set<string>(INVENTORY_COLUMNS);
  const missing = INVENTORY_COLUMNS.filter((c) => !names.includes(c));
  const unknown = names.filter((n) => !known.has(n));
  const duplicated = [...new Set(names.filter((n, i) => known.has(n) && names.indexOf(n) !== i))];
  const parts = [
    ...(missing.length > 0 ? [`missing ${missing.join(', ')}`] : []),
    ...(unknown.length > 0 ? [`unknown ${unknown.map((n) => JSON.stringify(n)).join(', ')}`] : []),
    ...(duplicated.length > 0 ? [`duplicated ${duplicated.join(', ')}`] : []),
  ];
  if (parts.length === 0) return undefined;
  return { line, code: 'columns', reason: `the header must be exactly ${INVENTORY_COLUMNS.join(', ')}: ${parts.join('; ')}` };
}

function issueOf(schema: z.ZodType, value: string): string | undefined {
  const r = schema.safeParse(value);
  return r.success ? undefined : r.error.issues[0]!.message;
}

/** One data row's values by the registry's rules: the row, or every field at fault. */
function checkRow(v: Record<Column, string>, line: number): { row: InventoryRow } | { errors: RowError[] } {
  const errors: RowError[] = [];
  const fail = (column: Column, code: InventoryErrorCode, reason: string): void => {
    errors.push({ line, column, code, reason });
  };
  const schoolIssue = issueOf(topicIdSchema, v.school);
  // No school can have such an id, so it is unknown whatever the registry holds.
  if (schoolIssue !== undefined) fail('school', 'unknown_school', `school id ${JSON.stringify(v.school)}: ${schoolIssue}`);
  const roomIssue = issueOf(deviceIdSchema, v.room);
  if (roomIssue !== undefined) fail('room', 'bad_room', `room ${JSON.stringify(v.room)}: ${roomIssue}`);
  const idIssue = issueOf(deviceIdSchema, v.id);
  if (idIssue !== undefined) fail('id', 'bad_id', `device id ${JSON.stringify(v.id)}: ${idIssue}`);
  const kind = deviceKindSchema.safeParse(v.kind);
  if (!kind.success) fail('kind', 'unknown_kind', `kind ${JSON.stringify(v.kind)} is not one of ${DEVICE_KINDS.join(', ')}`);
  for (const column of ['model', 'vendor', 'serial'] as const) {
    if (!text200.safeParse(v[column]).success) fail(column, 'malformed', `${column} is longer than 200 characters`);
  }
  const isNode = kind.success ? kind.data === 'network_node' : undefined;
  const role = linkRoleSchema.safeParse(v.link_role);
  if (v.link_role === '') {
    if (isNode === true) fail('link_role', 'bad_link', `a network_node needs a link_role (${LINK_ROLES.join(', ')})`);
  } else if (isNode === false) {
    fail('link_role', 'bad_link', `only a network_node has a link_role; leave it empty for ${v.kind}`);
  } else if (!role.success) {
    fail('link_role', 'bad_link', `link_role ${JSON.stringify(v.link_role)} is not one of ${LINK_ROLES.join(', ')}`);
  }
  let capacityBps: number | null = null;
  if (v.capacity_bps === '') {
    if (isNode === true) fail('capacity_bps', 'bad_capacity', 'a network_node needs a capacity_bps');
  } else if (isNode === false) {
    fail('capacity_bps', 'bad_capacity', `only a network_node has a capacity_bps; leave it empty for ${v.kind}`);
  } else if (!/^[1-9][0-9]{0,11}$/.test(v.capacity_bps) || Number(v.capacity_bps) > MAX_CAPACITY_BPS) {
    fail('capacity_bps', 'bad_capacity', `capacity_bps ${JSON.stringify(v.capacity_bps)} must be a whole number of bits per second from 1 to ${MAX_CAPACITY_BPS}`);
  } else {
    capacityBps = Number(v.capacity_bps);
  }
  if (errors.length > 0 || !kind.success) return { errors };
  return {
    row: {
      line,
      school: v.school,
      room: v.room,
      id: v.id,
      kind: kind.data,
      model: v.model,
      vendor: v.vendor,
      serial: v.serial,
      linkRole: role.success ? role.data : null,
      capacityBps,
    },
  };
}

/** Bytes → checked rows and every error found, each with its 1-based line (the header is line 1). */
export function parseInventory(bytes: Uint8Array): { rows: InventoryRow[]; errors: RowError[]; encoding?: InventoryEncoding } {
  const decoded = decodeInventoryBytes(bytes);
  if ('error' in decoded) return { rows: [], errors: [decoded.error] };
  const { encoding } = decoded;
  const events = readRecords(Buffer.from(decoded.text, 'utf8'));
  const headerAt = events.findIndex((e) => e.kind === 'record');
  const beforeHeader = headerAt < 0 ? events : events.slice(0, headerAt);
  const header = events[headerAt];
  if (beforeHeader.length > 0) return { rows: [], errors: beforeHeader.map(malformed), encoding };
  if (header?.kind !== 'record') return { rows: [], errors: [{ line: 1, code: 'empty', reason: 'the file has no header and no device rows' }], encoding };
  const bad = headerError(header.fields, header.line);
  if (bad !== undefined) return { rows: [], errors: [bad], encoding };
  const positions = header.fields.map((f) => f.trim().toLowerCase() as Column);

  const rows: InventoryRow[] = [];
  const errors: RowError[] = [];
  const firstLineOf = new Map<string, number>();
  const data = events.slice(headerAt + 1);
  for (const e of data) {
    if (e.kind === 'skip') {
      errors.push(malformed(e));
      continue;
    }
    if (e.fields.length !== positions.length) {
      errors.push({ line: e.line, code: 'malformed', reason: `${positions.length} fields expected, found ${e.fields.length}` });
      continue;
    }
    const values = Object.fromEntries(positions.map((c, i) => [c, e.fields[i]!])) as Record<Column, string>;
    const checked = checkRow(values, e.line);
    // An id is a duplicate of its first row even when that row is bad for another reason.
    const idValid = deviceIdSchema.safeParse(values.id).success;
    const first = idValid ? firstLineOf.get(values.id) : undefined;
    if (first !== undefined) {
      errors.push({ line: e.line, column: 'id', code: 'duplicate_id', reason: `device id ${JSON.stringify(values.id)} is also on line ${first}` });
    } else if (idValid) {
      firstLineOf.set(values.id, e.line);
    }
    if ('errors' in checked) errors.push(...checked.errors);
    else if (first === undefined) rows.push(checked.row);
  }
  if (data.length === 0) errors.push({ line: header.line, code: 'empty', reason: 'the file has a header but no device rows' });
  return { rows, errors, encoding };
}

export interface InventoryLookup {
  /** False for a school that does not exist and for one the caller may not see, alike. */
  schoolVisible(school: string): boolean;
  roomExists(school: string, room: string): boolean;
  deviceHeldBy(id: string): { school: string; retired: boolean } | undefined;
}

/** Parsed rows against the registry, through `lookup`; an existing device of the same school is an update. */
export function checkInventoryAgainst(rows: readonly InventoryRow[], lookup: InventoryLookup): RowError[] {
  const errors: RowError[] = [];
  for (const row of rows) {
    const { line } = row;
    // One text for "absent" and "not yours", and nothing else looked up: existence must not leak.
    if (!lookup.schoolVisible(row.school)) {
      errors.push({ line, column: 'school', code: 'unknown_school', reason: `school ${JSON.stringify(row.school)} not found` });
      continue;
    }
    if (!lookup.roomExists(row.school, row.room)) {
      errors.push({ line, column: 'room', code: 'unknown_room', reason: `room ${JSON.stringify(row.room)} not found in school ${JSON.stringify(row.school)}` });
    }
    const held = lookup.deviceHeldBy(row.id);
    if (held === undefined) continue;
    if (held.school !== row.school) {
      // The other school is not named: the caller may not be allowed to see it.
      errors.push({ line, column: 'id', code: 'held_by_other_school', reason: `device id ${JSON.stringify(row.id)} is registered to another school` });
    } else if (held.retired) {
      errors.push({ line, column: 'id', code: 'retired', reason: `device ${JSON.stringify(row.id)} is retired; its id cannot be reused` });
    }
  }
  return errors;
}

/** Rows → CSV: UTF-8 with a BOM (spreadsheets then read Chinese right), CRLF, csv-stringify's quoting. */
export function formatInventory(rows: ReadonlyArray<Omit<InventoryRow, 'line'>>): string {
  const records = rows.map((r) => [
    r.school,
    r.room,
    r.id,
    r.kind,
    r.model,
    r.vendor,
    r.serial,
    r.linkRole ?? '',
    r.capacityBps === null ? '' : String(r.capacityBps),
  ]);
  return stringify([[...INVENTORY_COLUMNS], ...records], { bom: true, record_delimiter: 'windows' });
}
