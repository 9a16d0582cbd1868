import { Validator } from '@seriousme/openapi-schema-validator';
import type { Router } from 'express';
import { describe, expect, it } from 'vitest';
import { createApiRouter } from '../../src/api/app.ts';
import type { ApiDeps } from '../../src/api/deps.ts';
import { fleetRoutes } from '../../src/api/routes/fleet.ts';
import { orgRoutes } from '../../src/api/routes/org.ts';
import { createHubCounters } from '../../src/metrics.ts';
import { silentLogger } from '../../../runtime/src/logging.ts';

/**
 * The OpenAPI document against what Express really serves: the routes are read from the
 * router's own stack (not from the list the route helper keeps), so a route added to Express
 * any other way is caught; and the document is checked by an independent OpenAPI 3.1 validator.
 */
function servedRoutes(router: Router): Array<{ method: string; path: string }> {
  const out: Array<{ method: string; path: string }> = [];
  for (const layer of router.stack as Array<{ route?: { path: string; methods: Record<string, boolean> } }>) {
    if (!layer.route) continue;
    for (const [m, on] of Object.entries(layer.route.methods)) if (on) out.push({ method: m, path: layer.route.path });
  }
  return out;
}

describe('the management API OpenAPI document', () => {
  // Routes only register here; no handler runs, so the features are never called.
  const deps = { registry: () => undefined, counters: createHubCounters(), log: silentLogger(), now: Date.now } as unknown as ApiDeps;
  const api = createApiRouter(deps, [orgRoutes, fleetRoutes]);
  const doc = api.document() as { openapi: string; paths: Record<string, Record<string, { responses: Record<string, unknown>; security?: unknown }>> };

  it('is valid OpenAPI 3.1', async () => {
    const result = await new Validator().validate(doc as never);
    expect(result.errors ?? []).toEqual([]);
    expect(result.valid).toBe(true);
    expect(doc.openapi).toBe('3.1.0');
  });

  it('describes every route Express serves, and nothing else', () => {
    const served = servedRoutes(api.router).map((r) => `${r.method.toUpperCase()} ${r.path.replace(/:([A-Za-z0-9_]+)/g, '{$1}')}`);
    const documented = Object.entries(doc.paths).flatMap(([path, ops]) => Object.keys(ops).map((m) => `${m.toUpperCase()} ${path}`));
    expect(served.length).toBeGreaterThan(0);
    expect([...documented].sort()).toEqual([...served].sort());
  });

  // Without authentication: the document and sign-in; a console session only: the session itself.
  const OPEN = ['get /openapi.json', 'post /session'];
  const SESSION_ONLY = ['get /session', 'delete /session'];

  it('gives every route but the open ones the bearer scheme (or a console session) and the error responses', () => {
    for (const [path, ops] of Object.entries(doc.paths)) {
      for (const [m, op] of Object.entries(ops)) {
        if (OPEN.includes(`${m} ${path}`)) continue;
        expect(op.security, `${m} ${path}`).toEqual(SESSION_ONLY.includes(`${m} ${path}`) ? [{ session: [] }] : [{ bearer: [] }, { session: [] }]);
        for (const s of ['400', '401', '403', '404']) expect(op.responses[s], `${m} ${path} ${s}`).toBeDefined();
      }
    }
  });

  it('describes sign-in, the session, sign-out and passwords', () => {
    const ops = Object.entries(doc.paths).flatMap(([path, o]) => Object.keys(o).map((m) => `${m} ${path}`));
    expect(ops).toEqual(expect.arrayContaining([...OPEN, ...SESSION_ONLY, 'put /users/{user}/password']));
    const signIn = doc.paths['/session']!['post']!;
    expect(signIn.security).toBeUndefined();
    for (const s of ['201', '400', '401', '429']) expect(signIn.responses[s], s).toBeDefined();
  });
});
