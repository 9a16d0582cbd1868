import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { DeviceKind, LinkRole } from '../../protocol/src/kinds.ts';
import { toError } from '../../runtime/src/errors.ts';
import { HubError, HubErrorCode, RegistryConflictError, RegistryInvalidError } from './errors.ts';
import { migrate } from './registryMigrations.ts';
import {
  checkSnmpTarget,
  checkValue,
  commandSchema,
  deviceSchema,
  districtSchema,
  districtValueSchema,
  gatewayValueSchema,
  pageLimitSchema,
  deviceValueSchema,
  provisionedDeviceSchema,
  roomSchema,
  schoolSchema,
  schoolValueSchema,
  tokenSchema,
  userSchema,
} from './registryValues.ts';
import { DEFAULT_TIMETABLE, timetableSchema, type Timetable } from '../../protocol/src/schedule.ts';
import { snmpTargetSchema, snmpTargetView, type SnmpTarget, type SnmpTargetView } from '../../protocol/src/snmp.ts';

/**
 * The registry of districts, schools, rooms, gateways (with hashed credentials), devices, users,
 * API tokens, commands and the audit log, in an embedded SQLite database (node:sqlite).
 * Provisioning may write it from another process (WAL mode); the hub reads gateways on every
 * login and caches devices (dropped on a write, or by `dropCaches`). Opening migrates the file
 * (registryMigrations.ts); every write checks its values first (registryValues.ts) and refuses
 * a state conflict (RegistryConflictError) before writing anything.
 */
export interface DistrictRow {
  id: string;
  nameEn: string;
  nameZh?: string | undefined;
  code?: string | null | undefined;
}
export interface SchoolRow {
  id: string;
  district: string;
  /** The Chinese name (`name_zh`). */
  name: string;
  nameEn?: string | undefined;
}
export interface GatewayRow {
  id: string;
  school: string;
  district: string;
  passwordHash: string;
  revoked: boolean;
}
/** The hot-path view of a device (ingest, commands). */
export interface DeviceRow {
  id: string;
  school: string;
  room: string;
  kind: DeviceKind;
}

import type { Role } from './auth/authorize.ts';
export { ROLES, type Role } from './auth/authorize.ts';
export interface District { id: string; code: string | null; nameZh: string; nameEn: string }
export interface School { id: string; district: string; nameZh: string; nameEn: string; timetable: Timetable | null; uplinkCapacityBps: number | null; createdAt: number }
export interface Room { school: string; id: string; name: string }
export interface Device {
  id: string; school: string; district: string; room: string; kind: DeviceKind; model: string; vendor: string; serial: string; linkRole: LinkRole | null; capacityBps: number | null; createdAt: number; retiredAt: number | null;
  /** A polled network node's SNMP target, its secrets replaced by `{ set: true }` (only `snmpTargetOf` gives them); absent when it has none. */
  snmp?: SnmpTargetView;
}
/** What a device is written with: its SNMP target whole (secrets included), `null` to remove it. */
export type DeviceWrite = Omit<Device, 'district' | 'createdAt' | 'retiredAt' | 'snmp'> & { snmp?: SnmpTarget | null | undefined };
export interface Gateway { id: string; school: string; district: string; revoked: boolean; createdAt: number; rotatedAt: number | null }
export interface User { id: string; displayName: string; role: Role; district: string | null; school: string | null; createdAt: number; disabledAt: number | null; hasPassword: boolean }
export interface ApiTokenRow { id: string; user: string; name: string; secretHash: string; createdAt: number; expiresAt: number | null; revokedAt: number | null; lastUsedAt: number | null }
/** A console session: the cookie is `<id>_<secret>`, only the secret's SHA-256 kept (auth/sessions.ts). */
export interface SessionRow { id: string; user: string; secretHash: string; csrfToken: string; createdAt: number; expiresAt: number; lastSeenAt: number; revokedAt: number | null }
export type CommandStatus = 'sent' | 'rejected' | 'done' | 'failed' | 'expired' | 'no_result';
/** `input`: switch_input's source; null for every other action. */
export interface CommandRecord { id: string; device: string; district: string; school: string; gateway: string; action: string; input: string | null; ttlMs: number; actor: string; idempotencyKey: string | null; requestHash: string | null; status: CommandStatus; detail: string | null; issuedAt: number; updatedAt: number }
export interface Page<T> { items: T[]; nextCursor: string | null }
/** `limit` 1..1000; `cursor` the `nextCursor` of the page before. */
export interface PageRequest { cursor?: string | undefined; limit: number }

/** One mutating operation: who asked for what on which target, when, and how it ended. */
export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  detail?: string | undefined;
  /** The scope of the target, so that a district or a school sees its own entries. */
  district?: string | undefined;
  school?: string | undefined;
}
export interface AuditRow extends AuditEntry {
  id: number;
}
export interface AuditQuery {
  target?: string | undefined;
  actor?: string | undefined;
  district?: string | undefined;
  school?: string | undefined;
  cursor?: string | undefined;
  limit?: number | undefined;
  /** Newest first by default. */
  order?: 'asc' | 'desc' | undefined;
}

type Key = Array<string | number>;
type KeyType = 'string' | 'number';
type SqlRow = Record<string, SQLInputValue>;

/** One keyset-paginated query: `select` without WHERE or ORDER BY; `key` the ordering columns, unique together. */
interface PageQuery<T> {
  entity: string;
  select: string;
  where: Array<[string, SQLInputValue] | [string]>;
  key: readonly string[];
  /** The JSON type of each key column, so that a cursor of another listing is refused. */
  keyTypes: readonly KeyType[];
  dir: 'ASC' | 'DESC';
  keyOf: (row: SqlRow) => Key;
  map: (row: SqlRow) => T;
}

const num = (v: SQLInputValue): number => Number(v);
const numOrNull = (v: SQLInputValue): number | null => (v === null ? null : Number(v));
const strOrNull = (v: SQLInputValue): string | null => (v === null ? null : String(v));

const DISTRICT_SELECT = 'SELECT id, code, name_zh, name_en FROM districts';
const SCHOOL_SELECT = 'SELECT id, district, name_zh, name_en, timetable, uplink_capacity_bps, created_at FROM schools';
const DEVICE_SELECT =
  'SELECT d.id, d.school, s.district, d.room, d.kind, d.model, d.vendor, d.serial, d.link_role, d.capacity_bps, d.created_at, d.retired_at, d.snmp_target FROM devices d JOIN schools s ON s.id = d.school';
const GATEWAY_SELECT = 'SELECT g.id, g.school, s.district, g.revoked, g.created_at, g.rotated_at FROM gateways g JOIN schools s ON s.id = g.school';
const USER_SELECT = 'SELECT id, display_name, role, district, school, created_at, disabled_at, password_hash IS NOT NULL AS has_password FROM users';
const TOKEN_SELECT = 'SELECT id, user, name, secret_hash, created_at, expires_at, revoked_at, last_used_at FROM api_tokens';
const SESSION_SELECT = 'SELECT id, user, secret_hash, csrf_token, created_at, expires_at, last_seen_at, revoked_at FROM sessions';
const COMMAND_SELECT =
  'SELECT id, device, district, school, gateway, action, input, ttl_ms, actor, idempotency_key, request_hash, status, detail, issued_at, updated_at FROM commands';

