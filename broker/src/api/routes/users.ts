import { z } from 'zod';
import { createUserWithToken, DAY_MS, issueToken } from '../../auth/bootstrap.ts';
import type { Principal } from '../../auth/authorize.ts';
import type { Registry, User } from '../../registry.ts';
import { roleSchema } from '../../registryValues.ts';
import { toError } from '../../../../runtime/src/errors.ts';
import { hashPassword } from '../../passwords.ts';
import { signInGuardOf } from '../app.ts';
import { auditOf, outcomeOf } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { ApiError, badRequest, forbidden, notFound } from '../apiError.ts';
import { HubErrorCode } from '../../errors.ts';
import { pageOf, pageQuery, route, type RouteContext, type RouteTable } from '../route.ts';
import { auditRowSchema, districtIdSchema, meSchema, newTokenSchema, newUserSchema, schoolIdSchema, tokenInfoSchema, userIdSchema, userSchema } from '../schemas.ts';
import { schoolIn, scopedFilter, within } from '../scope.ts';

type Ctx = Pick<RouteContext<unknown, unknown, unknown, unknown>, 'principal' | 'allow'>;

/** 0 days: a token that never expires. */
const ttlDaysSchema = z.number().int().min(0).max(3650).meta({ description: 'Days until the token expires; 0: never (default 90)' });
const DEFAULT_TTL_DAYS = 90;
const ttlMs = (days: number | undefined): number | null => ((days ?? DEFAULT_TTL_DAYS) === 0 ? null : (days ?? DEFAULT_TTL_DAYS) * DAY_MS);
const userParams = z.object({ user: userIdSchema });
const MAX_PASSWORD = 256;
/** Long enough to resist guessing at one scrypt per try; bounded so that hashing stays cheap. */
const passwordSchema = z.string().min(12).max(MAX_PASSWORD).meta({ description: '12 to 256 characters' });
const scopeOf = (u: Pick<User, 'district' | 'school'>) => ({ district: u.district, school: u.school });

/** A user inside the caller's scope (404 otherwise, the same answer as for no such user). */
function userIn(ctx: Ctx, reg: Registry, id: string): User {
  const u = reg.getUser(id);
  if (!u || !within(ctx.principal, scopeOf(u))) throw notFound(`user ${id}`);
  return u;
}

/** Changing a user's tokens: its own, or user.write on its scope. */
function mayManageTokens(ctx: Ctx, u: User): void {
  if (u.id !== ctx.principal.user) ctx.allow('user.write', scopeOf(u), `user ${u.id}`);
}

/** The role's scope, as the registry checks it, so that a wrong combination is a 400 naming the field. */
const newUserBody = z
  .strictObject({
    id: userIdSchema,
    displayName: z.string().max(200).optional(),
    role: roleSchema,
    district: districtIdSchema.nullish(),
    school: schoolIdSchema.nullish(),
    tokenTtlDays: ttlDaysSchema.optional(),
  })
  .superRefine((u, c) => {
    const need = (field: 'district' | 'school', present: boolean) => {
      if (present && u[field] == null) c.addIssue({ code: 'custom', path: [field], message: `required for a ${u.role}` });
      if (!present && u[field] != null) c.addIssue({ code: 'custom', path: [field], message: `not allowed for a ${u.role}` });
    };
    if (u.role === 'city_admin') (need('district', false), need('school', false));
    else if (u.role === 'district_operator') (need('district', true), need('school', false));
    else if (u.role === 'school_it') need('school', true);
  });

function enabledCityAdmins(reg: Registry): number {
  let n = 0;
  let cursor: string | undefined;
  do {
    const page = reg.listUsers({ limit: 1000, cursor });
    n += page.items.filter((u) => u.role === 'city_admin' && u.disabledAt === null).length;
    cursor = page.nextCursor ?? undefined;
  } while (cursor !== undefined);
  return n;
}

