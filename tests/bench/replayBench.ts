/**
 * `npm run bench:replay`: how fast a gateway's durable outbox takes in a backlog while the WAN is
 * down, and how long its replay takes once the link is back, at two replay rates side by side.
 * Real hub process, real InfluxDB, the gateway's FileOutbox with fsync `always`.
 *
 *   BENCH_REPLAY_DEVICES (300: one school), BENCH_REPLAY_SAMPLES (200 per device),
 *   BENCH_REPLAY_RATES (`2000,20000` records/s).
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { z } from 'zod';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { DeviceStream } from '../../device-sim/src/telemetry.ts';
import { createGateway } from '../../gateway/src/gateway.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { startHubProcess } from '../harness/hubProcess.ts';
import { startInflux } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, gatewayPassword, influxQuery, TEST_SCRYPT } from '../harness/stack.ts';
import { startTcpProxy } from '../harness/tcpProxy.ts';

const cfg = loadConfigOrExit(() =>
  parseEnvConfig(
    z.object({
      BENCH_REPLAY_DEVICES: envInt(300, 1, 10_000),
      BENCH_REPLAY_SAMPLES: envInt(200, 1, 100_000),
      BENCH_REPLAY_RATES: z.string().default('2000,20000'),
    }),
    process.env,
  ),
);
const rates = cfg.BENCH_REPLAY_RATES.split(',').map(Number);
// One school with BENCH_REPLAY_DEVICES network nodes… and classrooms: rooms × 2 + 2 + 2.
const rooms = Math.max(1, Math.floor((cfg.BENCH_REPLAY_DEVICES - 4) / 2));
const fleet = generateFleet({ seed: 8, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 1, roomsPerSchool: rooms, vrKitsPerSchool: 2, accessSwitchesPerSchool: 1 });
const school = fleet.schools[0]!;
const devices = school.devices;
const influx = await startInflux({ forceLocal: !process.env['INFLUX_URL'] });
const results: unknown[] = [];

for (const rate of rates) {
  const dir = mkdtempSync(join(tmpdir(), 'replay-bench-'));
  const db = `replay_${rate}`;
  const registry = new Registry(join(dir, 'registry.sqlite'));
  await provisionFleet(registry, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
  registry.close();
  const hub = await startHubProcess({ HUB_REGISTRY_PATH: join(dir, 'registry.sqlite'), INFLUX_URL: influx.url, INFLUX_DB: db, LOG_LEVEL: 'warn' }, join(dir, 'hub.log'));
  const proxy = await startTcpProxy(hub.mqttPort);
  proxy.cut(); // the WAN is down while the backlog builds
  const gw = createGateway(
    {
      ...gatewayConfig(school, proxy.port),
      outbox: { dir: join(dir, 'outbox'), maxBytes: 4 * 2 ** 30, maxAgeMs: 30 * 86_400_000, segmentBytes: 8 << 20, fsync: 'always', fsyncIntervalMs: 200 },
      replayRatePerSec: rate,
      replayJitterMs: 0,
    },
    { log: silentLogger() },
  );
  await gw.start();

  // Each device publishes its samples (QoS 1, acknowledged after the outbox fsync), device
  // timestamps 30 s apart ending now: a backlog of samples × 30 s of device time.
  const t0 = Date.now();
  const start = t0 - cfg.BENCH_REPLAY_SAMPLES * 30_000;
  await Promise.all(
    devices.map(async (d) => {
      const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: d.id, protocolVersion: 4, reconnectPeriod: 0 });
      const stream = new DeviceStream(d, 8);
      for (let k = 0; k < cfg.BENCH_REPLAY_SAMPLES; k++) {
        await client.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(stream.next(start + k * 30_000)), { qos: 1 });
      }
      await client.endAsync();
    }),
  );
  const appendSecs = (Date.now() - t0) / 1000;
  const backlog = gw.outbox.size();
  const bytes = gw.outbox.bytes();

  const r0 = Date.now();
  proxy.restore();
  await waitFor('backlog replayed', async () => (gw.outbox.size() === 0 ? true : undefined), { timeoutMs: 3_600_000, intervalMs: 50 });
  const replaySecs = (Date.now() - r0) / 1000;
  const series = await influxQuery(influx.url, db, 'SELECT count(seq) FROM classroom_av, interactive_board, vr_kit, network_node');
  const stored = series.reduce((n, s) => n + Number(s.values[0]![1]), 0);
  results.push({
    replayRateLimit: rate,
    backlogRecords: backlog,
    backlogMiB: Number((bytes / 2 ** 20).toFixed(1)),
    outboxAppendPerSecond: Math.round(backlog / appendSecs),
    replaySeconds: Number(replaySecs.toFixed(2)),
    replayRecordsPerSecond: Math.round(backlog / replaySecs),
    storedInInflux: stored,
  });
  await gw.stop();
  await proxy.stop();
  await hub.stop();
  rmSync(dir, { recursive: true, force: true });
}
await influx.stop();
process.stdout.write(`${JSON.stringify({ devices: devices.length, samplesPerDevice: cfg.BENCH_REPLAY_SAMPLES, runs: results }, null, 2)}\n`);
process.exit(0);
