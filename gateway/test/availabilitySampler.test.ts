import pino from 'pino';
import { afterEach, describe, expect, it, vi } from 'vitest';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { AvailabilitySampler, MAX_SAMPLING_PHASE_MS, samplingPhaseMs } from '../src/availabilitySampler.ts';
import { Liveness, MINUTE_MS } from '../src/liveness.ts';

const T = 1_790_000_000_000 - (1_790_000_000_000 % MINUTE_MS); // a minute boundary

describe('samplingPhaseMs', () => {
  it('is FNV-1a of the id modulo 50 001 (values computed apart, in Python)', () => {
    expect(samplingPhaseMs('gw-yz-001')).toBe(20_097);
    expect(samplingPhaseMs('gw-jb-042')).toBe(42_875);
  });

  it('spreads a city of gateway ids over the first 50 s of the minute', () => {
    const bins = new Array<number>(5).fill(0);
    for (let i = 0; i < 2000; i++) {
      const p = samplingPhaseMs(`gw-d${i % 6}-${String(i).padStart(4, '0')}`);
      expect(p).toBeGreaterThanOrEqual(0);
      expect(p).toBeLessThanOrEqual(MAX_SAMPLING_PHASE_MS);
      bins[Math.min(4, Math.floor(p / 10_000))]!++;
    }
    // 400 a bin if even; none below half that or above 1.5 times it.
    for (const n of bins) expect(n).toBeGreaterThan(200), expect(n).toBeLessThan(600);
  });
});

describe('AvailabilitySampler timer', () => {
  afterEach(() => vi.useRealTimers());

  it('samples each minute at its phase: the record is the minute\'s, the state the one at the sampling moment', async () => {
    vi.useFakeTimers({ now: T + 5_000 });
    const liveness = new Liveness();
    // A board last heard at T + 10 s: up until T + 85 s (its timeout is 75 s), down after.
    liveness.heard('board', 'interactive_board', T + 10_000, false);
    const appended: OutboxRecord[][] = [];
    const sampler = new AvailabilitySampler(
      { enabled: true, phaseMs: 30_000 },
      { log: pino({ level: 'silent' }), now: () => Date.now(), liveness, append: async (r) => void appended.push(r) },
    );
    sampler.start();
    // The minute it started in is not sampled: the first is the minute starting at T + 60 s.
    await vi.advanceTimersByTimeAsync(84_999); // T + 89.999 s: not yet
    expect(appended).toEqual([]);
    await vi.advanceTimersByTimeAsync(1); // T + 90 s
    expect(appended).toEqual([[{ kind: 'availability', device: 'board', deviceKind: 'interactive_board', seq: T / MINUTE_MS + 1, ts: T + MINUTE_MS, state: 'down', rx: T + 90_000 }]]);
    liveness.heard('board', 'interactive_board', T + 130_000, false);
    await vi.advanceTimersByTimeAsync(MINUTE_MS); // T + 150 s: the next minute's sample
    expect(appended[1]).toEqual([{ kind: 'availability', device: 'board', deviceKind: 'interactive_board', seq: T / MINUTE_MS + 2, ts: T + 2 * MINUTE_MS, state: 'up', rx: T + 150_000 }]);
    sampler.stop();
  });

  it('started after this minute\'s sampling moment, first samples the next minute', async () => {
    vi.useFakeTimers({ now: T + 40_000 });
    const liveness = new Liveness();
    liveness.heard('node', 'network_node', T + 39_000, false);
    const appended: OutboxRecord[][] = [];
    const sampler = new AvailabilitySampler(
      { enabled: true, phaseMs: 10_000 },
      { log: pino({ level: 'silent' }), now: () => Date.now(), liveness, append: async (r) => void appended.push(r) },
    );
    sampler.start();
    await vi.advanceTimersByTimeAsync(29_999);
    expect(appended).toEqual([]);
    await vi.advanceTimersByTimeAsync(1); // T + 70 s
    expect(appended.map((b) => b.map((r) => r.ts))).toEqual([[T + MINUTE_MS]]);
    sampler.stop();
  });
});
