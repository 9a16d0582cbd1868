import type { GatewayHealth } from '../../protocol/src/gatewayHealth.ts';

export interface HealthReporterDeps {
  health: () => GatewayHealth;
  /** The uplink: whether its session is up, and the publish (QoS 0, not retained). */
  uplink: { readonly connected: boolean; publishHealth(h: GatewayHealth): void };
}

/** Sends the gateway's health to the hub every `intervalMs`; skipped while the uplink is down (the hub sees that). */
export class HealthReporter {
  readonly #intervalMs: number;
  readonly #d: HealthReporterDeps;
  #timer: NodeJS.Timeout | undefined;

  constructor(cfg: { intervalMs: number }, deps: HealthReporterDeps) {
    this.#intervalMs = cfg.intervalMs;
    this.#d = deps;
  }

  start(): void {
    this.#timer = setInterval(() => this.report(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }

  /** Sends the health now; false while the uplink is down. */
  report(): boolean {
    if (!this.#d.uplink.connected) return false;
    this.#d.uplink.publishHealth(this.#d.health());
    return true;
  }
}
