import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { newToken, parseToken, secretMatches } from '../../src/auth/tokens.ts';

describe('API tokens', () => {
  it('are cit_<16 hex>_<43 base64url>, parse back, and store SHA-256 of the secret only', () => {
    const t = newToken();
    expect(t.token).toMatch(/^cit_[0-9a-f]{16}_[A-Za-z0-9_-]{43}$/);
    const p = parseToken(t.token)!;
    expect(p.id).toBe(t.id);
    expect(t.token).toBe(`cit_${p.id}_${p.secret}`);
    expect(t.secretHash).toBe(createHash('sha256').update(p.secret).digest('hex'));
    expect(t.secretHash).not.toContain(p.secret);
    expect(secretMatches(p.secret, t.secretHash)).toBe(true);
  });

  it('refuse another secret, a changed one and malformed tokens', () => {
    const a = newToken();
    const b = newToken();
    expect(a.id).not.toBe(b.id);
    expect(secretMatches(parseToken(b.token)!.secret, a.secretHash)).toBe(false);
    const s = parseToken(a.token)!.secret;
    expect(secretMatches(`${s.slice(0, -1)}${s.endsWith('A') ? 'B' : 'A'}`, a.secretHash)).toBe(false);
    expect(secretMatches(s, 'abcd')).toBe(false);
    for (const bad of ['', 'cit_', a.token.slice(0, -1), `${a.token}x`, a.token.replace('cit_', 'tok_'), `cit_${'g'.repeat(16)}_${s}`]) expect(parseToken(bad)).toBeUndefined();
  });
});
