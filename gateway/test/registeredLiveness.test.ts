import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { GatewayInventory } from '../../protocol/src/inventory.ts';
import type { LanError } from '../../protocol/src/telemetry.ts';
import { DEFAULT_TIMETABLE } from '../../protocol/src/schedule.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { checkClock } from '../src/clockWindow.ts';
import { DeviceFaults, OTHER_DEVICE_LABELS } from '../src/deviceFaults.ts';
import { InventoryStore } from '../src/inventoryStore.ts';
import { Liveness, MINUTE_MS } from '../src/liveness.ts';
import { createGatewayCounters } from '../src/metrics.ts';

const T = 1_790_000_000_000 - (1_790_000_000_000 % MINUTE_MS); // a minute boundary
const DAY = 86_400_000;

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

describe('liveness with an inventory', () => {
  it('tracks exactly the registered devices: one never heard is down from its timeout after the start', () => {
    const l = new Liveness();
    l.heard('stray', 'interactive_board', T - 1000, false); // heard before the inventory arrived
    l.register(new Map([['b1', 'interactive_board'], ['b2', 'interactive_board'], ['vr', 'vr_kit']]), T);
    expect([l.size, l.tracks('stray'), l.knows('b1')]).toEqual([3, false, false]);
    l.heard('b1', 'interactive_board', T + 90_000, false);
    l.heard('stray', 'interactive_board', T + 90_000, false); // not registered: not tracked
    expect(l.size).toBe(3);
    // Boards time out after 75 s, VR kits after 150 s, counted from the start (T) for those never
    // heard: b2 down from T+2 min, vr from T+3 min; b1, heard at T+90 s, down from T+3 min.
    const at = (m: number) => l.minuteRecords(T + m * MINUTE_MS, T + m * MINUTE_MS).map((r) => [r.device, r.state]);
    expect(at(1)).toEqual([['b1', 'up'], ['b2', 'up'], ['vr', 'up']]);
    expect(at(2)).toEqual([['b1', 'up'], ['b2', 'down'], ['vr', 'up']]);
    expect(at(3)).toEqual([['b1', 'down'], ['b2', 'down'], ['vr', 'down']]);
    // A device dropped from the inventory is no longer tracked; one added is watched from then.
    l.register(new Map([['b1', 'interactive_board'], ['b3', 'interactive_board']]), T + 5 * MINUTE_MS);
    expect(at(6)).toEqual([['b1', 'down'], ['b3', 'up']]);
    expect(at(7)).toEqual([['b1', 'down'], ['b3', 'down']]);
  });

  it('keeps a device down across a restart; one up is watched afresh; one off stays off', () => {
    const before = new Liveness();
    before.heard('dead', 'interactive_board', T, false);
    before.heard('alive', 'interactive_board', T + 170_000, false);
    before.heard('switched-off', 'classroom_av', T + 10_000, true);
    // Saved at T + 180 s: dead silent for 180 s (> 75 s: down), alive for 10 s (up).
    const saved = before.snapshot(T + 180_000);
    expect(['dead', 'alive', 'switched-off'].map((d) => before.stateAt(d, T + 180_000))).toEqual(['down', 'up', 'off']);
    const after = new Liveness();
    const restart = T + 30 * MINUTE_MS;
    after.restore(saved, restart, 100);
    after.register(new Map([['dead', 'interactive_board'], ['alive', 'interactive_board'], ['switched-off', 'classroom_av']]), restart);
    expect(['dead', 'alive', 'switched-off'].map((d) => after.stateAt(d, restart + MINUTE_MS))).toEqual(['down', 'up', 'off']);
    expect(['dead', 'alive', 'switched-off'].map((d) => after.stateAt(d, restart + 2 * MINUTE_MS))).toEqual(['down', 'down', 'off']);
    // Restored devices are tracked, not heard: commands wait for them to report again.
    expect([after.tracks('dead'), after.knows('dead')]).toEqual([true, false]);
  });

  it('restores at most the cap', () => {
    const before = new Liveness();
    for (let i = 0; i < 5; i++) before.heard(`d${i}`, 'vr_kit', T, false);
    const after = new Liveness();
    after.restore(before.snapshot(T), T, 3);
    expect(after.size).toBe(3);
  });
});

describe('the clock window (the hub\'s rule)', () => {
  const w = { maxFutureMs: 300_000, maxAgeMs: 400 * DAY };
  it.each([
    [T + 300_000, undefined],
    [T + 300_001, 'clock_ahead'],
    [T + 600_000, 'clock_ahead'],
    [T - 400 * DAY, undefined],
    [T - 400 * DAY - 1, 'clock_behind'],
  ])('ts %d → %s', (ts, reason) => {
    expect(checkClock(ts, T, w)?.reason).toBe(reason);
  });
  it('gives the offset in the detail', () => {
    expect(checkClock(T + 600_000, T, w)).toEqual({ reason: 'clock_ahead', offsetMs: 600_000, detail: "device clock 600000 ms ahead of the gateway's (at most 300000 ms accepted)" });
  });
});

