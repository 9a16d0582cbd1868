// Node-RED settings for the campus hub's flows. Every secret comes from the environment; the
// process refuses to start without them, so the editor is never open and the webhooks never
// unauthenticated. Loaded with `node-red --settings flows/node-red/settings.cjs`.
'use strict';
const { createHash, timingSafeEqual } = require('node:crypto');

function required(name) {
  const v = process.env[name];
  if (!v) throw new Error(`${name} must be set (see flows/README.md)`);
  return v;
}

/** Constant-time comparison of two strings (of any lengths). */
function same(a, b) {
  return timingSafeEqual(createHash('sha256').update(String(a)).digest(), createHash('sha256').update(String(b)).digest());
}

const MAX_BODY_BYTES = 1024 * 1024;
/** The key under which an unreadable JSON body reaches the flows (see functions/grafanaAlert.js). */
const MALFORMED = '__malformedJson';

const adminUser = process.env.NODE_RED_ADMIN_USER || 'admin';
const adminPassword = required('NODE_RED_ADMIN_PASSWORD');
const hookUser = required('NODERED_ALERT_WEBHOOK_USER');
const hookPassword = required('NODERED_ALERT_WEBHOOK_PASSWORD');

module.exports = {
  uiHost: process.env.NODE_RED_HOST || '127.0.0.1',
  uiPort: Number(process.env.NODE_RED_PORT || 1880),
  credentialSecret: required('NODE_RED_CREDENTIAL_SECRET'),
  // The editor and its admin API under /admin, the webhooks under /hooks: the admin API's own
  // body parser then never sees the webhooks' requests.
  httpAdminRoot: '/admin',
  httpNodeRoot: '/',
  flowFilePretty: true,
  // The editor and its admin API: one operator account, password from the environment.
  adminAuth: {
    type: 'credentials',
    users: (username) => Promise.resolve(username === adminUser ? { username, permissions: '*' } : null),
    authenticate: (username, password) => Promise.resolve(username === adminUser && same(password, adminPassword) ? { username, permissions: '*' } : null),
  },
  // Every `http in` endpoint (the webhooks Grafana calls) needs HTTP basic authentication.
  httpNodeMiddleware(req, res, next) {
    const m = /^basic +(.+)$/i.exec(req.headers.authorization || '');
    const given = m ? Buffer.from(m[1], 'base64').toString('utf8') : '';
    if (!same(given, `${hookUser}:${hookPassword}`)) {
      res.set('WWW-Authenticate', 'Basic realm="campus-flows"');
      res.status(401).send('authentication required');
      return;
    }
    // JSON bodies are parsed here rather than by Node-RED's body parser, whose error page is a
    // stack trace and which never reaches the flow: malformed or oversize JSON reaches the flow
    // as { [MALFORMED]: reason }, to be refused with a 400 and counted there.
    if (req.method === 'POST' && !req._body && !req.readableEnded && /json/i.test(req.headers['content-type'] || '')) {
      const chunks = [];
      let size = 0;
      let tooBig = false;
      req.on('data', (c) => {
        size += c.length;
        if (size > MAX_BODY_BYTES) tooBig = true;
        else chunks.push(c);
      });
      req.on('error', next);
      req.on('end', () => {
        if (tooBig) req.body = { [MALFORMED]: `larger than ${MAX_BODY_BYTES} bytes` };
        else {
          try {
            req.body = JSON.parse(Buffer.concat(chunks).toString('utf8'));
          } catch {
            // Not the parser's message: it quotes the body back.
            req.body = { [MALFORMED]: 'malformed JSON' };
          }
        }
        req._body = true; // tells the body parsers the body is read
        next();
      });
      return;
    }
    next();
  },
  diagnostics: { enabled: false, ui: false },
  telemetry: { enabled: false },
  externalModules: { autoInstall: false, palette: { allowInstall: false }, modules: { allowInstall: false } },
  logging: { console: { level: process.env.NODE_RED_LOG_LEVEL || 'info', metrics: false, audit: false } },
  functionExternalModules: false,
};
