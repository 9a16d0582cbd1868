import { createHash } from 'node:crypto';
import { createServer, request, type IncomingHttpHeaders, type Server } from 'node:http';
import express from 'express';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { closeServer, listen } from '../../runtime/src/ports.ts';
import { consoleRouter, VENDOR } from '../src/server.ts';

function rawGet(url: string): Promise<{ status: number; headers: IncomingHttpHeaders }> {
  const u = new URL(url);
  const path = url.slice(url.indexOf('/', 'http://'.length));
  return new Promise((resolve, reject) => {
    const req = request({ host: u.hostname, port: u.port, path, method: 'GET' }, (res) => {
      res.resume();
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** What the hub serves under /console: the page, its modules, vendor files, and the headers. */
describe('consoleRouter', () => {
  let server: Server;
  let base: string;
  beforeAll(async () => {
    const app = express();
    app.use('/console', consoleRouter());
    server = createServer(app);
    base = `http://127.0.0.1:${await listen(server, 0, '127.0.0.1', (c) => c as Error)}/console`;
  });
  afterAll(async () => closeServer(server));

  it('serves index.html for every page path, with a CSP that allows only the import map inline', async () => {
    for (const p of ['/', '/devices', '/devices/yz-s01-r1-board', '/schools/%E6%B8%9D', '/no/such/page']) {
      const r = await fetch(`${base}${p}`);
      expect([p, r.status, r.headers.get('content-type')]).toEqual([p, 200, 'text/html; charset=utf-8']);
      const html = await r.text();
      const map = /<script type="importmap">(.*?)<\/script>/s.exec(html)![1]!;
      const hash = `sha256-${createHash('sha256').update(map).digest('base64')}`;
      const csp = r.headers.get('content-security-policy')!;
      expect(csp.split('; ')).toEqual(expect.arrayContaining(["default-src 'self'", `script-src 'self' '${hash}'`, "style-src 'self'", "connect-src 'self'", "frame-ancestors 'none'"]));
      expect(r.headers.get('x-content-type-options')).toBe('nosniff');
      expect(r.headers.get('cache-control')).toBe('no-cache');
      // Every asset the page names is on the hub: no scheme, no other host.
      expect([...html.matchAll(/(?:src|href)="([^"]+)"/g)].map((m) => m[1]).filter((u) => !u!.startsWith('/console/') && u !== 'data:,')).toEqual([]);
      expect(Object.values(JSON.parse(map).imports as Record<string, string>).every((u) => u.startsWith('/console/vendor/'))).toBe(true);
      // The only other inline script is none.
      expect([...html.matchAll(/<script(?![^>]*type="importmap")(?![^>]*\bsrc=)[^>]*>/g)]).toEqual([]);
    }
  });

  it('serves the browser modules with their types stripped, revalidated by ETag', async () => {
    const r = await fetch(`${base}/app/api.ts`);
    expect([r.status, r.headers.get('content-type'), r.headers.get('cache-control')]).toEqual([200, 'text/javascript; charset=utf-8', 'no-cache']);
    const body = await r.text();
    expect(body).toMatch(/export async function api\s*\(method\s*, path\s*, opts\s*= \{\}\)/);
    expect(body).not.toMatch(/export interface|: Promise<|as Session/);
    const again = await fetch(`${base}/app/api.ts`, { headers: { 'if-none-match': r.headers.get('etag')! } });
    expect(again.status).toBe(304);
    expect((await fetch(`${base}/app/styles.css`)).headers.get('content-type')).toBe('text/css; charset=utf-8');
  });

  it('serves each vendor module of the import map, cached for good under its version', async () => {
    const html = await (await fetch(`${base}/`)).text();
    const map = JSON.parse(/<script type="importmap">(.*?)<\/script>/s.exec(html)![1]!) as { imports: Record<string, string> };
    expect(Object.keys(map.imports).sort()).toEqual(VENDOR.map((v) => v.specifier).sort());
    for (const url of [...Object.values(map.imports), /href="(\/console\/vendor\/uplot[^"]+\.css)"/.exec(html)![1]!]) {
      const r = await fetch(`http://${new URL(base).host}${url}`);
      expect([url, r.status, r.headers.get('cache-control')]).toEqual([url, 200, 'public, max-age=31536000, immutable']);
      expect(r.headers.get('content-type')).toMatch(/^text\/(javascript|css)/);
    }
  });

  it('answers 404 for files it does not serve: another path under vendor, a climb out of the app, another type', async () => {
    for (const p of ['/vendor/preact@10.29.8/package.json', '/vendor/preact/dist/preact.module.js', '/app/../server.ts', '/app/%2e%2e/server.ts', '/app/pages/../../server.ts', '/app/missing.ts', '/app/main.js', '/app/pages']) {
      // Sent as written: fetch would resolve the dot segments before sending.
      const r = await rawGet(`${base}${p}`);
      expect([p, r.status]).toEqual([p, 404]);
      expect(r.headers['x-content-type-options']).toBe('nosniff');
    }
  });
});
