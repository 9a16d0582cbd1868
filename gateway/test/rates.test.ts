import { describe, expect, it } from 'vitest';
import { bitsPerSecond, CounterRates } from '../src/rates.ts';

const G = 1e9;
const MAX = (1n << 64n) - 1n;

describe('CounterRates', () => {
  it('computes Δoctets × 8 / Δt on device timestamps, exactly', () => {
    const r = new CounterRates();
    expect(r.observe('u', 0, '1000', '0', G)).toEqual({ ok: false, reason: 'first_sample' });
    // 3,750,000 octets in 30 s = 30,000,000 bits / 30 s = 1,000,000 bit/s
    expect(r.observe('u', 30_000, '3751000', '375000', G)).toEqual({ ok: true, rxBps: 1_000_000, txBps: 100_000, intervalMs: 30_000 });
  });

  it('stays exact above 2^53 where JSON numbers would round', () => {
    const r = new CounterRates();
    const base = (1n << 60n) + 7n; // 1,152,921,504,606,846,983: not representable as a double
    r.observe('u', 0, base.toString(), base.toString(), 100 * G);
    // +123,456,789 octets over 10 s = 98,765,431.2 bit/s
    const got = r.observe('u', 10_000, (base + 123_456_789n).toString(), (base + 1n).toString(), 100 * G);
    expect(got).toEqual({ ok: true, rxBps: 98_765_431.2, txBps: 0.8, intervalMs: 10_000 });
  });

  it('drops the interval of a counter that wraps at 2^64, then resumes', () => {
    const r = new CounterRates();
    r.observe('u', 0, (MAX - 99n).toString(), '0', G);
    expect(r.observe('u', 30_000, '400', '0', G)).toEqual({ ok: false, reason: 'counter_backwards' });
    expect(r.observe('u', 60_000, '3750400', '0', G)).toMatchObject({ ok: true, rxBps: 1_000_000 });
  });

  it('drops the interval of a counter reset by a reboot, never a negative rate', () => {
    const r = new CounterRates();
    r.observe('u', 0, '900000000', '900000000', G);
    expect(r.observe('u', 30_000, '1200', '800', G)).toEqual({ ok: false, reason: 'counter_backwards' });
  });

  it('refuses a rate above the link capacity', () => {
    const r = new CounterRates();
    r.observe('u', 0, '0', '0', 100e6);
    // 500,000,000 octets in 30 s = 133,333,333.3 bit/s > 100 Mbit/s
    expect(r.observe('u', 30_000, '500000000', '0', 100e6)).toEqual({ ok: false, reason: 'above_capacity' });
  });

  it('ignores duplicates and older samples without moving its baseline', () => {
    const r = new CounterRates();
    r.observe('u', 60_000, '0', '0', G);
    expect(r.observe('u', 60_000, '0', '0', G)).toEqual({ ok: false, reason: 'duplicate' });
    expect(r.observe('u', 30_000, '5', '5', G)).toEqual({ ok: false, reason: 'time_backwards' });
    expect(r.observe('u', 90_000, '3750000', '0', G)).toMatchObject({ ok: true, rxBps: 1_000_000, intervalMs: 30_000 });
  });

  it('keeps devices apart', () => {
    const r = new CounterRates();
    r.observe('a', 0, '0', '0', G);
    r.observe('b', 0, '1000000', '0', G);
    expect(r.observe('a', 1000, '125', '0', G)).toMatchObject({ rxBps: 1000 });
    expect(r.observe('b', 1000, '1000250', '0', G)).toMatchObject({ rxBps: 2000 });
  });

  it('retain forgets the baselines of the devices it is told to drop', () => {
    const r = new CounterRates();
    r.observe('a', 0, '0', '0', G);
    r.observe('b', 0, '0', '0', G);
    r.retain((d) => d === 'a');
    expect(r.size).toBe(1);
    expect(r.observe('a', 1000, '125', '0', G)).toMatchObject({ ok: true, rxBps: 1000 });
    // b starts again: its next sample is a first one, not an interval against the forgotten baseline.
    expect(r.observe('b', 1000, '125', '0', G)).toEqual({ ok: false, reason: 'first_sample' });
  });

  it('bitsPerSecond rounds down at the millibit', () => {
    expect(bitsPerSecond(1n, 3n)).toBe(2666.666); // 8000/3 = 2666.666… bit/s
  });
});

