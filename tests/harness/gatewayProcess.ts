import type { ChildProcess } from 'node:child_process';
import { startMainProcess } from './mainProcess.ts';

export interface GatewayProcess {
  child: ChildProcess;
  healthPort: number;
  health(): Promise<{ connected: boolean; uplink: { connected: boolean; reason?: string; nextAttemptInMs?: number }; outbox: { records: number; dropped: number; waitingBacklog: number; waitingLive: number }; replay: { active: boolean; remaining: number; sent: number }; samplesAccepted: number; samplesRejected: number }>;
  /** Sends a signal and waits for the process to exit. */
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** Runs the gateway's own main (gateway/src/main.ts) as a separate process. */
export async function startGatewayProcess(env: Record<string, string>, healthPort: number, logFile: string): Promise<GatewayProcess> {
  const health = async () => {
    const r = await fetch(`http://127.0.0.1:${healthPort}/health`);
    return (await r.json()) as Awaited<ReturnType<GatewayProcess['health']>>;
  };
  const p = await startMainProcess('gateway', 'gateway/src/main.ts', { ...env, GW_HEALTH_PORT: String(healthPort) }, logFile, async () => {
    await health();
    return true;
  });
  return { child: p.child, healthPort, health, stop: p.stop };
}