/**
 * A new token's lifetime: never beyond the caller's own token, so that an expiring token
 * cannot mint a longer-lived one (a longer request is cut to the caller's expiry; `0`, never,
 * is refused unless the caller's token never expires either).
 */
function boundedTtl(reg: Registry, p: Principal, days: number | undefined, now: number): number | null {
  const wanted = ttlMs(days);
  const own = p.token === undefined ? undefined : reg.getToken(p.token)?.expiresAt;
  if (own === undefined || own === null) return wanted;
  if (wanted === null) throw badRequest('ttlDays 0 (never expires) needs a caller token that never expires', { issues: [{ in: 'body', path: 'ttlDays', message: `the caller's token expires at ${own}` }] });
  return Math.min(wanted, own - now);
}

/**
 * A user's own present password, checked as a sign-in is (the same back-off for that user and
 * address, the same queue, one scrypt whatever the case): a session left open must not be a
 * way to guess it.
 */
async function checkCurrentPassword(deps: ApiDeps, ctx: Pick<RouteContext<unknown, unknown, unknown, unknown>, 'req' | 'res'>, user: string, password: string): Promise<void> {
  const { backoff, passwords } = signInGuardOf(deps);
  const keys = { address: ctx.req.socket.remoteAddress, id: user };
  const waitMs = backoff.waitMs(keys);
  if (waitMs > 0) {
    const retryAfterS = Math.ceil(waitMs / 1000);
    ctx.res.setHeader('Retry-After', String(retryAfterS));
    throw new ApiError(429, HubErrorCode.SIGN_IN_BACKOFF, `too many wrong passwords: try again in ${retryAfterS} s`, { retryAfterS });
  }
  const release = backoff.begin(keys);
  try {
    const stored = deps.registry().userPasswordHash(user);
    if (stored !== undefined) passwords.seen({ passwordHash: stored });
    const ok = await passwords.verify(password, stored ?? passwords.dummyHash);
    if (!ok || stored === undefined) {
      backoff.failed(keys);
      throw forbidden(`the current password of user ${user} is not that`);
    }
    backoff.succeeded(keys);
  } finally {
    release();
  }
}

