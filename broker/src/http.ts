import express, { type Express } from 'express';
import type { Aedes } from 'aedes';
import { metricsText } from '../../runtime/src/counters.ts';
import type { HubCounters } from './metrics.ts';
import type { InfluxWriter } from './influx/writer.ts';
import type { Presence } from './presence.ts';

/** Health and metrics for operators and probes (no device data: that is InfluxDB's). */
export function createHttpApp(deps: { counters: HubCounters; presence: Presence; writer: InfluxWriter; broker: Aedes }): Express {
  const app = express();
  app.disable('x-powered-by');
  app.get('/health', (_req, res) => {
    // Degraded while InfluxDB writes fail: publishes are then not acknowledged (gateways keep them).
    const degraded = deps.writer.lastError !== undefined;
    res.status(degraded ? 503 : 200).json({
      status: degraded ? 'degraded' : 'ok',
      ...(degraded ? { influxError: deps.writer.lastError } : {}),
      connectedClients: deps.broker.connectedClients,
      gatewaysOnline: deps.presence.list().filter((p) => p.state === 'online').length,
      influx: deps.writer.stats,
    });
  });
  // Presence of every gateway and its devices (loopback by default; scoped roles come with the API).
  app.get('/api/v1/presence', (_req, res) => {
    res.json(deps.presence.list().map((g) => ({ ...g, devices: deps.presence.devicesOf(g.gateway) })));
  });
  app.get('/metrics', async (_req, res) => {
    const m = await metricsText(deps.counters.registry);
    res.type(m.contentType).send(m.body);
  });
  return app;
}
