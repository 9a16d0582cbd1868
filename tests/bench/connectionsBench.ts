/**
 * `npm run bench:connections`: N authenticated, idle gateway connections on one hub process
 * (BENCH_CONNECTIONS, 10,000 by default): the hub's RSS per connection (its RSS once all are
 * connected and idle, minus its RSS idle before any, over N, from /proc) and the connect rate, first
 * with every gateway's password (one scrypt each at the default cost), then, after every gateway
 * disconnected cleanly, with the login tickets the hub handed out (no scrypt).
 *
 *   BENCH_CONNECTIONS (10000), BENCH_WORKERS (2) worker threads of lean gateways
 *   (lean/leanGateway.ts), BENCH_PASSWORD_CONCURRENCY (32: the hub's check queue holds 2 running
 *   + 32 waiting) and BENCH_TICKET_CONCURRENCY (200: below the hub's 256 unauthenticated sockets)
 *   logins under way at once, BENCH_IDLE_S (5) of idleness before each RSS reading.
 *
 * Prints one JSON report. `runConnectionsBench(opts)` returns the same figures.
 */
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { readOpenFileLimit } from '../../broker/src/limits.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { startHubProcess } from '../harness/hubProcess.ts';
import { startInflux } from '../harness/influx.ts';
import { checkOpenFiles, lastAt, LeanWorkers, provisionGateways } from './lean/rig.ts';
import { procStats } from './procStats.ts';

export interface ConnectionsBenchOptions {
  connections: number;
  workers: number;
  passwordConcurrency: number;
  ticketConcurrency: number;
  idleSec: number;
  log?: (m: string) => void;
}

