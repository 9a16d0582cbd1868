import { createServer, type Server } from 'node:http';
import { closeServer, listen } from '../../runtime/src/ports.ts';
import { listenError } from './errors.ts';

export interface HealthServerDeps {
  /** The `/health` body (JSON). */
  health: () => object;
  /** The `/metrics` exposition (Prometheus text format). */
  metrics: () => Promise<{ contentType: string; body: string }>;
}

/**
 * The local endpoint for campus IT: `GET /health` (JSON) and `GET /metrics` (Prometheus), no
 * authentication, bound to GW_HEALTH_HOST; anything else is 404. Port -1 disables it.
 */
export class HealthServer {
  readonly #cfg: { host: string; port: number };
  readonly #d: HealthServerDeps;
  #server: Server | undefined;
  port = -1;

  constructor(cfg: { host: string; port: number }, deps: HealthServerDeps) {
    this.#cfg = cfg;
    this.#d = deps;
  }

  async start(): Promise<void> {
    if (this.#cfg.port < 0) return;
    this.#server = createServer((req, res) => {
      if (req.method === 'GET' && req.url === '/health') {
        res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(this.#d.health()));
      } else if (req.method === 'GET' && req.url === '/metrics') {
        this.#d.metrics().then(
          (m) => res.writeHead(200, { 'content-type': m.contentType }).end(m.body),
          () => res.writeHead(500).end(),
        );
      } else {
        res.writeHead(404).end();
      }
    });
    const { host, port } = this.#cfg;
    this.port = await listen(this.#server, port, host, (cause) => listenError('the health endpoint', host, port, cause));
  }

  async stop(): Promise<void> {
    const s = this.#server;
    this.#server = undefined;
    if (!s) return;
    await closeServer(s);
  }
}
