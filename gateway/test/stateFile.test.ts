import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createGatewayCounters } from '../src/metrics.ts';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../runtime/src/logging.ts';
import { Liveness, type LivenessSnapshot } from '../src/liveness.ts';
import { LivenessStore } from '../src/livenessStore.ts';
import { writeStateFile } from '../src/stateFile.ts';

/** The state files (the inventory holds SNMP secrets): mode 600, in a directory the gateway creates with mode 700. */
const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});
function scratch(): string {
  const d = mkdtempSync(join(tmpdir(), 'gw-state-'));
  dirs.push(d);
  return d;
}
const mode = (path: string) => statSync(path).mode & 0o777;

describe('writeStateFile', () => {
  it('creates its directory with mode 700 and the file with mode 600', async () => {
    const dir = join(scratch(), 'gw-test');
    await writeStateFile(join(dir, 'inventory.json'), { revision: 1 });
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'inventory.json'))).toBe(0o600);
    expect(JSON.parse(readFileSync(join(dir, 'inventory.json'), 'utf8'))).toEqual({ revision: 1 });
  });

  it('a file there before with mode 644 ends as 600', async () => {
    const dir = scratch();
    const file = join(dir, 'inventory.json');
    writeFileSync(file, '{}');
    chmodSync(file, 0o644);
    await writeStateFile(file, { revision: 2 });
    expect(mode(file)).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ revision: 2 });
  });

  it('a temporary file left by a crash with mode 644 does not pass its mode on', async () => {
    const dir = scratch();
    const file = join(dir, 'liveness.json');
    writeFileSync(`${file}.tmp`, 'half of an old write');
    chmodSync(`${file}.tmp`, 0o644);
    await writeStateFile(file, { savedAt: 1 });
    expect(mode(file)).toBe(0o600);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ savedAt: 1 });
  });

  it('a directory there before with mode 755 (the outbox\'s) is brought to 700', async () => {
    const dir = join(scratch(), 'gw-test');
    mkdirSync(dir, { mode: 0o755 });
    chmodSync(dir, 0o755);
    await writeStateFile(join(dir, 'inventory.json'), { revision: 3 });
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(dir, 'inventory.json'))).toBe(0o600);
  });
});

describe('LivenessStore', () => {
  it('keeps a polled node\'s own timeout across a restart', async () => {
    const file = join(scratch(), 'gw-test', 'liveness.json');
    const T = Date.UTC(2026, 2, 3, 1, 0);
    const saved = new Liveness();
    saved.heard('sw', 'network_node', T, false);
    saved.setOwnTimeouts(new Map([['sw', 162_000]]));
    const log = silentLogger();
    const counters = createGatewayCounters();
    await new LivenessStore({ log, counters, gateway: 'gw-test', now: () => T + 100_000, file, snapshot: (at) => saved.snapshot(at), restore: () => {} }).save();
    expect(mode(file)).toBe(0o600);
    let got: LivenessSnapshot | undefined;
    await new LivenessStore({ log, counters, gateway: 'gw-test', now: () => T + 200_000, file, snapshot: () => ({ savedAt: 0, devices: [] }), restore: (s) => (got = s) }).start();
    expect(got).toEqual({ savedAt: T + 100_000, devices: [{ device: 'sw', kind: 'network_node', lastHeard: T, off: false, timeoutMs: 162_000 }] });
  });
});