export function userRoutes(table: RouteTable, deps: ApiDeps): void {
  const audit = (p: Principal) => auditOf(deps, p);

  route(table, {
    method: 'get',
    path: '/me',
    summary: 'The caller: user, role, scope, and token or session',
    tag: 'users',
    responses: { 200: { description: 'The caller', schema: meSchema } },
    handler: ({ principal: p }) => ({ status: 200, body: { user: p.user, role: p.role, district: p.district, school: p.school, token: p.token ?? null, via: p.session === undefined ? 'token' : 'session' } }),
  });

  route(table, {
    method: 'get',
    path: '/users',
    summary: 'Users inside the caller\'s scope',
    tag: 'users',
    query: pageQuery.extend({ district: districtIdSchema.optional(), school: schoolIdSchema.optional() }),
    responses: { 200: { description: 'A page of users', schema: pageOf(userSchema, 'UserPage') } },
    handler: (ctx) => {
      const reg = deps.registry();
      const f = scopedFilter(ctx, reg, ctx.query);
      return { status: 200, body: reg.listUsers({ limit: ctx.query.limit, cursor: ctx.query.cursor, ...f }) };
    },
  });

  route(table, {
    method: 'post',
    path: '/users',
    summary: 'Create a user and its first token (shown once)',
    tag: 'users',
    body: newUserBody,
    responses: { 201: { description: 'Created; the token is not shown again', schema: newUserSchema } },
    handler: (ctx) => {
      const b = { ...ctx.body, district: ctx.body.district ?? undefined, school: ctx.body.school ?? undefined };
      const reg = deps.registry();
      const school = b.school === undefined ? undefined : reg.getSchool(b.school);
      const district = school?.district ?? b.district ?? null;
      const made = audit(ctx.principal).run({ action: 'user.create', target: `user:${b.id}`, district, school: b.school, detail: `role ${b.role}` }, () => {
        if (b.school !== undefined) {
          const s = schoolIn(ctx, reg, b.school);
          if (b.district !== undefined && b.district !== s.district) {
            throw badRequest(`school ${s.id} is in district ${s.district}`, { issues: [{ in: 'body', path: 'district', message: `school ${s.id} is in district ${s.district}` }] });
          }
        }
        ctx.allow('user.write', { district, school: b.school ?? null }, district === null ? 'the city' : `district ${district}`);
        // One instant for the bound and the token: read twice, the token could outlive its maker's by a tick.
        const at = deps.now();
        return createUserWithToken(reg, { id: b.id, displayName: b.displayName ?? '', role: b.role, district, school: b.school ?? null }, { name: 'initial', ttlMs: boundedTtl(reg, ctx.principal, b.tokenTtlDays, at) }, at);
      });
      return { status: 201, body: made };
    },
  });

  route(table, {
    method: 'get',
    path: '/users/{user}',
    summary: 'One user',
    tag: 'users',
    params: userParams,
    responses: { 200: { description: 'The user', schema: userSchema } },
    handler: (ctx) => ({ status: 200, body: userIn(ctx, deps.registry(), ctx.params.user) }),
  });

  route(table, {
    method: 'delete',
    path: '/users/{user}',
    summary: 'Disable a user and revoke its tokens and sessions',
    tag: 'users',
    params: userParams,
    responses: { 204: { description: 'Disabled' } },
    handler: (ctx) => {
      const id = ctx.params.user;
      const reg = deps.registry();
      const u = reg.getUser(id);
      audit(ctx.principal).run({ action: 'user.disable', target: `user:${id}`, district: u?.district, school: u?.school }, () => {
        const user = userIn(ctx, reg, id);
        ctx.allow('user.write', scopeOf(user), `user ${id}`);
        // Nobody locks themselves out, and the city always keeps an administrator.
        if (user.id === ctx.principal.user) throw forbidden(`user ${id} may not disable itself`);
        if (user.role === 'city_admin' && user.disabledAt === null && enabledCityAdmins(reg) <= 1) {
          throw new ApiError(409, HubErrorCode.REGISTRY_CONFLICT, `user ${id} is the last enabled city administrator`, { entity: 'user', id, reason: 'last_city_admin' });
        }
        const at = deps.now();
        reg.transaction(() => {
          reg.disableUser(id, at);
          for (const t of reg.listTokens(id)) if (t.revokedAt === null) reg.revokeToken(t.id, at);
          reg.revokeSessionsOf(id, at);
        });
      });
      return { status: 204 };
    },
  });

  route(table, {
    method: 'put',
    path: '/users/{user}/password',
    summary: "Set a user's console password (user.write on its scope, or its own with currentPassword); its other sessions end",
    tag: 'users',
    params: userParams,
    body: z.strictObject({
      password: passwordSchema,
      currentPassword: z.string().min(1).max(MAX_PASSWORD).optional().meta({ description: 'The user\'s present password, to set one\'s own without user.write' }),
    }),
    responses: { 204: { description: 'Set; the user\'s other sessions are revoked' } },
    handler: async (ctx) => {
      const id = ctx.params.user;
      const reg = deps.registry();
      const u0 = reg.getUser(id);
      const auditor = audit(ctx.principal);
      const change = { action: 'user.password.set', target: `user:${id}`, district: u0?.district, school: u0?.school };
      const refused = (e: unknown): never => {
        auditor.write({ ...change, detail: toError(e).message }, outcomeOf(e));
        throw e;
      };
      try {
        const u = userIn(ctx, reg, id);
        if (u.id === ctx.principal.user && ctx.body.currentPassword !== undefined) await checkCurrentPassword(deps, ctx, u.id, ctx.body.currentPassword);
        else ctx.allow('user.write', scopeOf(u), `user ${id}`);
      } catch (e) {
        refused(e);
      }
      const hash = await hashPassword(ctx.body.password);
      auditor.run(change, () =>
        reg.transaction(() => {
          if (!reg.setUserPassword(id, hash)) throw notFound(`user ${id}`);
          reg.revokeSessionsOf(id, deps.now(), ctx.principal.session);
        }),
      );
      return { status: 204 };
    },
  });

  route(table, {
    method: 'get',
    path: '/users/{user}/tokens',
    summary: 'A user\'s tokens (never their secrets)',
    tag: 'users',
    params: userParams,
    responses: { 200: { description: 'The tokens, oldest first', schema: z.object({ items: z.array(tokenInfoSchema) }).meta({ id: 'TokenList' }) } },
    handler: (ctx) => {
      const reg = deps.registry();
      const u = userIn(ctx, reg, ctx.params.user);
      return { status: 200, body: { items: reg.listTokens(u.id) } };
    },
  });

  route(table, {
    method: 'post',
    path: '/users/{user}/tokens',
    summary: 'A new token for a user (its own, or user.write on its scope); shown once',
    tag: 'users',
    params: userParams,
    body: z.strictObject({ name: z.string().max(200).optional(), ttlDays: ttlDaysSchema.optional() }),
    responses: { 201: { description: 'Created; the token is not shown again', schema: newTokenSchema } },
    handler: (ctx) => {
      const id = ctx.params.user;
      const reg = deps.registry();
      const u0 = reg.getUser(id);
      const made = audit(ctx.principal).run({ action: 'token.create', target: `user:${id}`, district: u0?.district, school: u0?.school }, () => {
        const u = userIn(ctx, reg, id);
        mayManageTokens(ctx, u);
        const at = deps.now();
        const t = issueToken(reg, u.id, { name: ctx.body.name ?? '', ttlMs: boundedTtl(reg, ctx.principal, ctx.body.ttlDays, at) }, at);
        return { tokenId: t.row.id, token: t.token, expiresAt: t.row.expiresAt };
      });
      return { status: 201, body: made };
    },
  });

  route(table, {
    method: 'delete',
    path: '/tokens/{token}',
    summary: 'Revoke a token (its owner, or user.write on the owner\'s scope)',
    tag: 'users',
    params: z.object({ token: z.string().regex(/^[0-9a-f]{16}$/, 'a token id: 16 hex digits').meta({ description: 'The token id (the part after cit_)' }) }),
    responses: { 204: { description: 'Revoked' } },
    handler: (ctx) => {
      const id = ctx.params.token;
      const reg = deps.registry();
      const owner = (() => {
        const t = reg.getToken(id);
        return t && reg.getUser(t.user);
      })();
      audit(ctx.principal).run({ action: 'token.revoke', target: `token:${id}`, district: owner?.district, school: owner?.school }, () => {
        if (!owner || !within(ctx.principal, scopeOf(owner))) throw notFound(`token ${id}`);
        mayManageTokens(ctx, owner);
        reg.revokeToken(id, deps.now());
      });
      return { status: 204 };
    },
  });

  route(table, {
    method: 'get',
    path: '/audit',
    summary: 'The audit log inside the caller\'s scope, newest first',
    tag: 'audit',
    query: pageQuery.extend({
      target: z.string().min(1).max(300).optional(),
      actor: z.string().min(1).max(300).optional(),
      district: districtIdSchema.optional(),
      school: schoolIdSchema.optional(),
    }),
    responses: { 200: { description: 'A page of audit entries', schema: pageOf(auditRowSchema, 'AuditPage') } },
    handler: (ctx) => {
      const reg = deps.registry();
      const q = ctx.query;
      const f = scopedFilter(ctx, reg, q);
      return { status: 200, body: reg.listAudit({ limit: q.limit, cursor: q.cursor, target: q.target, actor: q.actor, ...f }) };
    },
  });
}
