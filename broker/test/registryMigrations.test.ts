import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { spawn } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { Registry } from '../src/registry.ts';
import { MIGRATIONS, migrate, type Migration } from '../src/registryMigrations.ts';

let dir: string;
let file: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'registry-migrations-'));
  file = join(dir, 'registry.sqlite');
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

/** Runs `fn` on the file opened directly, without the registry's code. */
function raw<T>(fn: (db: DatabaseSync) => T, path = file): T {
  const db = new DatabaseSync(path);
  try {
    return fn(db);
  } finally {
    db.close();
  }
}

/** Migration 1 alone: the mechanism's tests pin its shape; migration 2 has tests of its own below. */
const V1: readonly Migration[] = MIGRATIONS.slice(0, 1);
/** Opens `path` as the registry of version 1 only would. */
function openAtV1(path = file): void {
  raw((db) => {
    db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;');
    migrate(db, path, V1);
  }, path);
}

const ledger = (db: DatabaseSync) =>
  (db.prepare('SELECT version, name, applied_at FROM schema_migrations ORDER BY version').all() as Array<{ version: number; name: string; applied_at: number }>).map((r) => ({ ...r, version: Number(r.version), applied_at: Number(r.applied_at) }));

const columns = (db: DatabaseSync, table: string) =>
  (db.prepare(`PRAGMA table_info(${table})`).all() as Array<{ name: string; type: string; notnull: number; dflt_value: string | null; pk: number }>).map((c) => [c.name, c.type, Number(c.notnull), c.dflt_value, Number(c.pk)]);

