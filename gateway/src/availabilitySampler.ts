import type { Logger } from 'pino';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { MINUTE_MS, type LivenessView } from './liveness.ts';

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
 * At every minute boundary of the gateway's clock, one availability record per tracked device
 * goes to the outbox (docs/design.md#availability), then liveness is saved beside it. Tests call
 * `sample` by hand instead.
 */
export class AvailabilitySampler {
  readonly #enabled: boolean;
  readonly #d: AvailabilitySamplerDeps;
  #timer: NodeJS.Timeout | undefined;

  constructor(cfg: { enabled: boolean }, deps: AvailabilitySamplerDeps) {
    this.#enabled = cfg.enabled;
    this.#d = deps;
  }

  start(): void {
    if (this.#enabled) this.#schedule();
  }

  stop(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
  }

  /** Appends the records of the minute starting at `minute`; resolves to how many. */
  async sample(minute: number): Promise<number> {
    const records = this.#d.liveness.minuteRecords(minute, this.#d.now());
    if (records.length > 0) await this.#d.append(records);
    await this.#d.saved?.();
    return records.length;
  }

  #schedule(): void {
    const t = this.#d.now();
    const next = t - (t % MINUTE_MS) + MINUTE_MS;
    this.#timer = setTimeout(() => {
      void this.sample(next).catch((err: unknown) => this.#d.log.error({ err }, 'availability sampling failed'));
      this.#schedule();
    }, next - t);
    this.#timer.unref();
  }
}
