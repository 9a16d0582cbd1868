import { z } from 'zod';
import type { Principal } from '../../auth/authorize.ts';
import { newSession, sessionSetCookie } from '../../auth/sessions.ts';
import { HubError, HubErrorCode } from '../../errors.ts';
import type { SessionRow, User } from '../../registry.ts';
import { ApiError } from '../apiError.ts';
import { sessionPolicyOf, signInGuardOf } from '../app.ts';
import { auditOf } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { errorBodySchema, route, type RouteTable } from '../route.ts';
import { sessionSchema } from '../schemas.ts';

/** One answer for every failed sign-in, so that it tells nothing of which users exist or have a password. */
const signInFailed = (): ApiError => new ApiError(401, HubErrorCode.SIGN_IN_FAILED, 'sign-in failed: unknown user or wrong password');
const principalOf = (u: User, session?: string): Principal => ({ user: u.id, role: u.role, district: u.district, school: u.school, session });
const bodyOf = (u: User, s: Pick<SessionRow, 'csrfToken' | 'expiresAt'>) => ({
  user: { id: u.id, displayName: u.displayName, role: u.role, district: u.district, school: u.school },
  csrfToken: s.csrfToken,
  expiresAt: s.expiresAt,
});

/**
 * Console sign-in, its session, and sign-out (docs/design.md#security). Sign-in backs off per
 * user id and per address before any hash is checked, and checks exactly one scrypt hash
 * whatever the case (a dummy one for an unknown user, a user without a password or a disabled
 * one), so neither the answer nor its time tells the cases apart.
 */
export function sessionRoutes(table: RouteTable, deps: ApiDeps): void {
  const policy = sessionPolicyOf(deps);
  const { backoff, passwords } = signInGuardOf(deps);

  route(table, {
    method: 'post',
    path: '/session',
    summary: 'Sign in to the console with a password: sets the session cookie',
    tag: 'session',
    auth: false,
    body: z.strictObject({ user: z.string().min(1).max(200), password: z.string().min(1).max(256) }),
    responses: {
      201: { description: 'Signed in; `Set-Cookie: cit_session=…; HttpOnly; SameSite=Strict; Path=/`', schema: sessionSchema },
      401: { description: 'Unknown user, wrong password, no password or disabled (HUB_ERR_SIGN_IN_FAILED), all alike', schema: errorBodySchema },
      429: { description: 'Too many failures for this user or address: wait `Retry-After` seconds (HUB_ERR_SIGN_IN_BACKOFF)', schema: errorBodySchema },
    },
    handler: async ({ body, req, res }) => {
      const keys = { address: req.socket.remoteAddress, id: body.user };
      const waitMs = backoff.waitMs(keys);
      if (waitMs > 0) {
        deps.counters.inc('console_sign_ins', { outcome: 'backoff' });
        const retryAfterS = Math.ceil(waitMs / 1000);
        res.setHeader('Retry-After', String(retryAfterS));
        throw new ApiError(429, HubErrorCode.SIGN_IN_BACKOFF, `too many failed sign-ins: try again in ${retryAfterS} s`, { retryAfterS });
      }
      const release = backoff.begin(keys);
      try {
        const reg = deps.registry();
        const u = reg.getUser(body.user);
        const stored = u === undefined ? undefined : reg.userPasswordHash(u.id);
        if (stored !== undefined) passwords.seen({ passwordHash: stored });
        let matched: boolean;
        try {
          matched = await passwords.verify(body.password, stored ?? passwords.dummyHash);
        } catch (e) {
          if (e instanceof HubError && e.code === HubErrorCode.AUTH_UNAVAILABLE) throw new ApiError(503, HubErrorCode.UNAVAILABLE, 'too many sign-ins being checked: try again shortly');
          throw e;
        }
        const at = deps.now();
        const from = `from ${keys.address ?? 'an unknown address'}`;
        if (!u || stored === undefined || u.disabledAt !== null || !matched) {
          backoff.failed(keys);
          deps.counters.inc('console_sign_ins', { outcome: 'failed' });
          if (u) {
            const why = u.disabledAt !== null ? 'user disabled' : stored === undefined ? 'no password set' : 'wrong password';
            auditOf(deps, principalOf(u)).write({ action: 'session.sign_in_failed', target: `user:${u.id}`, district: u.district, school: u.school, detail: `${why}; ${from}` }, 'forbidden');
          }
          throw signInFailed();
        }
        backoff.succeeded(keys);
        const s = newSession();
        const row = { id: s.id, user: u.id, secretHash: s.secretHash, csrfToken: s.csrfToken, createdAt: at, expiresAt: at + policy.ttlMs, lastSeenAt: at };
        reg.createSession(row);
        deps.counters.inc('console_sign_ins', { outcome: 'ok' });
        auditOf(deps, principalOf(u, s.id)).write({ action: 'session.sign_in', target: `user:${u.id}`, district: u.district, school: u.school, detail: from }, 'ok');
        return { status: 201, body: bodyOf(u, row), headers: { 'set-cookie': sessionSetCookie(s.cookie, Math.floor(policy.ttlMs / 1000), req.secure), 'cache-control': 'no-store' } };
      } finally {
        // After the failure is recorded (or the success), so the next check sees it.
        release();
      }
    },
  });

  /** The session of the request; 401 for a caller that came with a token. */
  const sessionOf = (p: Principal): { session: SessionRow; user: User } => {
    const reg = deps.registry();
    const session = p.session === undefined ? undefined : reg.getSession(p.session);
    const user = reg.getUser(p.user);
    if (!session || !user) throw new ApiError(401, HubErrorCode.UNAUTHENTICATED, 'this request has no console session (an API token is not one)', { reason: 'missing' });
    return { session, user };
  };

  route(table, {
    method: 'get',
    path: '/session',
    summary: 'The console session of the request: its user, CSRF token and end',
    tag: 'session',
    auth: 'session',
    responses: { 200: { description: 'The session (the same CSRF token for its whole life)', schema: sessionSchema } },
    handler: ({ principal }) => {
      const { session, user } = sessionOf(principal);
      return { status: 200, body: bodyOf(user, session), headers: { 'cache-control': 'no-store' } };
    },
  });

  route(table, {
    method: 'delete',
    path: '/session',
    summary: 'Sign out: the session ends on the hub and its cookie is cleared',
    tag: 'session',
    auth: 'session',
    responses: { 204: { description: 'Signed out' } },
    handler: ({ principal, req }) => {
      const { session, user } = sessionOf(principal);
      deps.registry().revokeSession(session.id, deps.now());
      auditOf(deps, principal).write({ action: 'session.sign_out', target: `user:${user.id}`, district: user.district, school: user.school }, 'ok');
      return { status: 204, headers: { 'set-cookie': sessionSetCookie('', 0, req.secure) } };
    },
  });
}
