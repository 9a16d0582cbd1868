import { createServer, type Server } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { Logger } from 'pino';
import express, { type Express } from 'express';
import { consoleRouter } from '../../console/src/server.ts';
import { metricsText } from '../../runtime/src/counters.ts';
import { closeServer, listen } from '../../runtime/src/ports.ts';
import { listenError } from './errors.ts';
import type { Feature } from './features/feature.ts';
import type { HubCounters } from './metrics.ts';
import type { InfluxWriter } from './influx/writer.ts';
import type { Presence } from './presence.ts';
import type { ApiRouter } from './api/app.ts';
import { loadTlsContext, watchTlsFiles, type TlsFiles } from './listeners.ts';

/** HTTPS for the API and the console: the hub's certificate (the MQTT listeners'), no client certificates. */
export interface HttpsConfig {
  /** 0 picks a free port. */
  port: number;
  tls: Pick<TlsFiles, 'certFile' | 'keyFile'>;
  reloadCheckMs: number;
}

export interface HttpDeps {
  counters: HubCounters;
  log: Logger;
  presence: Presence;
  writer: InfluxWriter;
  connectedClients: () => number;
  /** Why storage cannot take writes yet (database not set up); undefined when it can. */
  storageDegraded: () => string | undefined;
  /** The management API, mounted at /api/v1 (built when the listener starts: its routes read the registry). */
  api: () => ApiRouter;
}

/** Health and metrics for operators and probes; the management API under /api/v1. */
function createHttpApp(deps: HttpDeps): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health', (_req, res) => {
    // Degraded while the database is not set up or writes fail: publishes are then held
    // unacknowledged (gateways keep them).
    const setup = deps.storageDegraded();
    const influxError = deps.writer.lastError;
    const reason = setup ?? (influxError ? `InfluxDB writes failing: ${influxError.message}` : undefined);
    res.status(reason ? 503 : 200).json({
      status: reason ? 'degraded' : 'ok',
      ...(reason ? { reason } : {}),
      ...(influxError ? { influxError } : {}),
      connectedClients: deps.connectedClients(),
      gatewaysOnline: deps.presence.list().filter((p) => p.state === 'online').length,
      influx: deps.writer.stats,
    });
  });
  app.use('/api/v1', deps.api().router);
  app.use('/console', consoleRouter());
  app.get('/', (_req, res) => res.redirect(302, '/console/'));
  app.get('/metrics', async (_req, res) => {
    const m = await metricsText(deps.counters.registry);
    res.type(m.contentType).send(m.body);
  });
  return app;
}

/**
 * The HTTP listener (port -1 disables it) and, when configured, the same app over HTTPS, whose
 * certificates are reloaded when their files change. Over HTTPS `req.secure` is true, so the
 * console's session cookie is `Secure` there.
 */
export class HttpEndpoint implements Feature {
  readonly #cfg: { host: string; port: number; https?: HttpsConfig | undefined };
  readonly #deps: HttpDeps;
  #server: Server | undefined;
  #httpsServer: HttpsServer | undefined;
  #reload: NodeJS.Timeout | undefined;
  port = -1;
  httpsPort = -1;

  constructor(cfg: { host: string; port: number; https?: HttpsConfig | undefined }, deps: HttpDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
  }

  async start(): Promise<void> {
    const { host, port, https } = this.#cfg;
    if (port < 0 && !https) return;
    const app = createHttpApp(this.#deps);
    try {
      if (port >= 0) {
        this.#server = createServer(app);
        this.port = await listen(this.#server, port, host, (cause) => listenError('HTTP', host, port, cause));
      }
      if (https) {
        const files: TlsFiles = { ...https.tls, clientCert: 'off' };
        this.#httpsServer = createHttpsServer({ ...loadTlsContext(files), minVersion: 'TLSv1.2' }, app);
        this.httpsPort = await listen(this.#httpsServer, https.port, host, (cause) => listenError('HTTPS', host, https.port, cause));
        this.#reload = watchTlsFiles(files, [this.#httpsServer], https.reloadCheckMs, this.#deps);
      }
    } catch (e) {
      // The root does not stop a feature whose start threw: what this start opened closes here.
      await this.stop();
      throw e;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.#reload);
    if (this.#server) await closeServer(this.#server);
    if (this.#httpsServer) await closeServer(this.#httpsServer);
    this.#server = undefined;
    this.#httpsServer = undefined;
  }
}
