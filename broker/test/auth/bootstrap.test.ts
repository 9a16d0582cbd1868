import { chmodSync, lstatSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { createHub, type Hub } from '../../src/hub.ts';
import { Registry } from '../../src/registry.ts';
import { silentLogger } from '../../../runtime/src/logging.ts';
import { freePort } from '../../../tests/harness/ports.ts';
import { hubConfig } from '../../../tests/harness/stack.ts';

/**
 * The first start's admin token file, on a real hub with its registry in a file. InfluxDB is
 * at a port nobody listens on: the hub starts without it, and the bootstrap does not touch it.
 */
describe('the bootstrap admin token file', () => {
  const dir = mkdtempSync(join(tmpdir(), 'hub-bootstrap-'));
  const hubs: Hub[] = [];
  afterEach(async () => {
    for (const h of hubs.splice(0)) await h.stop();
  });
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  async function startHub(registryPath: string, bootstrapTokenFile: string): Promise<Hub> {
    const hub = createHub(hubConfig(`http://127.0.0.1:${await freePort()}`, 'hub_bootstrap', { registryPath, bootstrapTokenFile }), { log: silentLogger() });
    await hub.start();
    hubs.push(hub);
    return hub;
  }
  const users = (registryPath: string): number => {
    const r = new Registry(registryPath);
    try {
      return r.userCount();
    } finally {
      r.close();
    }
  };

  it('fails the start when the file cannot be written, keeps no user, and bootstraps on a later start with a good path', async () => {
    const registryPath = join(dir, 'a.sqlite');
    const notADir = join(dir, 'a-file');
    writeFileSync(notADir, 'x');
    await expect(startHub(registryPath, join(notADir, 'admin-token'))).rejects.toMatchObject({ code: 'HUB_ERR_BOOTSTRAP_FILE' });
    expect(users(registryPath)).toBe(0);

    const good = join(dir, 'a', 'admin-token');
    const hub = await startHub(registryPath, good);
    const token = readFileSync(good, 'utf8').trim();
    expect(statSync(good).mode & 0o777).toBe(0o600);
    const me = await fetch(`http://127.0.0.1:${hub.httpPort}/api/v1/me`, { headers: { authorization: `Bearer ${token}` } });
    expect(me.status).toBe(200);
    expect(hub.registry.userCount()).toBe(1);
  });

  it('replaces an existing readable file with one of mode 600, leaving no temporary file', async () => {
    const sub = join(dir, 'b');
    const file = join(sub, 'admin-token');
    await startHub(join(dir, 'b0.sqlite'), join(sub, 'first')); // makes the directory
    writeFileSync(file, 'old\n');
    chmodSync(file, 0o644);
    await startHub(join(dir, 'b.sqlite'), file);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(file, 'utf8')).not.toBe('old\n');
    expect(readdirSync(sub).sort()).toEqual(['admin-token', 'first']);
  });

  it('replaces a symbolic link at the path instead of writing through it', async () => {
    const target = join(dir, 'elsewhere');
    writeFileSync(target, 'untouched\n');
    chmodSync(target, 0o644);
    const file = join(dir, 'c-token');
    symlinkSync(target, file);
    await startHub(join(dir, 'c.sqlite'), file);
    expect(lstatSync(file).isSymbolicLink()).toBe(false);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(readFileSync(target, 'utf8')).toBe('untouched\n');
  });
});