describe('DeviceFaults', () => {
  function faults(tracked: string[]) {
    const counters = createGatewayCounters();
    const replies: LanError[] = [];
    let now = T;
    const f = new DeviceFaults({ replyIntervalMs: 10_000 }, { counters, now: () => now, tracks: (d) => tracked.includes(d), reply: (e) => replies.push(e) });
    return { f, counters, replies, at: (t: number) => (now = t) };
  }

  it('counts per device with bounded labels: tracked ids, then 100 others, then _other', () => {
    const { f, counters } = faults(['b1']);
    for (let i = 0; i < OTHER_DEVICE_LABELS + 50; i++) f.refused({ device: `x${i}`, reason: 'unregistered', detail: '' });
    f.refused({ device: 'b1', reason: 'clock_ahead', detail: '' });
    const labels = Object.keys(counters.snapshot()).filter((k) => k.startsWith('device_samples_refused'));
    expect(labels.length).toBe(OTHER_DEVICE_LABELS + 2);
    expect(counters.get('device_samples_refused', { device: '_other', reason: 'unregistered' })).toBe(50);
    expect(counters.get('device_samples_refused', { device: 'b1', reason: 'clock_ahead' })).toBe(1);
    // Only tracked devices are listed as faulty.
    expect(f.faulty().map((x) => x.device)).toEqual(['b1']);
  });

  it('a device the inventory no longer holds loses its series and its fault; the untracked ids with labels keep theirs', () => {
    const tracked = ['b1', 'b2'];
    const counters = createGatewayCounters();
    const f = new DeviceFaults({ replyIntervalMs: 0 }, { counters, now: () => T, tracks: (d) => tracked.includes(d), reply: () => {} });
    f.refused({ device: 'b1', reason: 'clock_ahead', detail: '' });
    f.refused({ device: 'b2', reason: 'clock_ahead', detail: '' });
    f.refused({ device: 'b2', reason: 'kind_mismatch', detail: '' });
    f.refused({ device: 'x1', reason: 'unregistered', detail: '' });
    const series = () => Object.keys(counters.snapshot()).filter((k) => k.startsWith('device_samples_refused'));
    expect(series()).toHaveLength(4);
    // b2 leaves the inventory.
    tracked.splice(1, 1);
    f.retain((d) => tracked.includes(d));
    expect(series().sort()).toEqual(['device_samples_refused{device="b1",reason="clock_ahead"}', 'device_samples_refused{device="x1",reason="unregistered"}']);
    expect(f.faulty().map((x) => x.device)).toEqual(['b1']);
  });

  it('answers each device at most once per interval, and forgets the fault once a sample is accepted', () => {
    const { f, counters, replies, at } = faults(['b1']);
    f.refused({ device: 'b1', reason: 'clock_ahead', detail: 'd1', seq: 7 });
    at(T + 5000);
    f.refused({ device: 'b1', reason: 'clock_ahead', detail: 'd2', seq: 8 });
    at(T + 10_000);
    f.refused({ device: 'b1', reason: 'invalid_sample', detail: 'd3' });
    expect(replies).toEqual([
      { v: 1, device: 'b1', reason: 'clock_ahead', detail: 'd1', seq: 7, at: T },
      { v: 1, device: 'b1', reason: 'invalid_sample', detail: 'd3', at: T + 10_000 },
    ]);
    expect(counters.get('lan_errors_suppressed')).toBe(1);
    expect(f.faulty()).toEqual([{ device: 'b1', reason: 'invalid_sample', detail: 'd3', at: T + 10_000, refused: 3 }]);
    f.accepted('b1');
    expect(f.faulty()).toEqual([]);
  });
});

describe('InventoryStore', () => {
  const inv = (revision: number, ids: string[], gateway = 'gw-1'): GatewayInventory => ({ v: 1, gateway, revision, timetable: DEFAULT_TIMETABLE, devices: ids.map((id) => ({ id, kind: 'interactive_board', room: 'r1' })) });
  const buf = (x: unknown) => Buffer.from(JSON.stringify(x));

  it('keeps the newest by revision, refuses another gateway\'s and invalid ones, and reads the saved one at start', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gw-inventory-'));
    dirs.push(dir);
    const file = join(dir, 'inventory.json');
    const seen: number[] = [];
    const counters = createGatewayCounters();
    const store = new InventoryStore({ log: silentLogger(), counters, gateway: 'gw-1', file, onInventory: (i) => seen.push(i.revision) });
    await store.start();
    expect(store.current).toBeUndefined();
    store.offer(buf(inv(5, ['a'])), T);
    store.offer(buf(inv(4, ['old'])), T);
    store.offer(buf(inv(9, ['b'], 'gw-2')), T);
    store.offer(Buffer.from('{"v":1}'), T);
    store.offer(Buffer.alloc(0), T);
    store.offer(buf(inv(6, ['a', 'b'])), T);
    await store.stop();
    expect(seen).toEqual([5, 6]);
    expect(counters.snapshot()).toMatchObject({
      'inventories_received{outcome="applied"}': 2,
      'inventories_received{outcome="stale"}': 1,
      'inventories_received{outcome="invalid"}': 2,
      'inventories_received{outcome="cleared"}': 1,
    });
    // Written atomically: the file, no temporary left.
    expect(readdirSync(dir)).toEqual(['inventory.json']);
    const again = new InventoryStore({ log: silentLogger(), counters, gateway: 'gw-1', file, onInventory: (i) => seen.push(i.revision) });
    await again.start();
    expect(again.current?.devices.map((d) => d.id)).toEqual(['a', 'b']);
    expect(seen).toEqual([5, 6, 6]);
    // An older one from the hub (a retained copy behind the saved one) is ignored.
    again.offer(buf(inv(6, ['c'])), T);
    expect(again.current?.revision).toBe(6);
    await again.stop();
  });
});