/** A stored target; one that no longer passes the schema (written by hand) counts as none. */
function parseSnmpTarget(raw: SQLInputValue | undefined): SnmpTarget | null {
  if (raw === null || raw === undefined) return null;
  try {
    const r = snmpTargetSchema.safeParse(JSON.parse(String(raw)));
    return r.success ? r.data : null;
  } catch {
    return null;
  }
}

function parseTimetable(raw: SQLInputValue): Timetable | null {
  if (raw === null) return null;
  try {
    const r = timetableSchema.safeParse(JSON.parse(String(raw)));
    return r.success ? r.data : null;
  } catch {
    return null; // written by hand or another process: as if unset
  }
}

const toDistrict = (r: SqlRow): District => ({ id: String(r['id']), code: strOrNull(r['code']!), nameZh: String(r['name_zh']), nameEn: String(r['name_en']) });
const toSchool = (r: SqlRow): School => ({
  id: String(r['id']),
  district: String(r['district']),
  nameZh: String(r['name_zh']),
  nameEn: String(r['name_en']),
  timetable: parseTimetable(r['timetable']!),
  uplinkCapacityBps: numOrNull(r['uplink_capacity_bps']!),
  createdAt: num(r['created_at']!),
});
const toDevice = (r: SqlRow): Device => ({
  id: String(r['id']),
  school: String(r['school']),
  district: String(r['district']),
  room: String(r['room']),
  kind: String(r['kind']) as DeviceKind,
  model: String(r['model']),
  vendor: String(r['vendor']),
  serial: String(r['serial']),
  linkRole: strOrNull(r['link_role']!) as LinkRole | null,
  capacityBps: numOrNull(r['capacity_bps']!),
  createdAt: num(r['created_at']!),
  retiredAt: numOrNull(r['retired_at']!),
  ...withSnmpView(parseSnmpTarget(r['snmp_target'])),
});
const withSnmpView = (t: SnmpTarget | null): { snmp?: SnmpTargetView } => (t ? { snmp: snmpTargetView(t) } : {});
const toGateway = (r: SqlRow): Gateway => ({
  id: String(r['id']),
  school: String(r['school']),
  district: String(r['district']),
  revoked: num(r['revoked']!) !== 0,
  createdAt: num(r['created_at']!),
  rotatedAt: numOrNull(r['rotated_at']!),
});
const toUser = (r: SqlRow): User => ({
  id: String(r['id']),
  displayName: String(r['display_name']),
  role: String(r['role']) as Role,
  district: strOrNull(r['district']!),
  school: strOrNull(r['school']!),
  createdAt: num(r['created_at']!),
  disabledAt: numOrNull(r['disabled_at']!),
  hasPassword: num(r['has_password']!) !== 0,
});
const toToken = (r: SqlRow): ApiTokenRow => ({
  id: String(r['id']),
  user: String(r['user']),
  name: String(r['name']),
  secretHash: String(r['secret_hash']),
  createdAt: num(r['created_at']!),
  expiresAt: numOrNull(r['expires_at']!),
  revokedAt: numOrNull(r['revoked_at']!),
  lastUsedAt: numOrNull(r['last_used_at']!),
});
const toSession = (r: SqlRow): SessionRow => ({
  id: String(r['id']),
  user: String(r['user']),
  secretHash: String(r['secret_hash']),
  csrfToken: String(r['csrf_token']),
  createdAt: num(r['created_at']!),
  expiresAt: num(r['expires_at']!),
  lastSeenAt: num(r['last_seen_at']!),
  revokedAt: numOrNull(r['revoked_at']!),
});
const toCommand = (r: SqlRow): CommandRecord => ({
  id: String(r['id']),
  device: String(r['device']),
  district: String(r['district']),
  school: String(r['school']),
  gateway: String(r['gateway']),
  action: String(r['action']),
  input: strOrNull(r['input']!),
  ttlMs: num(r['ttl_ms']!),
  actor: String(r['actor']),
  idempotencyKey: strOrNull(r['idempotency_key']!),
  requestHash: strOrNull(r['request_hash']!),
  status: String(r['status']) as CommandStatus,
  detail: strOrNull(r['detail']!),
  issuedAt: num(r['issued_at']!),
  updatedAt: num(r['updated_at']!),
});
const toAudit = (r: SqlRow): AuditRow => ({
  id: num(r['id']!),
  at: num(r['at']!),
  actor: String(r['actor']),
  action: String(r['action']),
  target: String(r['target']),
  outcome: String(r['outcome']),
  ...(r['detail'] === null ? {} : { detail: String(r['detail']) }),
  ...(r['district'] === null ? {} : { district: String(r['district']) }),
  ...(r['school'] === null ? {} : { school: String(r['school']) }),
});

const encodeCursor = (k: Key): string => Buffer.from(JSON.stringify(k), 'utf8').toString('base64url');
function decodeCursor(entity: string, cursor: string, types: readonly KeyType[]): Key {
  let k: unknown;
  try {
    k = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    k = undefined;
  }
  if (!Array.isArray(k) || k.length !== types.length || !k.every((v, i) => typeof v === types[i])) {
    throw new RegistryInvalidError(entity, '(page)', 'cursor', 'not a cursor this listing gave');
  }
  return k as Key;
}

/** A case-insensitive substring test over `cols` for `q`. */
function matchAny(cols: readonly string[], q: string): [string, SQLInputValue] {
  return [`(${cols.map((c) => `instr(lower(${c}), lower(:q)) > 0`).join(' OR ')})`, q];
}

export class Registry {
  readonly #db: DatabaseSync;
  readonly #stmts: Record<string, StatementSync>;
  readonly #dynamic = new Map<string, StatementSync>();
  /** Device lookups sit on the ingest hot path; writes through this object invalidate it. */
  readonly #deviceCache = new Map<string, { row: Readonly<DeviceRow>; at: number }>();
  /** Rows changed by nextInventoryRevision, left out of changeCount. */
  #bookkeeping = 0;
  readonly #timetableCache = new Map<string, { t: Timetable; at: number }>();
  /** Another process (provisioning) may change a device: a cached row lives this long. */
  /**
   * A backstop: writes through this Registry drop their device at once, and the hub drops every
   * cached row when another process writes the file (RegistryWatch, within a poll). At 30 s, the
   * telemetry cadence, nearly every lookup missed: the SQLite read per record was the hub's
   * largest cost at city load (tests/README.md, the whole city).
   */
  static readonly DEVICE_CACHE_TTL_MS = 600_000;