export interface ConnectionsBenchReport {
  bench: 'connections';
  connections: number;
  machine: { cpus: number; loadavg: number[] };
  openFileLimit: number | undefined;
  provisionSec: number;
  hubRssIdleMiB: number;
  password: { concurrency: number; seconds: number; perSec: number; hubRssMiB: number; rssPerConnectionKiB: number };
  ticket: { concurrency: number; seconds: number; perSec: number; hubRssMiB: number; rssPerConnectionKiB: number };
  hubPeakRssMiB: number;
  /** The hub's own counters at the end (hub_*_total). */
  hub: Record<string, number>;
  clients: { refused: Record<number, number>; cut: number; ticketRefused: number; ticketLogins: number; passwordLogins: number };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The hub's counters whose names start with one of `prefixes`, series by series. */
export async function hubCounters(httpPort: number, prefixes: string[]): Promise<Record<string, number>> {
  const text = await (await fetch(`http://127.0.0.1:${httpPort}/metrics`)).text();
  const out: Record<string, number> = {};
  for (const line of text.split('\n')) {
    if (line.startsWith('#') || !prefixes.some((p) => line.startsWith(p))) continue;
    const i = line.lastIndexOf(' ');
    out[line.slice(0, i)] = Number(line.slice(i + 1));
  }
  return out;
}
export const LOGIN_COUNTERS = ['hub_gateway_logins_total', 'hub_password_checks_total', 'hub_tickets_issued_total', 'hub_tickets_refused_total', 'hub_connections_refused_total', 'hub_connections_cut_total', 'hub_connections_accepted_total'];

export async function runConnectionsBench(opts: ConnectionsBenchOptions): Promise<ConnectionsBenchReport> {
  const log = opts.log ?? ((m: string) => void process.stderr.write(`[connections] ${m}\n`));
  const limit = readOpenFileLimit();
  checkOpenFiles(opts.connections, limit?.soft, log);
  const dir = mkdtempSync(join(tmpdir(), 'campus-connections-'));
  const influx = await startInflux({ forceLocal: !process.env['INFLUX_URL'] });
  let hub: Awaited<ReturnType<typeof startHubProcess>> | undefined;
  let workers: LeanWorkers | undefined;
  try {
    const { registryPath, gateways, provisionMs } = await provisionGateways(opts.connections, dir);
    log(`provisioned ${gateways.length} gateways in ${provisionMs} ms`);
    hub = await startHubProcess({ HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: 'connections', LOG_LEVEL: 'warn' }, join(dir, 'hub.log'));
    await sleep(opts.idleSec * 1000);
    const idle = procStats(hub.pid).rssMiB;
    workers = new LeanWorkers(hub.mqttPort, gateways, opts.workers);
    const per = (c: number): number => Math.max(1, Math.floor(c / workers!.size));

    const phase = async (useTickets: boolean, concurrency: number) => {
      const connected = workers!.all('allConnected');
      const tickets = useTickets ? workers!.all('allTickets') : undefined;
      const t0 = Date.now();
      workers!.send({ type: 'start', useTickets: true, concurrency: per(concurrency) });
      const seconds = (lastAt(await connected) - t0) / 1000;
      await tickets;
      await sleep(opts.idleSec * 1000);
      const rss = procStats(hub!.pid).rssMiB;
      return { concurrency, seconds, perSec: Math.round(opts.connections / seconds), hubRssMiB: round(rss), rssPerConnectionKiB: round(((rss - idle) * 1024) / opts.connections) };
    };
    // First logins: every one with its password (and each is handed a ticket).
    const password = await phase(true, opts.passwordConcurrency);
    log(`${opts.connections} password logins in ${password.seconds} s (${password.perSec}/s); hub RSS ${password.hubRssMiB} MiB`);
    const stopped = workers.all('stopped');
    workers.send({ type: 'stop' });
    await stopped;
    await sleep(3000);
    const ticket = await phase(true, opts.ticketConcurrency);
    log(`${opts.connections} ticket logins in ${ticket.seconds} s (${ticket.perSec}/s); hub RSS ${ticket.hubRssMiB} MiB`);
    const reports = workers.all('report');
    workers.send({ type: 'report' });
    const clients = { refused: {} as Record<number, number>, cut: 0, ticketRefused: 0, ticketLogins: 0, passwordLogins: 0 };
    for (const r of await reports) {
      for (const [k, v] of Object.entries(r.counters.refused)) clients.refused[Number(k)] = (clients.refused[Number(k)] ?? 0) + v;
      clients.cut += r.counters.cut;
      clients.ticketRefused += r.counters.ticketRefused;
      clients.ticketLogins += r.counters.ticketLogins;
      clients.passwordLogins += r.counters.passwordLogins;
    }
    return {
      bench: 'connections',
      connections: opts.connections,
      machine: { cpus: cpus().length, loadavg: loadavg().map(round) },
      openFileLimit: limit?.soft,
      provisionSec: round(provisionMs / 1000),
      hubRssIdleMiB: round(idle),
      password,
      ticket,
      hubPeakRssMiB: round(procStats(hub.pid).peakRssMiB),
      hub: await hubCounters(hub.httpPort, LOGIN_COUNTERS),
      clients,
    };
  } finally {
    await workers?.terminate();
    await hub?.stop();
    await influx.stop();
    rmSync(dir, { recursive: true, force: true });
  }
}

const round = (x: number): number => Math.round(x * 10) / 10;

if (import.meta.main) {
  const cfg = loadConfigOrExit(() =>
    parseEnvConfig(
      z.object({
        BENCH_CONNECTIONS: envInt(10_000, 1, 100_000),
        BENCH_WORKERS: envInt(2, 1, 16),
        BENCH_PASSWORD_CONCURRENCY: envInt(32, 1, 10_000),
        BENCH_TICKET_CONCURRENCY: envInt(200, 1, 10_000),
        BENCH_IDLE_S: envInt(5, 0, 600),
      }),
      process.env,
    ),
  );
  const report = await runConnectionsBench({ connections: cfg.BENCH_CONNECTIONS, workers: cfg.BENCH_WORKERS, passwordConcurrency: cfg.BENCH_PASSWORD_CONCURRENCY, ticketConcurrency: cfg.BENCH_TICKET_CONCURRENCY, idleSec: cfg.BENCH_IDLE_S });
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  if (process.env['BENCH_REPORT_FILE']) writeFileSync(process.env['BENCH_REPORT_FILE'], JSON.stringify(report));
}
