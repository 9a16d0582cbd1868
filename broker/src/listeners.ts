import { readFileSync, statSync } from 'node:fs';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import { createServer as createTcpServer, type Server } from 'node:net';
import type { Duplex } from 'node:stream';
import { createServer as createTlsServer, type SecureContextOptions, type TLSSocket } from 'node:tls';
import type { IncomingMessage } from 'node:http';
import type { Logger } from 'pino';
import { createWebSocketStream, WebSocketServer } from 'ws';
import { listen } from '../../runtime/src/ports.ts';
import { peerCert, rememberClientCert } from './clientCert.ts';
import { HubError, HubErrorCode, listenError } from './errors.ts';
import type { HubCounters } from './metrics.ts';

/** Client certificates on the TLS listeners: not asked for, checked when given, or required. */
export type ClientCertMode = 'off' | 'optional' | 'required';

export interface TlsFiles {
  certFile: string;
  keyFile: string;
  /** The CA that signs gateways' client certificates (mTLS); needed unless clientCert is off. */
  clientCaFile?: string | undefined;
  clientCert: ClientCertMode;
}

export interface ListenersConfig {
  host: string;
  /** Plain MQTT over TCP; 0 picks a free port, -1 turns it off. */
  tcpPort: number;
  /** MQTT over TLS; 0 picks a free port, -1 turns it off. Needs `tls`. */
  tlsPort: number;
  /** MQTT over secure WebSocket; 0 picks a free port, -1 turns it off. Needs `tls`. */
  wssPort: number;
  /** The WebSocket's HTTP path. */
  wssPath: string;
  tls?: TlsFiles | undefined;
  /** How often the certificate files are checked for a change. */
  reloadCheckMs: number;
}

/** Every stream Aedes serves, whatever listener it came from. */
export type StreamHandler = (stream: Duplex, req?: IncomingMessage) => void;

/**
 * Reads the certificate, key and client CA. A key readable by group or others is refused: the
 * hub's identity would be one `cat` away from every account on the host.
 */
export function loadTlsContext(files: TlsFiles): SecureContextOptions {
  let mode: number;
  try {
    mode = statSync(files.keyFile).mode;
  } catch (e) {
    throw new HubError(HubErrorCode.TLS_FILES, `TLS key ${files.keyFile} cannot be read: ${(e as Error).message}`, { cause: e });
  }
  if ((mode & 0o077) !== 0) {
    throw new HubError(HubErrorCode.TLS_KEY_PERMISSIONS, `TLS key ${files.keyFile} is readable by group or others (mode ${(mode & 0o777).toString(8)}); chmod 600 it`);
  }
  try {
    return {
      cert: readFileSync(files.certFile),
      key: readFileSync(files.keyFile),
      ...(files.clientCert !== 'off' && files.clientCaFile ? { ca: readFileSync(files.clientCaFile) } : {}),
    };
  } catch (e) {
    throw new HubError(HubErrorCode.TLS_FILES, `TLS files cannot be read: ${(e as Error).message}`, { cause: e });
  }
}

/** What identifies a version of the files: a replaced or rewritten file changes one of these. */
function fingerprint(files: TlsFiles): string {
  return [files.certFile, files.keyFile, files.clientCaFile]
    .filter((f): f is string => f !== undefined)
    .map((f) => {
      try {
        const s = statSync(f);
        return `${s.ino}:${s.size}:${s.mtimeMs}`;
      } catch {
        return 'missing';
      }
    })
    .join('|');
}

/**
 * Reloads `servers`' certificates when their files change (new connections get the new ones;
 * open ones keep theirs); a half-written or wrongly permitted set leaves the ones in force.
 * Returns the timer (unref'd), for clearInterval.
 */
export function watchTlsFiles(
  tls: TlsFiles,
  servers: ReadonlyArray<{ setSecureContext(o: SecureContextOptions): void }>,
  checkMs: number,
  deps: { counters: HubCounters; log: Logger },
): NodeJS.Timeout {
  let seen = fingerprint(tls);
  const timer = setInterval(() => {
    const now = fingerprint(tls);
    if (now === seen) return;
    seen = now;
    try {
      const context = loadTlsContext(tls);
      for (const s of servers) s.setSecureContext(context);
      deps.counters.inc('tls_reloads', { result: 'ok' });
      deps.log.info({ certFile: tls.certFile }, 'TLS certificates reloaded');
    } catch (err) {
      deps.counters.inc('tls_reloads', { result: 'failed' });
      deps.log.error({ err }, 'TLS certificates not reloaded; the previous ones stay in use');
    }
  }, checkMs);
  timer.unref();
  return timer;
}

