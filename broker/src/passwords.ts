import { randomBytes, scrypt, timingSafeEqual } from 'node:crypto';

/** scrypt parameters; stored with each hash so they can be raised without a migration. */
export interface ScryptParams {
  N: number;
  r: number;
  p: number;
}
export const DEFAULT_SCRYPT: ScryptParams = { N: 16384, r: 8, p: 1 };
const KEY_LEN = 32;

function derive(password: string, salt: Buffer, { N, r, p }: ScryptParams): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    scrypt(password, salt, KEY_LEN, { N, r, p, maxmem: 256 * N * r + 1024 * 1024 }, (err, key) =>
      err ? reject(err) : resolve(key),
    );
  });
}

/** `scrypt$N$r$p$salt$hash`, base64url parts. */
export async function hashPassword(password: string, params: ScryptParams = DEFAULT_SCRYPT): Promise<string> {
  const salt = randomBytes(16);
  const key = await derive(password, salt, params);
  return ['scrypt', params.N, params.r, params.p, salt.toString('base64url'), key.toString('base64url')].join('$');
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return false;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  if (![N, r, p].every((n) => Number.isSafeInteger(n) && n > 0)) return false;
  const expected = Buffer.from(parts[5]!, 'base64url');
  try {
    const key = await derive(password, Buffer.from(parts[4]!, 'base64url'), { N, r, p });
    return key.length === expected.length && timingSafeEqual(key, expected);
  } catch {
    // Parameters scrypt refuses (N not a power of two, …): a hash that can match nothing.
    return false;
  }
}

/** The parameters a stored hash was made with; undefined for a hash that is not one of ours. */
export function scryptParamsOf(stored: string): ScryptParams | undefined {
  const parts = stored.split('$');
  if (parts.length !== 6 || parts[0] !== 'scrypt') return undefined;
  const [N, r, p] = parts.slice(1, 4).map(Number) as [number, number, number];
  return [N, r, p].every((n) => Number.isSafeInteger(n) && n > 0) ? { N, r, p } : undefined;
}

/**
 * A hash no password matches (its key is all zeros), checked for a login of an unknown gateway
 * so that it costs one scrypt at the same parameters as a known one: response times do not tell
 * which gateway ids exist.
 */
export function dummyHash({ N, r, p }: ScryptParams = DEFAULT_SCRYPT): string {
  return ['scrypt', N, r, p, Buffer.alloc(16).toString('base64url'), Buffer.alloc(KEY_LEN).toString('base64url')].join('$');
}
