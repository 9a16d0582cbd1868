import type { Logger } from 'pino';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { GatewayError, GatewayErrorCode } from './errors.ts';
import { FileOutbox, type FileOutboxConfig } from './fileOutbox.ts';
import type { GatewayCounters } from './metrics.ts';
import { MemoryOutbox, type Outbox } from './outbox.ts';

export interface GatewayOutboxConfig {
  /** The durable outbox; undefined keeps records in memory (bounded by maxRecords). */
  file?: FileOutboxConfig | undefined;
  maxRecords: number;
}

/**
 * The gateway's outbox over its life: opened (or given) at start, closed at stop. Every append
 * goes through here, so a failed one is counted and coded, the drops the bound made are counted
 * once each, and the uplink is woken.
 */
export class GatewayOutbox {
  readonly #cfg: GatewayOutboxConfig;
  readonly #log: Logger;
  readonly #counters: GatewayCounters;
  readonly #now: () => number;
  readonly #onAppended: () => void;
  #outbox: Outbox | undefined;
  #reportedDrops = 0;

  constructor(
    cfg: GatewayOutboxConfig,
    deps: { log: Logger; counters: GatewayCounters; now: () => number; onAppended: () => void; given?: Outbox | undefined },
  ) {
    this.#cfg = cfg;
    this.#log = deps.log;
    this.#counters = deps.counters;
    this.#now = deps.now;
    this.#onAppended = deps.onAppended;
    this.#outbox = deps.given;
  }

  /** The open outbox, or undefined before start. */
  get opened(): Outbox | undefined {
    return this.#outbox;
  }

  get current(): Outbox {
    if (!this.#outbox) throw new GatewayError(GatewayErrorCode.NOT_STARTED, 'the outbox is not open (gateway not started)');
    return this.#outbox;
  }

  async start(): Promise<void> {
    if (this.#outbox) return;
    const { file } = this.#cfg;
    try {
      this.#outbox = file ? await FileOutbox.open(file, this.#now) : new MemoryOutbox(this.#cfg.maxRecords);
    } catch (e) {
      throw new GatewayError(GatewayErrorCode.OUTBOX_OPEN, `the outbox cannot be opened${file ? ` in ${file.dir}` : ''}`, { cause: e });
    }
    if (this.#outbox instanceof FileOutbox && this.#outbox.repairedBytes > 0) {
      this.#log.warn({ bytes: this.#outbox.repairedBytes }, 'outbox: a torn last record was cut (crash mid-write)');
    }
    this.#log.info({ durable: Boolean(file), backlog: this.#outbox.size() }, 'outbox opened');
    this.#reportDrops();
  }

  async stop(): Promise<void> {
    await this.#outbox?.close();
  }

  /** Appends records; rejects with GW_ERR_OUTBOX_IO (counted in outbox_errors) when they are not kept. */
  async append(records: OutboxRecord[]): Promise<void> {
    const o = this.current;
    try {
      await o.append(records);
    } catch (e) {
      this.#counters.inc('outbox_errors');
      throw new GatewayError(GatewayErrorCode.OUTBOX_IO, 'outbox append failed', { cause: e });
    }
    this.#reportDrops();
    this.#onAppended();
  }

  /** Adds the outbox's new drops to the counter once each, however appends interleave. */
  #reportDrops(): void {
    const d = this.current.dropped - this.#reportedDrops;
    if (d <= 0) return;
    this.#reportedDrops += d;
    this.#counters.inc('outbox_dropped', {}, d);
    this.#log.warn({ dropped: d, total: this.#reportedDrops }, 'outbox bound reached: oldest records dropped');
  }
}
