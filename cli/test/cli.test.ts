import { spawn } from 'node:child_process';
import { createServer, request as httpRequest, type IncomingMessage } from 'node:http';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubProcess, type HubProcess } from '../../broker/src/hubProcess.ts';
import { track } from '../../runtime/src/children.ts';
import { PROJECT_ROOT } from '../../runtime/src/mainProcess.ts';
import { startGatewayProcess, type GatewayProcess } from '../../tests/harness/gatewayProcess.ts';
import { startInflux, type InfluxInstance } from '../../tests/harness/influx.ts';
import { freePort, waitFor } from '../../tests/harness/ports.ts';

/**
 * The `campus` CLI as a user runs it: a child process per invocation, against a real hub
 * process (its own main, an empty registry in a temporary directory, real InfluxDB), with the
 * token the hub's first start wrote. Gateways are real gateway processes fed the env block the
 * CLI printed.
 */

interface Run {
  code: number | null;
  out: string;
  err: string;
}

const NODE = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');
const MAIN = join(PROJECT_ROOT, 'cli', 'src', 'main.ts');
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const rows = (out: string) => out.trimEnd().split('\n').map((l) => l.split(/\s{2,}/));
const GW = 'gw-yz-bashu';

describe('campus CLI against a real hub', () => {
  let influx: InfluxInstance;
  let dir: string;
  let hub: HubProcess;
  let tokenFile: string;
  let adminToken: string;
  const gateways: GatewayProcess[] = [];

  /** Environment without the caller's own CAMPUS_* variables. */
  function baseEnv(): Record<string, string> {
    const env: Record<string, string> = {};
    for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CAMPUS_')) env[k] = v;
    return env;
  }

  function campus(args: string[], env: Record<string, string> = {}, stdin?: string): Promise<Run> {
    return new Promise((resolve, reject) => {
      const child = track(spawn(NODE, [MAIN, ...args], { cwd: dir, env: { ...baseEnv(), CAMPUS_URL: `http://127.0.0.1:${hub.httpPort}`, CAMPUS_TOKEN_FILE: tokenFile, ...env }, stdio: [stdin === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] }));
      if (stdin !== undefined) child.stdin!.end(stdin);
      let out = '';
      let err = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => (err += d));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, out, err }));
    });
  }

  /** The API read directly (an independent path from the CLI's). */
  async function api<T>(path: string, token = adminToken): Promise<T> {
    const r = await fetch(`http://127.0.0.1:${hub.httpPort}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    expect(r.status, `GET ${path}`).toBe(200);
    return (await r.json()) as T;
  }
  const connection = async (gw: string) => (await api<{ items: Array<{ id: string; connection: string }> }>('/gateways')).items.find((g) => g.id === gw)?.connection;

  /** The env block the CLI printed, as an object (every line is KEY=value). */
  function envBlock(out: string): Record<string, string> {
    const lines = out.trimEnd().split('\n');
    for (const l of lines) expect(l).toMatch(/^GW_[A-Z_]+=\S+$/);
    return Object.fromEntries(lines.map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
  }

  async function startGateway(env: Record<string, string>, name: string): Promise<GatewayProcess> {
    const g = await startGatewayProcess(
      { ...env, GW_LAN_PORT: String(await freePort()), GW_OUTBOX_DIR: join(dir, `outbox-${name}`), GW_RECONNECT_MS: '200', GW_RECONNECT_MAX_MS: '1000', GW_REPLAY_JITTER_MS: '0', GW_AVAILABILITY: 'false', LOG_LEVEL: 'warn' },
      await freePort(),
      join(dir, `gateway-${name}.log`),
    );
    gateways.push(g);
    return g;
  }

  /** One MQTT login as the gateway: undefined when accepted, else the refusal's CONNACK code. */
  async function mqttLogin(password: string): Promise<number | undefined> {
    try {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, { clientId: GW, username: GW, password, protocolVersion: 4, reconnectPeriod: 0, connectTimeout: 5000 });
      await c.endAsync(true);
      return undefined;
    } catch (e) {
      return (e as { code?: number }).code ?? -1;
    }
  }

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'campus-cli-'));
    tokenFile = join(dir, 'admin-token');
    hub = await startHubProcess(
      {
        HUB_REGISTRY_PATH: join(dir, 'registry.sqlite'),
        INFLUX_URL: influx.url,
        INFLUX_DB: 'cli_test',
        LOG_LEVEL: 'info',
        HUB_MINUTE_REPORTS: 'false',
        // A revoked or rotated gateway keeps retrying its old password: login back-off (tested on
        // its own) would answer CONNACK 3 where this test checks the refusal itself.
        HUB_LOGIN_FREE_FAILURES_PER_ID: '1000000',
        HUB_LOGIN_FREE_FAILURES_PER_ADDRESS: '1000000',
      },
      join(dir, 'hub.log'),
    );
    adminToken = readFileSync(tokenFile, 'utf8').trim();
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop('SIGKILL').catch(() => {});
    await hub?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it("uses the hub's bootstrap token file: mode 600, named in the hub's log, the token never logged", async () => {
    expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
    expect(adminToken).toMatch(/^cit_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const log = await waitFor('the bootstrap line in the hub log', async () => {
      const t = readFileSync(join(dir, 'hub.log'), 'utf8');
      return t.includes(tokenFile) ? t : undefined;
    });
    expect(log).not.toContain(adminToken);
    expect(log).not.toContain(adminToken.split('_')[2]);
  });

  it('adds and lists districts, schools, rooms and devices, as text and as JSON', async () => {
    let r = await campus(['district', 'add', '渝中区', '--code', 'yz', '--name-zh', '渝中区', '--name-en', 'Yuzhong']);
    expect(r).toMatchObject({ code: 0, out: 'district 渝中区 created (code yz, 渝中区 / Yuzhong)\n' });
    r = await campus(['district', 'add', '江北区', '--code', 'jb', '--name-zh', '江北区', '--name-en', 'Jiangbei', '--json']);
    expect(r.code).toBe(0);
    expect(JSON.parse(r.out)).toEqual({ id: '江北区', code: 'jb', nameZh: '江北区', nameEn: 'Jiangbei' });

    r = await campus(['district', 'list', '--json']);
    expect(r.code).toBe(0);
    const districts = (JSON.parse(r.out) as { items: Array<{ id: string }>; nextCursor: null }).items;
    expect(districts.sort((a, b) => a.id.localeCompare(b.id))).toEqual([
      { id: '江北区', code: 'jb', nameZh: '江北区', nameEn: 'Jiangbei' },
      { id: '渝中区', code: 'yz', nameZh: '渝中区', nameEn: 'Yuzhong' },
    ]);
    r = await campus(['district', 'list']);
    expect(r.code).toBe(0);
    const table = rows(r.out);
    expect(table[0]).toEqual(['ID', 'CODE', 'NAME_ZH', 'NAME_EN']);
    expect(table.slice(1).sort((a, b) => a[0]!.localeCompare(b[0]!))).toEqual([
      ['江北区', 'jb', '江北区', 'Jiangbei'],
      ['渝中区', 'yz', '渝中区', 'Yuzhong'],
    ]);

    r = await campus(['school', 'add', 'yz-bashu', '--district', '渝中区', '--name-zh', '巴蜀小学', '--name-en', 'Bashu Primary', '--uplink-mbps', '1000', '--rooms', '301,302,server-room']);
    expect(r.code, r.err).toBe(0);
    expect(r.out.split('\n')[0]).toBe('school yz-bashu created with 3 room(s)');
    r = await campus(['school', 'add', 'jb-s01', '--district', '江北区', '--name-zh', '华新小学', '--name-en', 'Huaxin Primary', '--rooms', '201']);
    expect(r.code, r.err).toBe(0);
    r = await campus(['school', 'list', '--district', '渝中区', '--json']);
    expect(JSON.parse(r.out).items).toMatchObject([{ id: 'yz-bashu', district: '渝中区', nameZh: '巴蜀小学', nameEn: 'Bashu Primary', uplinkCapacityBps: 1_000_000_000 }]);
    r = await campus(['school', 'list']);
    expect(rows(r.out).map((row) => row.slice(0, 5)).slice(1).sort((a, b) => a[0]!.localeCompare(b[0]!))).toEqual([
      ['jb-s01', '江北区', '华新小学', 'Huaxin Primary', '-'],
      ['yz-bashu', '渝中区', '巴蜀小学', 'Bashu Primary', '1000 Mbit/s'],
    ]);

    r = await campus(['room', 'add', 'yz-bashu', '303', '--name', 'Physics lab']);
    expect(r).toMatchObject({ code: 0, out: 'room 303 created in yz-bashu (Physics lab)\n' });
    r = await campus(['room', 'list', 'yz-bashu', '--json']);
    expect((JSON.parse(r.out).items as Array<{ id: string }>).map((x) => x.id).sort()).toEqual(['301', '302', '303', 'server-room']);
    r = await campus(['room', 'list', 'yz-bashu']);
    expect(rows(r.out)).toContainEqual(['303', 'Physics lab']);

    r = await campus(['device', 'add', 'yz-bashu-301-board', '--school', 'yz-bashu', '--room', '301', '--kind', 'interactive_board', '--vendor', 'Seewo', '--serial', 'SN-0301']);
    expect(r).toMatchObject({ code: 0, out: 'device yz-bashu-301-board registered in yz-bashu room 301\n' });
    r = await campus(['device', 'add', 'yz-bashu-uplink', '--school', 'yz-bashu', '--room', 'server-room', '--kind', 'network_node', '--link-role', 'school_uplink', '--capacity-mbps', '1000', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ id: 'yz-bashu-uplink', school: 'yz-bashu', district: '渝中区', room: 'server-room', kind: 'network_node', linkRole: 'school_uplink', capacityBps: 1_000_000_000, retiredAt: null });
    r = await campus(['device', 'add', 'jb-s01-201-vr', '--school', 'jb-s01', '--room', '201', '--kind', 'vr_kit']);
    expect(r.code, r.err).toBe(0);

    r = await campus(['device', 'list', '--school', 'yz-bashu', '--json']);
    const devices = (JSON.parse(r.out) as { items: Array<{ id: string }> }).items.sort((a, b) => a.id.localeCompare(b.id));
    expect(devices).toMatchObject([
      { id: 'yz-bashu-301-board', room: '301', kind: 'interactive_board', vendor: 'Seewo', serial: 'SN-0301', state: 'unknown', since: null },
      { id: 'yz-bashu-uplink', room: 'server-room', kind: 'network_node', state: 'unknown' },
    ]);
    r = await campus(['device', 'list', '--q', 'sn-0301']);
    expect(rows(r.out)).toEqual([
      ['ID', 'SCHOOL', 'ROOM', 'KIND', 'STATE', 'SINCE', 'GATEWAY'],
      ['yz-bashu-301-board', 'yz-bashu', '301', 'interactive_board', 'unknown', '-', '-'],
    ]);
    r = await campus(['device', 'show', 'yz-bashu-uplink']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^link: +school_uplink, 1000 Mbit\/s$/m);
    expect(r.out).toMatch(/^school: +yz-bashu \(渝中区\)$/m);
  });

  it('exit codes: 409 → 5, a bad kind → 6 with the issue, 404 → 4, no token → 3, unreachable → 7, unknown command → 2', async () => {
    let r = await campus(['district', 'add', '渝中区', '--code', 'yz2', '--name-zh', '渝中区', '--name-en', 'Yuzhong']);
    expect(r.code).toBe(5);
    expect(r.err).toMatch(/^HUB_ERR_REGISTRY_CONFLICT: /);

    r = await campus(['device', 'add', 'yz-bashu-301-toaster', '--school', 'yz-bashu', '--room', '301', '--kind', 'toaster']);
    expect(r.code).toBe(6);
    expect(r.err).toMatch(/^HUB_ERR_\w+: /);
    expect(r.err).toMatch(/kind/);
    expect((await campus(['device', 'list', '--q', 'toaster', '--json'])).out).toContain('"items": []');

    r = await campus(['device', 'show', 'no-such-device']);
    expect(r.code).toBe(4);
    expect(r.err).toMatch(/^HUB_ERR_NOT_FOUND: /);

    r = await campus(['district', 'list'], { CAMPUS_TOKEN_FILE: join(dir, 'no-such-file') });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^CLI_ERR_NO_TOKEN: /);
    r = await campus(['district', 'list'], { CAMPUS_TOKEN: `cit_${'0'.repeat(16)}_${'A'.repeat(43)}` });
    expect(r.code).toBe(3);
    expect(r.err).toMatch(/^HUB_ERR_UNAUTHENTICATED: /);

    r = await campus(['district', 'list'], { CAMPUS_URL: `http://127.0.0.1:${await freePort()}` });
    expect(r.code).toBe(7);
    expect(r.err).toMatch(/^CLI_ERR_UNREACHABLE: cannot reach the hub at http:\/\/127\.0\.0\.1:\d+: ECONNREFUSED/);

    r = await campus(['frobnicate']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('usage: campus');
    r = await campus(['device', 'add', 'x', '--school', 's', '--room', 'r', '--kind', 'vr_kit', '--colour', 'red']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('--colour');
    r = await campus(['device', 'add', 'x', '--school', 's']);
    expect(r.code).toBe(2);
    expect(r.err).toContain('missing --room, --kind');
    r = await campus(['device', 'add', '--help']);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^usage: campus device add <id> --school <school> --room <room> --kind <kind>/);
  });

  it('gateway add prints an env block a real gateway process connects with; revoke drops it and keeps it out', async () => {
    const r = await campus(['gateway', 'add', GW, '--school', 'yz-bashu']);
    expect(r.code, r.err).toBe(0);
    const env = envBlock(r.out);
    expect(Object.keys(env).sort()).toEqual(['GW_DISTRICT', 'GW_HUB_URL', 'GW_ID', 'GW_PASSWORD', 'GW_SCHOOL']);
    expect(env).toMatchObject({ GW_ID: GW, GW_DISTRICT: '渝中区', GW_SCHOOL: 'yz-bashu', GW_HUB_URL: `mqtt://127.0.0.1:${hub.mqttPort}` });
    expect(r.err).toContain('shown once');
    expect(await connection(GW)).toBe('never');

    const gw = await startGateway(env, 'first');
    await waitFor('the gateway online', async () => (await connection(GW)) === 'online');
    expect((await gw.health()).connected).toBe(true);
    let list = await campus(['gateway', 'list', '--json']);
    expect(JSON.parse(list.out).items).toMatchObject([{ id: GW, school: 'yz-bashu', connection: 'online', revoked: false }]);

    const revoked = await campus(['gateway', 'revoke', GW]);
    expect(revoked.code, revoked.err).toBe(0);
    expect(revoked.out).toMatch(/^gateway gw-yz-bashu revoked \(revoked, /);
    await waitFor('the revoked gateway offline', async () => (await connection(GW)) === 'offline', { timeoutMs: 1000, intervalMs: 50 });
    // Its reconnect is refused (CONNACK 4, as for a wrong password: broker/src/policy.ts), and
    // for a few seconds it stays out.
    await waitFor('the gateway refused on reconnect', async () => readFileSync(join(dir, 'gateway-first.log'), 'utf8').includes('Connection refused: Bad username or password'));
    for (let i = 0; i < 15; i++) {
      await sleep(200);
      expect(await connection(GW)).toBe('offline');
    }
    expect((await gw.health()).connected).toBe(false);
    expect(await mqttLogin(env['GW_PASSWORD']!)).toBe(4);
    list = await campus(['gateway', 'list']);
    expect(rows(list.out)[1]!.slice(0, 5)).toEqual([GW, 'yz-bashu', '渝中区', 'offline', 'yes']);

    // Reinstated: its password works again. The gateway process gave up after the refusal
    // (mqtt.js does not reconnect after a CONNACK error), so it is started again.
    const reinstated = await campus(['gateway', 'reinstate', GW]);
    expect(reinstated.out).toMatch(/^gateway gw-yz-bashu reinstated \(active, /);
    await gw.stop();
    const gw1 = await startGateway(env, 'reinstated');
    await waitFor('the reinstated gateway online', async () => (await connection(GW)) === 'online');

    // Rotated: the live session drops, the old password is refused, the new block works.
    const rotated = await campus(['gateway', 'rotate', GW]);
    expect(rotated.code, rotated.err).toBe(0);
    const fresh = envBlock(rotated.out);
    expect(fresh).toMatchObject({ GW_ID: GW, GW_DISTRICT: '渝中区', GW_SCHOOL: 'yz-bashu' });
    expect(fresh['GW_PASSWORD']).not.toBe(env['GW_PASSWORD']);
    await waitFor('the rotated gateway offline', async () => (await connection(GW)) === 'offline');
    await waitFor('the old password refused on reconnect', async () => readFileSync(join(dir, 'gateway-reinstated.log'), 'utf8').includes('Connection refused: Bad username or password'));
    await gw1.stop();
    expect(await mqttLogin(env['GW_PASSWORD']!)).toBe(4);
    const gw2 = await startGateway(fresh, 'rotated');
    await waitFor('the gateway online with the new password', async () => (await connection(GW)) === 'online');
    expect((await gw2.health()).connected).toBe(true);
    await gw2.stop();
  });

  it('device import: a file with bad rows exits 6, prints each row and changes nothing; a good one imports (dry run first)', async () => {
    const header = 'school,room,id,kind,model,vendor,serial,link_role,capacity_bps';
    const bad = join(dir, 'bad.csv');
    writeFileSync(bad, [header, 'yz-bashu,302,yz-bashu-302-av,classroom_av,AV-1,Hikvision,SN-A,,', 'yz-bashu,302,yz-bashu-302-x,toaster,,,,,', 'yz-bashu,server-room,yz-bashu-sw,network_node,,,,,', ''].join('\r\n'));
    let r = await campus(['device', 'import', bad]);
    expect(r.code).toBe(6);
    expect(r.err).toMatch(/^HUB_ERR_INVENTORY_INVALID: /);
    // Every bad row, each problem of it: a network node without its link lacks role and capacity.
    expect([...r.err.matchAll(/^ {2}line (\d+): (\w+): /gm)].map((m) => [Number(m[1]), m[2]])).toEqual([
      [3, 'unknown_kind'],
      [4, 'bad_link'],
      [4, 'bad_capacity'],
    ]);
    expect(JSON.parse((await campus(['device', 'list', '--q', 'yz-bashu-302', '--json'])).out).items).toEqual([]);

    const good = join(dir, 'good.csv');
    writeFileSync(good, [header, 'yz-bashu,302,yz-bashu-302-av,classroom_av,AV-1,Hikvision,SN-A,,', 'yz-bashu,301,yz-bashu-301-board,interactive_board,,Seewo,SN-0301,,', ''].join('\r\n'));
    r = await campus(['device', 'import', good, '--dry-run', '--json']);
    expect(r.code, r.err).toBe(0);
    expect(JSON.parse(r.out)).toMatchObject({ dryRun: true, created: 1, rows: 2 });
    expect(JSON.parse((await campus(['device', 'list', '--q', 'yz-bashu-302', '--json'])).out).items).toEqual([]);
    r = await campus(['device', 'import', good]);
    expect(r.code, r.err).toBe(0);
    expect(r.out).toMatch(/^imported: created 1, /);
    expect(JSON.parse((await campus(['device', 'list', '--q', 'yz-bashu-302', '--json'])).out).items).toMatchObject([{ id: 'yz-bashu-302-av', model: 'AV-1', vendor: 'Hikvision', serial: 'SN-A' }]);

    const out = join(dir, 'export.csv');
    r = await campus(['device', 'export', '--school', 'yz-bashu', '-o', out]);
    expect(r.code, r.err).toBe(0);
    const text = readFileSync(out, 'utf8').replace(/^\uFEFF/, '');
    expect(text.split(/\r?\n/)[0]).toBe(header);
    expect(text).toContain('yz-bashu-302-av');
    expect(text).not.toContain('jb-s01');
  });

  it("user add --scope school: prints a token that reads its school's devices and gets 404 for another school's", async () => {
    const r = await campus(['user', 'add', 'it-bashu', '--role', 'school_it', '--scope', 'school:yz-bashu', '--ttl-days', '1']);
    expect(r.code, r.err).toBe(0);
    const token = r.out.trim();
    expect(token).toMatch(/^cit_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(r.err).toContain('shown once');
    const as = { CAMPUS_TOKEN: token };
    let mine = await campus(['device', 'show', 'yz-bashu-301-board', '--json'], as);
    expect(mine.code, mine.err).toBe(0);
    expect(JSON.parse(mine.out)).toMatchObject({ id: 'yz-bashu-301-board', school: 'yz-bashu' });
    const other = await campus(['device', 'show', 'jb-s01-201-vr'], as);
    expect(other.code).toBe(4);
    expect(other.err).toMatch(/^HUB_ERR_NOT_FOUND: /);
    // Its list holds its school's devices only.
    mine = await campus(['device', 'list', '--json'], as);
    expect((JSON.parse(mine.out).items as Array<{ school: string }>).every((d) => d.school === 'yz-bashu')).toBe(true);
    expect((await campus(['user', 'list', '--json'])).out).toContain('"it-bashu"');
    expect((await campus(['user', 'disable', 'it-bashu'])).code).toBe(0);
    expect((await campus(['device', 'show', 'yz-bashu-301-board'], as)).code).toBe(3);
  });

  it('user create --password-file: the user signs in to the console with it, and its session reads its school only; user password --password-stdin replaces it', async () => {
    const signIn = (user: string, password: string) =>
      fetch(`http://127.0.0.1:${hub.httpPort}/api/v1/session`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ user, password }) });
    const pwFile = join(dir, 'pw-it');
    writeFileSync(pwFile, 'a long enough passphrase\n');
    writeFileSync(join(dir, 'pw-short'), 'too short\n');
    // A password the hub would refuse is refused before anything is made.
    let r = await campus(['user', 'create', 'it-console', '--role', 'school_it', '--scope', 'school:yz-bashu', '--password-file', join(dir, 'pw-short')]);
    expect(r.code).toBe(2);
    r = await campus(['user', 'create', 'it-console', '--role', 'school_it', '--scope', 'school:yz-bashu', '--password-file', join(dir, 'nowhere')]);
    expect(r.code).toBe(1);
    expect(r.err).toMatch(/^CLI_ERR_FILE: /);
    expect((await api<{ items: Array<{ id: string }> }>('/users')).items.map((u) => u.id)).not.toContain('it-console');

    r = await campus(['user', 'create', 'it-console', '--role', 'school_it', '--scope', 'school:yz-bashu', '--password-file', pwFile]);
    expect(r.code, r.err).toBe(0);
    expect(r.out.trim()).toMatch(/^cit_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    expect(r.err).toContain('with a console password');
    expect(await api<{ hasPassword: boolean }>('/users/it-console')).toMatchObject({ hasPassword: true });

    // The trailing newline is not part of the password.
    expect((await signIn('it-console', 'a long enough passphrase\n')).status).toBe(401);
    const res = await signIn('it-console', 'a long enough passphrase');
    expect(res.status).toBe(201);
    expect(await res.json()).toMatchObject({ user: { id: 'it-console', role: 'school_it', school: 'yz-bashu' } });
    const cookie = res.headers.get('set-cookie')!.split(';')[0]!;
    const read = (path: string) => fetch(`http://127.0.0.1:${hub.httpPort}/api/v1${path}`, { headers: { cookie } });
    expect((await read('/devices/yz-bashu-301-board')).status).toBe(200);
    expect((await read('/devices/jb-s01-201-vr')).status).toBe(404);

    r = await campus(['user', 'password', 'it-console', '--password-stdin'], {}, 'another long passphrase\n');
    expect(r.code, r.err).toBe(0);
    expect((await read('/me')).status).toBe(401);
    expect((await signIn('it-console', 'another long passphrase')).status).toBe(201);
    expect((await campus(['user', 'password', 'it-console'])).code).toBe(2);
  });

  it('status: devices by state and kind, schools with their gateways', async () => {
    const r = await campus(['status', '--json']);
    expect(r.code, r.err).toBe(0);
    const s = JSON.parse(r.out) as { devices: { total: number; byKind: Record<string, number> }; schools: Array<{ school: string; gateways: number }> };
    // yz-bashu: board, uplink, 302-av; jb-s01: vr.
    expect(s.devices.total).toBe(4);
    expect(s.devices.byKind).toMatchObject({ interactive_board: 1, network_node: 1, classroom_av: 1, vr_kit: 1 });
    expect(s.schools.find((x) => x.school === 'yz-bashu')).toMatchObject({ gateways: 1 });
    const text = await campus(['status', '--school', 'jb-s01']);
    expect(text.out.split('\n')[0]).toBe('devices: 1 (up 0, down 0, off 0, unknown 1)');
  });

  it('command send: one Idempotency-Key per invocation; a command that does not end done exits 8; a bad action exits 6', async () => {
    // No gateway is connected now (the last one was stopped), so the hub rejects the command.
    let r = await campus(['command', 'send', 'yz-bashu-301-board', 'reboot', '--ttl', '5s', '--wait', '--timeout', '10s', '--json']);
    expect(r.code).toBe(8);
    const rec = JSON.parse(r.out) as { id: string; status: string; device: string; action: string; ttlMs: number; actor: string };
    expect(rec).toMatchObject({ device: 'yz-bashu-301-board', action: 'reboot', ttlMs: 5000, status: 'rejected', actor: 'user:admin' });
    expect(r.err).toMatch(new RegExp(`^CLI_ERR_COMMAND_NOT_DONE: command ${rec.id} ended rejected`));
    r = await campus(['command', 'show', rec.id]);
    expect(r.code).toBe(0);
    expect(r.out).toMatch(/^status: +rejected$/m);
    r = await campus(['command', 'list', '--json']);
    expect((JSON.parse(r.out).items as Array<{ id: string }>).map((c) => c.id)).toEqual([rec.id]);
    r = await campus(['command', 'send', 'yz-bashu-301-board', 'self_destruct']);
    expect(r.code).toBe(6);
  });

  it('command send --input: switch_input with its source; without one, or to a kind without inputs, exits 6 with the hub\'s reason', async () => {
    let r = await campus(['command', 'send', 'yz-bashu-301-board', 'switch_input', '--input', 'hdmi2', '--json']);
    // No gateway is connected: rejected (exit 8), but recorded with its input.
    expect(r.code).toBe(8);
    const rec = JSON.parse(r.out) as { id: string; action: string; input: string | null; status: string };
    expect(rec).toMatchObject({ action: 'switch_input', input: 'hdmi2', status: 'rejected' });
    r = await campus(['command', 'show', rec.id]);
    expect(r.out).toMatch(/^input: +hdmi2$/m);
    r = await campus(['command', 'list', '--device', 'yz-bashu-301-board']);
    expect(r.out.split('\n').find((l) => l.startsWith(rec.id))).toMatch(new RegExp(`^${rec.id} +yz-bashu-301-board +switch_input hdmi2 +rejected `));
    r = await campus(['command', 'send', 'yz-bashu-301-board', 'switch_input']);
    expect([r.code, r.err]).toEqual([6, expect.stringContaining('switch_input needs an input')]);
    r = await campus(['command', 'send', 'yz-bashu-301-board', 'reboot', '--input', 'vga']);
    expect([r.code, r.err]).toEqual([6, expect.stringContaining('reboot takes no input (only switch_input has one)')]);
    r = await campus(['command', 'send', 'yz-bashu-uplink', 'switch_input', '--input', 'hdmi1']);
    expect([r.code, r.err]).toEqual([6, expect.stringContaining('switch_input is not for a network_node (only interactive_board, classroom_av)')]);
    r = await campus(['command', 'send', '--help']);
    expect(r.out + r.err).toMatch(/\[--input <input>\]/);
    expect(r.out + r.err).toMatch(/--input +with switch_input \(boards and classroom AV\): the source, hdmi1, hdmi2, ops, usb-c or vga/);
  });

  it('command send: a reply lost on the way is retried with the same Idempotency-Key, and the hub commands once', async () => {
    // In front of the real hub: the first request goes through, its reply is dropped (the
    // connection reset); later ones pass. Every attempt's key is recorded.
    const keys: string[] = [];
    let attempts = 0;
    const proxy = createServer((req, res) => {
      const n = ++attempts;
      if (req.url?.includes('/commands')) keys.push(String(req.headers['idempotency-key']));
      const up = httpRequest({ host: '127.0.0.1', port: hub.httpPort, method: req.method, path: req.url, headers: req.headers }, (upRes: IncomingMessage) => {
        if (n === 1) {
          upRes.resume();
          upRes.once('end', () => req.socket.destroy());
          return;
        }
        res.writeHead(upRes.statusCode!, upRes.headers);
        upRes.pipe(res);
      });
      req.pipe(up);
    });
    await new Promise<void>((r) => proxy.listen(0, '127.0.0.1', r));
    try {
      const before = (await api<{ items: unknown[] }>('/commands')).items.length;
      const r = await campus(['command', 'send', 'yz-bashu-uplink', 'reboot', '--json'], { CAMPUS_URL: `http://127.0.0.1:${(proxy.address() as { port: number }).port}` });
      const rec = JSON.parse(r.out) as { id: string; device: string };
      expect(rec.device).toBe('yz-bashu-uplink');
      expect(keys).toHaveLength(2);
      expect(keys[0]).toMatch(/^[0-9a-f-]{36}$/);
      expect(keys[1]).toBe(keys[0]);
      const after = (await api<{ items: Array<{ id: string }> }>('/commands')).items;
      expect(after).toHaveLength(before + 1);
      expect(after.filter((c) => c.id === rec.id)).toHaveLength(1);
      // A second invocation is a new command: a new key.
      await campus(['command', 'send', 'yz-bashu-uplink', 'reboot']);
      expect((await api<{ items: unknown[] }>('/commands')).items).toHaveLength(before + 2);
    } finally {
      proxy.closeAllConnections();
      await new Promise((r) => proxy.close(r));
    }
  });
});
