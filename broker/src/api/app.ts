import express, { type NextFunction, type Request, type Response, type Router } from 'express';
import { OpenAPIRegistry, OpenApiGeneratorV31 } from '@asteasolutions/zod-to-openapi';
import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import type { Principal } from '../auth/authorize.ts';
import { csrfMatches, DEFAULT_SESSION_POLICY, parseSessionCookie, sessionCookieOf, sessionRefusal, SESSION_COOKIE, type SessionPolicy } from '../auth/sessions.ts';
import { parseToken, secretMatches } from '../auth/tokens.ts';
import { LoginBackoff, type LoginBackoffPolicy } from '../loginBackoff.ts';
import { PasswordCheck } from '../passwordCheck.ts';
import { HubError, HubErrorCode, RegistryConflictError, RegistryInvalidError } from '../errors.ts';
import type { HubCounters } from '../metrics.ts';
import type { Registry } from '../registry.ts';
import { ApiError } from './apiError.ts';
import { route, type RouteTable } from './route.ts';

/** What the routes need from the hub; each route module takes the part it uses. */
export interface ApiBase {
  registry: () => Registry;
  counters: HubCounters;
  log: Logger;
  now: () => number;
  /** Console sessions' lifetime and idle limit (defaults: auth/sessions.ts). */
  consoleSessions?: Partial<SessionPolicy> | undefined;
  /** Back-off after failed sign-ins (defaults: loginBackoff.ts). */
  signInBackoff?: Partial<LoginBackoffPolicy> | undefined;
}

export const sessionPolicyOf = (deps: Pick<ApiBase, 'consoleSessions'>): SessionPolicy => ({ ...DEFAULT_SESSION_POLICY, ...deps.consoleSessions });

/** People's password checks, one per hub: sign-in and a password change share the back-off and the queue. */
export interface SignInGuard {
  backoff: LoginBackoff;
  passwords: PasswordCheck;
}
const GUARDS = new WeakMap<object, SignInGuard>();
export function signInGuardOf(deps: Pick<ApiBase, 'signInBackoff' | 'now'>): SignInGuard {
  let g = GUARDS.get(deps);
  if (!g) GUARDS.set(deps, (g = { backoff: new LoginBackoff(deps.signInBackoff, deps.now), passwords: new PasswordCheck() }));
  return g;
}

export type RouteModule<D> = (table: RouteTable, deps: D) => void;

/** A token's last use is written at most this often (a write per request would be wasteful). */
const TOUCH_EVERY_MS = 60_000;

/** Methods that change nothing: a session cookie needs no CSRF token for them. */
const SAFE_METHODS = new Set(['GET', 'HEAD', 'OPTIONS']);

/**
 * The caller of a request: from its `Authorization: Bearer <token>` header, else from its console
 * session cookie (a change then needs the session's `X-CSRF-Token`, 403 otherwise); 401 when
 * neither holds (counted by reason). A token wins over a cookie sent with it.
 */
