import type { Logger } from 'pino';

/** Warns at most once per key every `intervalMs` (further ones go to debug), so a noisy client cannot flood the log. */
export class WarnThrottle {
  readonly #log: Logger;
  readonly #intervalMs: number;
  readonly #last = new Map<string, number>();

  constructor(log: Logger, intervalMs = 5000) {
    this.#log = log;
    this.#intervalMs = intervalMs;
  }

  warn(key: string, obj: object, msg: string): void {
    const t = Date.now();
    if ((this.#last.get(key) ?? 0) + this.#intervalMs > t) return void this.#log.debug(obj, msg);
    if (this.#last.size >= 10_000) this.#last.clear();
    this.#last.set(key, t);
    this.#log.warn(obj, msg);
  }
}
