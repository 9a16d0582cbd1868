import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';

/**
 * API tokens: `cit_<id>_<secret>`, the id public (it names the token in the registry, the audit
 * log and `campus user tokens`), the secret 256 random bits shown once. Only SHA-256 of the
 * secret is stored. A slow hash (scrypt, as for passwords) protects guessable secrets; a 256-bit
 * random secret cannot be guessed, and a slow hash would cost every API request tens of
 * milliseconds.
 */
const TOKEN = /^cit_([0-9a-f]{16})_([A-Za-z0-9_-]{43})$/;

export interface NewToken {
  id: string;
  /** The whole token, to show once. */
  token: string;
  secretHash: string;
}

export function newToken(): NewToken {
  const id = randomBytes(8).toString('hex');
  const secret = randomBytes(32).toString('base64url');
  return { id, token: `cit_${id}_${secret}`, secretHash: hashSecret(secret) };
}

export function hashSecret(secret: string): string {
  return createHash('sha256').update(secret).digest('hex');
}

/** The id and secret of a well-formed token; undefined otherwise. */
export function parseToken(token: string): { id: string; secret: string } | undefined {
  const m = TOKEN.exec(token);
  return m ? { id: m[1]!, secret: m[2]! } : undefined;
}

/** Constant-time comparison of a presented secret with a stored hash. */
export function secretMatches(secret: string, storedHash: string): boolean {
  const a = Buffer.from(hashSecret(secret), 'hex');
  const b = Buffer.from(storedHash, 'hex');
  return a.length === b.length && timingSafeEqual(a, b);
}
