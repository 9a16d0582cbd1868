import { randomBytes } from 'node:crypto';
import { DatabaseSync } from 'node:sqlite';
import { HubError, HubErrorCode } from './errors.ts';

/**
 * The registry's schema as an ordered list of migrations, each applied once, in its own
 * transaction, and recorded in `schema_migrations`. A new version is a new entry at the end;
 * an applied migration is never edited (broker/README.md, Registry).
 */
export interface Migration {
  readonly version: number;
  readonly name: string;
  readonly up: (db: DatabaseSync) => void;
}

/** `IF NOT EXISTS` so that adoption can create what an earlier database lacks with the same text. */
const INITIAL_SCHEMA = `
CREATE TABLE IF NOT EXISTS districts (id TEXT PRIMARY KEY, name_en TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schools (
  id TEXT PRIMARY KEY,
  district TEXT NOT NULL REFERENCES districts(id),
  name TEXT NOT NULL,
  timetable TEXT
);
CREATE TABLE IF NOT EXISTS gateways (
  id TEXT PRIMARY KEY,
  school TEXT NOT NULL REFERENCES schools(id),
  password_hash TEXT NOT NULL,
  revoked INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS devices (
  id TEXT PRIMARY KEY,
  school TEXT NOT NULL REFERENCES schools(id),
  room TEXT NOT NULL,
  kind TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS devices_school ON devices(school);
CREATE TABLE IF NOT EXISTS audit_log (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  at INTEGER NOT NULL,
  actor TEXT NOT NULL,
  action TEXT NOT NULL,
  target TEXT NOT NULL,
  outcome TEXT NOT NULL,
  detail TEXT
);
CREATE INDEX IF NOT EXISTS audit_log_target ON audit_log(target);
`;

/**
 * The management plane (docs/design.md#security): districts get a Chinese name and a short code,
 * schools an English name and an uplink capacity, rooms a table of their own (every room a device
 * names is created from the devices), devices their model, vendor, serial, link role and capacity
 * and a retirement time, gateways their creation and rotation times; users, API tokens, and the
 * commands sent through the hub (with their idempotency keys). The audit log learns the scope of
 * each entry so that a school sees its own.
 */
const MANAGEMENT_PLANE = `
ALTER TABLE districts ADD COLUMN name_zh TEXT NOT NULL DEFAULT '';
ALTER TABLE districts ADD COLUMN code TEXT;
UPDATE districts SET name_zh = id;
CREATE UNIQUE INDEX districts_code ON districts(code) WHERE code IS NOT NULL;

ALTER TABLE schools RENAME COLUMN name TO name_zh;
ALTER TABLE schools ADD COLUMN name_en TEXT NOT NULL DEFAULT '';
ALTER TABLE schools ADD COLUMN uplink_capacity_bps INTEGER;
ALTER TABLE schools ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
CREATE INDEX schools_district ON schools(district);

CREATE TABLE rooms (
  school TEXT NOT NULL REFERENCES schools(id),
  id TEXT NOT NULL,
  name TEXT NOT NULL DEFAULT '',
  PRIMARY KEY (school, id)
);
INSERT INTO rooms (school, id) SELECT DISTINCT school, room FROM devices;

CREATE TABLE devices_v2 (
  id TEXT PRIMARY KEY,
  school TEXT NOT NULL REFERENCES schools(id),
  room TEXT NOT NULL,
  kind TEXT NOT NULL,
  model TEXT NOT NULL DEFAULT '',
  vendor TEXT NOT NULL DEFAULT '',
  serial TEXT NOT NULL DEFAULT '',
  link_role TEXT,
  capacity_bps INTEGER,
  created_at INTEGER NOT NULL DEFAULT 0,
  retired_at INTEGER,
  FOREIGN KEY (school, room) REFERENCES rooms(school, id)
);
INSERT INTO devices_v2 (id, school, room, kind) SELECT id, school, room, kind FROM devices;
DROP TABLE devices;
ALTER TABLE devices_v2 RENAME TO devices;
CREATE INDEX devices_school ON devices(school, id);
CREATE INDEX devices_serial ON devices(serial);

ALTER TABLE gateways ADD COLUMN created_at INTEGER NOT NULL DEFAULT 0;
ALTER TABLE gateways ADD COLUMN rotated_at INTEGER;
CREATE INDEX gateways_school ON gateways(school);

CREATE TABLE users (
  id TEXT PRIMARY KEY,
  display_name TEXT NOT NULL DEFAULT '',
  role TEXT NOT NULL CHECK (role IN ('city_admin', 'district_operator', 'school_it', 'viewer')),
  district TEXT REFERENCES districts(id),
  school TEXT REFERENCES schools(id),
  password_hash TEXT,
  created_at INTEGER NOT NULL,
  disabled_at INTEGER
);
CREATE TABLE api_tokens (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES users(id),
  name TEXT NOT NULL DEFAULT '',
  secret_hash TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER,
  revoked_at INTEGER,
  last_used_at INTEGER
);
CREATE INDEX api_tokens_user ON api_tokens(user);

CREATE TABLE commands (
  id TEXT PRIMARY KEY,
  device TEXT NOT NULL,
  district TEXT NOT NULL,
  school TEXT NOT NULL,
  gateway TEXT NOT NULL,
  action TEXT NOT NULL,
  ttl_ms INTEGER NOT NULL,
  actor TEXT NOT NULL,
  idempotency_key TEXT,
  request_hash TEXT,
  status TEXT NOT NULL,
  detail TEXT,
  issued_at INTEGER NOT NULL,
  updated_at INTEGER NOT NULL
);
CREATE UNIQUE INDEX commands_idempotency ON commands(actor, idempotency_key) WHERE idempotency_key IS NOT NULL;
CREATE INDEX commands_school ON commands(school, issued_at);
CREATE INDEX commands_device ON commands(device, issued_at);

ALTER TABLE audit_log ADD COLUMN district TEXT;
ALTER TABLE audit_log ADD COLUMN school TEXT;
CREATE INDEX audit_log_school ON audit_log(school, id);
`;

