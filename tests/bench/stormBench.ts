/**
 * `npm run bench:storm`: the reconnect storm. BENCH_STORM_GATEWAYS (5,000) gateways, each a real
 * identity with its password in the registry (lean gateway-protocol clients in worker threads,
 * lean/leanGateway.ts, with the gateway's own back-off and replay jitter), log in once and are
 * handed their login tickets. Then the hub process is killed (`kill -9`); while it is down
 * (BENCH_STORM_DOWN_S, 10 s) every gateway's devices produce BENCH_STORM_BACKLOG (30) records each
 * (two devices per gateway); the hub is started again on the same registry and port, and the
 * bench measures, from that start: the time until every gateway is back (CONNACK 0), until every
 * backlog is acknowledged (PUBACK, which the hub sends once InfluxDB wrote the batch), the hub's
 * peak RSS meanwhile (VmHWM of the new process), its login counters, and the loss per device
 * counted in InfluxDB (must be 0). The storm runs twice: with the tickets, then
 * (BENCH_STORM_PASSWORDS=1, the default) with passwords only, as before tickets existed.
 *
 * The gateways retry as the gateway does (gateway/src/reconnectBackoff.ts: full jitter, the
 * ceiling doubling from 1 s to BENCH_STORM_RECONNECT_MAX_MS, 60 s as GW_RECONNECT_MAX_MS): after
 * an outage of 10 s some gateways have drawn waits of up to a minute, which is then the tail of
 * the storm whatever the hub does. A lower ceiling shows what the hub itself takes.
 *
 * Prints one JSON report. `runStormBench(opts)` returns the same figures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { readOpenFileLimit } from '../../broker/src/limits.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { startHubProcess, type HubProcess } from '../harness/hubProcess.ts';
import { influxQL, startInflux } from '../harness/influx.ts';
import { freePort } from '../harness/ports.ts';
import { hubCounters, LOGIN_COUNTERS } from './connectionsBench.ts';
import { checkOpenFiles, GATEWAY_CLIENT_DEFAULTS, lastAt, LeanWorkers, provisionGateways } from './lean/rig.ts';
import { percentile, procStats } from './procStats.ts';

export interface StormBenchOptions {
  gateways: number;
  workers: number;
  /** Records per device produced while the hub is down. */
  backlogPerDevice: number;
  downSec: number;
  /** Also a storm with passwords only. */
  passwords: boolean;
  /** The gateways' replay jitter (GW_REPLAY_JITTER_MS). */
  replayJitterMs: number;
  /** The ceiling of the gateways' reconnect back-off (GW_RECONNECT_MAX_MS). */
  reconnectMaxMs: number;
  timeoutSec: number;
  log?: (m: string) => void;
}

export interface StormFigures {
  login: 'ticket' | 'password';
  /** From the restarted hub's spawn until its /health answered. */
  hubStartSec: number;
  /** From the spawn until every gateway had its CONNACK 0. */
  allBackSec: number;
  /** From the spawn until every backlog record was acknowledged. */
  allReplayedSec: number;
  /** Gateways back, and backlogs acknowledged, by these many seconds after the spawn: p50, p90, p99. */
  backPercentilesSec: [number, number, number];
  replayedPercentilesSec: [number, number, number];
  backlogRecords: number;
  hubPeakRssMiB: number;
  hubRssAfterMiB: number;
  hub: Record<string, number>;
}

