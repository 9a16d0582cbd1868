import { authorize } from '../../auth/authorize.ts';
import type { ApiDeps } from '../deps.ts';
import { route, type RouteTable } from '../route.ts';

/** A comment line this often keeps proxies and clients from timing the stream out. */
export const HEARTBEAT_MS = 15_000;

/**
 * The live stream (server-sent events): `presence` (a PresenceEvent) and `command` (a
 * CommandOutcome) events in the caller's scope only. The listeners go when the client does.
 */
export function eventRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'get',
    path: '/events',
    summary: 'Presence changes and command outcomes in the caller\'s scope, as server-sent events',
    tag: 'status',
    responses: { 200: { description: '`event: presence` and `event: command`, each with one JSON object as data', mediaType: 'text/event-stream' } },
    handler: ({ principal, req, res }) => {
      const sees = (e: { district: string; school: string }): boolean => authorize(principal, 'read', { district: e.district, school: e.school }) === 'allow';
      res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'x-accel-buffering': 'no' });
      res.write(': connected\n\n');
      const send = (event: string, data: unknown): void => void res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
      const owner = {};
      deps.bus.onPresenceChanged(owner, ({ events }) => {
        for (const e of events) if (sees(e)) send('presence', e);
      });
      deps.bus.onCommandOutcome(owner, (o) => {
        if (sees(o)) send('command', o);
      });
      const heartbeat = setInterval(() => res.write(': heartbeat\n\n'), HEARTBEAT_MS);
      heartbeat.unref();
      const close = (): void => {
        clearInterval(heartbeat);
        deps.bus.removeListeners(owner);
      };
      req.on('close', close);
      res.on('close', close);
      return undefined;
    },
  });
}
