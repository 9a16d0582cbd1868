import { DatabaseSync, type StatementSync } from 'node:sqlite';
import type { DeviceKind } from '../../protocol/src/kinds.ts';
import { toError } from '../../runtime/src/errors.ts';
import { HubError, HubErrorCode, RegistryInvalidError } from './errors.ts';
import { migrate } from './registryMigrations.ts';
import { checkValue, deviceValueSchema, districtValueSchema, gatewayValueSchema, schoolValueSchema } from './registryValues.ts';
import { DEFAULT_TIMETABLE, timetableSchema, type Timetable } from '../../protocol/src/schedule.ts';

/**
 * The registry of districts, schools, gateways (with hashed credentials) and devices, in an
 * embedded SQLite database (node:sqlite). Provisioning may write it from another process (WAL
 * mode); the hub reads gateways on every login and caches devices for DEVICE_CACHE_TTL_MS.
 * Opening migrates the file (registryMigrations.ts); every write checks its values first
 * (registryValues.ts).
 */
export interface DistrictRow {
  id: string;
  nameEn: string;
}
export interface SchoolRow {
  id: string;
  district: string;
  name: string;
}
export interface GatewayRow {
  id: string;
  school: string;
  district: string;
  passwordHash: string;
  revoked: boolean;
}
export interface DeviceRow {
  id: string;
  school: string;
  room: string;
  kind: DeviceKind;
}

/** One mutating operation: who asked for what on which target, when, and how it ended. */
export interface AuditEntry {
  at: number;
  actor: string;
  action: string;
  target: string;
  outcome: string;
  detail?: string | undefined;
}
export interface AuditRow extends AuditEntry {
  id: number;
}

