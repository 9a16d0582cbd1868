import { describe, expect, it } from 'vitest';
import { LoginBackoff } from '../src/loginBackoff.ts';

function rig() {
  let t = 1_000_000;
  const b = new LoginBackoff({ freeFailuresPerId: 2, freeFailuresPerAddress: 4, baseMs: 1000, maxMs: 8000, forgetMs: 60_000, maxKeys: 3 }, () => t);
  return { b, advance: (ms: number) => (t += ms) };
}
const k = (id: string | undefined, address: string | undefined = '10.0.0.1') => ({ id, address });

describe('LoginBackoff', () => {
  it('lets the free failures through, then doubles the wait per failure up to the maximum', () => {
    const { b } = rig();
    const waits: number[] = [];
    for (let i = 0; i < 7; i++) {
      b.failed(k('G01'));
      waits.push(b.waitMs(k('G01')));
    }
    // Failures 1–2 are free; 3 → 1 s, 4 → 2 s, 5 → 4 s, 6 → 8 s, 7 → 8 s (the maximum); the
    // address (4 free) would only have reached 4 s by the 7th, so the id's wait rules.
    expect(waits).toEqual([0, 0, 1000, 2000, 4000, 8000, 8000]);
  });

  it('counts down with the clock and forgets a key after forgetMs', () => {
    const { b, advance } = rig();
    for (let i = 0; i < 3; i++) b.failed(k('G01'));
    advance(400);
    expect(b.waitMs(k('G01'))).toBe(600);
    advance(600);
    expect(b.waitMs(k('G01'))).toBe(0);
    advance(60_000);
    b.failed(k('G01'));
    expect(b.waitMs(k('G01'))).toBe(0);
  });

  it('backs off an address guessing many ids, while another address logs in freely', () => {
    const { b } = rig();
    for (const id of ['A', 'B', 'C', 'D', 'E']) b.failed(k(id, '10.0.0.9'));
    expect(b.waitMs(k('F', '10.0.0.9'))).toBe(1000);
    expect(b.waitMs(k('F', '10.0.0.2'))).toBe(0);
  });

  it('backs off an id guessed from many addresses', () => {
    const { b } = rig();
    for (const a of ['1', '2', '3']) b.failed(k('G01', a));
    expect(b.waitMs(k('G01', '4'))).toBe(1000);
  });

  it("clears the id's failures on success, not the address's", () => {
    const { b } = rig();
    for (let i = 0; i < 5; i++) b.failed(k('G01'));
    b.succeeded(k('G01'));
    // The address had 5 failures, 4 free: 1 s.
    expect(b.waitMs(k('G01'))).toBe(1000);
    expect(b.waitMs(k('G01', '10.0.0.2'))).toBe(0);
  });

  it('remembers at most maxKeys keys, dropping the oldest', () => {
    const { b } = rig();
    const id = (g: string) => ({ id: g, address: undefined });
    for (let i = 0; i < 3; i++) b.failed(id('G01'));
    expect(b.waitMs(id('G01'))).toBe(1000);
    for (const g of ['X', 'Y', 'Z']) b.failed(id(g));
    expect(b.waitMs(id('G01'))).toBe(0);
  });

  it('counts checks under way as failures of their id, and of their address once it has failed', () => {
    const { b } = rig();
    // id free 2: two checks under way, the third may still start; a fourth finds three and waits.
    const r1 = b.begin(k('G01'));
    const r2 = b.begin(k('G01'));
    expect(b.waitMs(k('G01'))).toBe(0);
    const r3 = b.begin(k('G01'));
    expect(b.waitMs(k('G01'))).toBe(1000);
    // Released as successes (nothing recorded): free again.
    r1();
    r2();
    r3();
    r3();
    expect(b.waitMs(k('G01'))).toBe(0);
    // An address that never failed is not held back by logins under way (a NAT of honest clients).
    const many = Array.from({ length: 10 }, (_, i) => b.begin(k(`OK${i}`, '10.9.9.9')));
    expect(b.waitMs(k('OK-next', '10.9.9.9'))).toBe(0);
    many.forEach((r) => r());
    // Once it has failed, its checks under way count: address free 4, one failure + four under way.
    b.failed(k('X1', '10.8.8.8'));
    const four = Array.from({ length: 4 }, (_, i) => b.begin(k(`Y${i}`, '10.8.8.8')));
    expect(b.waitMs(k('Z', '10.8.8.8'))).toBe(1000);
    four.forEach((r) => r());
    expect(b.waitMs(k('Z', '10.8.8.8'))).toBe(0);
  });
});

