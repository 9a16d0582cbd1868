import { describe, expect, it } from 'vitest';
import { HEARTBEAT_TIMEOUT_MS, Liveness, MINUTE_MS, polledTimeoutMs } from '../src/liveness.ts';

const T = 1_790_000_000_000 - (1_790_000_000_000 % MINUTE_MS); // a minute boundary

describe('Liveness', () => {
  it('is up within its kind\'s timeout and down after it (per kind, not one global timeout)', () => {
    const l = new Liveness();
    l.heard('board', 'interactive_board', T, false);
    l.heard('vr', 'vr_kit', T, false);
    expect(l.stateAt('board', T + 75_000)).toBe('up');
    expect(l.stateAt('board', T + 75_001)).toBe('down');
    // A VR kit reports every 60 s: 150 s of silence is still up.
    expect(l.stateAt('vr', T + 150_000)).toBe('up');
    expect(l.stateAt('vr', T + 150_001)).toBe('down');
    expect(HEARTBEAT_TIMEOUT_MS.vr_kit).toBe(2 * HEARTBEAT_TIMEOUT_MS.interactive_board);
  });

  it('gives science kiosks 150 s: 2.5 cadences of their 60 s reports; power off is off, not down', () => {
    const l = new Liveness();
    l.heard('kiosk', 'science_kiosk', T, false);
    l.heard('dark', 'science_kiosk', T, true);
    expect(l.stateAt('kiosk', T + 150_000)).toBe('up');
    expect(l.stateAt('kiosk', T + 150_001)).toBe('down');
    expect(l.stateAt('dark', T + 600_000)).toBe('off');
  });

  it('tolerates one lost sample and jitter of half a cadence', () => {
    const l = new Liveness();
    l.heard('av', 'classroom_av', T, false);
    // Next sample lost (T+30 s), the one after comes 15 s late (T+75 s): never down.
    expect(l.stateAt('av', T + 74_999)).toBe('up');
    l.heard('av', 'classroom_av', T + 75_000, false);
    expect(l.stateAt('av', T + 120_000)).toBe('up');
  });

  it('is off, not down, after a clean power-off, until heard again; silence alone is down', () => {
    const l = new Liveness();
    l.heard('av', 'classroom_av', T, true);
    expect(l.stateAt('av', T + 3_600_000)).toBe('off');
    l.heard('av', 'classroom_av', T + 3_600_000, false);
    expect(l.stateAt('av', T + 3_600_000)).toBe('up');
    // A board that stops without reporting power off (a clean LAN goodbye included) is down.
    l.heard('board', 'interactive_board', T, false);
    expect(l.stateAt('board', T + 3_600_000)).toBe('down');
  });

  it('ignores an older sample delivered late', () => {
    const l = new Liveness();
    l.heard('n', 'network_node', T + 60_000, false);
    l.heard('n', 'network_node', T, true);
    expect(l.stateAt('n', T + 60_000)).toBe('up');
  });

  it('emits one record per tracked device per minute, with the minute as sequence number', () => {
    const l = new Liveness();
    l.heard('a', 'interactive_board', T, false);
    l.heard('b', 'network_node', T - 120_000, false);
    expect(l.minuteRecords(T + MINUTE_MS, T + MINUTE_MS + 5)).toEqual([
      { kind: 'availability', device: 'a', deviceKind: 'interactive_board', seq: (T + MINUTE_MS) / MINUTE_MS, ts: T + MINUTE_MS, state: 'up', rx: T + MINUTE_MS + 5 },
      { kind: 'availability', device: 'b', deviceKind: 'network_node', seq: (T + MINUTE_MS) / MINUTE_MS, ts: T + MINUTE_MS, state: 'down', rx: T + MINUTE_MS + 5 },
    ]);
    expect(l.stateAt('never-heard', T)).toBeUndefined();
  });
});

describe('a polled node\'s own timeout', () => {
  it('is the longer of its kind\'s and 2.5 poll intervals + 2 × timeoutMs × (retries + 1)', () => {
    const req = { timeoutMs: 3000, retries: 1 };
    // 30 s: 75,000 + 2 × 3000 × 2 = 87,000 ms (more than 75 s: a lost poll and a slow answer fit)
    expect(polledTimeoutMs(75_000, 30_000, req)).toBe(87_000);
    // 1 s: 2500 + 12,000 = 14,500 < 75,000: the kind's
    expect(polledTimeoutMs(75_000, 1000, req)).toBe(75_000);
    // 1 h: 9,000,000 + 12,000
    expect(polledTimeoutMs(75_000, 3_600_000, req)).toBe(9_012_000);
    // 1001 ms: 2502.5 → 2503 + 2 × 100 × 1 = 2703
    expect(polledTimeoutMs(1000, 1001, { timeoutMs: 100, retries: 0 })).toBe(2703);
  });

  it('replaces the kind\'s for that device only, and is kept across a restart', () => {
    const l = new Liveness();
    l.heard('sw', 'network_node', T, false);
    l.heard('sw2', 'network_node', T, false);
    l.setOwnTimeouts(new Map([['sw', 150_600]]));
    expect(l.stateAt('sw', T + 150_600)).toBe('up');
    expect(l.stateAt('sw', T + 150_601)).toBe('down');
    expect(l.stateAt('sw2', T + 75_001)).toBe('down');
    // Saved 100 s after it was last heard: up by its own timeout, though 100 s > 75 s.
    const s = l.snapshot(T + 100_000);
    expect(s.devices).toEqual([
      { device: 'sw', kind: 'network_node', lastHeard: T, off: false, timeoutMs: 150_600 },
      { device: 'sw2', kind: 'network_node', lastHeard: T, off: false },
    ]);
    const after = new Liveness();
    after.restore(s, T + 200_000, 10);
    after.setOwnTimeouts(new Map([['sw', 150_600]]));
    // sw was up when saved: watched afresh from the restart; sw2 was down and stays down.
    expect(after.stateAt('sw', T + 200_000 + 150_600)).toBe('up');
    expect(after.stateAt('sw2', T + 200_000)).toBe('down');
  });
});
