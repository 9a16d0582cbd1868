import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { track } from './children.ts';
import { PROJECT_ROOT } from './hubProcess.ts';
import { waitFor } from './ports.ts';

export interface GatewayProcess {
  child: ChildProcess;
  healthPort: number;
  health(): Promise<{ connected: boolean; outbox: { records: number; dropped: number; waitingBacklog: number; waitingLive: number }; replay: { active: boolean; remaining: number; sent: number } }>;
  /** Sends a signal and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs the gateway's own main (gateway/src/main.ts) as a separate process. */
export async function startGatewayProcess(env: Record<string, string>, healthPort: number, logFile: string): Promise<GatewayProcess> {
  mkdirSync(dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = track(spawn(process.execPath, [join(PROJECT_ROOT, 'gateway/src/main.ts')], {
    env: { ...process.env, ...env, GW_HEALTH_PORT: String(healthPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  const health = async () => {
    const r = await fetch(`http://127.0.0.1:${healthPort}/health`);
    return (await r.json()) as Awaited<ReturnType<GatewayProcess['health']>>;
  };
  await waitFor('the gateway process', async () => {
    if (exited) throw new Error(`gateway exited during start; see ${logFile}`);
    return await health().then(() => true, () => false);
  }, { timeoutMs: 30_000, intervalMs: 100 }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    child,
    healthPort,
    health,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
}
