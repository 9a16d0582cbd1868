import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import { backoff, type InfluxWriter } from '../influx/writer.ts';
import type { Feature } from './feature.ts';

/**
 * Sets up the InfluxDB database (writer.ensureDatabase: the database, retention policies and
 * continuous queries) in the background, retrying with back-off while InfluxDB is unreachable,
 * so the hub starts without it. Until it is done the writer holds every write, so publishes
 * wait unacknowledged, and /health reports degraded with the reason.
 */
export class StorageSetup implements Feature {
  readonly #writer: InfluxWriter;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  #done: Promise<void> | undefined;
  #ready = false;
  #lastError: string | undefined;

  constructor(deps: { writer: InfluxWriter; log: Logger }) {
    this.#writer = deps.writer;
    this.#log = deps.log;
  }

  start(): void {
    this.#writer.hold();
    this.#done = this.#run();
  }

  async stop(): Promise<void> {
    this.#stopping.abort();
    await this.#done;
  }

  /** Why storage is not usable yet; undefined once it is. */
  get degradedReason(): string | undefined {
    return this.#ready ? undefined : `InfluxDB database not set up yet${this.#lastError ? `: ${this.#lastError}` : ''}`;
  }

  async #run(): Promise<void> {
    for (let failures = 0; !this.#stopping.signal.aborted; ) {
      try {
        await this.#writer.ensureDatabase();
        this.#ready = true;
        this.#lastError = undefined;
        this.#writer.release();
        if (failures > 0) this.#log.info({ failures }, 'InfluxDB database set up');
        return;
      } catch (e) {
        failures++;
        this.#lastError = toError(e).message;
        (failures === 1 ? this.#log.error.bind(this.#log) : this.#log.debug.bind(this.#log))({ err: toError(e), failures }, 'InfluxDB database not set up; retrying');
        await backoff(failures, this.#stopping.signal);
      }
    }
  }
}
