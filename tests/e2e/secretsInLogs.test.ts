import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startHubProcess, type HubProcess } from '../../broker/src/hubProcess.ts';
import { track } from '../../runtime/src/children.ts';
import { PROJECT_ROOT } from '../../runtime/src/mainProcess.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gatewayProcess.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort, waitFor } from '../harness/ports.ts';

const NODE = join(PROJECT_ROOT, 'node_modules', '.bin', 'node');
const CLI = join(PROJECT_ROOT, 'cli', 'src', 'main.ts');
/** InfluxDB without auth ignores credentials: the hub still sends them with every write. */
const INFLUX_PASSWORD = 'influx-Secret-4711-Ω';
const WRONG_PASSWORD = 'not-the-gateway-password-0815';
/** A switch's SNMP community given to the registry, and one the gateway reads from its environment. */
const SNMP_COMMUNITY = 'snmp-Community-3371-Ω';
const SNMP_ENV_SECRET = 'snmp-Env-Secret-6620';

/**
 * Secrets never reach a log line: a real hub, two real gateways (one with a wrong password, so
 * refusals are logged) and the CLI, all at log level debug, with every secret known to the test.
 */
describe('secrets are never logged', () => {
  let influx: InfluxInstance;
  let dir: string;
  let hub: HubProcess;
  const gateways: GatewayProcess[] = [];
  const cliErr: string[] = [];

  function campus(args: string[], token: string): Promise<{ code: number | null; out: string }> {
    return new Promise((resolve, reject) => {
      const env: Record<string, string> = {};
      for (const [k, v] of Object.entries(process.env)) if (v !== undefined && !k.startsWith('CAMPUS_')) env[k] = v;
      const child = track(spawn(NODE, [CLI, ...args], { cwd: dir, env: { ...env, CAMPUS_URL: `http://127.0.0.1:${hub.httpPort}`, CAMPUS_TOKEN: token, LOG_LEVEL: 'debug' }, stdio: ['ignore', 'pipe', 'pipe'] }));
      let out = '';
      child.stdout!.setEncoding('utf8').on('data', (d: string) => (out += d));
      child.stderr!.setEncoding('utf8').on('data', (d: string) => cliErr.push(d));
      child.once('error', reject);
      child.once('close', (code) => resolve({ code, out }));
    });
  }

  async function gateway(env: Record<string, string>, name: string): Promise<GatewayProcess> {
    const g = await startGatewayProcess(
      { ...env, GW_LAN_PORT: String(await freePort()), GW_OUTBOX_DIR: join(dir, `outbox-${name}`), GW_RECONNECT_MS: '200', GW_RECONNECT_MAX_MS: '400', GW_AVAILABILITY: 'false', LOG_LEVEL: 'debug' },
      await freePort(),
      join(dir, `gateway-${name}.log`),
    );
    gateways.push(g);
    return g;
  }

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'secrets-'));
    hub = await startHubProcess(
      {
        HUB_REGISTRY_PATH: join(dir, 'registry.sqlite'),
        INFLUX_URL: influx.url,
        INFLUX_DB: 'secrets_test',
        INFLUX_USERNAME: 'ingest',
        INFLUX_PASSWORD,
        LOG_LEVEL: 'debug',
        HUB_MINUTE_REPORTS: 'false',
      },
      join(dir, 'hub.log'),
    );
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop('SIGKILL').catch(() => {});
    await hub?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('the admin token, the InfluxDB password, gateway passwords (right and wrong), login tickets (real and forged) and SNMP secrets (in the registry, in the gateway\'s environment) appear in no log line', async () => {
    const adminToken = readFileSync(join(dir, 'admin-token'), 'utf8').trim();
    expect((await campus(['district', 'add', '渝中区', '--code', 'yz', '--name-zh', '渝中区', '--name-en', 'Yuzhong'], adminToken)).code).toBe(0);
    expect((await campus(['school', 'add', 'yz-s01', '--district', '渝中区', '--name-zh', '一小', '--name-en', 'No. 1 Primary', '--rooms', '101'], adminToken)).code).toBe(0);
    writeFileSync(join(dir, 'switch.json'), JSON.stringify({ address: '10.20.0.2', version: '2c', community: SNMP_COMMUNITY, ifName: 'Gi0/48' }));
    const sw = await campus(['device', 'add', 'yz-s01-core', '--school', 'yz-s01', '--room', '101', '--kind', 'network_node', '--link-role', 'access', '--capacity-mbps', '1000', '--snmp-json', 'switch.json', '--json'], adminToken);
    expect(sw.code).toBe(0);
    expect(JSON.parse(sw.out)).toMatchObject({ snmp: { community: { set: true } } });
    expect(sw.out).not.toContain(SNMP_COMMUNITY);
    const added = await campus(['gateway', 'add', 'gw-yz-s01', '--school', 'yz-s01'], adminToken);
    expect(added.code).toBe(0);
    const env = Object.fromEntries(added.out.trimEnd().split('\n').map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]));
    const gwPassword = env['GW_PASSWORD']!;
    expect(gwPassword.length).toBeGreaterThanOrEqual(16);
    // A wrong token: the CLI's refusal must not echo it back.
    const wrongToken = `${adminToken.slice(0, -4)}XXXX`;
    expect((await campus(['district', 'list'], wrongToken)).code).not.toBe(0);

    let good = await gateway({ ...env, GW_SNMP_SECRET_CORE: SNMP_ENV_SECRET }, 'good');
    await waitFor('the registered gateway connected', async () => (await good.health()).connected);
    // Its login ticket, then a restart that logs in with it (the ticket in a CONNECT at debug level).
    const ticketFile = join(dir, 'outbox-good', env['GW_ID']!, 'ticket.json');
    const ticket = await waitFor('the login ticket saved', async () => (existsSync(ticketFile) ? (JSON.parse(readFileSync(ticketFile, 'utf8')) as { ticket: string; expiresAt: number }) : undefined));
    await good.stop();
    gateways.splice(gateways.indexOf(good), 1);
    good = await gateway({ ...env, GW_SNMP_SECRET_CORE: SNMP_ENV_SECRET }, 'good');
    await waitFor('the gateway back with its ticket', async () => (await good.health()).connected);
    expect(readFileSync(join(dir, 'gateway-good.log'), 'utf8')).toMatch(/"method":"ticket"|login ticket kept/);
    // The wrong-password gateway starts with a forged ticket beside its outbox: refused, then its password.
    const forgedTicket = `${ticket.ticket.slice(0, -6)}AAAAAA`;
    mkdirSync(join(dir, 'outbox-bad', env['GW_ID']!), { recursive: true, mode: 0o700 });
    writeFileSync(join(dir, 'outbox-bad', env['GW_ID']!, 'ticket.json'), JSON.stringify({ gateway: env['GW_ID'], ticket: forgedTicket, expiresAt: ticket.expiresAt }), { mode: 0o600 });
    const bad = await gateway({ ...env, GW_PASSWORD: WRONG_PASSWORD }, 'bad');
    await waitFor('the wrong password refused twice', async () => {
      const log = readFileSync(join(dir, 'gateway-bad.log'), 'utf8');
      return (log.match(/uplink refused by the hub; retrying/g)?.length ?? 0) >= 2;
    });
    expect(((await bad.health()) as unknown as { uplink: { reason: string } }).uplink.reason).toMatch(/^refused: CONNACK [45] /);

    const logs = {
      hub: readFileSync(join(dir, 'hub.log'), 'utf8'),
      'gateway good': readFileSync(join(dir, 'gateway-good.log'), 'utf8'),
      'gateway bad': readFileSync(join(dir, 'gateway-bad.log'), 'utf8'),
      'cli stderr': cliErr.join(''),
    };
    // Debug lines were written (the test would prove nothing against empty logs).
    expect(logs.hub).toMatch(/"level":20/);
    expect(logs['gateway good']).toMatch(/uplink connected/);
    expect(logs['gateway bad']).toMatch(/refused the login ticket/);
    // A ticket's MAC alone is a secret's worth: neither whole tickets nor their last part.
    const ticketMac = ticket.ticket.slice(ticket.ticket.lastIndexOf('.') + 1);
    for (const [name, text] of Object.entries(logs)) {
      for (const [what, secret] of Object.entries({ adminToken, wrongToken, INFLUX_PASSWORD, gwPassword, WRONG_PASSWORD, SNMP_COMMUNITY, SNMP_ENV_SECRET, ticket: ticket.ticket, ticketMac, forgedTicket })) {
        expect(text.includes(secret), `${what} in the ${name} log`).toBe(false);
      }
    }
  });
});