/**
 * The hub's MQTT listeners: plain TCP, TLS and secure WebSocket, each handing its streams to
 * Aedes. Certificates are reloaded when their files change (new connections get the new ones;
 * open ones keep theirs). With client certificates on, a connection whose certificate the
 * client CA does not sign is cut before MQTT sees it; a trusted one is remembered for the
 * login check (clientCert.ts).
 */
export class Listeners {
  readonly #cfg: ListenersConfig;
  readonly #counters: HubCounters;
  readonly #log: Logger;
  readonly #servers: Array<Server | HttpsServer> = [];
  #wss: WebSocketServer | undefined;
  #reloadTimer: NodeJS.Timeout | undefined;
  tcpPort = -1;
  tlsPort = -1;
  wssPort = -1;

  constructor(cfg: ListenersConfig, deps: { counters: HubCounters; log: Logger }) {
    this.#cfg = cfg;
    this.#counters = deps.counters;
    this.#log = deps.log;
  }

  async start(handle: StreamHandler): Promise<void> {
    const { host, tls } = this.#cfg;
    const bind = (server: Server | HttpsServer, port: number): Promise<number> => {
      this.#servers.push(server);
      return listen(server, port, host, (cause) => listenError('MQTT', host, port, cause));
    };
    if (this.#cfg.tcpPort >= 0) this.tcpPort = await bind(createTcpServer(handle), this.#cfg.tcpPort);
    if (!tls || (this.#cfg.tlsPort < 0 && this.#cfg.wssPort < 0)) return;
    if (!tls.keyFile) throw new HubError(HubErrorCode.TLS_FILES, 'a TLS certificate needs its key file (HUB_TLS_KEY_FILE)');
    if (tls.clientCert !== 'off' && !tls.clientCaFile) throw new HubError(HubErrorCode.TLS_FILES, 'client certificates need a client CA file (HUB_TLS_CLIENT_CA_FILE)');
    const context = loadTlsContext(tls);
    // The decision on a client certificate is the hub's (counted and logged), not the handshake's.
    const options = { ...context, requestCert: tls.clientCert !== 'off', rejectUnauthorized: false, minVersion: 'TLSv1.2' as const };
    const secure: Array<{ setSecureContext(o: SecureContextOptions): void }> = [];
    if (this.#cfg.tlsPort >= 0) {
      const server = createTlsServer(options, (socket) => {
        if (this.#admit(socket, socket)) handle(socket);
      });
      server.on('tlsClientError', (err) => this.#refused('handshake', err.message));
      secure.push(server);
      this.tlsPort = await bind(server, this.#cfg.tlsPort);
    }
    if (this.#cfg.wssPort >= 0) {
      const server = createHttpsServer(options);
      server.on('tlsClientError', (err) => this.#refused('handshake', err.message));
      const wss = new WebSocketServer({ server, path: this.#cfg.wssPath });
      this.#wss = wss;
      wss.on('connection', (ws, req) => {
        const stream = createWebSocketStream(ws);
        if (this.#admit(req.socket as TLSSocket, stream)) handle(stream, req);
        else ws.terminate();
      });
      secure.push(server);
      this.wssPort = await bind(server, this.#cfg.wssPort);
    }
    this.#watch(tls, secure);
  }

  /** Whether a TLS connection may reach MQTT; a trusted client certificate is remembered on `conn`. */
  #admit(socket: TLSSocket, conn: Duplex): boolean {
    const mode = this.#cfg.tls?.clientCert ?? 'off';
    if (mode === 'off') return true;
    const cert = peerCert(socket);
    if (!cert) {
      if (mode === 'optional') return true;
      this.#refused('missing', 'no client certificate', socket);
      return false;
    }
    if (!socket.authorized) {
      this.#refused('untrusted', String(socket.authorizationError), socket, cert.subject);
      return false;
    }
    rememberClientCert(conn, cert);
    return true;
  }

  #refused(reason: 'handshake' | 'missing' | 'untrusted', detail: string, socket?: TLSSocket, subject?: string): void {
    this.#counters.inc('tls_refused', { reason });
    this.#log.warn({ reason, detail, remote: socket?.remoteAddress, subject }, 'TLS connection refused');
    socket?.destroy();
  }

  #watch(tls: TlsFiles, servers: Array<{ setSecureContext(o: SecureContextOptions): void }>): void {
    this.#reloadTimer = watchTlsFiles(tls, servers, this.#cfg.reloadCheckMs, { counters: this.#counters, log: this.#log });
  }

  async stop(): Promise<void> {
    clearInterval(this.#reloadTimer);
    this.#wss?.close();
    const closed = Promise.all(this.#servers.map((s) => new Promise<void>((resolve) => (s.listening ? s.close(() => resolve()) : resolve()))));
    for (const s of this.#servers) if ('closeAllConnections' in s) s.closeAllConnections();
    await closed;
    this.#servers.length = 0;
  }
}