export function authenticator(deps: ApiBase): (req: Request) => Principal {
  const policy = sessionPolicyOf(deps);
  // A session's last use is written at most this often, but often enough for its idle limit.
  const touchSessionEvery = Math.min(TOUCH_EVERY_MS, Math.floor(policy.idleMs / 10));
  return (req) => {
    const refuse = (reason: string, message: string): never => {
      deps.counters.inc('api_auth_failures', { reason });
      throw new ApiError(401, HubErrorCode.UNAUTHENTICATED, message, { reason });
    };
    const h = req.headers.authorization;
    const cookie = h ? undefined : sessionCookieOf(req.headers.cookie);
    if (!h && cookie === undefined) return refuse('missing', `an API token (Authorization: Bearer <token>) or a console session (cookie ${SESSION_COOKIE}) is required`);
    const reg = deps.registry();
    const now = deps.now();
    if (cookie !== undefined) {
      const parsed = parseSessionCookie(cookie);
      if (!parsed) return refuse('malformed', 'the session cookie is not a session of this hub');
      const s = reg.getSession(parsed.id);
      if (!s || !secretMatches(parsed.secret, s.secretHash)) return refuse('unknown', 'unknown session: sign in again');
      const u = reg.getUser(s.user);
      const why = sessionRefusal(s, u, now, policy);
      if (why !== undefined) return refuse(why, why === 'disabled' ? 'the user of this session is disabled' : `this session has ${why === 'revoked' ? 'ended' : 'expired'}: sign in again`);
      if (!SAFE_METHODS.has(req.method) && !csrfMatches(req.get('x-csrf-token'), s.csrfToken)) {
        deps.counters.inc('api_csrf_refused');
        throw new ApiError(403, HubErrorCode.CSRF, 'a change made with a session cookie needs its X-CSRF-Token header');
      }
      if (now - s.lastSeenAt >= touchSessionEvery) reg.touchSession(s.id, now);
      return { user: u!.id, token: undefined, session: s.id, role: u!.role, district: u!.district, school: u!.school };
    }
    const m = /^Bearer\s+(\S+)$/i.exec(h!);
    const parsed = m ? parseToken(m[1]!) : undefined;
    if (!parsed) return refuse('malformed', 'the Authorization header is not a token of this hub');
    const t = reg.getToken(parsed.id);
    if (!t || !secretMatches(parsed.secret, t.secretHash)) return refuse('unknown', 'unknown API token');
    if (t.revokedAt !== null) return refuse('revoked', 'this API token has been revoked');
    if (t.expiresAt !== null && t.expiresAt <= now) return refuse('expired', 'this API token has expired');
    const u = reg.getUser(t.user);
    if (!u || u.disabledAt !== null) return refuse('disabled', 'the user of this API token is disabled');
    if (t.lastUsedAt === null || now - t.lastUsedAt >= TOUCH_EVERY_MS) reg.touchToken(t.id, now);
    return { user: u.id, token: t.id, role: u.role, district: u.district, school: u.school };
  };
}

/** Any thrown error as the one error body; registry refusals keep their codes. */
function toApiError(e: unknown): ApiError {
  if (e instanceof ApiError) return e;
  if (e instanceof RegistryInvalidError) return new ApiError(400, e.code as HubErrorCode, e.message, { entity: e.entity, field: e.field, reason: e.reason });
  if (e instanceof RegistryConflictError) {
    return new ApiError(409, e.code as HubErrorCode, e.message, { entity: e.entity, id: e.id, reason: e.reason });
  }
  const err = toError(e) as Error & { type?: string; status?: unknown; statusCode?: unknown; expose?: boolean };
  // body-parser's own errors: malformed JSON, a body over the limit.
  if (err.type === 'entity.parse.failed') return new ApiError(400, HubErrorCode.BAD_REQUEST, `the body is not valid JSON: ${err.message}`);
  if (err.type === 'entity.too.large') return new ApiError(413, HubErrorCode.PAYLOAD_TOO_LARGE, 'the body is larger than this endpoint takes');
  if (err.type === 'encoding.unsupported' || err.type === 'charset.unsupported') return new ApiError(415, HubErrorCode.UNSUPPORTED_MEDIA_TYPE, err.message);
  // Any other client fault Express or body-parser names (a bad percent-encoding, an aborted
  // or mis-sized body): the client's status, not a hub fault.
  const status = typeof err.status === 'number' ? err.status : typeof err.statusCode === 'number' ? err.statusCode : undefined;
  if (status !== undefined && status >= 400 && status < 500 && err.expose !== false) {
    const code = status === 413 ? HubErrorCode.PAYLOAD_TOO_LARGE : status === 415 ? HubErrorCode.UNSUPPORTED_MEDIA_TYPE : HubErrorCode.BAD_REQUEST;
    return new ApiError(status, code, err.message, err.type ? { type: err.type } : {});
  }
  if (e instanceof HubError && e.code === HubErrorCode.REGISTRY_OPEN) return new ApiError(503, HubErrorCode.UNAVAILABLE, 'the registry is not available');
  return new ApiError(500, HubErrorCode.INTERNAL, 'internal error (logged by the hub)');
}

