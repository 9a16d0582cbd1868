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

  it('the capacity check holds for a wrapped interval too', () => {
    const r = new CounterRates();
    assess(r, 0, MAX, 0n, 64);
    // MAX → 3,750,000,000 is 3,750,000,001 octets in 30 s ≈ 1,000,000,000.3 bit/s > 1 Gbit/s
    expect(assess(r, 30_000, 3_750_000_000n, 0n, 64)).toEqual({ ok: false, reason: 'above_capacity' });
  });
});
