import type { Logger } from 'pino';
import { z } from 'zod';
import { deviceKindSchema } from '../../protocol/src/kinds.ts';
import { toError } from '../../runtime/src/errors.ts';
import { StateFileError } from './errors.ts';
import type { LivenessSnapshot } from './liveness.ts';
import type { GatewayCounters } from './metrics.ts';
import { readStateFile, writeStateFile } from './stateFile.ts';

const snapshotSchema = z.strictObject({
  /** The gateway that wrote it; absent in a file written before the id was kept (taken as this gateway's). */
  gateway: z.string().min(1).max(128).optional(),
  savedAt: z.number().int(),
  devices: z.array(z.strictObject({ device: z.string().min(1).max(128), kind: deviceKindSchema, lastHeard: z.number().int(), off: z.boolean(), timeoutMs: z.number().int().positive().optional() })),
});

export interface LivenessStoreDeps {
  log: Logger;
  counters: GatewayCounters;
  /** This gateway's id, written in the file: another gateway's file (a state directory copied) is ignored. */
  gateway: string;
  now: () => number;
  /** Where liveness is kept beside the outbox; undefined: not kept (memory outbox). */
  file: string | undefined;
  snapshot: (at: number) => LivenessSnapshot;
  /** Hands the saved state to liveness at start. */
  restore: (s: LivenessSnapshot, startedAt: number) => void;
}

/**
 * Each device's last-heard time and off flag, kept beside the outbox at every minute's sampling
 * and at stop, and read at start: a gateway restart does not forget which devices were down
 * (docs/design.md#availability).
 */
export class LivenessStore {
  readonly #d: LivenessStoreDeps;
  #writing: Promise<void> = Promise.resolve();

  constructor(deps: LivenessStoreDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    const { file, log, now, counters, gateway } = this.#d;
    if (file === undefined) return;
    try {
      const s = await readStateFile(file, snapshotSchema);
      if (s && s.gateway !== undefined && s.gateway !== gateway) throw new StateFileError('other_gateway', `${file} is gateway ${s.gateway}'s`);
      if (s) {
        this.#d.restore({ savedAt: s.savedAt, devices: s.devices }, now());
        log.info({ devices: s.devices.length, savedAt: s.savedAt }, 'liveness restored from before the restart');
      }
    } catch (e) {
      const err = e instanceof StateFileError ? e : new StateFileError('unreadable', `${file} cannot be read`);
      counters.inc('state_files_ignored', { file: 'liveness', reason: err.reason });
      log.warn({ err }, 'saved liveness ignored; devices watched afresh');
    }
  }

  /** Saves the state now (queued behind a save under way). */
  save(): Promise<void> {
    const file = this.#d.file;
    if (file === undefined) return Promise.resolve();
    this.#writing = this.#writing
      .then(() => writeStateFile(file, { gateway: this.#d.gateway, ...this.#d.snapshot(this.#d.now()) }))
      .catch((err: unknown) => this.#d.log.error({ err: toError(err) }, 'liveness not saved beside the outbox'));
    return this.#writing;
  }

  async stop(): Promise<void> {
    await this.save();
  }
}