/**
 * People signed in to the console (docs/design.md#security): one row per session, only the
 * SHA-256 of its cookie's secret kept, with its CSRF token, its absolute expiry and its last use
 * (for the idle limit).
 */
const CONSOLE_SESSIONS = `
CREATE TABLE sessions (
  id TEXT PRIMARY KEY,
  user TEXT NOT NULL REFERENCES users(id),
  secret_hash TEXT NOT NULL,
  csrf_token TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  expires_at INTEGER NOT NULL,
  last_seen_at INTEGER NOT NULL,
  revoked_at INTEGER
);
CREATE INDEX sessions_user ON sessions(user);
`;

/**
 * Real devices (docs/design.md#bandwidth): a network node the school's gateway polls over SNMP
 * has its target (address, credentials, interface) as one JSON value, written only through
 * `snmpTargetSchema`. Its secrets leave the hub only for the node's own gateway.
 */
const SNMP_TARGETS = `
ALTER TABLE devices ADD COLUMN snmp_target TEXT;
`;

/**
 * Commands with an argument (docs/design.md#protocol): the source a `switch_input` selects;
 * NULL for every other action, and for every command recorded before.
 */
const COMMANDS_INPUT = `
ALTER TABLE commands ADD COLUMN input TEXT;
`;

/**
 * The last inventory revision the hub gave each gateway (broker/README.md, Inventories): a new
 * one is always above it, so a hub restarted with its clock set back, or the registry moved to
 * a hub with a slower clock, still publishes revisions the gateways take. Keyed by gateway id
 * without a foreign key: a gateway deleted and created again keeps counting up from where its
 * predecessor's inventory (perhaps still held by the device) stopped.
 */
const INVENTORY_REVISIONS = `
CREATE TABLE inventory_revisions (
  gateway TEXT PRIMARY KEY,
  revision INTEGER NOT NULL
);
`;

/**
 * Secrets the hub nodes sharing this registry hold in common, made once when the migration runs:
 * `login_ticket_key`, the 32 random bytes login tickets are signed with (loginTickets.ts), so
 * every node checks the tickets any node issued, and a restarted hub still accepts them.
 */
const HUB_SECRETS = `
CREATE TABLE hub_secrets (
  name TEXT PRIMARY KEY,
  value BLOB NOT NULL,
  created_at INTEGER NOT NULL
);
`;

function hubSecrets(db: DatabaseSync): void {
  db.exec(HUB_SECRETS);
  db.prepare('INSERT INTO hub_secrets (name, value, created_at) VALUES (?, ?, ?)').run('login_ticket_key', randomBytes(32), Date.now());
}

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: (db) => db.exec(INITIAL_SCHEMA) },
  { version: 2, name: 'management plane', up: (db) => db.exec(MANAGEMENT_PLANE) },
  { version: 3, name: 'console sessions', up: (db) => db.exec(CONSOLE_SESSIONS) },
  { version: 4, name: 'snmp targets', up: (db) => db.exec(SNMP_TARGETS) },
  { version: 5, name: 'commands input', up: (db) => db.exec(COMMANDS_INPUT) },
  { version: 6, name: 'inventory revisions', up: (db) => db.exec(INVENTORY_REVISIONS) },
  { version: 7, name: 'hub secrets', up: hubSecrets },
];

