import { describe, expect, it } from 'vitest';
import { MAX_U64, networkNodeDataSchema, scienceKioskDataSchema, u64StringSchema } from '../src/kinds.ts';

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

describe('scienceKioskDataSchema', () => {
  const kiosk = { power: 'on', screenOn: true, contentSyncAgeS: 1800, freeDiskMiB: 51_200 };
  const ok = (patch: Record<string, unknown>) => scienceKioskDataSchema.safeParse({ ...kiosk, ...patch }).success;

  it('accepts a kiosk sample, and power standby or off with the screen dark', () => {
    expect(scienceKioskDataSchema.parse(kiosk)).toEqual(kiosk);
    expect(ok({ power: 'standby', screenOn: false })).toBe(true);
    expect(ok({ power: 'off', screenOn: false })).toBe(true);
  });

  it('bounds the sync age to whole seconds, 0 to 10 years (315360000 s)', () => {
    expect(ok({ contentSyncAgeS: 0 })).toBe(true);
    expect(ok({ contentSyncAgeS: 315_360_000 })).toBe(true);
    expect(ok({ contentSyncAgeS: 315_360_001 })).toBe(false);
    expect(ok({ contentSyncAgeS: -1 })).toBe(false);
    expect(ok({ contentSyncAgeS: 1.5 })).toBe(false);
  });

  it('bounds free disk to whole MiB, 0 to 16 TiB (16777216 MiB)', () => {
    expect(ok({ freeDiskMiB: 0 })).toBe(true);
    expect(ok({ freeDiskMiB: 16_777_216 })).toBe(true);
    expect(ok({ freeDiskMiB: 16_777_217 })).toBe(false);
    expect(ok({ freeDiskMiB: 0.5 })).toBe(false);
  });

  it('refuses a missing field, an extra key and a string for a number', () => {
    expect(scienceKioskDataSchema.safeParse({ power: 'on', screenOn: true, contentSyncAgeS: 1 }).success).toBe(false);
    expect(ok({ brightness: 80 })).toBe(false);
    expect(ok({ freeDiskMiB: '51200' })).toBe(false);
    expect(ok({ power: 'sleeping' })).toBe(false);
  });
});
