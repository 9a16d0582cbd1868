import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { track } from './children.ts';
import { dockerEngineAvailable } from './docker.ts';
import { freePort, waitFor } from './ports.ts';

export interface InfluxInstance {
  /** Base URL of the v1 HTTP API, e.g. http://127.0.0.1:PORT */
  url: string;
  /** How it was obtained. */
  source: 'env' | 'testcontainers' | 'local-influxd';
  /** The influxd process id, when this harness started it locally. */
  readonly pid?: number | undefined;
  /** Stops the server (a no-op for INFLUX_URL) and removes its data unless it was kept. */
  stop(): Promise<void>;
  /** Stops the process without removing its data (for restart tests). Local only. */
  kill?(signal?: NodeJS.Signals): Promise<void>;
  /** Starts it again on the same port and data dir. Local only. */
  restart?(): Promise<void>;
}

export interface StartInfluxOptions {
  /** Keep data here instead of a temporary directory (the demo uses a folder of the project). */
  dataDir?: string;
  /** Skip INFLUX_URL and Docker; always start a local influxd. */
  forceLocal?: boolean;
}

/**
 * A real InfluxDB for tests and the demo: INFLUX_URL if set; else testcontainers where a Docker
 * engine answers; else Debian's influxd on a free loopback port with its own data directory.
 */
export async function startInflux(opts: StartInfluxOptions = {}): Promise<InfluxInstance> {
  const envUrl = process.env['INFLUX_URL'];
  if (envUrl && !opts.forceLocal) {
    await waitForPing(envUrl, 10_000);
    return { url: envUrl.replace(/\/$/, ''), source: 'env', stop: async () => {} };
  }
  if (!opts.forceLocal && !opts.dataDir && (await dockerEngineAvailable())) {
    return await startInfluxContainer();
  }
  return await startLocalInfluxd(opts.dataDir);
}

async function startInfluxContainer(): Promise<InfluxInstance> {
  const { GenericContainer, Wait } = await import('testcontainers');
  const container = await new GenericContainer('influxdb:1.8')
    .withExposedPorts(8086)
    .withEnvironment({ INFLUXDB_REPORTING_DISABLED: 'true' })
    .withWaitStrategy(Wait.forHttp('/ping', 8086).forStatusCode(204))
    .start();
  const url = `http://${container.getHost()}:${container.getMappedPort(8086)}`;
  return { url, source: 'testcontainers', stop: async () => void (await container.stop()) };
}

export function influxdBinary(): string {
  const found = spawnSync('sh', ['-c', 'command -v influxd'], { encoding: 'utf8' }).stdout.trim();
  if (!found) {
    throw new Error(
      'influxd not found: install Debian\'s "influxdb" package (npm test and npm run demo do this when run as root), or set INFLUX_URL',
    );
  }
  return found;
}

async function startLocalInfluxd(keepDir?: string): Promise<InfluxInstance> {
  const bin = influxdBinary();
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
      if (exited) throw new Error(`influxd exited: ${stderrTail}`);
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

async function waitForPing(url: string, timeoutMs: number): Promise<void> {
  await waitFor(`InfluxDB at ${url}`, () => ping(url), { timeoutMs });
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
  if (body.error) throw new Error(`InfluxQL error: ${body.error} in ${q}`);
  const r = body.results?.[0];
  if (r?.error) throw new Error(`InfluxQL error: ${r.error} in ${q}`);
  return r?.series ?? [];
}
