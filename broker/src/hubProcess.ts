import type { ChildProcess } from 'node:child_process';
import { startMainProcess } from '../../runtime/src/mainProcess.ts';
import { freePort } from '../../runtime/src/ports.ts';

export interface HubProcess {
  pid: number;
  mqttPort: number;
  httpPort: number;
  child: ChildProcess;
  /** SIGTERM (or the given signal), then wait for exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/**
 * Runs the hub's own main (broker/src/main.ts) as a separate process, as production does, on
 * free loopback ports unless given, and resolves once its /health answers (the demo, tests).
 */
export async function startHubProcess(
  env: Record<string, string>,
  logFile: string,
  ports: { mqttPort?: number; httpPort?: number } = {},
): Promise<HubProcess> {
  const mqttPort = ports.mqttPort ?? (await freePort());
  const httpPort = ports.httpPort ?? (await freePort());
  const p = await startMainProcess('hub', 'broker/src/main.ts', { ...env, HUB_MQTT_PORT: String(mqttPort), HUB_HTTP_PORT: String(httpPort) }, logFile, async () => {
    const r = await fetch(`http://127.0.0.1:${httpPort}/health`);
    return r.ok;
  });
  return { pid: p.child.pid!, mqttPort, httpPort, child: p.child, stop: p.stop };
}