const tables = (db: DatabaseSync) => (db.prepare("SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string }>).map((r) => r.name);
const indexes = (db: DatabaseSync) => (db.prepare("SELECT name, tbl_name FROM sqlite_master WHERE type = 'index' AND name NOT LIKE 'sqlite_%' ORDER BY name").all() as Array<{ name: string; tbl_name: string }>).map((r) => `${r.tbl_name}.${r.name}`);

/** Migration 1's shape, written out by hand: [name, type, not null, default, primary key]. */
const VERSION_1 = {
  tables: ['audit_log', 'devices', 'districts', 'gateways', 'schema_migrations', 'schools'],
  indexes: ['audit_log.audit_log_target', 'devices.devices_school'],
  columns: {
    districts: [['id', 'TEXT', 0, null, 1], ['name_en', 'TEXT', 1, null, 0]],
    schools: [['id', 'TEXT', 0, null, 1], ['district', 'TEXT', 1, null, 0], ['name', 'TEXT', 1, null, 0], ['timetable', 'TEXT', 0, null, 0]],
    gateways: [['id', 'TEXT', 0, null, 1], ['school', 'TEXT', 1, null, 0], ['password_hash', 'TEXT', 1, null, 0], ['revoked', 'INTEGER', 1, '0', 0]],
    devices: [['id', 'TEXT', 0, null, 1], ['school', 'TEXT', 1, null, 0], ['room', 'TEXT', 1, null, 0], ['kind', 'TEXT', 1, null, 0]],
    audit_log: [['id', 'INTEGER', 0, null, 1], ['at', 'INTEGER', 1, null, 0], ['actor', 'TEXT', 1, null, 0], ['action', 'TEXT', 1, null, 0], ['target', 'TEXT', 1, null, 0], ['outcome', 'TEXT', 1, null, 0], ['detail', 'TEXT', 0, null, 0]],
    schema_migrations: [['version', 'INTEGER', 0, null, 1], ['name', 'TEXT', 1, null, 0], ['applied_at', 'INTEGER', 1, null, 0]],
  } as Record<string, unknown[]>,
};

/** The same tables, columns and indexes as `migrations` applied to an empty database. */
function expectShapeOf(db: DatabaseSync, migrations: readonly Migration[]): void {
  const fresh = new DatabaseSync(':memory:');
  try {
    migrate(fresh, ':memory:', migrations);
    expect(tables(db)).toEqual(tables(fresh));
    expect(indexes(db)).toEqual(indexes(fresh));
    for (const t of tables(fresh)) expect([t, columns(db, t)]).toEqual([t, columns(fresh, t)]);
  } finally {
    fresh.close();
  }
}

function expectVersion1Shape(db: DatabaseSync): void {
  expect(tables(db)).toEqual(VERSION_1.tables);
  expect(indexes(db)).toEqual(VERSION_1.indexes);
  for (const t of VERSION_1.tables) expect([t, columns(db, t)]).toEqual([t, VERSION_1.columns[t]]);
}

// The earlier code's schema, as it created it before the registry had versions. The first
// release had neither the timetable column nor the audit log; the second added the column with
// an ALTER at open; the third added the audit log.
const EARLIER_SCHEMA = `
CREATE TABLE IF NOT EXISTS districts (id TEXT PRIMARY KEY, name_en TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS schools (
  id TEXT PRIMARY KEY,
  district TEXT NOT NULL REFERENCES districts(id),
  name TEXT NOT NULL
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
`;
const EARLIER_AUDIT_LOG = `
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
const EARLIER_TIMETABLE = 'ALTER TABLE schools ADD COLUMN timetable TEXT';

const TIMETABLE = { days: [1, 2, 3, 4, 5, 6], start: '08:00', end: '17:00', timeZone: 'Asia/Shanghai' };

function writeEarlier(db: DatabaseSync, release: { timetable: boolean; audit: boolean }): void {
  db.exec('PRAGMA journal_mode = WAL; PRAGMA foreign_keys = ON;');
  db.exec(EARLIER_SCHEMA);
  if (release.timetable) db.exec(EARLIER_TIMETABLE);
  if (release.audit) db.exec(EARLIER_AUDIT_LOG);
  db.exec(`
    INSERT INTO districts VALUES ('渝中区', 'Yuzhong'), ('江北区', 'Jiangbei');
    INSERT INTO schools (id, district, name) VALUES ('S01', '渝中区', '巴蜀小学'), ('S02', '江北区', '新村实验小学');
    INSERT INTO gateways VALUES ('G01', 'S01', 'hash-1', 0), ('G02', 'S02', 'hash-2', 1);
    INSERT INTO devices VALUES ('AV-101', 'S01', '101', 'classroom_av'), ('VR-1', 'S02', '实验室', 'vr_kit'), ('NN-1', 'S02', 'server-room', 'network_node');
  `);
  if (release.timetable) db.prepare("UPDATE schools SET timetable = ? WHERE id = 'S02'").run(JSON.stringify(TIMETABLE));
  if (release.audit) db.exec("INSERT INTO audit_log (at, actor, action, target, outcome) VALUES (1000, 'system:cli', 'gateway.revoke', 'gateway:G02', 'ok')");
}

describe('registry migrations: a new file', () => {
  it('gets version 1 and exactly the tables, columns and indexes of migration 1', () => {
    openAtV1();
    raw((db) => {
      expect(ledger(db).map(({ version, name }) => ({ version, name }))).toEqual([{ version: 1, name: 'initial' }]);
      expectVersion1Shape(db);
    });
  });

  it('reopening applies nothing: the recorded row is left as it was', () => {
    new Registry(file).close();
    raw((db) => db.exec('UPDATE schema_migrations SET applied_at = 12345'));
    const reg = new Registry(file);
    reg.upsertDistrict({ id: 'd', nameEn: 'D' });
    reg.close();
    new Registry(file).close();
    raw((db) => {
      expect(ledger(db)).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name, applied_at: 12345 })));
      expect(db.prepare('SELECT id, name_en FROM districts').all()).toEqual([{ id: 'd', name_en: 'D' }]);
    });
  });

  it('lists its migrations in order, versions 1, 2, … with none missing', () => {
    // `migrate` runs what is above the recorded version: a gap filled later would never run.
    const versions = MIGRATIONS.map((m) => m.version);
    expect(versions).toEqual(Array.from({ length: versions.length }, (_, i) => i + 1));
  });
});

describe('registry migrations: adoption of a file made before versions', () => {
  for (const release of [
    { timetable: false, audit: false },
    { timetable: true, audit: false },
    { timetable: true, audit: true },
  ]) {
    it(`keeps every row and records version 1 (timetable column ${release.timetable ? 'present' : 'absent'}, audit log ${release.audit ? 'present' : 'absent'})`, () => {
      raw((db) => writeEarlier(db, release));
      openAtV1();
      raw((db) => {
        expect(ledger(db).map(({ version, name }) => ({ version, name }))).toEqual([{ version: 1, name: 'initial (adopted)' }]);
        expectVersion1Shape(db);
        expect(db.prepare('SELECT id, name_en FROM districts ORDER BY id').all()).toEqual([
          { id: '江北区', name_en: 'Jiangbei' },
          { id: '渝中区', name_en: 'Yuzhong' },
        ]);
        expect(db.prepare('SELECT id, district, name FROM schools ORDER BY id').all()).toEqual([
          { id: 'S01', district: '渝中区', name: '巴蜀小学' },
          { id: 'S02', district: '江北区', name: '新村实验小学' },
        ]);
        expect(db.prepare('SELECT id FROM devices ORDER BY id').all()).toEqual([{ id: 'AV-101' }, { id: 'NN-1' }, { id: 'VR-1' }]);
      });
      const reg = new Registry(file);
      try {
        expect(reg.getGateway('G01')).toEqual({ id: 'G01', school: 'S01', district: '渝中区', passwordHash: 'hash-1', revoked: false });
        expect(reg.getGateway('G02')).toEqual({ id: 'G02', school: 'S02', district: '江北区', passwordHash: 'hash-2', revoked: true });
        expect(reg.getDevice('VR-1')).toEqual({ id: 'VR-1', school: 'S02', room: '实验室', kind: 'vr_kit' });
        expect(reg.deviceCount()).toBe(3);
        expect(reg.timetableOf('S02')).toEqual(release.timetable ? TIMETABLE : { days: [1, 2, 3, 4, 5], start: '07:30', end: '18:00', timeZone: 'Asia/Shanghai' });
        expect(reg.listAudit({ order: 'asc' }).items.map((r) => r.target)).toEqual(release.audit ? ['gateway:G02'] : []);
        reg.appendAudit({ at: 2000, actor: 'system:test', action: 'x', target: 'y', outcome: 'ok' });
      } finally {
        reg.close();
      }
      raw((db) => {
        expect(ledger(db).map(({ version, name }) => ({ version, name }))).toEqual([{ version: 1, name: 'initial (adopted)' }, { version: 2, name: 'management plane' }, { version: 3, name: 'console sessions' }, { version: 4, name: 'snmp targets' }, { version: 5, name: 'commands input' }, { version: 6, name: 'inventory revisions' }, { version: 7, name: 'hub secrets' }]);
      });
    });
  }

  it('refuses a file whose tables are not an earlier registry (HUB_ERR_REGISTRY_OPEN) and changes nothing', () => {
    raw((db) => db.exec("CREATE TABLE districts (id TEXT PRIMARY KEY, population INTEGER); INSERT INTO districts VALUES ('x', 1);"));
    expect(() => new Registry(file)).toThrow(expect.objectContaining({ code: 'HUB_ERR_REGISTRY_OPEN' }));
    raw((db) => {
      expect(tables(db)).toEqual(['districts']);
      expect(db.prepare('SELECT * FROM districts').all()).toEqual([{ id: 'x', population: 1 }]);
    });
  });
});

describe('registry migrations: versions', () => {
  it('refuses a file at a version newer than the code (HUB_ERR_REGISTRY_VERSION) and leaves it unchanged and unlocked', () => {
    new Registry(file).close();
    raw((db) => db.exec("INSERT INTO schema_migrations VALUES (99, 'from the future', 5)"));
    expect(() => new Registry(file)).toThrow(expect.objectContaining({ code: 'HUB_ERR_REGISTRY_VERSION', message: expect.stringContaining('version 99') }));
    raw((db) => {
      expect(ledger(db).map((r) => r.version)).toEqual([...MIGRATIONS.map((m) => m.version), 99]);
      db.exec("INSERT INTO districts (id, name_en) VALUES ('d', 'D')"); // the refused open holds no lock
    });
  });

  it('applies each pending migration in its own transaction: a failing one leaves the earlier ones recorded', () => {
    const db = new DatabaseSync(file);
    try {
      const extra: Migration[] = [
        ...V1,
        { version: 2, name: 'rooms', up: (d) => d.exec('CREATE TABLE rooms (id TEXT PRIMARY KEY)') },
        { version: 3, name: 'broken', up: (d) => d.exec('CREATE TABLE notes (id TEXT); INSERT INTO nowhere VALUES (1)') },
      ];
      expect(() => migrate(db, file, extra, () => 7)).toThrow(/nowhere/);
      expect(ledger(db)).toEqual([
        { version: 1, name: 'initial', applied_at: 7 },
        { version: 2, name: 'rooms', applied_at: 7 },
      ]);
      expect(tables(db)).toContain('rooms');
      expect(tables(db)).not.toContain('notes');
      expect(db.isTransaction).toBe(false);
    } finally {
      db.close();
    }
  });
});

describe('registry migrations: two processes opening one new file at once', () => {
  /** A process that loads the registry, says `ready`, and opens `path` when it reads a line. */
  function opener(path: string) {
    const code = `
      const { Registry } = await import(process.argv[1]);
      process.stdout.write('ready\\n');
      process.stdin.once('data', () => {
        try { new Registry(process.argv[2]).close(); process.stdout.write('opened\\n'); process.exit(0); }
        catch (e) { process.stdout.write(String(e?.code) + ' ' + String(e?.message) + '\\n'); process.exit(1); }
      });`;
    const child = spawn(process.execPath, ['--no-warnings', '--input-type=module', '-e', code, join(import.meta.dirname, '../src/registry.ts'), path], { stdio: ['pipe', 'pipe', 'inherit'] });
    let out = '';
    child.stdout.setEncoding('utf8');
    const ready = new Promise<void>((resolve) => child.stdout.on('data', (s: string) => ((out += s), out.includes('ready') && resolve())));
    const exited = new Promise<{ code: number | null; out: string }>((resolve) => child.once('exit', (c) => resolve({ code: c, out })));
    return { child, ready, exited };
  }

  it('leaves exactly one row per version, and every one opens', async () => {
    // The openers meet at a write lock held here on the empty file (WAL, as a first open leaves
    // it), so that all of them have read version 0 and wait to migrate when it is released.
    const gate = new DatabaseSync(file);
    gate.exec('PRAGMA journal_mode = WAL; BEGIN IMMEDIATE');
    const procs = [opener(file), opener(file), opener(file)];
    try {
      await Promise.all(procs.map((p) => p.ready));
      for (const p of procs) p.child.stdin.end('go\n');
      await new Promise((r) => setTimeout(r, 300));
      gate.exec('COMMIT');
      const results = await Promise.all(procs.map((p) => p.exited));
      expect(results.map((r) => [r.code, r.out.trim().split('\n').at(-1)])).toEqual(procs.map(() => [0, 'opened']));
    } finally {
      if (gate.isTransaction) gate.exec('ROLLBACK');
      gate.close();
      for (const p of procs) if (p.child.exitCode === null) p.child.kill();
    }
    raw((db) => {
      expect(ledger(db).map(({ version, name }) => ({ version, name }))).toEqual(MIGRATIONS.map((m) => ({ version: m.version, name: m.name })));
      expectShapeOf(db, MIGRATIONS);
      // One hub secret, made by whichever opener migrated: every node signs with the same one.
      expect(db.prepare('SELECT name, length(value) AS n FROM hub_secrets').all().map((r) => ({ ...r }))).toEqual([{ name: 'login_ticket_key', n: 32 }]);
    });
  });
});

describe('registry migrations: 2, the management plane, over a version-1 file', () => {
  it('keeps districts, schools, gateways, devices and audit rows, and creates the rooms devices named', () => {
    openAtV1();
    raw((db) => {
      db.exec('PRAGMA foreign_keys = ON');
      db.exec(`
        INSERT INTO districts VALUES ('渝中区', 'Yuzhong');
        INSERT INTO schools (id, district, name, timetable) VALUES ('S01', '渝中区', '巴蜀小学', NULL), ('S02', '渝中区', '人和街小学', '${JSON.stringify(TIMETABLE)}');
        INSERT INTO gateways VALUES ('G01', 'S01', 'hash-1', 1);
        INSERT INTO devices VALUES ('AV-1', 'S01', '101', 'classroom_av'), ('AV-2', 'S01', '101', 'classroom_av'), ('B-1', 'S01', '102', 'interactive_board'), ('VR-1', 'S02', '101', 'vr_kit');
        INSERT INTO audit_log (at, actor, action, target, outcome) VALUES (1000, 'system:cli', 'gateway.revoke', 'gateway:G01', 'ok');
      `);
    });
    const reg = new Registry(file);
    try {
      expect(reg.getDistrict('渝中区')).toEqual({ id: '渝中区', code: null, nameZh: '渝中区', nameEn: 'Yuzhong' });
      expect(reg.getSchool('S02')).toEqual({ id: 'S02', district: '渝中区', nameZh: '人和街小学', nameEn: '', timetable: TIMETABLE, uplinkCapacityBps: null, createdAt: 0 });
      expect(reg.getGateway('G01')).toEqual({ id: 'G01', school: 'S01', district: '渝中区', passwordHash: 'hash-1', revoked: true });
      expect(reg.getGatewayRecord('G01')).toEqual({ id: 'G01', school: 'S01', district: '渝中区', revoked: true, createdAt: 0, rotatedAt: null });
      expect(reg.getDeviceRecord('B-1')).toEqual({ id: 'B-1', school: 'S01', district: '渝中区', room: '102', kind: 'interactive_board', model: '', vendor: '', serial: '', linkRole: null, capacityBps: null, createdAt: 0, retiredAt: null });
      expect(reg.deviceCount()).toBe(4);
      expect(reg.listRooms('S01')).toEqual([{ school: 'S01', id: '101', name: '' }, { school: 'S01', id: '102', name: '' }]);
      expect(reg.listRooms('S02')).toEqual([{ school: 'S02', id: '101', name: '' }]);
      expect(reg.listAudit().items).toEqual([{ id: 1, at: 1000, actor: 'system:cli', action: 'gateway.revoke', target: 'gateway:G01', outcome: 'ok' }]);
    } finally {
      reg.close();
    }
    raw((db) => {
      expect(ledger(db).map((r) => r.version)).toEqual([1, 2, 3, 4, 5, 6, 7]);
      expect(db.prepare('PRAGMA foreign_key_check').all()).toEqual([]);
      expect(columns(db, 'schools').map((c) => c[0])).toEqual(['id', 'district', 'name_zh', 'timetable', 'name_en', 'uplink_capacity_bps', 'created_at']);
    });
  });
});

describe('registry migrations: 3, console sessions', () => {
  it('adds the sessions table, written out by hand, and keeps the users of a version-2 file', () => {
    raw((db) => migrate(db, file, MIGRATIONS.slice(0, 2)));
    raw((db) => db.exec("INSERT INTO users (id, role, created_at) VALUES ('admin', 'city_admin', 1)"));
    new Registry(file).close();
    raw((db) => {
      expect(ledger(db).map((r) => [r.version, r.name])).toEqual([[1, 'initial'], [2, 'management plane'], [3, 'console sessions'], [4, 'snmp targets'], [5, 'commands input'], [6, 'inventory revisions'], [7, 'hub secrets']]);
      expect(columns(db, 'sessions')).toEqual([
        ['id', 'TEXT', 0, null, 1],
        ['user', 'TEXT', 1, null, 0],
        ['secret_hash', 'TEXT', 1, null, 0],
        ['csrf_token', 'TEXT', 1, null, 0],
        ['created_at', 'INTEGER', 1, null, 0],
        ['expires_at', 'INTEGER', 1, null, 0],
        ['last_seen_at', 'INTEGER', 1, null, 0],
        ['revoked_at', 'INTEGER', 0, null, 0],
      ]);
      expect(indexes(db).filter((i) => i.startsWith('sessions.'))).toEqual(['sessions.sessions_user']);
      expect(db.prepare('SELECT id FROM users').all()).toEqual([{ id: 'admin' }]);
    });
  });
});

describe('registry migrations: 4, SNMP targets', () => {
  it('adds the devices\' snmp_target column (none set) to a version-3 file, keeping its devices', () => {
    raw((db) => migrate(db, file, MIGRATIONS.slice(0, 3)));
    raw((db) => {
      db.exec("INSERT INTO districts (id, name_en) VALUES ('渝中区', 'Yuzhong')");
      db.exec("INSERT INTO schools (id, district, name_zh) VALUES ('S01', '渝中区', '一中')");
      db.exec("INSERT INTO rooms (school, id) VALUES ('S01', 'server-room')");
      db.exec("INSERT INTO devices (id, school, room, kind, link_role, capacity_bps) VALUES ('SW-1', 'S01', 'server-room', 'network_node', 'access', 1000000000)");
    });
    const reg = new Registry(file);
    try {
      expect(reg.getDeviceRecord('SW-1')).toEqual({ id: 'SW-1', school: 'S01', district: '渝中区', room: 'server-room', kind: 'network_node', model: '', vendor: '', serial: '', linkRole: 'access', capacityBps: 1e9, createdAt: 0, retiredAt: null });
      expect(reg.snmpTargetOf('SW-1')).toBeUndefined();
    } finally {
      reg.close();
    }
    raw((db) => {
      expect(ledger(db).map((r) => [r.version, r.name])[3]).toEqual([4, 'snmp targets']);
      expect(columns(db, 'devices').at(-1)).toEqual(['snmp_target', 'TEXT', 0, null, 0]);
    });
  });
});

describe('registry migrations: 5, commands input', () => {
  it('adds commands.input (NULL for the commands of a version-4 file), and records a switch_input\'s', () => {
    raw((db) => migrate(db, file, MIGRATIONS.slice(0, 4)));
    raw((db) => {
      db.exec("INSERT INTO districts (id, name_en) VALUES ('渝中区', 'Yuzhong')");
      db.exec("INSERT INTO schools (id, district, name_zh) VALUES ('S01', '渝中区', '一中')");
      db.exec(
        "INSERT INTO commands (id, device, district, school, gateway, action, ttl_ms, actor, status, issued_at, updated_at) VALUES ('c-old', 'B-1', '渝中区', 'S01', 'G1', 'reboot', 60000, 'user:alice', 'done', 1000, 2000)",
      );
    });
    const reg = new Registry(file);
    try {
      expect(reg.getCommand('c-old')).toEqual({ id: 'c-old', device: 'B-1', district: '渝中区', school: 'S01', gateway: 'G1', action: 'reboot', input: null, ttlMs: 60_000, actor: 'user:alice', idempotencyKey: null, requestHash: null, status: 'done', detail: null, issuedAt: 1000, updatedAt: 2000 });
      reg.insertCommand({ id: 'c-new', device: 'B-1', district: '渝中区', school: 'S01', gateway: 'G1', action: 'switch_input', input: 'hdmi2', ttlMs: 60_000, actor: 'user:alice', idempotencyKey: null, requestHash: null, status: 'sent', detail: null, issuedAt: 3000, updatedAt: 3000 });
      expect(reg.getCommand('c-new')?.input).toBe('hdmi2');
    } finally {
      reg.close();
    }
    raw((db) => {
      expect(ledger(db).map((r) => [r.version, r.name]).find((r) => r[0] === 5)).toEqual([5, 'commands input']);
      expect(columns(db, 'commands').at(-1)).toEqual(['input', 'TEXT', 0, null, 0]);
      expect(db.prepare("SELECT id, input FROM commands ORDER BY id").all()).toEqual([{ id: 'c-new', input: 'hdmi2' }, { id: 'c-old', input: null }]);
    });
  });
});

describe('registry migrations: 6, inventory revisions', () => {
  it('adds the inventory_revisions table, written out by hand, to a version-4 file, keeping its gateways', () => {
    raw((db) => migrate(db, file, MIGRATIONS.filter((m) => m.version <= 4)));
    raw((db) => {
      db.exec("INSERT INTO districts (id, name_en) VALUES ('渝中区', 'Yuzhong')");
      db.exec("INSERT INTO schools (id, district, name_zh) VALUES ('S01', '渝中区', '一中')");
      db.exec("INSERT INTO gateways (id, school, password_hash) VALUES ('G01', 'S01', 'hash-1')");
    });
    const reg = new Registry(file);
    try {
      expect(reg.getGateway('G01')).toEqual({ id: 'G01', school: 'S01', district: '渝中区', passwordHash: 'hash-1', revoked: false });
      expect(reg.inventoryRevisionOf('G01')).toBeUndefined();
    } finally {
      reg.close();
    }
    raw((db) => {
      expect(ledger(db).map((r) => [r.version, r.name]).slice(-2)).toEqual([[6, 'inventory revisions'], [7, 'hub secrets']]);
      expect(columns(db, 'inventory_revisions')).toEqual([
        ['gateway', 'TEXT', 0, null, 1],
        ['revision', 'INTEGER', 1, null, 0],
      ]);
    });
  });

  it('gives each gateway revisions above the last it took, whatever the clock, across reopening and deletion', () => {
    const reg = new Registry(file);
    try {
      expect(reg.nextInventoryRevision('G01', 1_000_000)).toBe(1_000_000);
      // The clock set back an hour: one above the last.
      expect(reg.nextInventoryRevision('G01', 1_000_000 - 3_600_000)).toBe(1_000_001);
      expect(reg.nextInventoryRevision('G01', 1_000_001)).toBe(1_000_002);
      // The clock ahead again: the clock.
      expect(reg.nextInventoryRevision('G01', 2_000_000)).toBe(2_000_000);
      // Each gateway its own.
      expect(reg.nextInventoryRevision('G02', 5)).toBe(5);
      expect(reg.nextInventoryRevision('G02', -7)).toBe(6);
      // The publisher's own bookkeeping: no change for the registry's watchers to act on.
      const changes = reg.changeCount();
      reg.nextInventoryRevision('G02', 0);
      expect(reg.changeCount()).toBe(changes);
      expect(reg.inventoryRevisionOf('G02')).toBe(7);
    } finally {
      reg.close();
    }
    const again = new Registry(file);
    try {
      expect([again.inventoryRevisionOf('G01'), again.inventoryRevisionOf('G02')]).toEqual([2_000_000, 7]);
      expect(again.nextInventoryRevision('G01', 0)).toBe(2_000_001);
    } finally {
      again.close();
    }
  });
});

describe('registry migrations: 7, hub secrets', () => {
  it('makes the login ticket key once (32 random bytes), keeps it across reopening, and makes another one in another file', () => {
    raw((db) => migrate(db, file, MIGRATIONS.filter((m) => m.version <= 6)));
    raw((db) => expect(db.prepare("SELECT 1 FROM sqlite_master WHERE name = 'hub_secrets'").get()).toBeUndefined());
    const reg = new Registry(file);
    const key = reg.hubSecret('login_ticket_key');
    reg.close();
    expect(key?.length).toBe(32);
    expect(key!.equals(Buffer.alloc(32))).toBe(false);
    raw((db) => {
      expect(columns(db, 'hub_secrets')).toEqual([
        ['name', 'TEXT', 0, null, 1],
        ['value', 'BLOB', 1, null, 0],
        ['created_at', 'INTEGER', 1, null, 0],
      ]);
      expect(ledger(db).map((r) => [r.version, r.name]).at(-1)).toEqual([7, 'hub secrets']);
    });
    const again = new Registry(file);
    try {
      expect(again.hubSecret('login_ticket_key')!.equals(key!)).toBe(true);
      expect(again.hubSecret('no such secret')).toBeUndefined();
    } finally {
      again.close();
    }
    const other = new Registry(join(dir, 'other.sqlite'));
    try {
      expect(other.hubSecret('login_ticket_key')!.equals(key!)).toBe(false);
    } finally {
      other.close();
    }
  });
});