describe('CounterRates, polled counters (SNMP)', () => {
  const assess = (r: CounterRates, ts: number, rx: bigint, tx: bigint, bits: 32 | 64, rebooted = false) => {
    const a = r.assess('sw', ts, rx.toString(), tx.toString(), G, { bits, rebooted });
    a.commit();
    return a.result;
  };

  it('a smaller 64-bit counter with no reboot is a wrap: exact modulo 2^64', () => {
    const r = new CounterRates();
    assess(r, 0, MAX - 99n, 0n, 64);
    // MAX−99 → 3,749,900 is 100 + 3,749,900 = 3,750,000 octets in 30 s = 1,000,000 bit/s
    expect(assess(r, 30_000, 3_749_900n, 0n, 64)).toEqual({ ok: true, rxBps: 1_000_000, txBps: 0, intervalMs: 30_000 });
  });

  it('a smaller 32-bit counter with no reboot is a wrap: exact modulo 2^32', () => {
    const r = new CounterRates();
    assess(r, 0, (1n << 32n) - 1000n, 5n, 32);
    // 2^32−1000 → 3,749,000 is 3,750,000 octets = 1,000,000 bit/s; tx 5 → 5 is 0
    expect(assess(r, 30_000, 3_749_000n, 5n, 32)).toEqual({ ok: true, rxBps: 1_000_000, txBps: 0, intervalMs: 30_000 });
  });

  it('a reboot drops the interval (counter_reset) whatever the counters did, and moves the baseline', () => {
    const r = new CounterRates();
    assess(r, 0, 1000n, 1000n, 64);
    expect(assess(r, 30_000, 5000n, 5000n, 64, true)).toEqual({ ok: false, reason: 'counter_reset' });
    expect(assess(r, 60_000, 3_755_000n, 5000n, 64)).toMatchObject({ ok: true, rxBps: 1_000_000 });
  });

  it('counters of another width than the last (HC counters appeared or went) drop the interval', () => {
    const r = new CounterRates();
    assess(r, 0, 1000n, 0n, 32);
    expect(assess(r, 30_000, 2000n, 0n, 64)).toEqual({ ok: false, reason: 'counter_reset' });
  });

  it('a fall the link could not have carried as a wrap is a reset, not a rate above capacity', () => {
    const r = new CounterRates();
    assess(r, 0, MAX, 0n, 64);
    // MAX → 3,750,000,000 would be 3,750,000,001 octets in 30 s; 1 Gbit/s carries at most
    // 1e9 × 30 / 8 = 3,750,000,000 octets in 30 s: one more than the link can carry, so no wrap.
    expect(assess(r, 30_000, 3_750_000_000n, 0n, 64)).toEqual({ ok: false, reason: 'counter_reset' });
    // The baseline moved: 3,750,000,000 → 7,500,000,000 in 30 s is exactly 1 Gbit/s, not above it.
    expect(assess(r, 60_000, 7_500_000_000n, 0n, 64)).toEqual({ ok: true, rxBps: 1e9, txBps: 0, intervalMs: 30_000 });
  });

  it('64-bit counters cleared with no reboot (an operator cleared the interface): counter_reset, never a wrap', () => {
    const r = new CounterRates();
    assess(r, 0, 1_000_000_000_000n, 500_000_000_000n, 64);
    // Read as a wrap, 10^12 → 5000 would be 2^64 − 10^12 + 5000 ≈ 1.8 × 10^19 octets in 30 s.
    expect(assess(r, 30_000, 5000n, 7000n, 64)).toEqual({ ok: false, reason: 'counter_reset' });
    // 5000 → 3,755,000 is 3,750,000 octets in 30 s = 1,000,000 bit/s
    expect(assess(r, 60_000, 3_755_000n, 7000n, 64)).toEqual({ ok: true, rxBps: 1_000_000, txBps: 0, intervalMs: 30_000 });
  });

  it('a 32-bit fall that one wrap cannot explain at the link\'s capacity is a reset', () => {
    const r = new CounterRates();
    // 100 Mbit/s carries 100e6 × 30 / 8 = 375,000,000 octets in 30 s.
    const a = (ts: number, rx: bigint) => {
      const x = r.assess('sw', ts, rx.toString(), '0', 100e6, { bits: 32, rebooted: false });
      x.commit();
      return x.result;
    };
    a(0, 3_000_000_000n);
    // As a wrap: 2^32 − 3,000,000,000 + 1000 = 1,294,968,296 octets > 375,000,000: cleared.
    expect(a(30_000, 1000n)).toEqual({ ok: false, reason: 'counter_reset' });
    // 1000 → 2,000,000 is 1,999,000 octets in 30 s = 15,992,000,000 / 30,000 = 533,066.666 bit/s
    expect(a(60_000, 2_000_000n)).toEqual({ ok: true, rxBps: 533_066.666, txBps: 0, intervalMs: 30_000 });
    // 2,000,000 → 1000 as a wrap is 4,294,967,296 − 2,000,000 + 1000 = 4,292,968,296 octets > 375,000,000: reset.
    expect(a(90_000, 1000n)).toEqual({ ok: false, reason: 'counter_reset' });
  });

  it('a 32-bit interval longer than the link needs to wrap the counter once is dropped (ambiguous_wrap), however the counter moved', () => {
    // At 1 Gbit/s a 32-bit octet counter wraps in 2^32 × 8 / 1e9 s = 34.359738368 s.
    const r = new CounterRates();
    assess(r, 0, 1000n, 1000n, 32);
    // 34,359 ms < 34,359.738 ms: 3,750,000 octets in 34.359 s = 30,000,000,000 / 34,359 = 873,133.676 bit/s
    expect(assess(r, 34_359, 3_751_000n, 1000n, 32)).toEqual({ ok: true, rxBps: 873_133.676, txBps: 0, intervalMs: 34_359 });
    // 34,360 ms ≥ 34,359.738 ms: the counter may have wrapped once more unseen (a missed poll), even though it grew.
    expect(assess(r, 34_359 + 34_360, 7_501_000n, 1000n, 32)).toEqual({ ok: false, reason: 'ambiguous_wrap' });
    // A fall over such an interval is as ambiguous: several wraps or a clear, nobody can tell.
    expect(assess(r, 34_359 + 34_360 + 60_000, 500n, 1000n, 32)).toEqual({ ok: false, reason: 'ambiguous_wrap' });
    // The baseline moved each time: back to an interval within one wrap, a rate again.
    // 500 → 3,750,500 is 3,750,000 octets in 30 s = 1,000,000 bit/s
    expect(assess(r, 34_359 + 34_360 + 90_000, 3_750_500n, 1000n, 32)).toEqual({ ok: true, rxBps: 1_000_000, txBps: 0, intervalMs: 30_000 });
  });

  it('the same rule for 64-bit counters: ambiguous only past 2^64 × 8 / capacity (about 467 years at 10 Gbit/s)', () => {
    const r = new CounterRates();
    const a = (ts: number, rx: bigint, cap: number) => {
      const x = r.assess('sw', ts, rx.toString(), '0', cap, { bits: 64, rebooted: false });
      x.commit();
      return x.result;
    };
    a(0, 0n, 400e9);
    // 400 Gbit/s wraps 2^64 octets in 2^64 × 8 / 4e11 s = 368,934,881.474 s; 368,934,881,475 ms is past it.
    expect(a(368_934_881_475, 1n, 400e9)).toEqual({ ok: false, reason: 'ambiguous_wrap' });
    // An interval of 368,934,881,474 ms is within it: 1 → 1001 is 1000 octets over it, 8,000,000 / 368,934,881,474 bit/s
    // = 0.0000216… rounds down to 0 at the millibit.
    expect(a(368_934_881_475 + 368_934_881_474, 1001n, 400e9)).toEqual({ ok: true, rxBps: 0, txBps: 0, intervalMs: 368_934_881_474 });
  });
});
