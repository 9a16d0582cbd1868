import { describe, expect, it } from 'vitest';
import { Rng, seedFrom } from '../src/random.ts';

const U32 = 0xffff_ffffn;

/** mulberry32 written independently, in BigInt arithmetic modulo 2^32 (no Math.imul). */
function referenceMulberry32(seed: number): () => number {
  let s = BigInt(seed >>> 0);
  return () => {
    s = (s + 0x6d2b79f5n) & U32;
    let t = s;
    t = ((t ^ (t >> 15n)) * (t | 1n)) & U32;
    t = (t ^ ((t + (((t ^ (t >> 7n)) * (t | 61n)) & U32)) & U32)) & U32;
    return Number((t ^ (t >> 14n)) & U32) / 2 ** 32;
  };
}

describe('Rng', () => {
  it('gives the same sequence for the same seed', () => {
    const a = new Rng(2024);
    const b = new Rng(2024);
    const xs = Array.from({ length: 1000 }, () => a.next());
    const ys = Array.from({ length: 1000 }, () => b.next());
    expect(xs).toEqual(ys);
  });

  it('gives a different sequence for a different seed', () => {
    const a = new Rng(1);
    const b = new Rng(2);
    const xs = Array.from({ length: 10 }, () => a.next());
    const ys = Array.from({ length: 10 }, () => b.next());
    expect(xs.filter((x, i) => x !== ys[i]).length).toBe(10);
  });

  it.each([0, 1, 42, 0xdeadbeef, 2 ** 32 - 1, -7])('matches an independent mulberry32 for seed %d', (seed) => {
    const rng = new Rng(seed);
    const ref = referenceMulberry32(seed);
    for (let i = 0; i < 2000; i++) expect(rng.next()).toBe(ref());
  });

  it('treats seeds modulo 2^32 (-1 and 2^32 - 1 are the same seed)', () => {
    const a = new Rng(-1);
    const b = new Rng(2 ** 32 - 1);
    for (let i = 0; i < 50; i++) expect(a.next()).toBe(b.next());
  });

  it('next() stays in [0, 1) and is spread over it', () => {
    const rng = new Rng(7);
    const buckets = new Array<number>(10).fill(0);
    let lo = Infinity;
    let hi = -Infinity;
    for (let i = 0; i < 100_000; i++) {
      const x = rng.next();
      lo = Math.min(lo, x);
      hi = Math.max(hi, x);
      buckets[Math.floor(x * 10)]!++;
    }
    expect(lo).toBeGreaterThanOrEqual(0);
    expect(hi).toBeLessThan(1);
    expect(buckets.reduce((a, b) => a + b, 0)).toBe(100_000);
    // Each tenth gets 10 000 ± 5 % of the draws.
    for (const n of buckets) expect(Math.abs(n - 10_000)).toBeLessThan(500);
  });

  it('int(min, max) is inclusive at both ends and never outside', () => {
    const rng = new Rng(99);
    const counts = new Map<number, number>();
    for (let i = 0; i < 6000; i++) {
      const v = rng.int(1, 6);
      expect(Number.isInteger(v)).toBe(true);
      counts.set(v, (counts.get(v) ?? 0) + 1);
    }
    expect([...counts.keys()].sort()).toEqual([1, 2, 3, 4, 5, 6]);
  });

  it('int(n, n) is always n, and negative ranges work', () => {
    const rng = new Rng(5);
    for (let i = 0; i < 100; i++) expect(rng.int(7, 7)).toBe(7);
    const seen = new Set<number>();
    for (let i = 0; i < 1000; i++) seen.add(rng.int(-2, 1));
    expect([...seen].sort((a, b) => a - b)).toEqual([-2, -1, 0, 1]);
  });

  it('int maps next() by floor(x * span): a value of x picks min + floor(x * span)', () => {
    const seed = 31337;
    const ref = referenceMulberry32(seed);
    const rng = new Rng(seed);
    for (let i = 0; i < 500; i++) expect(rng.int(100, 6000)).toBe(100 + Math.floor(ref() * 5901));
  });

  it('pick returns only list items and reaches every one; chance(0) is never and chance(1) always', () => {
    const rng = new Rng(3);
    const items = ['a', 'b', 'c'] as const;
    const seen = new Set<string>();
    for (let i = 0; i < 300; i++) seen.add(rng.pick(items));
    expect([...seen].sort()).toEqual(['a', 'b', 'c']);
    for (let i = 0; i < 200; i++) {
      expect(rng.chance(0)).toBe(false);
      expect(rng.chance(1)).toBe(true);
    }
  });
});

describe('seedFrom', () => {
  it('with seed 0 is 32-bit FNV-1a (published test vectors)', () => {
    expect(seedFrom(0, '')).toBe(0x811c9dc5);
    expect(seedFrom(0, 'a')).toBe(0xe40c292c);
    expect(seedFrom(0, 'foobar')).toBe(0xbf9cf968);
  });

  it('differs by seed and by string, and is stable', () => {
    expect(seedFrom(42, 'yz-s01-r01-av')).toBe(seedFrom(42, 'yz-s01-r01-av'));
    expect(seedFrom(42, 'yz-s01-r01-av')).not.toBe(seedFrom(43, 'yz-s01-r01-av'));
    expect(seedFrom(42, 'yz-s01-r01-av')).not.toBe(seedFrom(42, 'yz-s01-r02-av'));
  });
});
