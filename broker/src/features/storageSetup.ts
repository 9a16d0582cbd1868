import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import { backoff, type InfluxWriter } from '../influx/writer.ts';
import type { Feature } from './feature.ts';

/** What sets the database up (InfluxAdmin). */
export interface SchemaSetup {
  ensureSchema(): Promise<void>;
}

/**
 * Sets up the InfluxDB database (InfluxAdmin.ensureSchema: the database, the rollup retention
 * policy and continuous queries) in the background, retrying with back-off while InfluxDB is unreachable,
 * so the hub starts without it. Until it is done the writer holds every write, so publishes
 * wait unacknowledged, and /health reports degraded with the reason.
 */
export class StorageSetup implements Feature {
  readonly #writer: InfluxWriter;
  readonly #schema: SchemaSetup;
  readonly #log: Logger;
  readonly #stopping = new AbortController();
  #done: Promise<void> | undefined;
  #ready = false;
  #lastError: string | undefined;

  constructor(deps: { writer: InfluxWriter; schema: SchemaSetup; log: Logger }) {
    this.#writer = deps.writer;
    this.#schema = deps.schema;
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
        await this.#schema.ensureSchema();
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