export class Registry {
  readonly #db: DatabaseSync;
  readonly #stmts: Record<string, StatementSync>;
  /** Device lookups sit on the ingest hot path; writes through this object invalidate it. */
  readonly #deviceCache = new Map<string, { row: Readonly<DeviceRow>; at: number }>();
  readonly #timetableCache = new Map<string, { t: Timetable; at: number }>();
  /** Another process (provisioning) may change a device: a cached row lives this long. */
  static readonly DEVICE_CACHE_TTL_MS = 30_000;

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
      upsertDistrict: p('INSERT INTO districts (id, name_en) VALUES (?, ?) ON CONFLICT(id) DO UPDATE SET name_en = excluded.name_en'),
      upsertSchool: p('INSERT INTO schools (id, district, name) VALUES (?, ?, ?) ON CONFLICT(id) DO UPDATE SET district = excluded.district, name = excluded.name'),
      // A revocation outlives re-provisioning and rotation: the upsert never touches `revoked`.
      upsertGateway: p('INSERT INTO gateways (id, school, password_hash, revoked) VALUES (?, ?, ?, 0) ON CONFLICT(id) DO UPDATE SET school = excluded.school, password_hash = excluded.password_hash'),
      revokeGateway: p('UPDATE gateways SET revoked = 1 WHERE id = ?'),
      reinstateGateway: p('UPDATE gateways SET revoked = 0 WHERE id = ?'),
      getGateway: p('SELECT g.id, g.school, s.district, g.password_hash AS passwordHash, g.revoked FROM gateways g JOIN schools s ON s.id = g.school WHERE g.id = ?'),
      upsertDevice: p('INSERT INTO devices (id, school, room, kind) VALUES (?, ?, ?, ?) ON CONFLICT(id) DO UPDATE SET school = excluded.school, room = excluded.room, kind = excluded.kind'),
      districts: p('SELECT 1 FROM districts WHERE id = ?'),
      schools: p('SELECT 1 FROM schools WHERE id = ?'),
      getDevice: p('SELECT id, school, room, kind FROM devices WHERE id = ?'),
      countDevices: p('SELECT COUNT(*) AS n FROM devices'),
      activeGateways: p('SELECT g.id AS gateway, g.school AS school, s.district AS district FROM gateways g JOIN schools s ON s.id = g.school WHERE g.revoked = 0 ORDER BY g.id'),
      setTimetable: p('UPDATE schools SET timetable = ? WHERE id = ?'),
      getTimetable: p('SELECT timetable FROM schools WHERE id = ?'),
      appendAudit: p('INSERT INTO audit_log (at, actor, action, target, outcome, detail) VALUES (?, ?, ?, ?, ?, ?)'),
      listAudit: p('SELECT id, at, actor, action, target, outcome, detail FROM audit_log WHERE (?1 IS NULL OR target = ?1) ORDER BY id LIMIT ?2'),
      devicesBySchool: p('SELECT s.district AS district, d.school AS school, d.kind AS kind, COUNT(*) AS n FROM devices d JOIN schools s ON s.id = d.school GROUP BY s.district, d.school, d.kind'),
    };
  }

  /** HUB_ERR_REGISTRY_INVALID (`RegistryInvalidError`) unless `value` is a row of `table`. */
  #requireRow(table: 'districts' | 'schools', entity: string, id: string, field: string, value: string): void {
    if (this.#stmts[table]!.get(value) === undefined) throw new RegistryInvalidError(entity, id, field, `no ${table === 'districts' ? 'district' : 'school'} ${JSON.stringify(value)} in the registry`);
  }

  /** Every write below refuses a bad value with HUB_ERR_REGISTRY_INVALID before touching the database. */
  upsertDistrict(row: DistrictRow): void {
    const d = checkValue('district', row.id, districtValueSchema, row);
    this.#stmts['upsertDistrict']!.run(d.id, d.nameEn);
  }

  upsertSchool(row: SchoolRow): void {
    const s = checkValue('school', row.id, schoolValueSchema, row);
    this.#requireRow('districts', 'school', s.id, 'district', s.district);
    this.#stmts['upsertSchool']!.run(s.id, s.district, s.name);
  }

  /** Sets (or rotates) a gateway's credentials; the hash only is stored. A revoked gateway stays revoked. */
  setGateway(id: string, school: string, passwordHash: string): void {
    const g = checkValue('gateway', id, gatewayValueSchema, { id, school, passwordHash });
    this.#requireRow('schools', 'gateway', g.id, 'school', g.school);
    this.#stmts['upsertGateway']!.run(g.id, g.school, g.passwordHash);
  }

  revokeGateway(id: string): boolean {
    return Number(this.#stmts['revokeGateway']!.run(id).changes) > 0;
  }

  /** Clears a revocation (only this does); false for an unknown gateway. */
  reinstateGateway(id: string): boolean {
    return Number(this.#stmts['reinstateGateway']!.run(id).changes) > 0;
  }

  getGateway(id: string): GatewayRow | undefined {
    const row = this.#stmts['getGateway']!.get(id) as
      | { id: string; school: string; district: string; passwordHash: string; revoked: number }
      | undefined;
    return row && { ...row, revoked: row.revoked !== 0 };
  }

  upsertDevice(row: DeviceRow): void {
    const d = checkValue('device', row.id, deviceValueSchema, row);
    this.#requireRow('schools', 'device', d.id, 'school', d.school);
    this.#stmts['upsertDevice']!.run(d.id, d.school, d.room, d.kind);
    this.#deviceCache.delete(d.id);
  }

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
    let raw: unknown;
    try {
      raw = row?.timetable ? JSON.parse(row.timetable) : undefined;
    } catch {
      raw = undefined; // written by hand or another process: fall back to the default
    }
    const parsed = raw === undefined ? undefined : timetableSchema.safeParse(raw);
    const t = parsed?.success ? parsed.data : DEFAULT_TIMETABLE;
    this.#timetableCache.set(school, { t, at: now });
    return t;
  }

  /** Registered devices per district, school and kind (the denominators of coverage). */
  deviceCounts(): Array<{ district: string; school: string; kind: DeviceKind; n: number }> {
    return (this.#stmts['devicesBySchool']!.all() as Array<{ district: string; school: string; kind: DeviceKind; n: number }>).map((r) => ({ ...r, n: Number(r.n) }));
  }

  /** Every gateway whose credentials are not revoked, with its school and district. */
  activeGateways(): Array<{ gateway: string; school: string; district: string }> {
    return this.#stmts['activeGateways']!.all() as Array<{ gateway: string; school: string; district: string }>;
  }

  appendAudit(e: AuditEntry): void {
    this.#stmts['appendAudit']!.run(e.at, e.actor, e.action, e.target, e.outcome, e.detail ?? null);
  }

  /** Audit entries, oldest first; of one target when given. */
  listAudit(q: { target?: string; limit?: number } = {}): AuditRow[] {
    const rows = this.#stmts['listAudit']!.all(q.target ?? null, q.limit ?? 1000) as Array<Omit<AuditRow, 'detail'> & { detail: string | null }>;
    return rows.map(({ detail, ...r }) => ({ ...r, id: Number(r.id), at: Number(r.at), ...(detail === null ? {} : { detail }) }));
  }

  deviceCount(): number {
    return Number((this.#stmts['countDevices']!.get() as { n: number }).n);
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
      throw e;
    }
  }

  close(): void {
    if (this.#db.isOpen) this.#db.close();
  }
}
