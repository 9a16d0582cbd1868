import { execFile } from 'node:child_process';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { loadHubConfig } from '../broker/src/config.ts';
import { loadSimConfig } from '../device-sim/src/config.ts';
import { PROJECT_ROOT } from './harness/hubProcess.ts';

function compose(args: string[], env: Record<string, string>): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== 'SIM_GATEWAY_SECRET'));
    execFile('docker-compose', ['-f', join(PROJECT_ROOT, 'docker-compose.yml'), ...args], { env: { ...clean, ...env } as NodeJS.ProcessEnv }, (err, stdout, stderr) =>
      resolve({ code: err ? (typeof err.code === 'number' ? err.code : -1) : 0, stdout: String(stdout), stderr: String(stderr) }),
    );
  });
}

describe('docker-compose.yml', () => {
  it('is valid for docker-compose (no daemon needed) and its services\' environments pass our own config schemas', async () => {
    const r = await compose(['config'], { SIM_GATEWAY_SECRET: 'a-secret-of-enough-length' });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const doc = parse(r.stdout) as { services: Record<string, { environment: Record<string, string>; ports?: unknown[] }> };
    expect(Object.keys(doc.services).sort()).toEqual(['campuses', 'hub', 'influxdb']);
    const hub = loadHubConfig(doc.services['hub']!.environment);
    expect(hub.hub).toMatchObject({ mqttPort: 1883, httpPort: 8080, allowAnonymous: false, registryPath: '/data/registry.sqlite' });
    expect(hub.hub.influx.url).toBe('http://influxdb:8086');
    const sim = loadSimConfig(doc.services['campuses']!.environment);
    expect(sim.SIM_HUB_URL).toBe('mqtt://hub:1883');
    expect(sim.SIM_REGISTRY_PATH).toBe(hub.hub.registryPath);
  });

  it('refuses to start without a gateway secret', async () => {
    const r = await compose(['config', '-q'], {});
    expect(r.code).not.toBe(0);
    expect(r.stderr).toContain('set SIM_GATEWAY_SECRET');
  });
});
