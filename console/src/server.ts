import { createHash } from 'node:crypto';
import { readFileSync, statSync } from 'node:fs';
import { stripTypeScriptTypes } from 'node:module';
import { extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import express, { type Request, type Response, type Router } from 'express';

/**
 * The web console (docs/design.md#users): a single page served by the hub under /console, using
 * only the management API. Browser modules are TypeScript with their types stripped on first
 * request (no build step); vendor modules come from node_modules through an import map.
 */

const WEB_DIR = fileURLToPath(new URL('./web/', import.meta.url));
const NODE_MODULES = fileURLToPath(new URL('../../node_modules/', import.meta.url));

/** Each vendor module the browser may load: import-map specifier → file under node_modules. */
export const VENDOR: ReadonlyArray<{ specifier: string; pkg: string; file: string }> = [
  { specifier: 'preact', pkg: 'preact', file: 'dist/preact.module.js' },
  { specifier: 'preact/hooks', pkg: 'preact', file: 'hooks/dist/hooks.module.js' },
  { specifier: 'htm', pkg: 'htm', file: 'dist/htm.module.js' },
  { specifier: 'uplot', pkg: 'uplot', file: 'dist/uPlot.esm.js' },
];
const VENDOR_CSS = { pkg: 'uplot', file: 'dist/uPlot.min.css' };

const versionOf = (pkg: string): string => (JSON.parse(readFileSync(join(NODE_MODULES, pkg, 'package.json'), 'utf8')) as { version: string }).version;
/** A vendor file's URL carries its package version, so it may be cached for good. */
const vendorUrl = (pkg: string, file: string): string => `/console/vendor/${pkg}@${versionOf(pkg)}/${file}`;

export const CSP = (importMapHash: string): string =>
  [
    "default-src 'self'",
    // The import map is the one inline script; it is allowed by its hash only.
    `script-src 'self' '${importMapHash}'`,
    "style-src 'self'",
    "img-src 'self' data:",
    "connect-src 'self'",
    "font-src 'self'",
    "object-src 'none'",
    "base-uri 'none'",
    "form-action 'self'",
    "frame-ancestors 'none'",
  ].join('; ');

function indexHtml(): { html: string; csp: string } {
  const imports = Object.fromEntries(VENDOR.map((v) => [v.specifier, vendorUrl(v.pkg, v.file)]));
  const map = JSON.stringify({ imports });
  const hash = `sha256-${createHash('sha256').update(map).digest('base64')}`;
  const html = `<!doctype html>
<html lang="zh-CN">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Campus IoT console</title>
<link rel="stylesheet" href="${vendorUrl(VENDOR_CSS.pkg, VENDOR_CSS.file)}">
<link rel="stylesheet" href="/console/app/styles.css">
<link rel="icon" href="data:,">
<script type="importmap">${map}</script>
<script type="module" src="/console/app/main.ts"></script>
</head>
<body><div id="app"></div><noscript>This console needs JavaScript.</noscript></body>
</html>
`;
  return { html, csp: CSP(hash) };
}

const TYPES: Record<string, string> = { '.ts': 'text/javascript; charset=utf-8', '.js': 'text/javascript; charset=utf-8', '.css': 'text/css; charset=utf-8' };

/** Stripped modules by path, kept while the file's mtime and size hold. */
const cache = new Map<string, { stamp: string; body: string; etag: string }>();

function load(path: string): { body: string; etag: string } | undefined {
  let st;
  try {
    st = statSync(path);
  } catch {
    return undefined;
  }
  if (!st.isFile()) return undefined;
  const stamp = `${st.mtimeMs}:${st.size}`;
  const hit = cache.get(path);
  if (hit?.stamp === stamp) return hit;
  const src = readFileSync(path, 'utf8');
  const body = path.endsWith('.ts') ? stripTypeScriptTypes(src, { mode: 'strip' }) : src;
  const entry = { stamp, body, etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 22)}"` };
  cache.set(path, entry);
  return entry;
}

/** A path inside `root`, or undefined for one that climbs out of it. */
function inside(root: string, rel: string): string | undefined {
  const p = normalize(join(root, rel));
  return p.startsWith(root.endsWith(sep) ? root : root + sep) ? p : undefined;
}

function security(res: Response, csp: string): void {
  res.set({
    'content-security-policy': csp,
    'x-content-type-options': 'nosniff',
    'referrer-policy': 'no-referrer',
    'x-frame-options': 'DENY',
    'cross-origin-opener-policy': 'same-origin',
  });
}

/** The console's router, mounted by the hub at /console. */
export function consoleRouter(): Router {
  const router = express.Router({ strict: true });
  const { html, csp } = indexHtml();
  const vendorFiles = new Map([...VENDOR, VENDOR_CSS].map((v) => [vendorUrl(v.pkg, v.file).slice('/console'.length), join(NODE_MODULES, v.pkg, v.file)]));

  const send = (req: Request, res: Response, file: string | undefined, cacheControl: string): void => {
    const f = file === undefined ? undefined : load(file);
    security(res, csp);
    if (!f) {
      res.status(404).type('text/plain').set('cache-control', 'no-store').send('not found');
      return;
    }
    res.set({ 'content-type': TYPES[extname(file!)] ?? 'application/octet-stream', 'cache-control': cacheControl, etag: f.etag });
    if (req.headers['if-none-match'] === f.etag) {
      res.status(304).end();
      return;
    }
    res.send(f.body);
  };

  router.get('/vendor/{*rest}', (req, res) => send(req, res, vendorFiles.get(req.path), 'public, max-age=31536000, immutable'));
  // The app's own modules change with the hub: revalidated on every load (ETag).
  router.get('/app/{*rest}', (req, res) => {
    const rel = req.path.slice('/app/'.length);
    const file = /^[\w/.-]+\.(ts|css)$/.test(rel) && !rel.includes('..') ? inside(WEB_DIR, rel) : undefined;
    send(req, res, file, 'no-cache');
  });
  // Every other path is a page of the single-page app.
  router.get('/{*page}', (_req, res) => {
    security(res, csp);
    res.set({ 'content-type': 'text/html; charset=utf-8', 'cache-control': 'no-cache' }).send(html);
  });
  return router;
}
