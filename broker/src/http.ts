import { createServer, type Server } from 'node:http';
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

export interface HttpDeps {
  counters: HubCounters;
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

/** The HTTP listener; port -1 disables it. */
export class HttpEndpoint implements Feature {
  readonly #cfg: { host: string; port: number };
  readonly #deps: HttpDeps;
  #server: Server | undefined;
  port = -1;

  constructor(cfg: { host: string; port: number }, deps: HttpDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
  }

  async start(): Promise<void> {
    if (this.#cfg.port < 0) return;
    const { host, port } = this.#cfg;
    this.#server = createServer(createHttpApp(this.#deps));
    this.port = await listen(this.#server, port, host, (cause) => listenError('HTTP', host, port, cause));
  }

  async stop(): Promise<void> {
    if (this.#server) await closeServer(this.#server);
  }
}
