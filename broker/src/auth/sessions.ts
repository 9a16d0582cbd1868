import { randomBytes, timingSafeEqual } from 'node:crypto';
import type { SessionRow, User } from '../registry.ts';
import { hashSecret } from './tokens.ts';

/**
 * Console sessions (docs/design.md#security): a person signs in with a password and gets a
 * cookie `cit_session=<id>_<secret>`, the id public (audit entries name it), the secret 256
 * random bits of which only SHA-256 is stored, as for API tokens. A session ends at an absolute
 * limit from its start, after an idle limit without a request, when revoked (sign-out, a new
 * password) or when its user is disabled. Pure but for the random values.
 */
export const SESSION_COOKIE = 'cit_session';

export interface SessionPolicy {
  /** Absolute lifetime from sign-in. */
  ttlMs: number;
  /** A session unused this long ends. */
  idleMs: number;
}
export const DEFAULT_SESSION_POLICY: SessionPolicy = { ttlMs: 8 * 3_600_000, idleMs: 3_600_000 };

const VALUE = /^([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewSession {
  id: string;
  /** The cookie's value, to send once. */
  cookie: string;
  secretHash: string;
  csrfToken: string;
}

export function newSession(): NewSession {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, cookie: `${id}_${secret}`, secretHash: hashSecret(secret), csrfToken: randomBytes(24).toString('base64url') };
}

/** The session cookie's value in a `Cookie` header; undefined when absent. */
export function sessionCookieOf(header: string | undefined): string | undefined {
  if (header === undefined) return undefined;
  for (const part of header.split(';')) {
    const i = part.indexOf('=');
    if (i > 0 && part.slice(0, i).trim() === SESSION_COOKIE) return part.slice(i + 1).trim();
  }
  return undefined;
}

/** The id and secret of a well-formed cookie value; undefined otherwise. */
export function parseSessionCookie(value: string): { id: string; secret: string } | undefined {
  const m = VALUE.exec(value);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

export type SessionRefusal = 'revoked' | 'expired' | 'disabled';

/** Why a stored session no longer holds at `now`; undefined while it does. */
export function sessionRefusal(s: SessionRow, user: User | undefined, now: number, policy: SessionPolicy): SessionRefusal | undefined {
  if (s.revokedAt !== null) return 'revoked';
  if (s.expiresAt <= now || s.lastSeenAt + policy.idleMs <= now) return 'expired';
  if (!user || user.disabledAt !== null) return 'disabled';
  return undefined;
}

/** Constant-time comparison of a presented CSRF token with the session's. */
export function csrfMatches(presented: string | undefined, expected: string): boolean {
  if (presented === undefined) return false;
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/** The `Set-Cookie` value: script cannot read it, other sites never send it; `Secure` over TLS. */
export function sessionSetCookie(value: string, maxAgeS: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; HttpOnly; SameSite=Strict; Path=/; Max-Age=${maxAgeS}${secure ? '; Secure' : ''}`;
}
