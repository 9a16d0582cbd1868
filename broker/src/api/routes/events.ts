import type { Principal } from '../../auth/authorize.ts';
import { authorize } from '../../auth/authorize.ts';
import { sessionRefusal } from '../../auth/sessions.ts';
import { sessionPolicyOf } from '../app.ts';
import { HubErrorCode } from '../../errors.ts';
import { ApiError } from '../apiError.ts';
import type { ApiDeps } from '../deps.ts';
import { route, type RouteTable } from '../route.ts';

/** A comment line this often keeps proxies and clients from timing the stream out. */
export const HEARTBEAT_MS = 15_000;
/** Open streams one user may hold; the next is 429. */
export const MAX_STREAMS_PER_USER = 8;
/** Bytes queued for a client that does not read before its stream is closed. */
export const MAX_BUFFERED_BYTES = 1 << 20;

/** Whether the token or session a stream was opened with still holds: not revoked, not expired, its user enabled. */
function stillValid(deps: ApiDeps, p: Principal): boolean {
  const reg = deps.registry();
  if (p.token !== undefined) {
    const t = reg.getToken(p.token);
    if (!t || t.revokedAt !== null || (t.expiresAt !== null && t.expiresAt <= deps.now())) return false;
  }
  const u = reg.getUser(p.user);
  if (p.session !== undefined) {
    // A stream is one long request: its idle time does not run while it is open.
    const s = reg.getSession(p.session);
    if (!s || sessionRefusal({ ...s, lastSeenAt: deps.now() }, u, deps.now(), sessionPolicyOf(deps)) !== undefined) return false;
  }
  return u !== undefined && u.disabledAt === null;
}

/**
 * The live stream (server-sent events): `presence` (a PresenceEvent) and `command` (a
 * CommandOutcome) events in the caller's scope only. The listeners go when the client does,
 * and the hub closes the stream when its token no longer holds or the client stops reading.
 */
export function eventRoutes(table: RouteTable, deps: ApiDeps): void {
  const open = new Map<string, number>();
  route(table, {
    method: 'get',
    path: '/events',
    summary: 'Presence changes and command outcomes in the caller\'s scope, as server-sent events',
    tag: 'status',
    responses: {
      200: { description: '`event: presence` and `event: command`, each with one JSON object as data', mediaType: 'text/event-stream' },
      429: { description: `The user already holds ${MAX_STREAMS_PER_USER} open streams (HUB_ERR_TOO_MANY_STREAMS)` },
    },
    handler: ({ principal, req, res }) => {
      const head = { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' };
      if (req.method === 'HEAD') {
        res.writeHead(200, head).end();
        return undefined;
      }
      const held = open.get(principal.user) ?? 0;
      if (held >= MAX_STREAMS_PER_USER) throw new ApiError(429, HubErrorCode.TOO_MANY_STREAMS, `user ${principal.user} already holds ${held} open event streams`, { limit: MAX_STREAMS_PER_USER });
      open.set(principal.user, held + 1);
      deps.counters.inc('api_stream_clients');
      const sees = (e: { district: string; school: string }): boolean => authorize(principal, 'read', { district: e.district, school: e.school }) === 'allow';
      let closed = false;
      const owner = {};
      const heartbeat = setInterval(() => write(': heartbeat\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      const close = (): void => {
        if (closed) return;
        closed = true;
        clearInterval(heartbeat);
        deps.bus.removeListeners(owner);
        const n = (open.get(principal.user) ?? 1) - 1;
        if (n > 0) open.set(principal.user, n);
        else open.delete(principal.user);
      };
      const shut = (reason: 'token' | 'backpressure'): void => {
        close();
        deps.counters.inc('api_stream_closed', { reason });
        if (reason === 'backpressure') res.destroy();
        else res.end();
      };
      function write(chunk: string): void {
        if (closed) return;
        if (!stillValid(deps, principal)) return shut('token');
        if (!res.write(chunk) && (res.socket?.writableLength ?? 0) > MAX_BUFFERED_BYTES) shut('backpressure');
      }
      req.on('close', close);
      res.on('close', close);
      res.writeHead(200, head);
      res.write(': connected\n\n');
      deps.bus.onPresenceChanged(owner, ({ events }) => {
        for (const e of events) if (sees(e)) write(`event: presence\ndata: ${JSON.stringify(e)}\n\n`);
      });
      deps.bus.onCommandOutcome(owner, (o) => {
        if (sees(o)) write(`event: command\ndata: ${JSON.stringify(o)}\n\n`);
      });
      return undefined;
    },
  });
}
