import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { dirname } from 'node:path';
import type { Logger } from 'pino';
import type { ApiTokenRow, Registry, User } from '../registry.ts';
import type { Role } from './authorize.ts';
import { newToken } from './tokens.ts';

export const DAY_MS = 86_400_000;

/** A token for a user: created in the registry (hash only); the whole token is returned once. */
export function issueToken(registry: Registry, user: string, opts: { name?: string; ttlMs?: number | null }, now: number): { token: string; row: Omit<ApiTokenRow, 'secretHash' | 'revokedAt' | 'lastUsedAt'> } {
  const t = newToken();
  const row = { id: t.id, user, name: opts.name ?? '', createdAt: now, expiresAt: opts.ttlMs == null ? null : now + opts.ttlMs };
  registry.createToken({ ...row, secretHash: t.secretHash });
  return { token: t.token, row };
}

/** A user and its first token, in one transaction (nothing is left half made). */
export function createUserWithToken(
  registry: Registry,
  u: { id: string; displayName?: string; role: Role; district?: string | null; school?: string | null },
  token: { name?: string; ttlMs?: number | null },
  now: number,
): { user: User; token: string; tokenId: string; expiresAt: number | null } {
  return registry.transaction(() => {
    const user = registry.createUser({ id: u.id, displayName: u.displayName ?? '', role: u.role, district: u.district ?? null, school: u.school ?? null, createdAt: now });
    const t = issueToken(registry, user.id, token, now);
    return { user, token: t.token, tokenId: t.row.id, expiresAt: t.row.expiresAt };
  });
}

/**
 * The first start of a hub with no users: one city admin (`admin`) with a token that does not
 * expire, written to `file` (mode 600) for the `campus` CLI. Only the path is logged, never the
 * token. A later start finds the user and does nothing.
 */
export function bootstrapAdmin(registry: Registry, file: string, log: Logger, now: () => number): void {
  if (registry.userCount() > 0) return;
  const at = now();
  const made = createUserWithToken(registry, { id: 'admin', displayName: 'City administrator', role: 'city_admin' }, { name: 'bootstrap', ttlMs: null }, at);
  mkdirSync(dirname(file), { recursive: true });
  writeFileSync(file, `${made.token}\n`, { mode: 0o600 });
  chmodSync(file, 0o600); // a file left by an earlier registry keeps its old mode otherwise
  registry.appendAudit({ at, actor: 'system:hub', action: 'user.bootstrap', target: 'user:admin', outcome: 'ok', detail: `token ${made.tokenId} written to the bootstrap file` });
  log.warn({ file, user: 'admin', token: made.tokenId }, 'first start: the city admin token is in this file (mode 600); keep it safe');
}
