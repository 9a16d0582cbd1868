import { describe, expect, it } from 'vitest';
import { csrfMatches, newSession, parseSessionCookie, sessionCookieOf, sessionRefusal, sessionSetCookie } from '../../src/auth/sessions.ts';
import { secretMatches } from '../../src/auth/tokens.ts';
import type { SessionRow, User } from '../../src/registry.ts';

const POLICY = { ttlMs: 1000, idleMs: 100 };
const row = (over: Partial<SessionRow> = {}): SessionRow => ({ id: 'a'.repeat(16), user: 'u', secretHash: '', csrfToken: 'c', createdAt: 0, expiresAt: 1000, lastSeenAt: 500, revokedAt: null, ...over });
const user = (over: Partial<User> = {}): User => ({ id: 'u', displayName: '', role: 'viewer', district: null, school: null, createdAt: 0, disabledAt: null, hasPassword: true, ...over });

describe('console sessions', () => {
  it('make a cookie <id>_<secret> whose secret matches the stored hash, and a CSRF token', () => {
    const s = newSession();
    const p = parseSessionCookie(s.cookie)!;
    expect(p.id).toBe(s.id);
    expect(secretMatches(p.secret, s.secretHash)).toBe(true);
    expect(s.csrfToken).toMatch(/^[A-Za-z0-9_-]{32}$/);
    expect(parseSessionCookie(`${s.id}_short`)).toBeUndefined();
    expect(parseSessionCookie(`cit_${s.cookie}`)).toBeUndefined();
  });

  it('find the cookie among others in a Cookie header', () => {
    expect(sessionCookieOf(undefined)).toBeUndefined();
    expect(sessionCookieOf('a=1; cit_session=x_y ; b=2')).toBe('x_y');
    expect(sessionCookieOf('xcit_session=1')).toBeUndefined();
    expect(sessionCookieOf('cit_session=')).toBe('');
  });

  it.each([
    ['live', row(), user(), 599, undefined],
    ['idle for the idle limit', row(), user(), 600, 'expired'],
    ['at its absolute end though just used', row({ lastSeenAt: 990 }), user(), 1000, 'expired'],
    ['revoked', row({ revokedAt: 1 }), user(), 501, 'revoked'],
    ['its user disabled', row(), user({ disabledAt: 1 }), 501, 'disabled'],
    ['its user gone', row(), undefined, 501, 'disabled'],
  ] as const)('a session %s: %s', (_name, s, u, now, want) => {
    expect(sessionRefusal(s, u, now, POLICY)).toBe(want);
  });

  it('compare CSRF tokens exactly', () => {
    expect(csrfMatches('abc', 'abc')).toBe(true);
    expect(csrfMatches('abd', 'abc')).toBe(false);
    expect(csrfMatches('ab', 'abc')).toBe(false);
    expect(csrfMatches(undefined, 'abc')).toBe(false);
  });

  it('set the cookie HttpOnly, SameSite=Strict, Path=/, and Secure over TLS only', () => {
    expect(sessionSetCookie('v', 60, false)).toBe('cit_session=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=60');
    expect(sessionSetCookie('v', 60, true)).toBe('cit_session=v; HttpOnly; SameSite=Strict; Path=/; Max-Age=60; Secure');
  });
});
