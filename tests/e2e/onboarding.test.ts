import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { track } from '../harness/children.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { PROJECT_ROOT } from '../harness/mainProcess.ts';
import { freePort, waitFor } from '../harness/ports.ts';
import { influxQuery } from '../harness/stack.ts';

/**
 * The README's "Onboard a school" steps, run as written: every line of its marked block, in
 * order, by bash, in a fresh directory that looks like a clone (the project's files linked in,
 * its own `.data`). Only the ports differ (free loopback ports through the variables the README
 * names), and InfluxDB is the test's own. The hub, the gateway and the simulator keep running;
 * every other line must exit 0.
 */
const MARKER = '<!-- onboarding: run as written by tests/e2e/onboarding.test.ts -->';

function readmeSteps(): string[] {
  const text = readFileSync(join(PROJECT_ROOT, 'README.md'), 'utf8');
  const at = text.indexOf(MARKER);
  expect(at, 'the README has the onboarding block').toBeGreaterThan(0);
  const block = /```sh\n([\s\S]*?)```/.exec(text.slice(at))![1]!;
  return block.split('\n').map((l) => l.trim()).filter((l) => l !== '' && !l.startsWith('#'));
}

const LONG_RUNNING = /npm run (hub|gateway|sim)\b/;

describe('the README onboarding: a school registered, its gateway and devices running, a board rebooted from the CLI', () => {
  let influx: InfluxInstance;
  let dir: string;
  const services: ChildProcess[] = [];
  const output = new Map<ChildProcess, string>();
  let env: NodeJS.ProcessEnv;
  let httpPort: number;

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'onboarding-'));
    for (const name of readdirSync(PROJECT_ROOT)) {
      if (name.startsWith('.') || name === 'README.md') continue;
      symlinkSync(join(PROJECT_ROOT, name), join(dir, name));
    }
    httpPort = await freePort();
    const lanPort = await freePort();
    // npm's own variables from an outer `npm test` would point npm at the project, not here.
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.toLowerCase().startsWith('npm_') && k !== 'INIT_CWD'));
    env = {
      ...clean,
      INFLUX_URL: influx.url,
      INFLUX_DB: 'onboarding',
      HUB_MQTT_PORT: String(await freePort()),
      HUB_HTTP_PORT: String(httpPort),
      CAMPUS_URL: `http://127.0.0.1:${httpPort}`,
      GW_LAN_PORT: String(lanPort),
      GW_HEALTH_PORT: '-1',
      SIM_LAN_URL: `mqtt://127.0.0.1:${lanPort}`,
      LOG_LEVEL: 'info',
    };
  });

  afterAll(async () => {
    // Each service is a process group (bash, npm, node): bash leaves at the first signal, so it is
    // the group that is waited for, until its last process (the service itself) has exited.
    const groupAlive = (pgid: number): boolean => {
      try {
        process.kill(-pgid, 0);
        return true;
      } catch {
        return false;
      }
    };
    for (const s of services.reverse()) {
      const pgid = s.pid!;
      if (!groupAlive(pgid)) continue;
      process.kill(-pgid, 'SIGTERM');
      const until = Date.now() + 15_000;
      while (groupAlive(pgid) && Date.now() < until) await new Promise((r) => setTimeout(r, 100));
      if (groupAlive(pgid)) process.kill(-pgid, 'SIGKILL');
    }
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  const run = (line: string): Promise<{ code: number; stdout: string; stderr: string }> =>
    new Promise((resolve) => {
      execFile('bash', ['-c', line], { cwd: dir, env, timeout: 90_000 }, (err, stdout, stderr) =>
        resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) }),
      );
    });

  const start = (line: string): ChildProcess => {
    const child = track(spawn('bash', ['-c', line], { cwd: dir, env, detached: true, stdio: ['ignore', 'pipe', 'pipe'] }));
    output.set(child, '');
    const keep = (b: Buffer) => output.set(child, output.get(child)! + b.toString());
    child.stdout!.on('data', keep);
    child.stderr!.on('data', keep);
    services.push(child);
    return child;
  };

  const api = async <T>(path: string): Promise<T> => {
    const token = readFileSync(join(dir, '.data', 'admin-token'), 'utf8').trim();
    const r = await fetch(`http://127.0.0.1:${httpPort}/api/v1${path}`, { headers: { authorization: `Bearer ${token}` } });
    if (!r.ok) throw new Error(`${path}: ${r.status} ${await r.text()}`);
    return (await r.json()) as T;
  };

  it('runs every step of the README block', { timeout: 240_000 }, async () => {
    const steps = readmeSteps();
    expect(steps.filter((l) => LONG_RUNNING.test(l))).toHaveLength(3);
    const results: Array<{ line: string; stdout: string }> = [];
    for (const line of steps) {
      if (LONG_RUNNING.test(line)) {
        const child = start(line);
        const what = LONG_RUNNING.exec(line)![1]!;
        const alive = () => {
          if (child.exitCode !== null) throw new Error(`"${line}" exited ${child.exitCode}:\n${output.get(child)}`);
        };
        if (what === 'hub') {
          await waitFor('the hub answering', async () => (alive(), (await fetch(`http://127.0.0.1:${httpPort}/health`).catch(() => undefined)) !== undefined || undefined), { timeoutMs: 60_000, intervalMs: 200 });
          // The bootstrap token: mode 600, its path in the hub's log, the token itself nowhere in it.
          const tokenFile = join(dir, '.data', 'admin-token');
          await waitFor('the bootstrap token file', async () => (statSync(tokenFile, { throwIfNoEntry: false }) ? true : undefined), { timeoutMs: 10_000 });
          expect(statSync(tokenFile).mode & 0o777).toBe(0o600);
          const token = readFileSync(tokenFile, 'utf8').trim();
          await waitFor('the hub logging where the token is', async () => (output.get(child)!.includes('admin-token') ? true : undefined), { timeoutMs: 10_000 });
          expect(output.get(child)).not.toContain(token);
        } else if (what === 'gateway') {
          await waitFor('the gateway online', async () => (alive(), (await api<{ connection: string }>('/gateways/gw-yz-bashu')).connection === 'online' || undefined), { timeoutMs: 60_000, intervalMs: 250 });
        } else {
          await waitFor('points of all 40 devices in InfluxDB', async () => {
            alive();
            const s = await influxQuery(influx.url, 'onboarding', "SELECT count(seq) FROM classroom_av, interactive_board, vr_kit, network_node WHERE school = 'yz-bashu' GROUP BY device").catch(() => []);
            return new Set(s.map((x) => x.tags!['device'])).size === 40 || undefined;
          }, { timeoutMs: 90_000, intervalMs: 500 });
        }
        continue;
      }
      const r = await run(line);
      expect(r.code, `"${line}" exited ${r.code}:\n${r.stdout}\n${r.stderr}`).toBe(0);
      results.push({ line, stdout: r.stdout });
    }

    // What the steps made, read back through the API.
    const devices = await api<{ items: Array<{ id: string; school: string; district: string; kind: string; vendor: string }>; nextCursor: string | null }>('/devices?school=yz-bashu&limit=1000');
    expect(devices.items).toHaveLength(40);
    expect(new Set(devices.items.map((d) => d.district))).toEqual(new Set(['渝中区']));
    expect(devices.items.find((d) => d.id === 'yz-bashu-301-board')).toMatchObject({ kind: 'interactive_board', vendor: '希沃 Seewo' });
    const school = await api<{ nameZh: string; nameEn: string; uplinkCapacityBps: number }>('/schools/yz-bashu');
    expect(school).toMatchObject({ nameZh: '巴蜀小学', nameEn: 'Bashu Primary School', uplinkCapacityBps: 1e9 });
    // The env block went to the file, the password with it; the hub keeps only a hash.
    const block = readFileSync(join(dir, 'gw-yz-bashu.env'), 'utf8');
    expect(block).toMatch(/^GW_ID=gw-yz-bashu$/m);
    expect(block).toMatch(/^GW_DISTRICT=渝中区$/m);
    expect(block).toMatch(new RegExp(`^GW_HUB_URL=mqtt://127\\.0\\.0\\.1:${env['HUB_MQTT_PORT']}$`, 'm'));
    // "See them": the school's 40 devices, its gateway online.
    const status = results.find((r) => r.line.includes('campus status'))!;
    expect(status.stdout).toMatch(/^devices: 40 \(/m);
    expect(status.stdout).toMatch(/^yz-bashu\s+渝中区\s+巴蜀小学\s.*\s1\/1\s*$/m);
    // No secret in any log: neither the admin token nor the gateway's password.
    const password = /^GW_PASSWORD=(.+)$/m.exec(block)![1]!;
    const adminToken = readFileSync(join(dir, '.data', 'admin-token'), 'utf8').trim();
    for (const s of services) for (const secret of [adminToken, password]) expect(output.get(s)).not.toContain(secret);
    // The reboot: done, reported by the board, and audited as the CLI's caller.
    const send = results.find((r) => r.line.includes('command send'))!;
    expect(send.stdout).toMatch(/\bdone\b/);
    const commands = await api<{ items: Array<{ device: string; action: string; status: string; actor: string }> }>('/commands?school=yz-bashu');
    expect(commands.items.map((c) => [c.device, c.action, c.status, c.actor])).toEqual([['yz-bashu-301-board', 'reboot', 'done', 'user:admin']]);
    const audit = await api<{ items: Array<{ action: string; actor: string; outcome: string }> }>('/audit?target=device:yz-bashu-301-board');
    expect(audit.items.filter((a) => a.action === 'command.reboot').map((a) => [a.actor, a.outcome])).toEqual([['user:admin', 'sent']]);
  });
});