const OPENAPI_PATH = '/openapi.json';
/** The caller of a request, once the router's authentication has found it. */
const PRINCIPALS = new WeakMap<Request, Principal>();
const principalOf = (req: Request): Principal | undefined => PRINCIPALS.get(req);

export interface ApiRouter {
  router: Router;
  /** Every declared route (the OpenAPI test checks each is in the document). */
  declared: RouteTable['declared'];
  document: () => Record<string, unknown>;
}

/** The management API, to be mounted at /api/v1 (docs/design.md#security). */
export function createApiRouter<D extends ApiBase>(deps: D, modules: ReadonlyArray<RouteModule<D>>): ApiRouter {
  const router = express.Router();
  const openapi = new OpenAPIRegistry();
  openapi.registerComponent('securitySchemes', 'bearer', { type: 'http', scheme: 'bearer', description: 'An API token: cit_<id>_<secret>' });
  openapi.registerComponent('securitySchemes', 'session', { type: 'apiKey', in: 'cookie', name: SESSION_COOKIE, description: 'A console session (POST /session); a change also needs its X-CSRF-Token header' });
  const authenticate = authenticator(deps);
  const table: RouteTable = { router, openapi, declared: [], open: new Set(), authenticate: (req) => principalOf(req) ?? authenticate(req) };

  router.use((req: Request, res: Response, next: NextFunction) => {
    res.on('finish', () => {
      const r = (req as Request & { route?: { path?: string } }).route?.path ?? 'unmatched';
      deps.counters.inc('api_requests', { method: req.method, route: r, status: String(res.statusCode) });
    });
    next();
  });
  // Authentication before any body is read: a caller without a token never gets to send one
  // (sign-in, open by nature, reads a small JSON body only).
  router.use((req: Request, _res: Response, next: NextFunction) => {
    if (req.path === OPENAPI_PATH || table.open.has(`${req.method} ${req.path}`)) return next();
    try {
      PRINCIPALS.set(req, authenticate(req));
      next();
    } catch (e) {
      next(e);
    }
  });
  router.use(express.json({ limit: '1mb' }));
  router.use(express.raw({ type: ['text/csv', 'application/octet-stream'], limit: '16mb' }));
  let doc: Record<string, unknown> | undefined;
  const document = (): Record<string, unknown> =>
    (doc ??= new OpenApiGeneratorV31(openapi.definitions).generateDocument({
      openapi: '3.1.0',
      info: { title: 'Campus IoT hub management API', version: '1', description: 'Districts, schools, rooms, devices, gateways, users, commands and the live event stream, scoped by role (broker/README.md, Management API).' },
      servers: [{ url: '/api/v1' }],
    }) as unknown as Record<string, unknown>);
  for (const m of modules) m(table, deps);
  route(table, {
    method: 'get',
    path: OPENAPI_PATH,
    summary: 'This document (OpenAPI 3.1)',
    tag: 'meta',
    auth: false,
    responses: { 200: { description: 'The OpenAPI document' } },
    handler: () => ({ status: 200, body: document() }),
  });
  router.use((req: Request, _res: Response, next: NextFunction) => next(new ApiError(404, HubErrorCode.NOT_FOUND, `no route ${req.method} ${req.path}`)));
  router.use((e: unknown, req: Request, res: Response, _next: NextFunction) => {
    const a = toApiError(e);
    if (a.status >= 500) deps.log.error({ err: toError(e), method: req.method, path: req.path }, 'management API request failed');
    if (res.headersSent) return void res.end();
    res.status(a.status).json({ code: a.code, message: a.message, details: a.details });
  });
  return { router, declared: table.declared, document };
}
