import { randomBytes } from 'node:crypto';
import { closeSync, fsyncSync, mkdirSync, openSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import { HubError, HubErrorCode } from '../errors.ts';
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
 * expire, written to `file` (mode 600) for the `campus` CLI. The file is written before the
 * user is committed: if it cannot be, nothing is kept and the start fails
 * (HUB_ERR_BOOTSTRAP_FILE), so a later start with a good path bootstraps. Only the path is
 * logged, never the token. A later start finds the user and does nothing.
 */
export function bootstrapAdmin(registry: Registry, file: string, log: Logger, now: () => number): void {
  if (registry.userCount() > 0) return;
  const at = now();
  const made = registry.transaction(() => {
    const user = registry.createUser({ id: 'admin', displayName: 'City administrator', role: 'city_admin', district: null, school: null, createdAt: at });
    const t = issueToken(registry, user.id, { name: 'bootstrap', ttlMs: null }, at);
    registry.appendAudit({ at, actor: 'system:hub', action: 'user.bootstrap', target: 'user:admin', outcome: 'ok', detail: `token ${t.row.id} written to the bootstrap file` });
    try {
      writeSecretFile(file, `${t.token}\n`);
    } catch (e) {
      throw new HubError(HubErrorCode.BOOTSTRAP_FILE, `the bootstrap token file ${file} cannot be written: ${toError(e).message}`, { cause: e });
    }
    return t.row;
  });
  log.warn({ file, user: 'admin', token: made.id }, 'first start: the city admin token is in this file (mode 600); keep it safe');
}

/**
 * Replaces `file` with `text`, never readable by others: a new file made with mode 600 beside it
 * (`wx`: never an existing file or a link), then renamed over the target (a link there is
 * replaced, not followed).
 */
function writeSecretFile(file: string, text: string): void {
  const dir = dirname(file);
  mkdirSync(dir, { recursive: true });
  const tmp = join(dir, `.${basename(file)}.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    try {
      writeSync(fd, text);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, file);
  } catch (e) {
    rmSync(tmp, { force: true });
    throw e;
  }
}
