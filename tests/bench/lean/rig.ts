/**
 * What the connection and storm benchmarks share: a fleet of N gateways provisioned in a registry
 * file (each its own password, hashed at the hub's default scrypt cost by provision.ts), and lean
 * gateways (leanGateway.ts) in worker threads, driven phase by phase.
 */
import { join } from 'node:path';
import { Worker } from 'node:worker_threads';
import { provisionFleet } from '../../../broker/src/provision.ts';
import { Registry } from '../../../broker/src/registry.ts';
import { generateFleet, SEED_DISTRICTS } from '../../../device-sim/src/fleet.ts';
import type { LeanCommand, LeanMessage, LeanWorkerGateway, LeanWorkerInput } from './gatewayWorker.ts';

export const GATEWAY_CLIENT_DEFAULTS: LeanWorkerInput['client'] = {
  keepaliveSec: 60,
  // The gateway's defaults (gateway/src/config.ts): GW_RECONNECT_MS, GW_RECONNECT_MAX_MS,
  // GW_REPLAY_JITTER_MS, GW_BATCH_MAX_RECORDS, GW_REPLAY_INFLIGHT.
  reconnectMs: 1000,
  reconnectMaxMs: 60_000,
  replayJitterMs: 10_000,
  batchMaxRecords: 500,
  replayInflight: 2,
};

/** N gateways with two telemetry devices each (a classroom AV set and a board), in a new registry file. */
export async function provisionGateways(n: number, dir: string): Promise<{ registryPath: string; gateways: LeanWorkerGateway[]; provisionMs: number }> {
  const districts = SEED_DISTRICTS.slice(0, Math.min(SEED_DISTRICTS.length, Math.max(1, Math.ceil(n / 1000))));
  const fleet = generateFleet({ seed: 14, districts, schoolsPerDistrict: Math.ceil(n / districts.length), roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
  fleet.schools.splice(n);
  const registryPath = join(dir, 'registry.sqlite');
  const passwordOf = (g: string): string => `bench-${g}-pw`;
  const t0 = Date.now();
  const registry = new Registry(registryPath);
  await provisionFleet(registry, fleet, passwordOf, 'system:bench');
  registry.close();
  const gateways = fleet.schools.map((s) => ({
    district: s.district,
    school: s.id,
    gateway: s.gateway,
    password: passwordOf(s.gateway),
    devices: s.devices.filter((d) => d.kind === 'classroom_av' || d.kind === 'interactive_board').map((d) => ({ id: d.id, kind: d.kind })),
  }));
  return { registryPath, gateways, provisionMs: Date.now() - t0 };
}

export class LeanWorkers {
  readonly #workers: Worker[];

  constructor(port: number, gateways: LeanWorkerGateway[], threads: number, client: Partial<LeanWorkerInput['client']> = {}) {
    const per = Math.ceil(gateways.length / threads);
    this.#workers = [];
    for (let i = 0; i < threads; i++) {
      const share = gateways.slice(i * per, (i + 1) * per);
      if (share.length === 0) continue;
      const input: LeanWorkerInput = { port, gateways: share, client: { ...GATEWAY_CLIENT_DEFAULTS, ...client } };
      this.#workers.push(new Worker(new URL('./gatewayWorker.ts', import.meta.url), { workerData: input }));
    }
  }

  get size(): number {
    return this.#workers.length;
  }

  send(cmd: LeanCommand): void {
    for (const w of this.#workers) w.postMessage(cmd);
  }

  /** Every worker's next message of this type (the latest `at` of all when they carry one). */
  all<T extends LeanMessage['type']>(type: T, timeoutMs = 3_600_000): Promise<Array<Extract<LeanMessage, { type: T }>>> {
    return Promise.all(
      this.#workers.map(
        (w) =>
          new Promise<Extract<LeanMessage, { type: T }>>((resolve, reject) => {
            const timer = setTimeout(() => {
              w.off('message', on);
              reject(new Error(`timed out after ${timeoutMs} ms waiting for ${type}`));
            }, timeoutMs);
            const on = (m: LeanMessage): void => {
              if (m.type !== type) return;
              clearTimeout(timer);
              w.off('message', on);
              resolve(m as Extract<LeanMessage, { type: T }>);
            };
            w.on('message', on);
          }),
      ),
    );
  }

  async terminate(): Promise<void> {
    await Promise.all(this.#workers.map((w) => w.terminate()));
  }
}

/** The latest `at` of the workers' messages. */
export const lastAt = (ms: Array<{ at: number }>): number => Math.max(...ms.map((m) => m.at));

/** The open-file limit of this process (the hub, a child, inherits it): both ends hold one file per connection. */
export function checkOpenFiles(connections: number, soft: number | undefined, log: (m: string) => void): void {
  if (soft === undefined) return log('open-file limit unknown (no /proc/self/limits)');
  if (soft < connections + 512) throw new Error(`the open-file limit (${soft}) is below ${connections} connections + 512: raise it (ulimit -n) before running this benchmark`);
  log(`open-file limit ${soft} (each of this process and the hub holds ${connections} sockets)`);
}
