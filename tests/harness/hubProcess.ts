import { spawn, type ChildProcess } from 'node:child_process';
import { createWriteStream, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { track } from './children.ts';
import { freePort, waitFor } from './ports.ts';

export const PROJECT_ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export interface HubProcess {
  pid: number;
  mqttPort: number;
  httpPort: number;
  child: ChildProcess;
  /** SIGTERM (or the given signal), then wait for exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs the hub's own main (broker/src/main.ts) as a separate process, as production does. */
export async function startHubProcess(
  env: Record<string, string>,
  logFile: string,
  ports: { mqttPort?: number; httpPort?: number } = {},
): Promise<HubProcess> {
  const mqttPort = ports.mqttPort ?? (await freePort());
  const httpPort = ports.httpPort ?? (await freePort());
  mkdirSync(dirname(logFile), { recursive: true });
  const out = createWriteStream(logFile, { flags: 'a' });
  const child = track(spawn(process.execPath, [join(PROJECT_ROOT, 'broker/src/main.ts')], {
    env: { ...process.env, ...env, HUB_MQTT_PORT: String(mqttPort), HUB_HTTP_PORT: String(httpPort) },
    stdio: ['ignore', 'pipe', 'pipe'],
  }));
  child.stdout!.pipe(out);
  child.stderr!.pipe(out);
  let exited = false;
  child.once('exit', () => (exited = true));
  await waitFor('the hub process', async () => {
    if (exited) throw new Error(`hub exited during start; see ${logFile}`);
    const r = await fetch(`http://127.0.0.1:${httpPort}/health`).catch(() => undefined);
    return r?.ok;
  }, { timeoutMs: 30_000, intervalMs: 100 }).catch((e: unknown) => {
    child.kill('SIGKILL');
    throw e;
  });
  return {
    pid: child.pid!,
    mqttPort,
    httpPort,
    child,
    async stop(signal: NodeJS.Signals = 'SIGTERM') {
      if (exited) return;
      await new Promise<void>((resolve) => {
        child.once('exit', () => resolve());
        child.kill(signal);
      });
    },
  };
}
