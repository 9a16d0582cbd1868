import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayInventory } from '../../protocol/src/inventory.ts';
import { DEFAULT_TIMETABLE } from '../../protocol/src/schedule.ts';
import { lanErrorSchema, type LanError, type OutboxRecord } from '../../protocol/src/telemetry.ts';
import { LAN_ERROR_TOPIC } from '../../protocol/src/topics.ts';
import { waitFor } from '../../runtime/src/ports.ts';
import { INVENTORY_FILE, LIVENESS_FILE, type Gateway } from '../src/gateway.ts';
import { boardSample, lanOnlyConfig, publish, startLanOnly } from './lanRig.ts';

const T0 = Date.UTC(2026, 2, 3, 1, 0); // a minute boundary, Tuesday 09:00 in Shanghai
const MIN = 60_000;

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const INVENTORY: GatewayInventory = {
  v: 1,
  gateway: 'gw-test',
  revision: 42,
  timetable: DEFAULT_TIMETABLE,
  devices: [
    { id: 'b1', kind: 'interactive_board', room: 'r1' },
    { id: 'b2', kind: 'interactive_board', room: 'r2' },
  ],
};

function drain(gw: Gateway): OutboxRecord[] {
  const out: OutboxRecord[] = [];
  for (let b = gw.outbox.take(10_000); b; b = gw.outbox.take(10_000)) out.push(...b.records);
  return out;
}

/** A gateway with a durable outbox in `dir` holding a saved inventory, its hub unreachable, on the test's clock. */
async function gatewayIn(dir: string, clock: { now: number }) {
  const cfg = await lanOnlyConfig({ GW_OUTBOX_DIR: dir, GW_HEALTH_PORT: '0', GW_LAN_ERROR_INTERVAL_MS: '0' });
  const rig = await startLanOnly(cfg, { now: () => clock.now });
  cleanups.push(rig.stop);
  return rig;
}

async function errorsOn(c: MqttClient): Promise<LanError[]> {
  const got: LanError[] = [];
  c.on('message', (t, p) => t === LAN_ERROR_TOPIC && got.push(lanErrorSchema.parse(JSON.parse(p.toString()))));
  await c.subscribeAsync(LAN_ERROR_TOPIC, { qos: 1 });
  return got;
}