const LEDGER = 'CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL)';

/** Tables of the registry made before it had versions; their presence at version 0 means adoption. */
const EARLIER_TABLES = ['districts', 'schools', 'gateways', 'devices'];

function tableExists(db: DatabaseSync, name: string): boolean {
  return db.prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?").get(name) !== undefined;
}

/** The highest recorded version; 0 for a database without the ledger. */
function recordedVersion(db: DatabaseSync): number {
  if (!tableExists(db, 'schema_migrations')) return 0;
  const row = db.prepare('SELECT MAX(version) AS v FROM schema_migrations').get() as { v: number | null };
  return Number(row.v ?? 0);
}

/**
 * Brings `db` to the newest version in `migrations`. Each pending migration runs in its own
 * `BEGIN IMMEDIATE` transaction, which takes the write lock before the version is read again, so
 * of two processes opening one file at once only the first applies it; the second waits
 * (busy_timeout) and finds it recorded. HUB_ERR_REGISTRY_VERSION when the file is newer than the code.
 */
export function migrate(db: DatabaseSync, path: string, migrations: readonly Migration[] = MIGRATIONS, now: () => number = Date.now): void {
  const latest = migrations.at(-1)?.version ?? 0;
  const refuseNewer = (v: number): void => {
    if (v > latest) throw new HubError(HubErrorCode.REGISTRY_VERSION, `registry ${path} is at schema version ${v}; this hub knows versions up to ${latest}: run a newer hub`);
  };
  let current = recordedVersion(db);
  refuseNewer(current);
  for (const m of migrations) {
    if (m.version <= current) continue;
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec(LEDGER);
      current = recordedVersion(db);
      refuseNewer(current);
      if (m.version > current) {
        const adopted = current === 0 && m.version === 1 && EARLIER_TABLES.some((t) => tableExists(db, t));
        if (adopted) adoptEarlier(db, path, m);
        else m.up(db);
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, adopted ? `${m.name} (adopted)` : m.name, now());
        current = m.version;
      }
      db.exec('COMMIT');
    } catch (e) {
      if (db.isTransaction) db.exec('ROLLBACK');
      throw e;
    }
  }
}

/**
 * A database written before versioning: the same tables, perhaps without `schools.timetable`
 * (added later by an `ALTER` at open) or `audit_log`. It is brought to migration 1's shape in
 * place, rows kept, then checked against a fresh migration 1 so that a foreign file is refused.
 */
function adoptEarlier(db: DatabaseSync, path: string, initial: Migration): void {
  const cols = db.prepare('PRAGMA table_info(schools)').all() as Array<{ name: string }>;
  if (cols.length > 0 && !cols.some((c) => c.name === 'timetable')) db.exec('ALTER TABLE schools ADD COLUMN timetable TEXT');
  initial.up(db);
  const fresh = new DatabaseSync(':memory:');
  let expected: string;
  try {
    initial.up(fresh);
    expected = shapeOf(fresh);
  } finally {
    fresh.close();
  }
  const found = shapeOf(db);
  if (found !== expected) {
    throw new HubError(HubErrorCode.REGISTRY_OPEN, `registry ${path} has no schema version and its tables are not an earlier registry's, so it is not adopted:\nfound\n${found}\nexpected\n${expected}`);
  }
}

/** Tables, columns (type, not null, default, key), foreign keys and indexes, one line each, sorted. */
function shapeOf(db: DatabaseSync): string {
  const tables = (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name <> 'schema_migrations' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
  const lines: string[] = [];
  for (const t of tables) {
    const q = (pragma: string) => db.prepare(`PRAGMA ${pragma}("${t.replaceAll('"', '""')}")`).all() as Array<Record<string, unknown>>;
    for (const c of q('table_info')) lines.push(`${t} column ${c['cid']} ${c['name']} ${c['type']} notnull=${c['notnull']} default=${c['dflt_value']} pk=${c['pk']}`);
    for (const f of q('foreign_key_list')) lines.push(`${t} fk ${f['from']} -> ${f['table']}(${f['to']})`);
    for (const i of q('index_list')) lines.push(`${t} index ${i['name']} unique=${i['unique']} origin=${i['origin']}`);
  }
  return lines.sort().join('\n');
}