  /** HUB_ERR_REGISTRY_OPEN when the file cannot be opened or set up (a missing directory, not a database). */
  constructor(path: string) {
    try {
      this.#db = new DatabaseSync(path);
    } catch (e) {
      throw new HubError(HubErrorCode.REGISTRY_OPEN, `registry ${path} cannot be opened: ${toError(e).message}`, { cause: e });
    }
    try {
      // busy_timeout first: switching a new file to WAL and migrating wait for another opener.
      this.#db.exec('PRAGMA busy_timeout = 5000; PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;');
      migrate(this.#db, path);
    } catch (e) {
      this.#db.close();
      if (e instanceof HubError) throw e;
      throw new HubError(HubErrorCode.REGISTRY_OPEN, `registry ${path} cannot be set up: ${toError(e).message}`, { cause: e });
    }
    const p = (sql: string) => this.#db.prepare(sql);
    this.#stmts = {
      // A revocation outlives re-provisioning and rotation: the upsert never touches `revoked`.
      upsertGateway: p('INSERT INTO gateways (id, school, password_hash, revoked, created_at) VALUES (?, ?, ?, 0, ?) ON CONFLICT(id) DO UPDATE SET school = excluded.school, password_hash = excluded.password_hash'),
      insertGateway: p('INSERT INTO gateways (id, school, password_hash, revoked, created_at) VALUES (?, ?, ?, 0, ?)'),
      rotateGateway: p('UPDATE gateways SET password_hash = ?, rotated_at = ? WHERE id = ?'),
      revokeGateway: p('UPDATE gateways SET revoked = 1 WHERE id = ?'),
      reinstateGateway: p('UPDATE gateways SET revoked = 0 WHERE id = ?'),
      deleteGateway: p('DELETE FROM gateways WHERE id = ?'),
      getGateway: p('SELECT g.id, g.school, s.district, g.password_hash AS passwordHash, g.revoked FROM gateways g JOIN schools s ON s.id = g.school WHERE g.id = ?'),
      getGatewayRecord: p(`${GATEWAY_SELECT} WHERE g.id = ?`),

      getDistrict: p(`${DISTRICT_SELECT} WHERE id = ?`),
      districtByCode: p('SELECT id FROM districts WHERE code = ?'),
      insertDistrict: p('INSERT INTO districts (id, code, name_zh, name_en) VALUES (?, ?, ?, ?)'),
      updateDistrict: p('UPDATE districts SET code = ?, name_zh = ?, name_en = ? WHERE id = ?'),
      deleteDistrict: p('DELETE FROM districts WHERE id = ?'),
      schoolsOfDistrict: p('SELECT COUNT(*) AS n FROM schools WHERE district = ?'),
      usersOfDistrict: p('SELECT COUNT(*) AS n FROM users WHERE district = ?'),

      getSchool: p(`${SCHOOL_SELECT} WHERE id = ?`),
      insertSchool: p('INSERT INTO schools (id, district, name_zh, name_en, timetable, uplink_capacity_bps, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      // The timetable is written by setTimetable only, so that a stored one is never rewritten as parsed.
      updateSchool: p('UPDATE schools SET district = ?, name_zh = ?, name_en = ?, uplink_capacity_bps = ? WHERE id = ?'),
      deleteSchool: p('DELETE FROM schools WHERE id = ?'),
      devicesOfSchool: p('SELECT COUNT(*) AS n FROM devices WHERE school = ?'),
      gatewaysOfSchool: p('SELECT COUNT(*) AS n FROM gateways WHERE school = ?'),
      usersOfSchool: p('SELECT COUNT(*) AS n FROM users WHERE school = ?'),
      setTimetable: p('UPDATE schools SET timetable = ? WHERE id = ?'),
      getTimetable: p('SELECT timetable FROM schools WHERE id = ?'),

      listRooms: p('SELECT school, id, name FROM rooms WHERE school = ? ORDER BY id'),
      getRoom: p('SELECT school, id, name FROM rooms WHERE school = ? AND id = ?'),
      insertRoom: p('INSERT INTO rooms (school, id, name) VALUES (?, ?, ?)'),
      ensureRoom: p('INSERT INTO rooms (school, id) VALUES (?, ?) ON CONFLICT DO NOTHING'),
      updateRoom: p('UPDATE rooms SET name = ? WHERE school = ? AND id = ?'),
      deleteRoom: p('DELETE FROM rooms WHERE school = ? AND id = ?'),
      deleteRoomsOfSchool: p('DELETE FROM rooms WHERE school = ?'),
      devicesOfRoom: p('SELECT COUNT(*) AS n FROM devices WHERE school = ? AND room = ?'),

      getDevice: p('SELECT id, school, room, kind FROM devices WHERE id = ? AND retired_at IS NULL'),
      getDeviceRecord: p(`${DEVICE_SELECT} WHERE d.id = ?`),
      insertDevice: p('INSERT INTO devices (id, school, room, kind, model, vendor, serial, link_role, capacity_bps, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)'),
      updateDevice: p('UPDATE devices SET school = ?, room = ?, kind = ?, model = ?, vendor = ?, serial = ?, link_role = ?, capacity_bps = ? WHERE id = ?'),
      retireDevice: p('UPDATE devices SET retired_at = COALESCE(retired_at, ?) WHERE id = ?'),
      setSnmpTarget: p('UPDATE devices SET snmp_target = ? WHERE id = ?'),
      getSnmpTarget: p('SELECT snmp_target FROM devices WHERE id = ? AND retired_at IS NULL'),
      deleteDevice: p('DELETE FROM devices WHERE id = ?'),
      countDevices: p('SELECT COUNT(*) AS n FROM devices WHERE retired_at IS NULL'),
      devicesBySchool: p('SELECT s.district AS district, d.school AS school, d.kind AS kind, COUNT(*) AS n FROM devices d JOIN schools s ON s.id = d.school WHERE d.retired_at IS NULL GROUP BY s.district, d.school, d.kind'),
      schoolDevices: p(`${DEVICE_SELECT} WHERE d.school = ? AND d.retired_at IS NULL ORDER BY d.id`),
      nextInventoryRevision: p(
        'INSERT INTO inventory_revisions (gateway, revision) VALUES (?, ?) ON CONFLICT (gateway) DO UPDATE SET revision = MAX(revision + 1, excluded.revision) RETURNING revision',
      ),
      inventoryRevisionOf: p('SELECT revision FROM inventory_revisions WHERE gateway = ?'),
      activeGateways: p('SELECT g.id AS gateway, g.school AS school, s.district AS district FROM gateways g JOIN schools s ON s.id = g.school WHERE g.revoked = 0 ORDER BY g.id'),

      getUser: p(`${USER_SELECT} WHERE id = ?`),
      insertUser: p('INSERT INTO users (id, display_name, role, district, school, created_at) VALUES (?, ?, ?, ?, ?, ?)'),
      disableUser: p('UPDATE users SET disabled_at = COALESCE(disabled_at, ?) WHERE id = ?'),
      setUserPassword: p('UPDATE users SET password_hash = ? WHERE id = ?'),
      userPasswordHash: p('SELECT password_hash FROM users WHERE id = ?'),
      countUsers: p('SELECT COUNT(*) AS n FROM users'),

      getToken: p(`${TOKEN_SELECT} WHERE id = ?`),
      listTokens: p(`${TOKEN_SELECT} WHERE user = ? ORDER BY created_at, id`),
      insertToken: p('INSERT INTO api_tokens (id, user, name, secret_hash, created_at, expires_at) VALUES (?, ?, ?, ?, ?, ?)'),
      revokeToken: p('UPDATE api_tokens SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?'),
      touchToken: p('UPDATE api_tokens SET last_used_at = ? WHERE id = ?'),

      getSession: p(`${SESSION_SELECT} WHERE id = ?`),
      insertSession: p('INSERT INTO sessions (id, user, secret_hash, csrf_token, created_at, expires_at, last_seen_at) VALUES (?, ?, ?, ?, ?, ?, ?)'),
      revokeSession: p('UPDATE sessions SET revoked_at = COALESCE(revoked_at, ?) WHERE id = ?'),
      revokeSessionsOf: p('UPDATE sessions SET revoked_at = ? WHERE user = ? AND revoked_at IS NULL AND id <> ?'),
      touchSession: p('UPDATE sessions SET last_seen_at = ? WHERE id = ?'),

      getCommand: p(`${COMMAND_SELECT} WHERE id = ?`),
      commandByKey: p(`${COMMAND_SELECT} WHERE actor = ? AND idempotency_key = ?`),
      sentCommands: p(`${COMMAND_SELECT} WHERE status = 'sent' ORDER BY issued_at, id`),
      insertCommand: p(
        'INSERT INTO commands (id, device, district, school, gateway, action, input, ttl_ms, actor, idempotency_key, request_hash, status, detail, issued_at, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)',
      ),
      // A late `sent` (the publish acknowledged after the result came back) never hides the outcome.
      // Only a command still `sent` changes: the first outcome stands (two hubs on one registry, a late stop).
      updateCommand: p("UPDATE commands SET status = :status, detail = :detail, updated_at = :at WHERE id = :id AND status = 'sent'"),

      appendAudit: p('INSERT INTO audit_log (at, actor, action, target, outcome, detail, district, school) VALUES (?, ?, ?, ?, ?, ?, ?, ?)'),
    };
  }

  #one(name: string, ...params: SQLInputValue[]): SqlRow | undefined {
    return this.#stmts[name]!.get(...params) as SqlRow | undefined;
  }
  #count(name: string, ...params: SQLInputValue[]): number {
    return Number(this.#one(name, ...params)!['n']);
  }
  #changed(name: string, ...params: SQLInputValue[]): boolean {
    return Number(this.#stmts[name]!.run(...params).changes) > 0;
  }

