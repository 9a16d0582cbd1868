import { z } from 'zod';
import type { Gateway } from '../../registry.ts';
import { notFound } from '../apiError.ts';
import { auditOf, type Auditor } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { gatewayCredentialsSchema, gatewayIdSchema, gatewayStatusSchema } from '../fleetSchemas.ts';
import { gatewayIn, gatewayStatus, refusalAudited } from '../fleetState.ts';
import { pageOf, pageQuery, route, type RouteContext, type RouteTable } from '../route.ts';
import { districtIdSchema, schoolIdSchema } from '../schemas.ts';
import { schoolIn, scopedFilter } from '../scope.ts';

const gatewayParams = z.object({ gateway: gatewayIdSchema });
type Ctx = RouteContext<{ gateway: string }, unknown, unknown, unknown>;

/** Gateways, their connection and last health report, and their credentials (each change audited by Credentials). */
export function gatewayRoutes(table: RouteTable, deps: ApiDeps): void {
  const credentialsOf = (g: Gateway, password: string) => {
    const env = { GW_ID: g.id, GW_DISTRICT: g.district, GW_SCHOOL: g.school, GW_PASSWORD: password, GW_HUB_URL: deps.publicMqttUrl() };
    return { gateway: gatewayStatus(g, deps), password, env, envBlock: Object.entries(env).map(([k, v]) => `${k}=${v}\n`).join('') };
  };
  /** The gateway, if the caller may change it; a refusal is audited as `action`. */
  const writable = (ctx: Ctx, action: string): { gateway: Gateway; auditor: Auditor } => {
    const reg = deps.registry();
    const id = ctx.params.gateway;
    const auditor = auditOf(deps, ctx.principal);
    const g = refusalAudited(auditor, { action, target: `gateway:${id}`, school: reg.getGatewayRecord(id)?.school }, () => {
      const gw = gatewayIn(ctx, reg, id);
      ctx.allow('gateway.write', { district: gw.district, school: gw.school }, `gateway ${id}`);
      return gw;
    });
    return { gateway: g, auditor };
  };
  const actor = (ctx: Ctx) => `user:${ctx.principal.user}` as const;

  route(table, {
    method: 'get',
    path: '/gateways',
    summary: 'Gateways in the caller\'s scope: connection, session and last health report',
    tag: 'gateways',
    query: pageQuery.extend({ district: districtIdSchema.optional(), school: schoolIdSchema.optional() }),
    responses: { 200: { description: 'A page of gateways', schema: pageOf(gatewayStatusSchema, 'GatewayStatusPage') } },
    handler: (ctx) => {
      const reg = deps.registry();
      const page = reg.listGateways({ ...scopedFilter(ctx, reg, ctx.query), limit: ctx.query.limit, cursor: ctx.query.cursor });
      return { status: 200, body: { items: page.items.map((g) => gatewayStatus(g, deps)), nextCursor: page.nextCursor } };
    },
  });

  route(table, {
    method: 'post',
    path: '/gateways',
    summary: 'Create a school\'s gateway: its password and env block are shown once',
    tag: 'gateways',
    body: z.strictObject({ id: gatewayIdSchema, school: schoolIdSchema }),
    responses: { 201: { description: 'Created', schema: gatewayCredentialsSchema } },
    handler: async (ctx) => {
      const b = ctx.body;
      const reg = deps.registry();
      refusalAudited(auditOf(deps, ctx.principal), { action: 'gateway.create', target: `gateway:${b.id}`, school: b.school }, () => {
        const s = schoolIn(ctx, reg, b.school);
        ctx.allow('gateway.write', { district: s.district, school: s.id }, `school ${s.id}`);
      });
      const made = await deps.credentials.create(b.id, b.school, `user:${ctx.principal.user}`);
      return { status: 201, body: credentialsOf(made.gateway, made.password) };
    },
  });

  route(table, {
    method: 'get',
    path: '/gateways/{gateway}',
    summary: 'One gateway',
    tag: 'gateways',
    params: gatewayParams,
    responses: { 200: { description: 'The gateway', schema: gatewayStatusSchema } },
    handler: (ctx) => ({ status: 200, body: gatewayStatus(gatewayIn(ctx, deps.registry(), ctx.params.gateway), deps) }),
  });

  route(table, {
    method: 'post',
    path: '/gateways/{gateway}/rotate',
    summary: 'A new password (shown once); the live session is dropped at once',
    tag: 'gateways',
    params: gatewayParams,
    responses: { 200: { description: 'The new credentials', schema: gatewayCredentialsSchema } },
    handler: async (ctx) => {
      const { gateway } = writable(ctx, 'gateway.rotate');
      // The rotation writes only if the gateway is still in the school authorised once its hash
      // is made (deleted, or re-created elsewhere meanwhile: undefined, 404).
      const r = await deps.credentials.rotate(gateway.id, actor(ctx), gateway.school);
      if (!r) throw notFound(`gateway ${gateway.id}`);
      return { status: 200, body: credentialsOf(r.gateway, r.password) };
    },
  });

  route(table, {
    method: 'post',
    path: '/gateways/{gateway}/revoke',
    summary: 'Revoke a gateway\'s credentials: the live session is dropped at once and it cannot log in again',
    tag: 'gateways',
    params: gatewayParams,
    responses: { 200: { description: 'The gateway, revoked', schema: gatewayStatusSchema } },
    handler: (ctx) => {
      const { gateway } = writable(ctx, 'gateway.revoke');
      deps.credentials.revoke(gateway.id, actor(ctx));
      return { status: 200, body: gatewayStatus(deps.registry().getGatewayRecord(gateway.id)!, deps) };
    },
  });

  route(table, {
    method: 'post',
    path: '/gateways/{gateway}/reinstate',
    summary: 'Let a revoked gateway log in again with its current password',
    tag: 'gateways',
    params: gatewayParams,
    responses: { 200: { description: 'The gateway, reinstated', schema: gatewayStatusSchema } },
    handler: (ctx) => {
      const { gateway } = writable(ctx, 'gateway.reinstate');
      deps.credentials.reinstate(gateway.id, actor(ctx));
      return { status: 200, body: gatewayStatus(deps.registry().getGatewayRecord(gateway.id)!, deps) };
    },
  });

  route(table, {
    method: 'delete',
    path: '/gateways/{gateway}',
    summary: 'Delete a gateway; its live session is dropped',
    tag: 'gateways',
    params: gatewayParams,
    responses: { 204: { description: 'Deleted' } },
    handler: (ctx) => {
      const { gateway } = writable(ctx, 'gateway.delete');
      // Checked and removed in one turn of the event loop: nothing can move it in between.
      if (!deps.credentials.remove(gateway.id, actor(ctx))) throw notFound(`gateway ${gateway.id}`);
      return { status: 204 };
    },
  });
}
