import type { TelemetryRecord } from '../../protocol/src/telemetry.ts';

/**
 * Where validated records wait until the hub has acknowledged them. `append` resolves once the
 * records are as safe as the implementation makes them; records leave only through `ack`.
 * Every implementation must pass the contract suite in gateway/test/outboxContract.ts.
 */
export interface Outbox {
  append(records: TelemetryRecord[]): Promise<void>;
  /** Up to `max` records not yet in flight, oldest first, as one batch; null when none wait. */
  take(max: number): OutboxBatch | null;
  /** The hub acknowledged the batch: its records are gone for good. */
  ack(batchId: number): Promise<void>;
  /** The batch was not acknowledged: its records go back to the front, in order. */
  release(batchId: number): void;
  /** Records held (waiting and in flight). */
  size(): number;
  /** Records dropped by the bound (drop-oldest), since creation. */
  readonly dropped: number;
  close(): Promise<void>;
}

export interface OutboxBatch {
  id: number;
  records: TelemetryRecord[];
}

/**
 * An in-memory outbox bounded by record count, dropping the oldest waiting records (counted)
 * when full. It loses its contents if the process dies; a durable one is gateway/src/fileOutbox.ts
 * when present.
 */
export class MemoryOutbox implements Outbox {
  readonly #maxRecords: number;
  /** Waiting records, oldest first; `#head` avoids O(n) shifts. */
  #waiting: TelemetryRecord[] = [];
  #head = 0;
  readonly #inflight = new Map<number, TelemetryRecord[]>();
  #inflightCount = 0;
  #nextBatch = 1;
  #dropped = 0;

  constructor(maxRecords: number) {
    this.#maxRecords = maxRecords;
  }

  get dropped(): number {
    return this.#dropped;
  }

  size(): number {
    return this.#waiting.length - this.#head + this.#inflightCount;
  }

  async append(records: TelemetryRecord[]): Promise<void> {
    for (const r of records) this.#waiting.push(r);
    const over = this.size() - this.#maxRecords;
    if (over > 0) {
      const waiting = this.#waiting.length - this.#head;
      const drop = Math.min(over, waiting);
      this.#head += drop;
      this.#dropped += drop;
    }
    this.#compact();
  }

  take(max: number): OutboxBatch | null {
    const n = Math.min(max, this.#waiting.length - this.#head);
    if (n <= 0) return null;
    const records = this.#waiting.slice(this.#head, this.#head + n);
    this.#head += n;
    this.#compact();
    const id = this.#nextBatch++;
    this.#inflight.set(id, records);
    this.#inflightCount += records.length;
    return { id, records };
  }

  async ack(batchId: number): Promise<void> {
    const records = this.#inflight.get(batchId);
    if (!records) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= records.length;
  }

  release(batchId: number): void {
    const records = this.#inflight.get(batchId);
    if (!records) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= records.length;
    this.#waiting = [...records, ...this.#waiting.slice(this.#head)];
    this.#head = 0;
  }

  async close(): Promise<void> {}

  #compact(): void {
    if (this.#head > 4096 && this.#head * 2 > this.#waiting.length) {
      this.#waiting = this.#waiting.slice(this.#head);
      this.#head = 0;
    }
  }
}