  /** Several statements as one: a savepoint, so that it nests inside `transaction()`. */
  #atomic<T>(fn: () => T): T {
    this.#db.exec('SAVEPOINT registry_write');
    try {
      const out = fn();
      this.#db.exec('RELEASE registry_write');
      return out;
    } catch (e) {
      this.#db.exec('ROLLBACK TO registry_write; RELEASE registry_write');
      throw e;
    }
  }

  #page<T>(q: PageQuery<T>, p: PageRequest): Page<T> {
    const limit = checkValue(q.entity, '(page)', pageLimitSchema, p.limit, 'limit');
    const where = q.where.map((w) => w[0]);
    const named: Record<string, SQLInputValue> = {};
    q.where.forEach((w, i) => {
      if (w.length === 2) {
        const sql = w[0].replaceAll(':q', `:p${i}`);
        where[i] = sql;
        named[`p${i}`] = w[1];
      }
    });
    if (p.cursor !== undefined) {
      const k = decodeCursor(q.entity, p.cursor, q.keyTypes);
      where.push(`(${q.key.join(', ')}) ${q.dir === 'ASC' ? '>' : '<'} (${k.map((_, i) => `:k${i}`).join(', ')})`);
      k.forEach((v, i) => (named[`k${i}`] = v));
    }
    named['limit'] = limit + 1;
    const sql = `${q.select}${where.length ? ` WHERE ${where.join(' AND ')}` : ''} ORDER BY ${q.key.map((c) => `${c} ${q.dir}`).join(', ')} LIMIT :limit`;
    let stmt = this.#dynamic.get(sql);
    if (!stmt) this.#dynamic.set(sql, (stmt = this.#db.prepare(sql)));
    const rows = stmt.all(named) as SqlRow[];
    const more = rows.length > limit;
    const kept = more ? rows.slice(0, limit) : rows;
    return { items: kept.map(q.map), nextCursor: more ? encodeCursor(q.keyOf(kept.at(-1)!)) : null };
  }

  /** HUB_ERR_REGISTRY_INVALID (`RegistryInvalidError`) unless `value` is a row of `table`. */
  #requireRow(table: 'districts' | 'schools', entity: string, id: string, field: string, value: string): SqlRow {
    const row = this.#one(table === 'districts' ? 'getDistrict' : 'getSchool', value);
    if (row === undefined) throw new RegistryInvalidError(entity, id, field, `no ${table === 'districts' ? 'district' : 'school'} ${JSON.stringify(value)} in the registry`);
    return row;
  }
  #requireRoom(entity: string, id: string, school: string, room: string): void {
    if (this.#one('getRoom', school, room) === undefined) throw new RegistryInvalidError(entity, id, 'room', `no room ${JSON.stringify(room)} in school ${JSON.stringify(school)}`);
  }
  #inUse(entity: string, id: string, checks: Array<[string, string]>): void {
    for (const [stmt, what] of checks) {
      const n = this.#count(stmt, id);
      if (n > 0) throw new RegistryConflictError(entity, id, 'in_use', `${n} ${what} refer to it`);
    }
  }

  // ---- districts

  listDistricts(p: PageRequest & { q?: string | undefined }): Page<District> {
    return this.#page(
      { entity: 'district', select: DISTRICT_SELECT, where: p.q === undefined ? [] : [matchAny(['id', 'code', 'name_zh', 'name_en'], p.q)], key: ['id'], keyTypes: ['string'], dir: 'ASC', keyOf: (r) => [String(r['id'])], map: toDistrict },
      p,
    );
  }

  getDistrict(id: string): District | undefined {
    const r = this.#one('getDistrict', id);
    return r && toDistrict(r);
  }

  #codeFree(id: string, code: string | null): void {
    if (code === null) return;
    const holder = this.#one('districtByCode', code);
    if (holder !== undefined && holder['id'] !== id) throw new RegistryConflictError('district', id, 'exists', `code ${JSON.stringify(code)} is district ${JSON.stringify(holder['id'])}'s`);
  }

  createDistrict(d: District): District {
    const v = checkValue('district', d.id, districtSchema, d);
    if (this.getDistrict(v.id)) throw new RegistryConflictError('district', v.id, 'exists', 'already in the registry');
    this.#codeFree(v.id, v.code);
    this.#stmts['insertDistrict']!.run(v.id, v.code, v.nameZh, v.nameEn);
    return this.getDistrict(v.id)!;
  }

  updateDistrict(id: string, patch: Partial<Omit<District, 'id'>>): District | undefined {
    const cur = this.getDistrict(id);
    if (!cur) return undefined;
    const v = checkValue('district', id, districtSchema, { ...cur, ...patch, id });
    this.#codeFree(id, v.code);
    this.#stmts['updateDistrict']!.run(v.code, v.nameZh, v.nameEn, id);
    return this.getDistrict(id);
  }

  /** A district with schools or users is `in_use`. */
  deleteDistrict(id: string): boolean {
    if (!this.getDistrict(id)) return false;
    this.#inUse('district', id, [['schoolsOfDistrict', 'schools'], ['usersOfDistrict', 'users']]);
    return this.#changed('deleteDistrict', id);
  }

  /** Provisioning: creates or rewrites; `nameZh` defaults to the id, `code` is kept when not given. */
  upsertDistrict(row: DistrictRow): void {
    const d = checkValue('district', row.id, districtValueSchema, row);
    const cur = this.getDistrict(d.id);
    const code = d.code === undefined ? (cur?.code ?? null) : d.code;
    this.#codeFree(d.id, code);
    const nameZh = d.nameZh ?? cur?.nameZh ?? d.id;
    if (cur) this.#stmts['updateDistrict']!.run(code, nameZh, d.nameEn, d.id);
    else this.#stmts['insertDistrict']!.run(d.id, code, nameZh, d.nameEn);
  }

  // ---- schools

  listSchools(p: PageRequest & { district?: string | undefined; q?: string | undefined }): Page<School> {
    const where: PageQuery<School>['where'] = [];
    if (p.district !== undefined) where.push(['district = :q', p.district]);
    if (p.q !== undefined) where.push(matchAny(['id', 'name_zh', 'name_en'], p.q));
    return this.#page({ entity: 'school', select: SCHOOL_SELECT, where, key: ['id'], keyTypes: ['string'], dir: 'ASC', keyOf: (r) => [String(r['id'])], map: toSchool }, p);
  }

  getSchool(id: string): School | undefined {
    const r = this.#one('getSchool', id);
    return r && toSchool(r);
  }

  createSchool(s: Omit<School, 'createdAt'>, at: number): School {
    const v = checkValue('school', s.id, schoolSchema, s);
    this.#requireRow('districts', 'school', v.id, 'district', v.district);
    if (this.getSchool(v.id)) throw new RegistryConflictError('school', v.id, 'exists', 'already in the registry');
    this.#stmts['insertSchool']!.run(v.id, v.district, v.nameZh, v.nameEn, v.timetable === null ? null : JSON.stringify(v.timetable), v.uplinkCapacityBps, at);
    this.#timetableCache.delete(v.id);
    return this.getSchool(v.id)!;
  }

  updateSchool(id: string, patch: Partial<Pick<School, 'nameZh' | 'nameEn' | 'timetable' | 'uplinkCapacityBps'>>): School | undefined {
    const cur = this.getSchool(id);
    if (!cur) return undefined;
    const { createdAt: _, ...rest } = cur;
    const v = checkValue('school', id, schoolSchema, { ...rest, ...patch, id, district: cur.district });
    this.#atomic(() => {
      this.#stmts['updateSchool']!.run(v.district, v.nameZh, v.nameEn, v.uplinkCapacityBps, id);
      if (patch.timetable !== undefined) this.#stmts['setTimetable']!.run(v.timetable === null ? null : JSON.stringify(v.timetable), id);
    });
    this.#timetableCache.delete(id);
    return this.getSchool(id);
  }

  /** A school with devices (retired ones too), gateways or users is `in_use`; its rooms go with it. */
  deleteSchool(id: string): boolean {
    if (!this.getSchool(id)) return false;
    this.#inUse('school', id, [['devicesOfSchool', 'devices'], ['gatewaysOfSchool', 'gateways'], ['usersOfSchool', 'users']]);
    return this.#atomic(() => {
      this.#stmts['deleteRoomsOfSchool']!.run(id);
      this.#timetableCache.delete(id);
      return this.#changed('deleteSchool', id);
    });
  }

  /** Provisioning: creates or rewrites (a school may move district); `nameEn` is kept when not given. */
  upsertSchool(row: SchoolRow, at: number = Date.now()): void {
    const s = checkValue('school', row.id, schoolValueSchema, row);
    this.#requireRow('districts', 'school', s.id, 'district', s.district);
    const cur = this.getSchool(s.id);
    if (cur) this.#stmts['updateSchool']!.run(s.district, s.name, s.nameEn ?? cur.nameEn, cur.uplinkCapacityBps, s.id);
    else this.#stmts['insertSchool']!.run(s.id, s.district, s.name, s.nameEn ?? '', null, null, at);
  }

  // ---- rooms

  listRooms(school: string): Room[] {
    return (this.#stmts['listRooms']!.all(school) as SqlRow[]).map(toRoom);
  }

  getRoom(school: string, id: string): Room | undefined {
    const r = this.#one('getRoom', school, id);
    return r && toRoom(r);
  }

  createRoom(r: Room): Room {
    const v = checkValue('room', r.id, roomSchema, r);
    this.#requireRow('schools', 'room', v.id, 'school', v.school);
    if (this.getRoom(v.school, v.id)) throw new RegistryConflictError('room', v.id, 'exists', `already in school ${JSON.stringify(v.school)}`);
    this.#stmts['insertRoom']!.run(v.school, v.id, v.name);
    return this.getRoom(v.school, v.id)!;
  }

  updateRoom(school: string, id: string, patch: { name?: string | undefined }): Room | undefined {
    const cur = this.getRoom(school, id);
    if (!cur) return undefined;
    const v = checkValue('room', id, roomSchema, { ...cur, ...(patch.name === undefined ? {} : { name: patch.name }) });
    this.#stmts['updateRoom']!.run(v.name, school, id);
    return this.getRoom(school, id);
  }

  /** A room with devices (retired ones too) is `in_use`. */
  deleteRoom(school: string, id: string): boolean {
    if (!this.getRoom(school, id)) return false;
    const n = this.#count('devicesOfRoom', school, id);
    if (n > 0) throw new RegistryConflictError('room', id, 'in_use', `${n} devices of school ${JSON.stringify(school)} are in it`);
    return this.#changed('deleteRoom', school, id);
  }

  // ---- devices

  listDevices(
    f: PageRequest & { district?: string | undefined; school?: string | undefined; kind?: DeviceKind | undefined; room?: string | undefined; q?: string | undefined; includeRetired?: boolean | undefined; ids?: readonly string[] | undefined },
  ): Page<Device> {
    const where: PageQuery<Device>['where'] = [];
    if (f.district !== undefined) where.push(['s.district = :q', f.district]);
    if (f.school !== undefined) where.push(['d.school = :q', f.school]);
    if (f.kind !== undefined) where.push(['d.kind = :q', f.kind]);
    if (f.room !== undefined) where.push(['d.room = :q', f.room]);
    if (f.q !== undefined) where.push(matchAny(['d.id', 'd.model', 'd.vendor', 'd.serial'], f.q));
    if (f.includeRetired !== true) where.push(['d.retired_at IS NULL']);
    if (f.ids !== undefined) where.push(['d.id IN (SELECT value FROM json_each(:q))', JSON.stringify(f.ids)]);
    return this.#page({ entity: 'device', select: DEVICE_SELECT, where, key: ['d.id'], keyTypes: ['string'], dir: 'ASC', keyOf: (r) => [String(r['id'])], map: toDevice }, f);
  }

  /** The full record, retired devices included. */
  getDeviceRecord(id: string): Device | undefined {
    const r = this.#one('getDeviceRecord', id);
    return r && toDevice(r);
  }

  /** Refuses an id already in the registry: `retired`, `held_by_other_school` (with `heldBy`) or `exists`. */
  #deviceIdFree(id: string, school: string): void {
    const cur = this.getDeviceRecord(id);
    if (!cur) return;
    if (cur.retiredAt !== null) throw new RegistryConflictError('device', id, 'retired', `retired at ${cur.retiredAt}; its id is not reused`);
    if (cur.school !== school) throw new RegistryConflictError('device', id, 'held_by_other_school', `held by school ${JSON.stringify(cur.school)}`, cur.school);
    throw new RegistryConflictError('device', id, 'exists', 'already in the registry');
  }

  createDevice(d: DeviceWrite, at: number): Device {
    const v = checkValue('device', d.id, deviceSchema, d);
    const snmp = checkSnmpTarget(v.id, v.kind, d.snmp);
    this.#requireRow('schools', 'device', v.id, 'school', v.school);
    this.#requireRoom('device', v.id, v.school, v.room);
    this.#deviceIdFree(v.id, v.school);
    this.#atomic(() => {
      this.#stmts['insertDevice']!.run(v.id, v.school, v.room, v.kind, v.model, v.vendor, v.serial, v.linkRole, v.capacityBps, at);
      if (snmp) this.#stmts['setSnmpTarget']!.run(JSON.stringify(snmp), v.id);
    });
    this.#deviceCache.delete(v.id);
    return this.getDeviceRecord(v.id)!;
  }

  /**
   * A polled network node's SNMP target with its secrets, for the node's own gateway only (the
   * hub's inventory publisher); undefined for a device without one, or retired.
   */
  snmpTargetOf(id: string): SnmpTarget | undefined {
    return parseSnmpTarget(this.#one('getSnmpTarget', id)?.['snmp_target']) ?? undefined;
  }

  #writeDevice(v: Pick<Device, 'id' | 'school' | 'room' | 'kind' | 'model' | 'vendor' | 'serial' | 'linkRole' | 'capacityBps'>): Device {
    this.#stmts['updateDevice']!.run(v.school, v.room, v.kind, v.model, v.vendor, v.serial, v.linkRole, v.capacityBps, v.id);
    this.#deviceCache.delete(v.id);
    return this.getDeviceRecord(v.id)!;
  }

  /** `snmp` replaces the target whole (secrets included), `null` removes it, absent keeps it. */
  updateDevice(id: string, patch: Partial<Pick<DeviceWrite, 'room' | 'model' | 'vendor' | 'serial' | 'linkRole' | 'capacityBps' | 'snmp'>>): Device | undefined {
    const { snmp, ...fields } = patch;
    if (snmp === undefined) return this.#updateDevice(id, fields);
    const cur = this.getDeviceRecord(id);
    if (!cur) return undefined;
    const target = checkSnmpTarget(id, cur.kind, snmp);
    return this.#atomic(() => {
      this.#stmts['setSnmpTarget']!.run(target ? JSON.stringify(target) : null, id);
      return this.#updateDevice(id, fields);
    });
  }

  #updateDevice(id: string, patch: Partial<Pick<Device, 'room' | 'model' | 'vendor' | 'serial' | 'linkRole' | 'capacityBps'>>): Device | undefined {
    const cur = this.getDeviceRecord(id);
    if (!cur) return undefined;
    const v = checkValue('device', id, deviceSchema, { ...pickDevice(cur), ...patch, id, school: cur.school, kind: cur.kind });
    this.#requireRoom('device', id, v.school, v.room);
    return this.#writeDevice(v);
  }

  /** To a room of another (or the same) school; the only way a device changes school. */
  moveDevice(id: string, to: { school: string; room: string }): Device | undefined {
    const cur = this.getDeviceRecord(id);
    if (!cur) return undefined;
    const v = checkValue('device', id, deviceSchema, { ...pickDevice(cur), school: to.school, room: to.room });
    this.#requireRow('schools', 'device', id, 'school', v.school);
    this.#requireRoom('device', id, v.school, v.room);
    return this.#writeDevice(v);
  }

  /** Keeps the row (history, the id not reused) but the hot path no longer knows it; a second retirement keeps the first time. */
  retireDevice(id: string, at: number): Device | undefined {
    this.#stmts['retireDevice']!.run(at, id);
    this.#deviceCache.delete(id);
    return this.getDeviceRecord(id);
  }

  /** Erases the row: the id may then be registered again, by any school. */
  deleteDevice(id: string): boolean {
    this.#deviceCache.delete(id);
    return this.#changed('deleteDevice', id);
  }

  /**
   * Provisioning: creates a device, or updates room, kind and link of one of the same school,
   * creating the room it names. A device id of another school is refused
   * (`held_by_other_school`): only `moveDevice` changes a device's school. A retired device
   * stays retired.
   */
  upsertDevice(row: DeviceRow & { link?: { role: LinkRole; capacityBps: number } | null | undefined }, at: number = Date.now()): void {
    const d = checkValue('device', row.id, deviceValueSchema, row);
    this.#requireRow('schools', 'device', d.id, 'school', d.school);
    const cur = this.getDeviceRecord(d.id);
    if (cur && cur.school !== d.school) throw new RegistryConflictError('device', d.id, 'held_by_other_school', `held by school ${JSON.stringify(cur.school)}`, cur.school);
    const keepLink = cur !== undefined && cur.kind === d.kind && row.link === undefined;
    const link = keepLink ? { linkRole: cur.linkRole, capacityBps: cur.capacityBps } : { linkRole: row.link?.role ?? null, capacityBps: row.link?.capacityBps ?? null };
    const base = cur ? pickDevice(cur) : { model: '', vendor: '', serial: '' };
    const v = checkValue('device', d.id, provisionedDeviceSchema, { ...base, ...d, ...link });
    this.#atomic(() => {
      this.#stmts['ensureRoom']!.run(v.school, v.room);
      if (cur) this.#writeDevice(v);
      else this.#stmts['insertDevice']!.run(v.id, v.school, v.room, v.kind, v.model, v.vendor, v.serial, v.linkRole, v.capacityBps, at);
      // Only a network node is polled: a device provisioned as another kind loses its target.
      if (cur?.snmp && v.kind !== 'network_node') this.#stmts['setSnmpTarget']!.run(null, v.id);
    });
    this.#deviceCache.delete(d.id);
  }

  /** The hot path: undefined for an unknown or a retired device (its telemetry is refused as unknown). */
  getDevice(id: string): Readonly<DeviceRow> | undefined {
    const cached = this.#deviceCache.get(id);
    const now = Date.now();
    if (cached && now - cached.at < Registry.DEVICE_CACHE_TTL_MS) return cached.row;
    const row = this.#stmts['getDevice']!.get(id) as DeviceRow | undefined;
    if (!row) return undefined; // unknown ids are not cached: a device may be registered later
    if (this.#deviceCache.size >= 1_000_000) this.#deviceCache.clear();
    const frozen = Object.freeze({ ...row });
    this.#deviceCache.set(id, { row: frozen, at: now });
    return frozen;
  }

  // ---- gateways

  listGateways(p: PageRequest & { district?: string | undefined; school?: string | undefined }): Page<Gateway> {
    const where: PageQuery<Gateway>['where'] = [];
    if (p.district !== undefined) where.push(['s.district = :q', p.district]);
    if (p.school !== undefined) where.push(['g.school = :q', p.school]);
    return this.#page({ entity: 'gateway', select: GATEWAY_SELECT, where, key: ['g.id'], keyTypes: ['string'], dir: 'ASC', keyOf: (r) => [String(r['id'])], map: toGateway }, p);
  }

  getGatewayRecord(id: string): Gateway | undefined {
    const r = this.#one('getGatewayRecord', id);
    return r && toGateway(r);
  }

  createGateway(id: string, school: string, passwordHash: string, at: number): Gateway {
    const g = checkValue('gateway', id, gatewayValueSchema, { id, school, passwordHash });
    this.#requireRow('schools', 'gateway', g.id, 'school', g.school);
    if (this.getGatewayRecord(g.id)) throw new RegistryConflictError('gateway', g.id, 'exists', 'already in the registry');
    this.#stmts['insertGateway']!.run(g.id, g.school, g.passwordHash, at);
    return this.getGatewayRecord(g.id)!;
  }

  /** Sets (or rotates) a gateway's credentials; the hash only is stored. A revoked gateway stays revoked. */
  setGateway(id: string, school: string, passwordHash: string, at: number = Date.now()): void {
    const g = checkValue('gateway', id, gatewayValueSchema, { id, school, passwordHash });
    this.#requireRow('schools', 'gateway', g.id, 'school', g.school);
    this.#stmts['upsertGateway']!.run(g.id, g.school, g.passwordHash, at);
  }

  /** A new hash and `rotated_at`; false for an unknown gateway. A revocation stays. */
  rotateGatewayHash(id: string, passwordHash: string, at: number): boolean {
    const g = checkValue('gateway', id, gatewayValueSchema.pick({ passwordHash: true }), { passwordHash });
    return this.#changed('rotateGateway', g.passwordHash, at, id);
  }

  deleteGateway(id: string): boolean {
    return this.#changed('deleteGateway', id);
  }

  revokeGateway(id: string): boolean {
    return this.#changed('revokeGateway', id);
  }

  /** Clears a revocation (only this does); false for an unknown gateway. */
  reinstateGateway(id: string): boolean {
    return this.#changed('reinstateGateway', id);
  }

  /** SQLite's data_version: changes when another connection (another process) commits to the file. */
  dataVersion(): number {
    return num(this.#db.prepare('PRAGMA data_version').get()!['data_version']!);
  }

  /** A secret the hub nodes sharing this registry hold in common (`login_ticket_key`: registryMigrations.ts, migration 7). */
  hubSecret(name: string): Buffer | undefined {
    const row = this.#db.prepare('SELECT value FROM hub_secrets WHERE name = ?').get(name) as { value: Uint8Array } | undefined;
    return row && Buffer.from(row.value);
  }

  getGateway(id: string): GatewayRow | undefined {
    const row = this.#stmts['getGateway']!.get(id) as
      | { id: string; school: string; district: string; passwordHash: string; revoked: number }
      | undefined;
    return row && { ...row, revoked: row.revoked !== 0 };
  }

  // ---- users and tokens

  /** The scope must fit the role; a school's user gets the school's district. */
  createUser(u: Omit<User, 'hasPassword' | 'disabledAt'>): User {
    const v = checkValue('user', u.id, userSchema, u);
    let district = v.district;
    if (v.school !== null) {
      const school = this.#requireRow('schools', 'user', v.id, 'school', v.school);
      const of = String(school['district']);
      if (district !== null && district !== of) throw new RegistryInvalidError('user', v.id, 'district', `school ${JSON.stringify(v.school)} is in district ${JSON.stringify(of)}`);
      district = of;
    } else if (district !== null) this.#requireRow('districts', 'user', v.id, 'district', district);
    if (this.getUser(v.id)) throw new RegistryConflictError('user', v.id, 'exists', 'already in the registry');
    this.#stmts['insertUser']!.run(v.id, v.displayName, v.role, district, v.school, v.createdAt);
    return this.getUser(v.id)!;
  }

  getUser(id: string): User | undefined {
    const r = this.#one('getUser', id);
    return r && toUser(r);
  }

  listUsers(p: PageRequest & { district?: string | undefined; school?: string | undefined }): Page<User> {
    const where: PageQuery<User>['where'] = [];
    if (p.district !== undefined) where.push(['district = :q', p.district]);
    if (p.school !== undefined) where.push(['school = :q', p.school]);
    return this.#page({ entity: 'user', select: USER_SELECT, where, key: ['id'], keyTypes: ['string'], dir: 'ASC', keyOf: (r) => [String(r['id'])], map: toUser }, p);
  }

  /** True when the user exists; a second call keeps the first time. */
  disableUser(id: string, at: number): boolean {
    return this.#changed('disableUser', at, id);
  }

  /** `null` removes the password (tokens only). */
  setUserPassword(id: string, hash: string | null): boolean {
    if (hash !== null && hash.length === 0) throw new RegistryInvalidError('user', id, 'passwordHash', 'must not be empty');
    return this.#changed('setUserPassword', hash, id);
  }

  userPasswordHash(id: string): string | undefined {
    const r = this.#one('userPasswordHash', id);
    return r?.['password_hash'] == null ? undefined : String(r['password_hash']);
  }

  userCount(): number {
    return this.#count('countUsers');
  }

  createToken(t: Omit<ApiTokenRow, 'revokedAt' | 'lastUsedAt'>): void {
    const v = checkValue('token', t.id, tokenSchema, t);
    if (!this.getUser(v.user)) throw new RegistryInvalidError('token', v.id, 'user', `no user ${JSON.stringify(v.user)} in the registry`);
    if (this.#one('getToken', v.id)) throw new RegistryConflictError('token', v.id, 'exists', 'already in the registry');
    this.#stmts['insertToken']!.run(v.id, v.user, v.name, v.secretHash, v.createdAt, v.expiresAt);
  }

  getToken(id: string): ApiTokenRow | undefined {
    const r = this.#one('getToken', id);
    return r && toToken(r);
  }

  /** A user's tokens, oldest first, without their hashes. */
  listTokens(user: string): Array<Omit<ApiTokenRow, 'secretHash'>> {
    return (this.#stmts['listTokens']!.all(user) as SqlRow[]).map((r) => {
      const { secretHash: _, ...rest } = toToken(r);
      return rest;
    });
  }

  /** True when the token exists; a second call keeps the first time. */
  revokeToken(id: string, at: number): boolean {
    return this.#changed('revokeToken', at, id);
  }

  touchToken(id: string, at: number): void {
    this.#stmts['touchToken']!.run(at, id);
  }

  // ---- console sessions

  createSession(s: Omit<SessionRow, 'revokedAt'>): void {
    if (!this.getUser(s.user)) throw new RegistryInvalidError('session', s.id, 'user', `no user ${JSON.stringify(s.user)} in the registry`);
    if (this.#one('getSession', s.id)) throw new RegistryConflictError('session', s.id, 'exists', 'already in the registry');
    this.#stmts['insertSession']!.run(s.id, s.user, s.secretHash, s.csrfToken, s.createdAt, s.expiresAt, s.lastSeenAt);
  }

  getSession(id: string): SessionRow | undefined {
    const r = this.#one('getSession', id);
    return r && toSession(r);
  }

  /** True when the session exists; a second call keeps the first time. */
  revokeSession(id: string, at: number): boolean {
    return this.#changed('revokeSession', at, id);
  }

  /** Revokes every live session of `user` but `except`; how many. */
  revokeSessionsOf(user: string, at: number, except?: string): number {
    return Number(this.#stmts['revokeSessionsOf']!.run(at, user, except ?? '').changes);
  }

  touchSession(id: string, at: number): void {
    this.#stmts['touchSession']!.run(at, id);
  }

  // ---- commands

  /** Conflict `exists` for a known id, or an (actor, idempotency key) already used. */
  insertCommand(c: CommandRecord): void {
    const v = checkValue('command', c.id, commandSchema, c);
    if (this.getCommand(v.id)) throw new RegistryConflictError('command', v.id, 'exists', 'already in the registry');
    if (v.idempotencyKey !== null) {
      const held = this.commandByKey(v.actor, v.idempotencyKey);
      if (held) throw new RegistryConflictError('command', v.id, 'exists', `idempotency key ${JSON.stringify(v.idempotencyKey)} of ${v.actor} is command ${JSON.stringify(held.id)}'s`);
    }
    this.#stmts['insertCommand']!.run(v.id, v.device, v.district, v.school, v.gateway, v.action, v.input, v.ttlMs, v.actor, v.idempotencyKey, v.requestHash, v.status, v.detail, v.issuedAt, v.updatedAt);
  }

  getCommand(id: string): CommandRecord | undefined {
    const r = this.#one('getCommand', id);
    return r && toCommand(r);
  }

  commandByKey(actor: string, key: string): CommandRecord | undefined {
    const r = this.#one('commandByKey', actor, key);
    return r && toCommand(r);
  }

  /** Commands still waiting for their outcome (`sent`), oldest first. */
  sentCommands(): CommandRecord[] {
    return (this.#stmts['sentCommands']!.all() as SqlRow[]).map(toCommand);
  }

  /** False for an unknown command, and for `sent` over a final status (which is kept). */
  updateCommand(id: string, status: CommandStatus, detail: string | null, at: number): boolean {
    return Number(this.#stmts['updateCommand']!.run({ status, detail, at, id }).changes) > 0;
  }

  /** Newest first. */
  listCommands(p: PageRequest & { district?: string | undefined; school?: string | undefined; device?: string | undefined }): Page<CommandRecord> {
    const where: PageQuery<CommandRecord>['where'] = [];
    if (p.district !== undefined) where.push(['district = :q', p.district]);
    if (p.school !== undefined) where.push(['school = :q', p.school]);
    if (p.device !== undefined) where.push(['device = :q', p.device]);
    return this.#page(
      { entity: 'command', select: COMMAND_SELECT, where, key: ['issued_at', 'id'], keyTypes: ['number', 'string'], dir: 'DESC', keyOf: (r) => [num(r['issued_at']!), String(r['id'])], map: toCommand },
      p,
    );
  }

  // ---- timetables, counts

  /** Sets a school's timetable (null: back to the default). */
  setTimetable(school: string, t: Timetable | null): void {
    const valid = t === null ? null : checkValue('school', school, timetableSchema, t, 'timetable');
    this.#requireRow('schools', 'school', school, 'id', school);
    this.#stmts['setTimetable']!.run(valid === null ? null : JSON.stringify(valid), school);
    this.#timetableCache.delete(school);
  }

  timetableOf(school: string): Timetable {
    const cached = this.#timetableCache.get(school);
    const now = Date.now();
    if (cached && now - cached.at < Registry.DEVICE_CACHE_TTL_MS) return cached.t;
    const row = this.#stmts['getTimetable']!.get(school) as { timetable: string | null } | undefined;
    const t = parseTimetable(row?.timetable ?? null) ?? DEFAULT_TIMETABLE;
    this.#timetableCache.set(school, { t, at: now });
    return t;
  }

  /** Registered devices per district, school and kind (the denominators of coverage); retired ones are not counted. */
  deviceCounts(): Array<{ district: string; school: string; kind: DeviceKind; n: number }> {
    return (this.#stmts['devicesBySchool']!.all() as Array<{ district: string; school: string; kind: DeviceKind; n: number }>).map((r) => ({ ...r, n: Number(r.n) }));
  }

  /** Every gateway whose credentials are not revoked, with its school and district. */
  activeGateways(): Array<{ gateway: string; school: string; district: string }> {
    return this.#stmts['activeGateways']!.all() as Array<{ gateway: string; school: string; district: string }>;
  }

  /**
   * Takes the next inventory revision for a gateway: `atLeast` (the hub's clock) or one above the
   * last taken, whichever is higher, recorded in the same statement so that two hubs on one file
   * never take the same one. The revision is taken before it is published: one lost to a failed
   * publish is only a gap.
   */
  nextInventoryRevision(gateway: string, atLeast: number): number {
    const row = this.#stmts['nextInventoryRevision']!.get(gateway, Math.max(0, Math.trunc(atLeast))) as { revision: number | bigint };
    // Bookkeeping of the publisher's own, not a change of what inventories say (changeCount).
    this.#bookkeeping += 1;
    return Number(row.revision);
  }

  /** The last inventory revision taken for a gateway; undefined when none was. */
  inventoryRevisionOf(gateway: string): number | undefined {
    const row = this.#stmts['inventoryRevisionOf']!.get(gateway) as { revision: number | bigint } | undefined;
    return row === undefined ? undefined : Number(row.revision);
  }

  deviceCount(): number {
    return this.#count('countDevices');
  }

  /** A school's devices in service and its timetable, read fresh, not cached (a gateway's inventory). */
  schoolInventory(school: string): { timetable: Timetable; devices: Device[] } {
    const row = this.#stmts['getTimetable']!.get(school) as { timetable: string | null } | undefined;
    const devices = (this.#stmts['schoolDevices']!.all(school) as SqlRow[]).map(toDevice);
    return { timetable: parseTimetable(row?.timetable ?? null) ?? DEFAULT_TIMETABLE, devices };
  }

  /**
   * Rows this connection has changed since it opened (SQLite's total_changes()), less the
   * inventory revisions it recorded (one row each): with `dataVersion()`, which moves only on
   * other connections' commits, any write is noticed, but the inventory publisher's own
   * revisions do not set off another inventory pass.
   */
  changeCount(): number {
    return num(this.#db.prepare('SELECT total_changes() AS n').get()!['n']!) - this.#bookkeeping;
  }

  // ---- audit

  appendAudit(e: AuditEntry): void {
    this.#stmts['appendAudit']!.run(e.at, e.actor, e.action, e.target, e.outcome, e.detail ?? null, e.district ?? null, e.school ?? null);
  }

  /** Audit entries, newest first unless `order: 'asc'`; filters combine. */
  listAudit(q: AuditQuery = {}): Page<AuditRow> {
    const where: PageQuery<AuditRow>['where'] = [];
    if (q.target !== undefined) where.push(['target = :q', q.target]);
    if (q.actor !== undefined) where.push(['actor = :q', q.actor]);
    if (q.district !== undefined) where.push(['district = :q', q.district]);
    if (q.school !== undefined) where.push(['school = :q', q.school]);
    return this.#page(
      {
        entity: 'audit',
        select: 'SELECT id, at, actor, action, target, outcome, detail, district, school FROM audit_log',
        where,
        key: ['id'],
        keyTypes: ['number'],
        dir: q.order === 'asc' ? 'ASC' : 'DESC',
        keyOf: (r) => [num(r['id']!)],
        map: toAudit,
      },
      { cursor: q.cursor, limit: q.limit ?? 1000 },
    );
  }

  /** Forgets every cached device and timetable (another process wrote the file). */
  dropCaches(): void {
    this.#deviceCache.clear();
    this.#timetableCache.clear();
  }

  /** Runs `fn` in one transaction (bulk loads). */
  transaction<T>(fn: () => T): T {
    this.#db.exec('BEGIN');
    try {
      const out = fn();
      this.#db.exec('COMMIT');
      return out;
    } catch (e) {
      this.#db.exec('ROLLBACK');
      this.#deviceCache.clear();
      this.#timetableCache.clear();
      throw e;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}

const toRoom = (r: SqlRow): Room => ({ school: String(r['school']), id: String(r['id']), name: String(r['name']) });
const pickDevice = (d: Device) => ({ id: d.id, school: d.school, room: d.room, kind: d.kind, model: d.model, vendor: d.vendor, serial: d.serial, linkRole: d.linkRole, capacityBps: d.capacityBps });
