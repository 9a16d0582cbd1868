import type { Request, Response, Router } from 'express';
import type { OpenAPIRegistry, RouteConfig } from '@asteasolutions/zod-to-openapi';
import { z } from 'zod';
import { authorize, type Action, type Principal, type Resource } from '../auth/authorize.ts';
import { ApiError, forbidden, invalid, notFound } from './apiError.ts';

/**
 * One route of the management API, declared once: Express serves it and the OpenAPI document
 * describes it from the same zod schemas, so neither can drift from the other.
 */
export type Method = 'get' | 'post' | 'put' | 'patch' | 'delete';

export interface Reply {
  status: number;
  body?: unknown;
  /** `application/json` unless given. */
  contentType?: string;
  headers?: Record<string, string>;
}

export interface RouteSpec<P extends z.ZodType, Q extends z.ZodType, B extends z.ZodType, H extends z.ZodType> {
  method: Method;
  /** OpenAPI form, under /api/v1: `/devices/{id}`. */
  path: string;
  summary: string;
  tag: string;
  params?: P;
  query?: Q;
  headers?: H;
  /** A JSON body, or raw bytes of `bodyMediaType` (CSV). */
  body?: B;
  bodyMediaType?: string;
  /** Success responses: status → description and schema (JSON unless `mediaType`). */
  responses: Record<number, { description: string; schema?: z.ZodType; mediaType?: string }>;
  /** false for the OpenAPI document and sign-in; `session`: a console session only (not a token). */
  auth?: boolean | 'session';
  handler: (ctx: RouteContext<z.output<P>, z.output<Q>, z.output<B>, z.output<H>>) => Promise<Reply | undefined> | Reply | undefined;
}

export interface RouteContext<P, Q, B, H> {
  params: P;
  query: Q;
  body: B;
  headers: H;
  /** Set on every route with `auth` (the default). */
  principal: Principal;
  req: Request;
  res: Response;
  /** Throws 404 (outside the caller's scope: `what` does not exist for it) or 403 unless allowed. */
  allow(action: Action, resource: Resource, what: string): void;
}

export const errorBodySchema = z
  .object({
    code: z.string().meta({ description: 'A code of the hub catalogue, e.g. HUB_ERR_NOT_FOUND' }),
    message: z.string(),
    details: z.record(z.string(), z.unknown()),
  })
  .meta({ id: 'Error' });

const ERROR_RESPONSES = {
  400: 'The request is not valid (details.issues says where and why)',
  401: 'No valid token or session',
  403: 'The caller may see this but not do this (or a change with a session cookie lacks X-CSRF-Token: HUB_ERR_CSRF)',
  404: 'Not found, or outside the caller\'s scope',
} as const;

export function allowOrThrow(principal: Principal, action: Action, resource: Resource, what: string): void {
  const d = authorize(principal, action, resource);
  if (d === 'not_found') throw notFound(what);
  if (d === 'forbidden') throw forbidden(`${principal.role} ${principal.user} may not ${action} ${what}`);
}

const expressPath = (p: string): string => p.replace(/\{([A-Za-z0-9_]+)\}/g, ':$1');

export interface RouteTable {
  readonly router: Router;
  readonly openapi: OpenAPIRegistry;
  /** method and OpenAPI path of every route, in the order declared. */
  readonly declared: Array<{ method: Method; path: string }>;
  /** `METHOD path` of the routes without authentication (the app lets them through unauthenticated). */
  readonly open: Set<string>;
  /** Finds the caller of a request (the app's authentication). */
  readonly authenticate: (req: Request) => Principal;
}

