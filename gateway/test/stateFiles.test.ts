import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker } from './testBroker.ts';
import type { GatewayInventory } from '../../protocol/src/inventory.ts';
import { DEFAULT_TIMETABLE } from '../../protocol/src/schedule.ts';
import { inventoryTopic } from '../../protocol/src/topics.ts';
import { waitFor } from '../../runtime/src/ports.ts';
import { INVENTORY_FILE, LIVENESS_FILE, createGateway, type Gateway } from '../src/gateway.ts';
import { lanOnlyConfig } from './lanRig.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const SECRET = 'Zq7-Vx93kLmP0w-tR5sJe';
/** Every 6-character piece of the secret: none may be in the log. */
const pieces = (s: string): string[] => Array.from({ length: s.length - 5 }, (_, i) => s.slice(i, i + 6));

function stateDir(): string {
  const dir = mkdtempSync(join(tmpdir(), 'gw-state-'));
  cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
  mkdirSync(join(dir, 'gw-test'), { mode: 0o700 });
  return dir;
}

/** A gateway on a durable outbox in `dir`, its log kept as text, its health endpoint up. */
async function gatewayIn(dir: string, hubUrl?: string): Promise<{ gw: Gateway; logs: string[] }> {
  const logs: string[] = [];
  const cfg = await lanOnlyConfig({ GW_OUTBOX_DIR: dir, GW_HEALTH_PORT: '0', GW_RECONNECT_MS: '100' }, hubUrl ? { hubUrl } : {});
  const gw = createGateway(cfg, { log: pino({ level: 'debug' }, { write: (s: string) => void logs.push(s) }) });
  await gw.start();
  cleanups.push(() => gw.stop());
  return { gw, logs };
}

const health = async (gw: Gateway) => ((await (await fetch(`http://127.0.0.1:${gw.healthPort}/health`)).json()) as { devices: { inventory: { revision: number; devices: number } | null } }).devices;

describe('a corrupt inventory.json at start', () => {
  const whole = JSON.stringify({ v: 1, gateway: 'gw-test', revision: 7, timetable: DEFAULT_TIMETABLE, devices: [{ id: 'sw1', kind: 'network_node', room: 'r', snmp: { authKey: SECRET } }] });
  // A byte lost before the secret: JSON.parse's message quotes the text there (`Unexpected token 'Z', ..."authKey":Zq7-Vx93kL"...`).
  const garbled = whole.replace(`"${SECRET}`, SECRET);
  // Cut inside the secret, as a crash or a full disk could leave it.
  const cut = whole.slice(0, whole.indexOf(SECRET) + SECRET.length);
  // Valid JSON that fails the schema, the secret in a value.
  const invalid = JSON.stringify({ v: 1, gateway: 'gw-test', revision: 'seven', timetable: DEFAULT_TIMETABLE, devices: [{ id: 'sw1', kind: 'network_node', room: 'r', snmp: { version: '3', user: 'u', authKey: SECRET } }] });

  it.each([
    ['not JSON (a byte lost)', garbled, 'not_json'],
    ['not JSON (cut short)', cut, 'not_json'],
    ['failing the schema', invalid, 'invalid'],
  ])('%s: the gateway starts without it, counts it, and its log quotes no part of the file; the hub\'s inventory is taken when it comes', async (_what, content, reason) => {
    expect(content).toContain(SECRET);
    const { broker, port } = await startTestBroker(cleanups);
    const dir = stateDir();
    writeFileSync(join(dir, 'gw-test', INVENTORY_FILE), content, { mode: 0o600 });
    const { gw, logs } = await gatewayIn(dir, `mqtt://127.0.0.1:${port}`);
    expect((await health(gw)).inventory).toBeNull();
    expect(gw.counters.get('state_files_ignored', { file: 'inventory', reason })).toBe(1);
    const text = logs.join('');
    expect(text).toContain('GW_ERR_STATE_FILE');
    expect(text).toContain('saved inventory ignored');
    expect(pieces(SECRET).filter((p) => text.includes(p))).toEqual([]);
    const hubs: GatewayInventory = { v: 1, gateway: 'gw-test', revision: 3, timetable: DEFAULT_TIMETABLE, devices: [{ id: 'b1', kind: 'interactive_board', room: 'r1' }] };
    await new Promise<void>((res, rej) =>
      broker.publish({ cmd: 'publish', topic: inventoryTopic({ district: 'd1', school: 's1', gateway: 'gw-test' }), payload: Buffer.from(JSON.stringify(hubs)), qos: 1, retain: true, dup: false }, (e) => (e ? rej(e) : res())),
    );
    await waitFor('the hub\'s inventory', async () => ((await health(gw)).inventory?.revision === 3 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    expect(pieces(SECRET).filter((p) => logs.join('').includes(p))).toEqual([]);
  });
});

describe('liveness.json and the gateway id', () => {
  const T = Date.UTC(2026, 2, 3, 1, 0);
  const devices = [{ device: 'b1', kind: 'interactive_board', lastHeard: T - 600_000, off: false }];

  it('is written with the gateway\'s id', async () => {
    const dir = stateDir();
    const { gw } = await gatewayIn(dir);
    await gw.stop();
    const saved = JSON.parse(readFileSync(join(dir, 'gw-test', LIVENESS_FILE), 'utf8')) as { gateway: string };
    expect(saved.gateway).toBe('gw-test');
  });

  it('another gateway\'s is ignored with a warning and a counter; its devices are not tracked', async () => {
    const dir = stateDir();
    writeFileSync(join(dir, 'gw-test', LIVENESS_FILE), JSON.stringify({ gateway: 'gw-other', savedAt: T, devices }));
    const { gw, logs } = await gatewayIn(dir);
    expect(gw.counters.get('state_files_ignored', { file: 'liveness', reason: 'other_gateway' })).toBe(1);
    const warn = logs.map((l) => JSON.parse(l) as { level: number; msg: string; err?: { code: string; message: string } }).find((l) => l.msg === 'saved liveness ignored; devices watched afresh');
    expect(warn).toMatchObject({ level: 40, err: { code: 'GW_ERR_STATE_FILE' } });
    expect(warn!.err!.message).toContain('gw-other');
    const h = (await (await fetch(`http://127.0.0.1:${gw.healthPort}/health`)).json()) as { devices: { tracked: number } };
    expect(h.devices.tracked).toBe(0);
  });

  it.each([
    ['its own', { gateway: 'gw-test', savedAt: T, devices }],
    ['one written before the id was kept', { savedAt: T, devices }],
  ])('%s is restored', async (_what, file) => {
    const dir = stateDir();
    writeFileSync(join(dir, 'gw-test', LIVENESS_FILE), JSON.stringify(file));
    const { gw } = await gatewayIn(dir);
    expect(gw.counters.get('state_files_ignored', { file: 'liveness', reason: 'other_gateway' })).toBe(0);
    const h = (await (await fetch(`http://127.0.0.1:${gw.healthPort}/health`)).json()) as { devices: { tracked: number } };
    expect(h.devices.tracked).toBe(1);
  });
});
