import { describe, expect, it } from 'vitest';
import { MAX_U64, networkNodeDataSchema, u64StringSchema } from '../src/kinds.ts';

const ok = (v: unknown) => u64StringSchema.safeParse(v).success;

describe('u64StringSchema', () => {
  it('MAX_U64 is 2^64 - 1', () => {
    expect(MAX_U64).toBe(18446744073709551615n);
  });

  it('accepts 0, 1 and 2^64 - 1', () => {
    expect(ok('0')).toBe(true);
    expect(ok('1')).toBe(true);
    // 2^64 - 1 = 18446744073709551615 (20 digits)
    expect(((1n << 64n) - 1n).toString()).toBe('18446744073709551615');
    expect(ok('18446744073709551615')).toBe(true);
  });

  it.each([
    ['2^64', '18446744073709551616'],
    ['largest 20-digit number', '99999999999999999999'],
    ['21 digits', '100000000000000000000'],
    ['leading zero', '01'],
    ['negative', '-1'],
    ['leading space', ' 1'],
    ['plus sign', '+1'],
    ['hexadecimal', '0x10'],
    ['empty', ''],
  ])('refuses %s', (_what, s) => {
    expect(ok(s)).toBe(false);
  });

  // Fails against the current src: zod 4 still runs the .refine after the .regex has failed, and
  // BigInt() throws a SyntaxError for these strings, so safeParse throws instead of answering.
  it.each([
    ['exponent', '1e3'],
    ['decimal point', '1.0'],
    ['letters', 'abc'],
    ['digit separator', '1_0'],
  ])('refuses %s without throwing', (_what, s) => {
    expect(() => u64StringSchema.safeParse(s)).not.toThrow();
    expect(ok(s)).toBe(false);
  });

  it('refuses a JSON number', () => {
    expect(ok(5)).toBe(false);
  });
});

describe('networkNodeDataSchema', () => {
  const base = { role: 'school_uplink', capacityBps: 1_000_000_000, octetsIn: '0', octetsOut: '18446744073709551615', operUp: true };

  it('accepts a valid sample and keeps the counters as strings', () => {
    expect(networkNodeDataSchema.parse(base)).toEqual(base);
  });

  it('bounds capacityBps to positive integers up to 400e9', () => {
    expect(networkNodeDataSchema.safeParse({ ...base, capacityBps: 400e9 }).success).toBe(true);
    expect(networkNodeDataSchema.safeParse({ ...base, capacityBps: 400e9 + 1 }).success).toBe(false);
    expect(networkNodeDataSchema.safeParse({ ...base, capacityBps: 0 }).success).toBe(false);
    expect(networkNodeDataSchema.safeParse({ ...base, capacityBps: 1.5 }).success).toBe(false);
  });

  it('refuses an unknown role and an extra key', () => {
    expect(networkNodeDataSchema.safeParse({ ...base, role: 'core' }).success).toBe(false);
    expect(networkNodeDataSchema.safeParse({ ...base, vlan: 10 }).success).toBe(false);
  });
});