export function route<P extends z.ZodType = z.ZodObject<{}>, Q extends z.ZodType = z.ZodObject<{}>, B extends z.ZodType = z.ZodUndefined, H extends z.ZodType = z.ZodObject<{}>>(
  table: RouteTable,
  spec: RouteSpec<P, Q, B, H>,
): void {
  const auth = spec.auth ?? true;
  if (auth === false) table.open.add(`${spec.method.toUpperCase()} ${spec.path}`);
  const responses: RouteConfig['responses'] = {};
  for (const [status, r] of Object.entries(spec.responses)) {
    responses[status] = r.schema ? { description: r.description, content: { [r.mediaType ?? 'application/json']: { schema: r.schema } } } : { description: r.description };
  }
  for (const [status, description] of Object.entries(ERROR_RESPONSES)) {
    if (!auth && status !== '400') continue;
    responses[status] ??= { description, content: { 'application/json': { schema: errorBodySchema } } };
  }
  table.openapi.registerPath({
    method: spec.method,
    path: spec.path,
    summary: spec.summary,
    tags: [spec.tag],
    ...(auth === 'session' ? { security: [{ session: [] }] } : auth ? { security: [{ bearer: [] }, { session: [] }] } : {}),
    request: {
      ...(spec.params ? { params: spec.params as unknown as z.ZodObject } : {}),
      ...(spec.query ? { query: spec.query as unknown as z.ZodObject } : {}),
      ...(spec.headers ? { headers: spec.headers as unknown as z.ZodObject } : {}),
      ...(spec.body ? { body: { required: true, content: { [spec.bodyMediaType ?? 'application/json']: { schema: spec.body } } } } : {}),
    },
    responses,
  });
  table.declared.push({ method: spec.method, path: spec.path });

  table.router[spec.method](expressPath(spec.path), async (req: Request, res: Response, next: (e?: unknown) => void) => {
    try {
      const principal = auth ? table.authenticate(req) : (undefined as unknown as Principal);
      const parse = <S extends z.ZodType>(schema: S | undefined, value: unknown, where: 'path' | 'query' | 'header' | 'body'): z.output<S> => {
        if (!schema) return undefined as z.output<S>;
        const r = schema.safeParse(value);
        if (!r.success) throw invalid(where, r.error);
        return r.data;
      };
      const params = parse(spec.params, req.params, 'path');
      const query = parse(spec.query, { ...(req.query as object) }, 'query');
      const headers = parse(spec.headers, req.headers, 'header');
      let bodyIn: unknown = req.body;
      if (spec.body && spec.bodyMediaType === undefined && (req.body === undefined || !req.is('application/json'))) {
        throw new ApiError(415, 'HUB_ERR_UNSUPPORTED_MEDIA_TYPE', 'the body must be application/json');
      }
      if (spec.bodyMediaType !== undefined && !Buffer.isBuffer(bodyIn)) {
        throw new ApiError(415, 'HUB_ERR_UNSUPPORTED_MEDIA_TYPE', `the body must be ${spec.bodyMediaType}`);
      }
      const body = parse(spec.body, bodyIn, 'body');
      const reply = await spec.handler({
        params,
        query,
        body,
        headers,
        principal,
        req,
        res,
        allow: (action, resource, what) => allowOrThrow(principal, action, resource, what),
      });
      if (reply === undefined || res.headersSent) return; // the handler answered itself (a stream)
      for (const [k, v] of Object.entries(reply.headers ?? {})) res.setHeader(k, v);
      if (reply.body === undefined) res.status(reply.status).end();
      else if (reply.contentType && reply.contentType !== 'application/json') res.status(reply.status).type(reply.contentType).send(reply.body);
      else res.status(reply.status).json(reply.body);
    } catch (e) {
      next(e);
    }
  });
}

/** The shared pagination query: `limit` (1–1000, 100 by default) and an opaque `cursor`. */
export const pageQuery = z.object({
  limit: z.coerce.number().int().min(1).max(1000).default(100).meta({ description: 'Items per page, 1–1000' }),
  cursor: z.string().min(1).max(512).optional().meta({ description: 'nextCursor of the previous page' }),
});

export const pageOf = <T extends z.ZodType>(item: T, id: string) =>
  z.object({ items: z.array(item), nextCursor: z.string().nullable().meta({ description: 'null on the last page' }) }).meta({ id });
