import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './children.ts';
import { RUNTIME_ERR, RuntimeError } from './errors.ts';
import { freePort, waitFor } from './ports.ts';

/** An InfluxDB 1.x this process uses: one it started, or one at a given URL. */
export interface InfluxServer {
  /** Base URL of the v1 HTTP API, e.g. http://127.0.0.1:PORT */
  url: string;
  /** How it was obtained. */
  source: 'env' | 'local-influxd';
  /** The influxd process id, when this process started it. */
  readonly pid?: number | undefined;
  /** Stops the server (a no-op for a given URL) and removes its data unless it was kept. */
  stop(): Promise<void>;
  /** Stops the process without removing its data (for restart tests). Local only. */
  kill?(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data dir. Local only. */
  restart?(): Promise<void>;
}

/** An InfluxDB that is already running (INFLUX_URL): waits until it answers `/ping`. */
export async function influxAt(url: string, timeoutMs = 10_000): Promise<InfluxServer> {
  await waitFor(`InfluxDB at ${url}`, () => ping(url), { timeoutMs });
  return { url: url.replace(/\/$/, ''), source: 'env', stop: async () => {} };
}

export function influxdBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' }).stdout.trim();
  if (!found) {
    throw new RuntimeError(
      RUNTIME_ERR.INFLUXD_MISSING,
      'influxd not found: install Debian\'s "influxdb" package (npm test and npm run demo do this when run as root), or set INFLUX_URL',
    );
  }
  return found;
}

/**
 * InfluxDB 1.x refuses points of a tag value beyond `max-values-per-tag` (100,000 by default) and
 * of a series beyond `max-series-per-database` (1,000,000). A city's ~300k devices are 300k values
 * of the `device` tag in `availability` alone: the project runs InfluxDB with both limits off
 * (docs/influx-schema.md, Limits). Tests set them low to see what the hub does when they bite.
 */
export interface InfluxLimits {
  maxValuesPerTag: number;
  maxSeriesPerDatabase: number;
}
export const INFLUX_LIMITS_OFF: InfluxLimits = { maxValuesPerTag: 0, maxSeriesPerDatabase: 0 };

/**
 * Debian's influxd on free loopback ports (HTTP and RPC), with its own configuration and data
 * in `dataDir` (kept on stop), or in a temporary directory (removed on stop).
 */
export async function startLocalInflux(opts: { dataDir?: string | undefined; limits?: InfluxLimits } = {}): Promise<InfluxServer> {
  const limits = opts.limits ?? INFLUX_LIMITS_OFF;
  const bin = influxdBinary();
  const keepDir = opts.dataDir;
  const dir = keepDir ?? mkdtempSync(join(tmpdir(), 'campus-influx-'));
  mkdirSync(dir, { recursive: true });
  const httpPort = await freePort();
  const rpcPort = await freePort();
  const conf = join(dir, 'influxdb.conf');
  writeFileSync(
    conf,
    `reporting-disabled = true
bind-address = "127.0.0.1:${rpcPort}"
[meta]
  dir = "${join(dir, 'meta')}"
[data]
  dir = "${join(dir, 'data')}"
  wal-dir = "${join(dir, 'wal')}"
  query-log-enabled = false
  trace-logging-enabled = false
  max-values-per-tag = ${limits.maxValuesPerTag}
  max-series-per-database = ${limits.maxSeriesPerDatabase}
[http]
  bind-address = "127.0.0.1:${httpPort}"
  log-enabled = false
  max-body-size = 50000000
[monitor]
  store-enabled = false
[continuous_queries]
  log-enabled = false
[logging]
  level = "warn"
`,
  );
  const url = `http://127.0.0.1:${httpPort}`;
  let child: ChildProcess | undefined;
  let stderrTail = '';
  const launch = async (): Promise<void> => {
    stderrTail = '';
    const proc = track(spawn(bin, ['-config', conf], { stdio: ['ignore', 'ignore', 'pipe'] }));
    proc.stderr?.on('data', (b: Buffer) => {
      stderrTail = (stderrTail + b.toString()).slice(-2000);
    });
    child = proc;
    let exited = false;
    proc.once('exit', () => (exited = true));
    await waitFor(`influxd on ${url}`, async () => {
      if (exited) throw new RuntimeError(RUNTIME_ERR.INFLUXD_EXITED, `influxd exited: ${stderrTail}`);
      return await ping(url);
    }, { timeoutMs: 30_000, intervalMs: 50 }).catch((e: unknown) => {
      proc.kill('SIGKILL');
      throw e;
    });
  };
  const kill = async (signal: NodeJS.Signals = 'SIGTERM'): Promise<void> => {
    const proc = child;
    child = undefined;
    if (!proc || proc.exitCode !== null || proc.signalCode !== null) return;
    await new Promise<void>((resolve) => {
      proc.once('exit', () => resolve());
      proc.kill(signal);
    });
  };
  await launch();
  return {
    url,
    source: 'local-influxd',
    get pid() {
      return child?.pid;
    },
    kill,
    restart: launch,
    stop: async () => {
      await kill('SIGTERM');
      if (!keepDir) rmSync(dir, { recursive: true, force: true });
    },
  };
}

async function ping(url: string): Promise<boolean> {
  try {
    const res = await fetch(`${url}/ping`, { signal: AbortSignal.timeout(1000) });
    return res.status === 204;
  } catch {
    return false;
  }
}

export type Scalar = number | string | boolean | null;

/** One series of an InfluxQL answer. */
export interface InfluxSeries {
  name: string;
  tags?: Record<string, string>;
  columns: string[];
  values: Scalar[][];
}

/**
 * Runs InfluxQL on the v1 API (POST, as the provisioned Grafana datasource does; times in ms) and
 * returns the first statement's series; an InfluxDB error throws.
 */
export async function influxQL(url: string, db: string, q: string): Promise<InfluxSeries[]> {
  const res = await fetch(`${url}/query`, { method: 'POST', body: new URLSearchParams({ db, q, epoch: 'ms' }) });
  const body = (await res.json()) as { results?: Array<{ series?: InfluxSeries[]; error?: string }>; error?: string };
  if (body.error) throw new RuntimeError(RUNTIME_ERR.INFLUXQL, `InfluxQL error: ${body.error} in ${q}`);
  const r = body.results?.[0];
  if (r?.error) throw new RuntimeError(RUNTIME_ERR.INFLUXQL, `InfluxQL error: ${r.error} in ${q}`);
  return r?.series ?? [];
}
