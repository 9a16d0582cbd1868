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
  /** Records waiting to be taken (not in flight). */
  waiting(): number;
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
  /** Waiting entries, oldest first; `#head` avoids O(n) shifts. `n` is the append order. */
  #waiting: Array<{ n: number; r: TelemetryRecord }> = [];
  #head = 0;
  readonly #inflight = new Map<number, Array<{ n: number; r: TelemetryRecord }>>();
  #inflightCount = 0;
  #nextBatch = 1;
  #nextOrdinal = 0;
  #dropped = 0;

  constructor(maxRecords: number) {
    this.#maxRecords = maxRecords;
  }

  get dropped(): number {
    return this.#dropped;
  }

  size(): number {
    return this.waiting() + this.#inflightCount;
  }

  waiting(): number {
    return this.#waiting.length - this.#head;
  }

  async append(records: TelemetryRecord[]): Promise<void> {
    for (const r of records) this.#waiting.push({ n: this.#nextOrdinal++, r });
    const over = this.size() - this.#maxRecords;
    if (over > 0) {
      // Drop-oldest among waiting records; in-flight ones may be acknowledged any moment.
      const drop = Math.min(over, this.waiting());
      this.#head += drop;
      this.#dropped += drop;
    }
    this.#compact();
  }

  take(max: number): OutboxBatch | null {
    const n = Math.min(max, this.waiting());
    if (n <= 0) return null;
    const entries = this.#waiting.slice(this.#head, this.#head + n);
    this.#head += n;
    this.#compact();
    const id = this.#nextBatch++;
    this.#inflight.set(id, entries);
    this.#inflightCount += entries.length;
    return { id, records: entries.map((e) => e.r) };
  }

  async ack(batchId: number): Promise<void> {
    const entries = this.#inflight.get(batchId);
    if (!entries) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= entries.length;
  }

  release(batchId: number): void {
    const entries = this.#inflight.get(batchId);
    if (!entries) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= entries.length;
    // Merge by append order, so batches released in any order come back oldest first.
    const rest = this.#waiting.slice(this.#head);
    const merged: Array<{ n: number; r: TelemetryRecord }> = [];
    let i = 0;
    let j = 0;
    while (i < entries.length || j < rest.length) {
      if (j >= rest.length || (i < entries.length && entries[i]!.n < rest[j]!.n)) merged.push(entries[i++]!);
      else merged.push(rest[j++]!);
    }
    this.#waiting = merged;
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
