import { createHmac } from 'node:crypto';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { decodeTicket, isTicket, LoginTickets } from '../src/loginTickets.ts';
import type { GatewayRow } from '../src/registry.ts';

const SECRET = Buffer.alloc(32, 7);
const T0 = Date.UTC(2026, 0, 5, 8, 0, 0);
const G01: GatewayRow = { id: 'gw-s01', school: 'S01', district: 'D1', passwordHash: 'scrypt$16384$8$1$salt$hash-1', revoked: false };
const rows = (...r: GatewayRow[]) => (id: string) => r.find((g) => g.id === id);

function tickets(now: { t: number }, ttlSec = 86_400, secret = SECRET) {
  return new LoginTickets(secret, { ttlSec, now: () => now.t });
}

describe('LoginTickets', () => {
  it('issues t1.<id>.<issued>.<expires>.<fingerprint>.<mac> with the MAC computed independently from the derived key', () => {
    const now = { t: T0 + 999 };
    const { ticket, expiresAt } = tickets(now).issue(G01);
    const issued = T0 / 1000;
    expect(expiresAt).toBe((issued + 86_400) * 1000);
    const parts = ticket.split('.');
    expect(parts.slice(0, 4)).toEqual(['t1', Buffer.from('gw-s01').toString('base64url'), String(issued), String(issued + 86_400)]);
    const fpKey = createHmac('sha256', SECRET).update('campus login ticket credential fingerprint v1').digest();
    expect(parts[4]).toBe(createHmac('sha256', fpKey).update(G01.passwordHash).digest().subarray(0, 16).toString('base64url'));
    const macKey = createHmac('sha256', SECRET).update('campus login ticket mac v1').digest();
    expect(parts[5]).toBe(createHmac('sha256', macKey).update(parts.slice(0, 5).join('.')).digest('base64url'));
  });

  it('accepts its own ticket for its gateway, asking for a new one only in the last quarter of its life', () => {
    const now = { t: T0 };
    const lt = tickets(now);
    const { ticket, expiresAt } = lt.issue(G01);
    expect(lt.check(ticket, 'gw-s01', rows(G01))).toEqual({ ok: true, gateway: G01, expiresAt, renew: false });
    // 18 h in: 6 h left of 24, exactly a quarter: not yet.
    now.t = T0 + 18 * 3_600_000;
    expect(lt.check(ticket, 'gw-s01', rows(G01))).toMatchObject({ ok: true, renew: false });
    now.t += 1000;
    expect(lt.check(ticket, 'gw-s01', rows(G01))).toMatchObject({ ok: true, renew: true });
  });

  it.each([
    ['expired at its expiry second', (t: string) => t, () => T0 + 86_400_000, G01, 'expired'],
    ['another gateway presenting it', (t: string) => t, () => T0, G01, 'other_gateway', 'gw-s02'],
    ['the password rotated since', (t: string) => t, () => T0, { ...G01, passwordHash: 'scrypt$16384$8$1$salt$hash-2' }, 'credential_changed'],
    ['the gateway revoked', (t: string) => t, () => T0, { ...G01, revoked: true }, 'revoked'],
    ['the gateway deleted', (t: string) => t, () => T0, undefined, 'unknown_gateway'],
    ['a MAC bit flipped', (t: string) => t.slice(0, -2) + (t.at(-2) === 'A' ? 'B' : 'A') + t.at(-1)!, () => T0, G01, 'bad_mac'],
    ['its expiry pushed out', (t: string) => t.replace(`.${T0 / 1000 + 86_400}.`, `.${T0 / 1000 + 864_000}.`), () => T0, G01, 'bad_mac'],
    ['issued an hour ahead of this clock', (t: string) => t, () => T0 - 3_600_000, G01, 'not_yet_valid'],
  ] as Array<[string, (t: string) => string, () => number, GatewayRow | undefined, string, string?]>)('refuses a ticket: %s', (_what, alter, at, row, reason, user = 'gw-s01') => {
    const now = { t: T0 };
    const lt = tickets(now);
    const text = alter(lt.issue(G01).ticket);
    now.t = at();
    expect(lt.check(text, user, (id) => (row && id === row.id ? row : undefined))).toEqual({ ok: false, reason });
  });

  it("refuses another hub's ticket (another secret) as bad_mac, and a ticket of a gateway id re-made under it as other_gateway", () => {
    const now = { t: T0 };
    const other = tickets(now, 86_400, Buffer.alloc(32, 9)).issue(G01).ticket;
    expect(tickets(now).check(other, 'gw-s01', rows(G01))).toEqual({ ok: false, reason: 'bad_mac' });
    const g2 = { ...G01, id: 'gw-s02' };
    expect(tickets(now).check(tickets(now).issue(g2).ticket, 'gw-s01', rows(G01, g2))).toEqual({ ok: false, reason: 'other_gateway' });
  });

  it('refuses a secret shorter than 32 bytes', () => {
    expect(() => new LoginTickets(Buffer.alloc(16))).toThrow(RangeError);
  });

  it('reads only passwords starting t1. as tickets (gateway passwords are base64url: no dot)', () => {
    expect(isTicket('t1.x')).toBe(true);
    expect(isTicket('t1x')).toBe(false);
    expect(isTicket(Buffer.alloc(24, 0xfb).toString('base64url'))).toBe(false);
  });

  it('never throws and always refuses on arbitrary strings, ticket-shaped strings and mutations of a real ticket', () => {
    const now = { t: T0 };
    const lt = tickets(now);
    const real = lt.issue(G01).ticket;
    const lookup = rows(G01);
    const part = fc.oneof(fc.string(), fc.stringMatching(/^[A-Za-z0-9_-]{0,50}$/), fc.nat().map(String), fc.constant(''));
    const shaped = fc.array(part, { minLength: 0, maxLength: 8 }).map((ps) => ['t1', ...ps].join('.'));
    const mutated = fc.tuple(fc.nat({ max: real.length - 1 }), fc.string({ minLength: 1, maxLength: 1 }), fc.nat({ max: 3 })).map(([i, c, op]) =>
      op === 0 ? real.slice(0, i) + c + real.slice(i + 1) : op === 1 ? real.slice(0, i) + c + real.slice(i) : op === 2 ? real.slice(0, i) + real.slice(i + 1) : real.slice(0, i),
    );
    fc.assert(
      fc.property(fc.oneof(fc.string(), fc.string({ unit: 'binary', maxLength: 600 }), shaped, mutated), (text) => {
        fc.pre(text !== real);
        const r = lt.check(text, 'gw-s01', lookup);
        expect(r.ok).toBe(false);
        expect(() => decodeTicket(text)).not.toThrow();
      }),
      { numRuns: 3000, seed: 14 },
    );
  });

  it('decodes only the canonical text of a ticket (one text per ticket)', () => {
    const real = tickets({ t: T0 }).issue(G01).ticket;
    expect(decodeTicket(real)).toMatchObject({ gateway: 'gw-s01', issuedSec: T0 / 1000, expiresSec: T0 / 1000 + 86_400 });
    // A leading zero on a number.
    expect(decodeTicket(real.replace(`.${T0 / 1000}.`, `.0${T0 / 1000}.`))).toBeUndefined();
    // 'gw-s1' is Z3ctczE; Z3ctczF differs only in padding bits, so it decodes to the same bytes.
    const tail = `.1.2.${'A'.repeat(22)}.${'A'.repeat(43)}`;
    expect(decodeTicket(`t1.Z3ctczE${tail}`)).toMatchObject({ gateway: 'gw-s1' });
    expect(decodeTicket(`t1.Z3ctczF${tail}`)).toBeUndefined();
    expect(decodeTicket(`t1.${'x'.repeat(513)}`)).toBeUndefined();
  });
});
