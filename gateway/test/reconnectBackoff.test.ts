import { describe, expect, it } from 'vitest';
import { failureReason, ReconnectBackoff } from '../src/reconnectBackoff.ts';

const CFG = { reconnectMs: 1000, reconnectMaxMs: 60_000 };

describe('ReconnectBackoff', () => {
  it('doubles the ceiling per failed attempt up to the cap: ceilings 1, 2, 4 … 32 s, then 60 s (not 64)', () => {
    const b = new ReconnectBackoff(CFG);
    expect(Array.from({ length: 9 }, (_, i) => b.ceiling(i))).toEqual([1000, 2000, 4000, 8000, 16_000, 32_000, 60_000, 60_000, 60_000]);
    // Three quarters of each ceiling, the first raised to the base.
    const delays = Array.from({ length: 9 }, () => b.attempt(0.75));
    expect(delays).toEqual([1000, 1500, 3000, 6000, 12_000, 24_000, 45_000, 45_000, 45_000]);
  });

  it('draws each delay uniformly below its ceiling (full jitter), never below the base', () => {
    const b = new ReconnectBackoff(CFG);
    // ceilings 1000, 2000, 4000, 8000: 0.5 of each, but never under 1000.
    expect([b.attempt(0.5), b.attempt(0.5), b.attempt(0.5), b.attempt(0.25)]).toEqual([1000, 1000, 2000, 2000]);
    expect(b.attempt(0)).toBe(1000);
  });

  it('starts over when a connection succeeds: a dropped session waits the base, then the ceiling grows again', () => {
    const b = new ReconnectBackoff(CFG);
    for (let i = 0; i < 6; i++) b.attempt(0.99);
    expect(b.connected(0.99)).toBe(1000);
    expect(b.attempt(0.99)).toBe(1980);
  });

  it('keeps why it is down and when it tries again, counting down on the clock; one failure per attempt', () => {
    const b = new ReconnectBackoff(CFG);
    expect(b.status(0)).toEqual({ connected: false, reason: 'connecting' });
    b.attempt(0.99); // 1000 (the base)
    expect(b.failed(10_000, 'refused: CONNACK 5 not authorized')).toBe(1000);
    // The close that follows the refusal is the same failure: not logged twice, reason kept.
    expect(b.failed(10_001, 'unreachable: connection closed')).toBeUndefined();
    expect(b.status(10_400)).toEqual({ connected: false, reason: 'refused: CONNACK 5 not authorized', nextAttemptInMs: 600 });
    b.attempt(0.5); // ceiling 2000 → 1000
    expect(b.status(11_000)).toEqual({ connected: false, reason: 'refused: CONNACK 5 not authorized' });
    b.connected(0.5);
    expect(b.status(11_100)).toEqual({ connected: true });
  });

  it('names a CONNACK refusal by its return code and a socket error by its code', () => {
    expect(failureReason({ message: 'Connection refused: Not authorized', code: 5 })).toEqual({ reason: 'refused: CONNACK 5 not authorized', connack: 5 });
    expect(failureReason({ message: 'Connection refused: Bad username or password', code: 4 })).toEqual({ reason: 'refused: CONNACK 4 bad user name or password', connack: 4 });
    expect(failureReason({ message: 'connect ECONNREFUSED 127.0.0.1:1', code: 'ECONNREFUSED' })).toEqual({ reason: 'unreachable: ECONNREFUSED' });
    expect(failureReason({ message: 'connack timeout' })).toEqual({ reason: 'unreachable: connack timeout' });
  });
});
