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
