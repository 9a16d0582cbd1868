import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stopChild, track } from './children.ts';
import { freePort, waitFor } from './ports.ts';

export interface RedisServer {
  url: string;
  port: number;
  /** Stops it (SIGTERM, then waits) and removes its directory. */
  stop(): Promise<void>;
}

/** Sends one inline command and reads the first reply line (PING → +PONG). */
async function redisLine(port: number, command: string): Promise<string> {
  return await new Promise((resolve, reject) => {
    const s = createConnection(port, '127.0.0.1');
    let got = '';
    s.setTimeout(2000, () => s.destroy(new Error('redis did not answer')));
    s.on('connect', () => s.write(`${command}\r\n`));
    s.on('data', (b) => {
      got += b.toString('utf8');
      if (got.includes('\r\n')) {
        s.end();
        resolve(got.slice(0, got.indexOf('\r\n')));
      }
    });
    s.on('error', reject);
  });
}

/**
 * Debian's redis-server on a free loopback port, in its own temporary directory, with no
 * persistence of its own (`--save "" --appendonly no`): the clustering tests' shared Redis. A
 * given `port` starts it again where an earlier one was (a Redis restart).
 */
export async function startRedis(opts: { port?: number } = {}): Promise<RedisServer> {
  const dir = mkdtempSync(join(tmpdir(), 'campus-redis-'));
  const port = opts.port ?? (await freePort());
  let stderr = '';
  const child: ChildProcess = track(
    spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--protected-mode', 'yes', '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] }),
  );
  child.stderr?.on('data', (b: Buffer) => (stderr = (stderr + b.toString('utf8')).slice(-2000)));
  const exited = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`redis-server exited (code ${code}): ${stderr}`))));
  exited.catch(() => {});
  await Promise.race([waitFor('redis-server', async () => (await redisLine(port, 'PING').catch(() => '')) === '+PONG', { timeoutMs: 15_000, intervalMs: 50 }), exited]);
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    async stop() {
      await stopChild(child);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
