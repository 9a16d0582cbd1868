import type { Logger } from 'pino';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { MINUTE_MS, type LivenessView } from './liveness.ts';

/** The latest offset into a minute at which a gateway samples: 10 s before the next minute starts. */
export const MAX_SAMPLING_PHASE_MS = 50_000;

/**
 * Where in each minute a gateway samples its devices: a fixed offset derived from its id (FNV-1a),
 * spread evenly over 0–50 s. A city's gateways keep NTP time, so sampling all at the boundary would
 * send every device's availability in the same second (≈300k records for the whole city, several
 * seconds of InfluxDB's capacity); spread, they arrive at an even ≈5k/s.
 */
export function samplingPhaseMs(gatewayId: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < gatewayId.length; i++) {
    h ^= gatewayId.charCodeAt(i);
    h = Math.imul(h, 0x01000193) >>> 0;
  }
  return h % (MAX_SAMPLING_PHASE_MS + 1);
}

export interface AvailabilitySamplerDeps {
  log: Logger;
  now: () => number;
  liveness: LivenessView;
  /** The outbox append (GatewayOutbox.append). */
  append: (records: OutboxRecord[]) => Promise<void>;
  /** Keeps liveness beside the outbox after each minute (LivenessStore.save). */
  saved?: () => Promise<void>;
}

/**
 * Every minute of the gateway's clock, at its sampling phase (`samplingPhaseMs`, or the configured
 * one), one availability record per tracked device goes to the outbox
 * (docs/design.md#availability), then liveness is saved beside it. The record is the minute's
 * (`ts` its start); its state is what liveness says at the moment of sampling. Tests call `sample`
 * by hand instead.
 */
export class AvailabilitySampler {
  readonly #enabled: boolean;
  readonly #d: AvailabilitySamplerDeps;
  #timer: NodeJS.Timeout | undefined;

  readonly #phaseMs: number;

  /** `phaseMs`: the offset into each minute at which the timer samples (0 … MAX_SAMPLING_PHASE_MS). */
  constructor(cfg: { enabled: boolean; phaseMs?: number }, deps: AvailabilitySamplerDeps) {
    this.#enabled = cfg.enabled;
    this.#phaseMs = Math.min(MAX_SAMPLING_PHASE_MS, Math.max(0, Math.trunc(cfg.phaseMs ?? 0)));
    this.#d = deps;
  }

  start(): void {
    // The first minute sampled is the first to start after the gateway did, as when sampling was
    // at the boundary: the hub's count of registered devices for the minute the gateway started
    // in (coverage's denominator, written at that minute's start) may predate the devices this
    // gateway was just given.
    const t = this.#d.now();
    if (this.#enabled) this.#schedule(t - (t % MINUTE_MS) + MINUTE_MS);
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /**
   * Appends the records of the minute starting at `minute`, each device's state as liveness has it
   * at `at` (default: the minute's start); resolves to how many.
   */
  async sample(minute: number, at: number = minute): Promise<number> {
    const records = this.#d.liveness.minuteRecords(minute, this.#d.now(), at);
    if (records.length > 0) await this.#d.append(records);
    await this.#d.saved?.();
    return records.length;
  }

  /** Schedules the next minute whose sampling moment is still ahead, `from` at the earliest. */
  #schedule(from = 0): void {
    const t = this.#d.now();
    let next = Math.max(from, t - (t % MINUTE_MS));
    if (next + this.#phaseMs <= t) next += MINUTE_MS;
    const at = next + this.#phaseMs;
    this.#timer = setTimeout(() => {
      void this.sample(next, at).catch((err: unknown) => this.#d.log.error({ err }, 'availability sampling failed'));
      this.#schedule();
    }, at - t);
    this.#timer.unref();
  }
}
