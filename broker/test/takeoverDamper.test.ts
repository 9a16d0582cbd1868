import { describe, expect, it } from 'vitest';
import { TakeoverDamper } from '../src/takeoverDamper.ts';

const settings = { maxTakeovers: 3, windowMs: 60_000, holdMs: 300_000 };

describe('TakeoverDamper', () => {
  it('lets takeovers through until the third within the window, which starts the hold', () => {
    const d = new TakeoverDamper(settings);
    expect(d.login('gw-a', 0)).toEqual({ outcome: 'takeover', damped: false, startsHold: false });
    expect(d.login('gw-a', 1_000)).toEqual({ outcome: 'takeover', damped: false, startsHold: false });
    expect(d.login('gw-a', 2_000)).toEqual({ outcome: 'takeover', damped: true, startsHold: true });
    expect(d.isHeld('gw-a', 2_000)).toBe(true);
    expect(d.login('gw-a', 3_000)).toEqual({ outcome: 'refused', damped: true });
  });

  it('counts only takeovers within the window: one a minute is never damped', () => {
    const d = new TakeoverDamper(settings);
    for (let i = 0; i < 10; i++) expect(d.login('gw-a', i * 60_000).outcome).toBe('takeover');
    expect(d.isHeld('gw-a', 600_000)).toBe(false);
    // 59 s apart: the first two still count when the third comes.
    const e = new TakeoverDamper(settings);
    e.login('gw-b', 0);
    e.login('gw-b', 59_000);
    expect(e.login('gw-b', 59_999)).toMatchObject({ startsHold: true });
  });

  it('each refusal extends the hold; once the hold has passed, takeovers start counting afresh', () => {
    const d = new TakeoverDamper(settings);
    for (const t of [0, 1, 2]) d.login('gw-a', t);
    // Refused at 200 s: held until 500 s, not 300 s.
    expect(d.login('gw-a', 200_000).outcome).toBe('refused');
    expect(d.isHeld('gw-a', 499_999)).toBe(true);
    expect(d.isHeld('gw-a', 500_000)).toBe(false);
    expect(d.login('gw-a', 500_000)).toEqual({ outcome: 'takeover', damped: false, startsHold: false });
    expect(d.login('gw-a', 500_001)).toEqual({ outcome: 'takeover', damped: false, startsHold: false });
    expect(d.login('gw-a', 500_002)).toEqual({ outcome: 'takeover', damped: true, startsHold: true });
  });

  it('keeps identities apart', () => {
    const d = new TakeoverDamper(settings);
    for (const t of [0, 1, 2]) d.login('gw-a', t);
    expect(d.login('gw-b', 3)).toEqual({ outcome: 'takeover', damped: false, startsHold: false });
    expect(d.isHeld('gw-b', 3)).toBe(false);
  });
});
