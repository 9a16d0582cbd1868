import { execFile } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadHubConfig } from '../broker/src/config.ts';
import { GRAFANA_PROVISIONING, PROVISIONING_DIR, render } from '../dashboards/src/build.ts';
import { loadCampusesConfig } from '../device-sim/src/config.ts';
import { ALERT_HOOK_PATH } from '../flows/src/build.ts';
import { PROJECT_ROOT } from './harness/mainProcess.ts';

const SECRETS = {
  GRAFANA_ADMIN_PASSWORD: 'grafana-admin',
  NODE_RED_ADMIN_PASSWORD: 'node-red-admin',
  NODE_RED_CREDENTIAL_SECRET: 'node-red-credentials',
  NODERED_ALERT_WEBHOOK_PASSWORD: 'webhook-pass',
};

/** An empty env file: a developer's .env never changes what the test sees. */
const EMPTY_ENV = join(mkdtempSync(join(tmpdir(), 'campus-compose-')), 'empty.env');
writeFileSync(EMPTY_ENV, '');

function compose(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !(k in SECRETS) && k !== 'ALERT_EMAIL_TO'));
    execFile('docker-compose', ['--env-file', EMPTY_ENV, '-f', join(PROJECT_ROOT, 'docker-compose.yml'), ...args], { env: { ...clean, ...env } as NodeJS.ProcessEnv }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

interface Service {
  image?: string;
  environment: Record<string, string>;
  /** docker-compose 1.x prints the short syntax: `source:target[:mode]`. */
  volumes?: string[];
  /** `host_ip:published:target/protocol`. */
  ports?: string[];
  healthcheck?: { test: string[] };
  command?: string[];
  depends_on?: Record<string, { condition: string }>;
}

function volume(spec: string): { type: 'bind' | 'volume'; source: string; target: string; readOnly: boolean } {
  const [source, target, mode] = spec.split(':') as [string, string, string | undefined];
  return { type: source.startsWith('/') ? 'bind' : 'volume', source, target, readOnly: mode === 'ro' };
}

async function config(): Promise<Record<string, Service>> {
  const r = await compose(['config'], SECRETS);
  expect(r.stderr).toBe('');
  expect(r.code).toBe(0);
  return (parse(r.stdout) as { services: Record<string, Service> }).services;
}

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (no daemon needed): the full stack, pinned images, health checks, loopback ports', async () => {
    const s = await config();
    expect(Object.keys(s).sort()).toEqual(['campuses', 'grafana', 'haproxy', 'hub', 'hub-b', 'influxdb', 'node-red', 'redis']);
    expect([s['influxdb']!.image, s['grafana']!.image, s['node-red']!.image]).toEqual(['influxdb:1.8.10', 'grafana/grafana:12.2.0', 'nodered/node-red:5.0.7']);
    for (const name of ['influxdb', 'redis', 'hub', 'hub-b', 'grafana', 'node-red']) expect(s[name]!.healthcheck?.test.length, name).toBeGreaterThan(0);
    for (const [name, svc] of Object.entries(s)) for (const p of svc.ports ?? []) expect(p.split(':')[0], name).toBe('127.0.0.1');
    expect(s['campuses']!.depends_on).toEqual({ haproxy: { condition: 'service_started' }, hub: { condition: 'service_healthy' } });
    expect(s['grafana']!.depends_on).toEqual({ influxdb: { condition: 'service_healthy' } });
  });

  it('gives the hub and the simulated campuses environments our own config schemas accept', async () => {
    const s = await config();
    const hub = loadHubConfig(s['hub']!.environment);
    expect(hub.hub).toMatchObject({ mqttPort: 1883, httpPort: 8080, allowAnonymous: false, registryPath: '/data/registry.sqlite', minuteReports: true });
    expect(hub.hub.influx.url).toBe('http://influxdb:8086');
    expect(s['campuses']!.command).toEqual(['node', 'device-sim/src/campusesMain.ts']);
    const sim = loadCampusesConfig(s['campuses']!.environment);
    expect([sim.SIM_HUB_URL, sim.SIM_API_URL, sim.SIM_OUTBOX_DIR]).toEqual(['mqtt://haproxy:1883', 'http://hub:8080', '/outbox']);
    expect(hub.hub.publicMqttUrl).toBe(sim.SIM_HUB_URL);
    // The campuses read the hub's bootstrap token (admin-token beside its registry) from the
    // hub's own volume, mounted read-only.
    expect(s['campuses']!.volumes!.map(volume).map((v) => [v.type, v.source, v.target, v.readOnly])).toEqual([
      ['volume', 'registry', '/hub-data', true],
      ['volume', 'outboxes', '/outbox', false],
    ]);
    expect([hub.hub.registryPath, sim.SIM_API_TOKEN_FILE]).toEqual(['/data/registry.sqlite', '/hub-data/admin-token']);
  });

  it('runs the hub as two nodes of one cluster on Redis, behind HAProxy, sharing one registry volume', async () => {
    const s = await config();
    const a = loadHubConfig(s['hub']!.environment).hub;
    const b = loadHubConfig(s['hub-b']!.environment).hub;
    expect([a.cluster, b.cluster]).toEqual([{ redisUrl: 'redis://redis:6379', nodeId: 'hub-a' }, { redisUrl: 'redis://redis:6379', nodeId: 'hub-b' }]);
    // One registry file on one volume: the nodes share one Docker host's disk.
    expect(s['hub-b']!.volumes).toEqual(s['hub']!.volumes);
    expect(b.registryPath).toBe(a.registryPath);
    // The second node starts once the first has bootstrapped the registry.
    expect(s['hub-b']!.depends_on?.['hub']).toEqual({ condition: 'service_healthy' });
    // Gateways reach the cluster through HAProxy only: no node's MQTT port is published.
    expect(s['haproxy']!.ports).toEqual(['127.0.0.1:1883:1883/tcp']);
    expect([s['hub']!.ports, s['hub-b']!.ports]).toEqual([['127.0.0.1:8080:8080/tcp'], ['127.0.0.1:8081:8080/tcp']]);
    const cfg = s['haproxy']!.volumes!.map(volume).find((v) => v.target === '/usr/local/etc/haproxy/haproxy.cfg')!;
    expect([cfg.type, cfg.source, cfg.readOnly]).toEqual(['bind', join(PROJECT_ROOT, 'deploy', 'haproxy', 'haproxy.cfg'), true]);
    const text = readFileSync(cfg.source, 'utf8');
    expect(text).toMatch(/^\s*mode tcp$/m);
    expect(text).toContain('on-marked-down shutdown-sessions');
    expect([...text.matchAll(/^\s*server \S+ (\S+)$/gm)].map((m) => m[1])).toEqual(['hub:1883', 'hub-b:1883']);
  });

  it('mounts the provisioning tree where its dashboard provider looks, and gives Grafana every variable the files use', async () => {
    const g = (await config())['grafana']!;
    const mount = g.volumes!.map(volume).find((v) => v.target === GRAFANA_PROVISIONING)!;
    expect([mount.type, mount.source, mount.readOnly]).toEqual(['bind', PROVISIONING_DIR, true]);
    // Grafana expands environment variables in the provisioning YAML, not in the dashboards' JSON
    // (whose `${…}` are Grafana's own variables, such as `${__url_time_range}` in links).
    const yamlFiles = [...render()].filter(([path]) => path.endsWith('.yaml')).map(([, text]) => text);
    const used = new Set(yamlFiles.flatMap((text) => [...text.matchAll(/\$\{(\w+)\}/g)].map((m) => m[1]!)));
    expect([...used].sort()).toEqual(['ALERT_EMAIL_TO', 'INFLUX_DB', 'INFLUX_PASSWORD', 'INFLUX_URL', 'INFLUX_USERNAME', 'NODERED_ALERT_WEBHOOK_PASSWORD', 'NODERED_ALERT_WEBHOOK_URL', 'NODERED_ALERT_WEBHOOK_USER']);
    for (const v of used) expect(g.environment, v).toHaveProperty(v);
    expect(g.environment['NODERED_ALERT_WEBHOOK_URL']).toBe(`http://node-red:1880${ALERT_HOOK_PATH}`);
    expect(g.environment['ALERT_EMAIL_TO']).toBe('noc@example.invalid');
  });

  it('runs Node-RED on our flows and settings, with the secrets its settings require and the webhook credentials Grafana uses', async () => {
    const s = await config();
    const nr = s['node-red']!;
    const flows = nr.volumes!.map(volume).find((v) => v.target === '/flows')!;
    expect([flows.source, flows.readOnly]).toEqual([join(PROJECT_ROOT, 'flows', 'node-red'), true]);
    expect([nr.command, nr.environment['FLOWS']]).toEqual([['--settings', '/flows/settings.cjs'], '/flows/flows.json']);
    const settings = readFileSync(join(PROJECT_ROOT, 'flows', 'node-red', 'settings.cjs'), 'utf8');
    const required = [...settings.matchAll(/required\('(\w+)'\)/g)].map((m) => m[1]!);
    expect(required.sort()).toEqual(['NODERED_ALERT_WEBHOOK_PASSWORD', 'NODERED_ALERT_WEBHOOK_USER', 'NODE_RED_ADMIN_PASSWORD', 'NODE_RED_CREDENTIAL_SECRET']);
    for (const v of required) expect(nr.environment[v], v).toBeTruthy();
    expect([nr.environment['NODERED_ALERT_WEBHOOK_USER'], nr.environment['NODERED_ALERT_WEBHOOK_PASSWORD']]).toEqual([
      s['grafana']!.environment['NODERED_ALERT_WEBHOOK_USER'],
      s['grafana']!.environment['NODERED_ALERT_WEBHOOK_PASSWORD'],
    ]);
  });

  it.each(Object.keys(SECRETS))('refuses to start without %s', async (name) => {
    const { [name as keyof typeof SECRETS]: _omit, ...rest } = SECRETS;
    const r = await compose(['config', '-q'], rest);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain(`set ${name}`);
  });
});
