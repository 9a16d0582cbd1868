import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, track } from './children.ts';
import { freePort, waitFor } from './ports.ts';

export interface HaproxyServer {
  /** The frontend gateways connect to. */
  port: number;
  stop(): Promise<void>;
}

export interface HaproxyOptions {
  /** Health-check interval of each backend, ms (short: a dead node is marked down quickly). */
  interMs?: number;
}

/** The configuration: TCP mode, one frontend, the hubs' MQTT ports as backends (the settings of deploy/haproxy/haproxy.cfg, with shorter checks). */
export function haproxyConfig(frontendPort: number, backends: number[], interMs: number): string {
  return `global
  # Two descriptors per connection: within the test process's open-file limit.
  maxconn 4096

defaults
  mode tcp
  timeout connect 2s
  timeout client 1h
  timeout server 1h

frontend mqtt
  bind 127.0.0.1:${frontendPort}
  default_backend hubs

backend hubs
  balance roundrobin
  # A node found dead has its connections cut at once, so its gateways reconnect to another.
  default-server check inter ${interMs} fall 2 rise 1 on-marked-down shutdown-sessions
${backends.map((p, i) => `  server hub${i + 1} 127.0.0.1:${p}`).join('\n')}
`;
}

/**
 * Debian's haproxy in TCP mode on a free loopback port, balancing over the given hub MQTT
 * ports with health checks; its configuration in a temporary file.
 */
export async function startHaproxy(backends: number[], opts: HaproxyOptions = {}): Promise<HaproxyServer> {
  const dir = mkdtempSync(join(tmpdir(), 'campus-haproxy-'));
  const port = await freePort();
  const cfg = join(dir, 'haproxy.cfg');
  writeFileSync(cfg, haproxyConfig(port, backends, opts.interMs ?? 200));
  let stderr = '';
  // -db: stay in the foreground (no daemon), so the test owns the process.
  const child: ChildProcess = track(spawn('haproxy', ['-db', '-f', cfg], { stdio: ['ignore', 'pipe', 'pipe'] }));
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-2000)));
  child.stdout?.resume();
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`haproxy exited (code ${code}): ${stderr}`))));
  exited.catch(() => {});
  const listening = async (): Promise<boolean> =>
    await new Promise((resolve) => {
      const s = createConnection(port, '127.0.0.1');
      s.once('connect', () => (s.destroy(), resolve(true)));
      s.once('error', () => resolve(false));
    });
  await Promise.race([waitFor('haproxy', listening, { timeoutMs: 15_000, intervalMs: 50 }), exited]);
  return {
    port,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