export interface StormBenchReport {
  bench: 'storm';
  gateways: number;
  machine: { cpus: number; loadavg: number[] };
  openFileLimit: number | undefined;
  provisionSec: number;
  downSec: number;
  replayJitterMs: number;
  reconnectMaxMs: number;
  storms: StormFigures[];
  /** Per device in InfluxDB, over every storm: records produced and not stored. */
  loss: { devices: number; generated: number; stored: number; lost: number; devicesWithLoss: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const round = (x: number): number => Math.round(x * 10) / 10;

export async function runStormBench(opts: StormBenchOptions): Promise<StormBenchReport> {
  const log = opts.log ?? ((m: string) => void process.stderr.write(`[storm] ${m}\n`));
  const limit = readOpenFileLimit();
  checkOpenFiles(opts.gateways, limit?.soft, log);
  const dir = mkdtempSync(join(tmpdir(), 'campus-storm-'));
  const influx = await startInflux({ forceLocal: !process.env['INFLUX_URL'] });
  const ports = { mqttPort: await freePort(), httpPort: await freePort() };
  let hub: HubProcess | undefined;
  let workers: LeanWorkers | undefined;
  try {
    const { registryPath, gateways, provisionMs } = await provisionGateways(opts.gateways, dir);
    log(`provisioned ${gateways.length} gateways in ${provisionMs} ms`);
    const startHub = (n: number): Promise<HubProcess> =>
      startHubProcess({ HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: 'storm', LOG_LEVEL: 'warn' }, join(dir, `hub-${n}.log`), ports);
    hub = await startHub(0);
    workers = new LeanWorkers(ports.mqttPort, gateways, opts.workers, { ...GATEWAY_CLIENT_DEFAULTS, replayJitterMs: opts.replayJitterMs, reconnectMaxMs: opts.reconnectMaxMs });
    const timeout = opts.timeoutSec * 1000;
    // Every gateway in once with its password (32 at a time, the hub's check queue), handed its ticket.
    const first = workers.all('allConnected', timeout);
    const tickets = workers.all('allTickets', timeout);
    const t0 = Date.now();
    workers.send({ type: 'start', useTickets: true, concurrency: Math.max(1, Math.floor(32 / workers.size)) });
    await first;
    await tickets;
    log(`all ${gateways.length} in with passwords and holding tickets after ${(Date.now() - t0) / 1000} s`);

    const storms: StormFigures[] = [];
    let backlogRecords = 0;
    const modes: Array<'ticket' | 'password'> = opts.passwords ? ['ticket', 'password'] : ['ticket'];
    for (const [i, login] of modes.entries()) {
      workers.send({ type: 'mode', useTickets: login === 'ticket' });
      await hub.stop('SIGKILL');
      const killedAt = Date.now();
      const backlogged = workers.all('backlogged');
      workers.send({ type: 'backlog', records: opts.backlogPerDevice, from: killedAt, stepMs: Math.max(1, Math.floor((opts.downSec * 1000) / opts.backlogPerDevice)) });
      const records = (await backlogged).reduce((n, m) => n + m.records, 0);
      backlogRecords += records;
      const back = workers.all('allConnected', timeout);
      const replayed = workers.all('allReplayed', timeout);
      workers.send({ type: 'arm' });
      await sleep(Math.max(0, opts.downSec * 1000 - (Date.now() - killedAt)));
      const spawnAt = Date.now();
      hub = await startHub(i + 1);
      const readyAt = Date.now();
      const backMsgs = await back;
      const backAt = lastAt(backMsgs);
      log(`${login} storm: all ${gateways.length} back ${(backAt - spawnAt) / 1000} s after the hub's start`);
      const replayedMsgs = await replayed;
      const replayedAt = lastAt(replayedMsgs);
      const pcts = (ms: Array<{ times: number[] }>): [number, number, number] => {
        const sorted = ms.flatMap((m) => m.times.map((t) => (t - spawnAt) / 1000)).sort((a, b) => a - b);
        return [percentile(sorted, 50), percentile(sorted, 90), percentile(sorted, 99)].map(round) as [number, number, number];
      };
      log(`${login} storm: ${records} backlog records acknowledged ${(replayedAt - spawnAt) / 1000} s after the hub's start`);
      const stats = procStats(hub.pid);
      storms.push({
        login,
        hubStartSec: (readyAt - spawnAt) / 1000,
        allBackSec: (backAt - spawnAt) / 1000,
        allReplayedSec: (replayedAt - spawnAt) / 1000,
        backPercentilesSec: pcts(backMsgs),
        replayedPercentilesSec: pcts(replayedMsgs),
        backlogRecords: records,
        hubPeakRssMiB: round(stats.peakRssMiB),
        hubRssAfterMiB: round(stats.rssMiB),
        hub: await hubCounters(hub.httpPort, LOGIN_COUNTERS),
      });
    }

    // Loss per device: what the devices produced against what InfluxDB holds.
    const reports = workers.all('report');
    workers.send({ type: 'report' });
    const generated = new Map<string, number>();
    for (const r of await reports) for (const [d, n] of r.perDevice) generated.set(d, n);
    const stored = new Map<string, number>();
    for (const s of await influxQL(influx.url, 'storm', `SELECT count(seq) FROM classroom_av, interactive_board WHERE time >= ${t0 - 60_000}ms GROUP BY device`)) {
      const dev = s.tags?.['device'];
      if (dev !== undefined) stored.set(dev, (stored.get(dev) ?? 0) + Number(s.values[0]![1]));
    }
    let lost = 0;
    let devicesWithLoss = 0;
    let storedTotal = 0;
    for (const [d, n] of generated) {
      const have = stored.get(d) ?? 0;
      storedTotal += have;
      if (have < n) {
        lost += n - have;
        devicesWithLoss++;
      }
    }
    return {
      bench: 'storm',
      gateways: gateways.length,
      machine: { cpus: cpus().length, loadavg: loadavg().map(round) },
      openFileLimit: limit?.soft,
      provisionSec: round(provisionMs / 1000),
      downSec: opts.downSec,
      replayJitterMs: opts.replayJitterMs,
      reconnectMaxMs: opts.reconnectMaxMs,
      storms,
      loss: { devices: generated.size, generated: backlogRecords, stored: storedTotal, lost, devicesWithLoss },
    };
  } finally {
    await workers?.terminate();
    await hub?.stop().catch(() => {});
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

if (import.meta.main) {
  const cfg = loadConfigOrExit(() =>
    parseEnvConfig(
      z.object({
        BENCH_STORM_GATEWAYS: envInt(5000, 1, 100_000),
        BENCH_WORKERS: envInt(2, 1, 16),
        BENCH_STORM_BACKLOG: envInt(30, 1, 100_000),
        BENCH_STORM_DOWN_S: envInt(10, 1, 3600),
        BENCH_STORM_PASSWORDS: z.enum(['0', '1']).default('1'),
        BENCH_STORM_REPLAY_JITTER_MS: envInt(GATEWAY_CLIENT_DEFAULTS.replayJitterMs, 0, 3_600_000),
        BENCH_STORM_RECONNECT_MAX_MS: envInt(GATEWAY_CLIENT_DEFAULTS.reconnectMaxMs, 1000, 3_600_000),
        BENCH_STORM_TIMEOUT_S: envInt(1200, 10, 7200),
      }),
      process.env,
    ),
  );
  const report = await runStormBench({
    gateways: cfg.BENCH_STORM_GATEWAYS,
    workers: cfg.BENCH_WORKERS,
    backlogPerDevice: cfg.BENCH_STORM_BACKLOG,
    downSec: cfg.BENCH_STORM_DOWN_S,
    passwords: cfg.BENCH_STORM_PASSWORDS === '1',
    replayJitterMs: cfg.BENCH_STORM_REPLAY_JITTER_MS,
    reconnectMaxMs: cfg.BENCH_STORM_RECONNECT_MAX_MS,
    timeoutSec: cfg.BENCH_STORM_TIMEOUT_S,
  });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (process.env['BENCH_REPORT_FILE']) writeFileSync(process.env['BENCH_REPORT_FILE'], JSON.stringify(report));
}