describe('a gateway with an inventory', () => {
  it('refuses unregistered ids, a wrong kind and a wrong clock, tells the device on lan/v1/err, and shows the faulty one in /health', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-edge-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'gw-test'));
    writeFileSync(join(dir, 'gw-test', INVENTORY_FILE), JSON.stringify(INVENTORY));
    const clock = { now: T0 };
    const rig = await gatewayIn(dir, clock);
    const dev = await rig.device('dev');
    const errors = await errorsOn(await rig.device('vendor-watch'));

    await publish(dev, boardSample('b1', 1, T0));
    await publish(dev, JSON.stringify({ device: 'b2', kind: 'classroom_av', seq: 1, ts: T0, data: { power: 'on', lampHours: 1, temperatureC: 30, inSession: false } }));
    await publish(dev, boardSample('b2', 2, T0 + 10 * MIN)); // its clock 10 minutes ahead
    await publish(dev, boardSample('stranger', 1, T0));
    await publish(dev, JSON.stringify({ device: 'b1', kind: 'interactive_board', seq: 3 }));
    await waitFor('four refusals told', async () => errors.length === 4 || undefined, { timeoutMs: 5000, intervalMs: 10 });
    expect(errors.map((e) => [e.device, e.reason, e.seq])).toEqual([
      ['b2', 'kind_mismatch', 1],
      ['b2', 'clock_ahead', 2],
      ['stranger', 'unregistered', 1],
      ['b1', 'invalid_sample', undefined],
    ]);
    expect(errors[1]!.detail).toBe("device clock 600000 ms ahead of the gateway's (at most 300000 ms accepted)");
    expect(rig.gw.counters.snapshot()).toMatchObject({
      samples_accepted: 1,
      'samples_rejected{reason="kind_mismatch"}': 1,
      'samples_rejected{reason="clock_ahead"}': 1,
      'samples_rejected{reason="unregistered"}': 1,
      'samples_rejected{reason="invalid_sample"}': 1,
      'device_samples_refused{device="b2",reason="clock_ahead"}': 1,
      'device_samples_refused{device="stranger",reason="unregistered"}': 1,
    });
    const health = (await (await fetch(`http://127.0.0.1:${rig.gw.healthPort}/health`)).json()) as { devices: { inventory: { revision: number; devices: number }; tracking: string; tracked: number; faulty: Array<{ device: string; reason: string; refused: number }> } };
    expect(health.devices).toMatchObject({ inventory: { revision: 42, devices: 2 }, tracking: 'registered', tracked: 2 });
    expect(health.devices.faulty.map((f) => [f.device, f.reason, f.refused])).toEqual([
      ['b1', 'invalid_sample', 1],
      ['b2', 'clock_ahead', 2],
    ]);

    // b1 heard at T0, b2 never (its samples refused): both watched from the start at T0.
    // Boards time out after 75 s: up at +1 min, down at +2 min.
    clock.now = T0 + MIN;
    await rig.gw.sampleAvailability(T0 + MIN);
    clock.now = T0 + 2 * MIN;
    await rig.gw.sampleAvailability(T0 + 2 * MIN);
    const states = drain(rig.gw).filter((r) => r.kind === 'availability').map((r) => [r.device, r.ts - T0, r.kind === 'availability' && r.state]);
    expect(states).toEqual([
      ['b1', MIN, 'up'],
      ['b2', MIN, 'up'],
      ['b1', 2 * MIN, 'down'],
      ['b2', 2 * MIN, 'down'],
    ]);
  });

  it('thousands of unregistered ids leave the tracked devices at the registered count', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-edge-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'gw-test'));
    writeFileSync(join(dir, 'gw-test', INVENTORY_FILE), JSON.stringify(INVENTORY));
    const clock = { now: T0 };
    const rig = await gatewayIn(dir, clock);
    const dev = await rig.device('flood');
    for (let i = 0; i < 3000; i++) await publish(dev, boardSample(`fake-${i}`, i, T0));
    const metrics = await (await fetch(`http://127.0.0.1:${rig.gw.healthPort}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_tracked_devices 2$/m);
    expect(rig.gw.counters.get('samples_rejected', { reason: 'unregistered' })).toBe(3000);
    // Per id up to 100 labels, the rest together.
    expect(rig.gw.counters.get('device_samples_refused', { device: '_other', reason: 'unregistered' })).toBe(2900);
    expect(rig.gw.outbox.size()).toBe(0);
    expect(await rig.gw.sampleAvailability(T0 + MIN)).toBe(2);
  });

  it('keeps a board that was down before a restart down after it, from the state saved beside the outbox', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-edge-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    mkdirSync(join(dir, 'gw-test'));
    writeFileSync(join(dir, 'gw-test', INVENTORY_FILE), JSON.stringify(INVENTORY));
    const clock = { now: T0 };
    const first = await gatewayIn(dir, clock);
    const dev = await first.device('dev');
    // b1 reports until T0 + 2.5 min; b2 is never heard.
    for (let s = 0; s <= 5; s++) {
      clock.now = T0 + s * 30_000;
      await publish(dev, boardSample('b1', s, clock.now));
    }
    clock.now = T0 + 5 * MIN;
    await first.gw.sampleAvailability(T0 + 5 * MIN); // b1 silent 2.5 min, b2 5 min: both down; saved
    await first.stop();
    cleanups.pop();
    expect(existsSync(join(dir, 'gw-test', LIVENESS_FILE))).toBe(true);

    clock.now = T0 + 20 * MIN;
    const second = await gatewayIn(dir, clock);
    clock.now = T0 + 20 * MIN + 5;
    await second.gw.sampleAvailability(T0 + 20 * MIN);
    const records = drain(second.gw).filter((r) => r.kind === 'availability' && r.ts === T0 + 20 * MIN);
    // Down, not up (a fresh watch would give them 75 s) and not unknown (no record).
    expect(records.map((r) => [r.device, r.kind === 'availability' && r.state])).toEqual([
      ['b1', 'down'],
      ['b2', 'down'],
    ]);
  });

  it('without an inventory says so in /health and tracks the devices heard', async () => {
    const rig = await startLanOnly(await lanOnlyConfig({ GW_HEALTH_PORT: '0' }), { now: () => T0 });
    cleanups.push(rig.stop);
    await publish(await rig.device('dev'), boardSample('anyone', 1, T0));
    const health = (await (await fetch(`http://127.0.0.1:${rig.gw.healthPort}/health`)).json()) as { devices: { inventory: null; tracking: string; note: string; tracked: number } };
    expect(health.devices).toMatchObject({ inventory: null, tracking: 'heard', tracked: 1 });
    expect(health.devices.note).toMatch(/no inventory/);
  });

  it('refuses a device publishing on lan/v1/err (only the gateway tells refusals)', async () => {
    const rig = await startLanOnly(await lanOnlyConfig(), { now: () => T0 });
    cleanups.push(rig.stop);
    const forger = await rig.device('forger');
    const closed = new Promise<void>((r) => forger.once('close', () => r()));
    forger.publish(LAN_ERROR_TOPIC, JSON.stringify({ v: 1, device: 'b1', reason: 'unregistered', detail: '', at: T0 }), { qos: 1 });
    await closed;
    expect(rig.gw.counters.get('lan_publishes_denied', { topic: 'err' })).toBe(1);
  });
});
