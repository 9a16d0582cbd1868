/** Sends the gateway's health to the hub every `intervalMs` (skipped while the uplink is down). */
export class HealthReporter {
  readonly #intervalMs: number;
  readonly #report: () => boolean;
  #timer: NodeJS.Timeout | undefined;

  /** `report` sends the health now and says whether it could (false while the uplink is down). */
  constructor(cfg: { intervalMs: number }, deps: { report: () => boolean }) {
    this.#intervalMs = cfg.intervalMs;
    this.#report = deps.report;
  }

  start(): void {
    this.#timer = setInterval(() => this.#report(), this.#intervalMs);
    this.#timer.unref();
  }

  stop(): void {
    clearInterval(this.#timer);
    this.#timer = undefined;
  }
}
