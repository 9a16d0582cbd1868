/**
 * A bound on password checks running at once. scrypt runs on libuv's thread pool (4 threads by
 * default), which InfluxDB's DNS lookups and file I/O share: a flood of logins with wrong
 * passwords waits in a short queue instead of taking every thread, and past the queue a login is
 * refused as "server unavailable" (CONNACK 3) rather than left to pile up.
 */
export class VerifyQueue {
  readonly #concurrency: number;
  readonly #maxQueued: number;
  readonly #waiting: Array<() => void> = [];
  #running = 0;

  constructor(concurrency = 2, maxQueued = 32) {
    this.#concurrency = concurrency;
    this.#maxQueued = maxQueued;
  }

  get running(): number {
    return this.#running;
  }

  get queued(): number {
    return this.#waiting.length;
  }

  /** Runs `task` when a slot is free; undefined (not run) when the queue is full. */
  async run<T>(task: () => Promise<T>): Promise<T | undefined> {
    if (this.#running >= this.#concurrency) {
      if (this.#waiting.length >= this.#maxQueued) return undefined;
      await new Promise<void>((resolve) => this.#waiting.push(resolve));
    } else {
      this.#running++;
    }
    try {
      return await task();
    } finally {
      // The slot passes to the next waiter as is, so `running` never exceeds the bound.
      const next = this.#waiting.shift();
      if (next) next();
      else this.#running--;
    }
  }
}
