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

export const MIGRATIONS: readonly Migration[] = [
  { version: 1, name: 'initial', up: (db) => db.exec(INITIAL_SCHEMA) },
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
