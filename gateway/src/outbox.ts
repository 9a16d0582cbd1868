import type { OutboxRecord } from '../../protocol/src/telemetry.ts';

/**
 * Two lanes share one ordered store: `backlog` holds what was waiting when the uplink last
 * (re)connected — it is replayed in order, rate-limited, flagged historical — and `live` holds
 * what arrived since, sent at once beside the backlog.
 */
export type Lane = 'live' | 'backlog';

/**
 * Where validated records wait until the hub has acknowledged them. `append` resolves once the
 * records are as safe as the implementation makes them; records leave only through `ack` or the
 * bound (drop-oldest, counted). Every implementation passes gateway/test/outboxContract.ts.
 */
export interface Outbox {
  append(records: OutboxRecord[]): Promise<void>;
  /** Up to `max` waiting records of a lane, oldest first, as one batch; null when none wait. */
  take(max: number, lane?: Lane): OutboxBatch | null;
  /** The hub acknowledged the batch: its records are gone for good. */
  ack(batchId: number): Promise<void>;
  /** The batch was not acknowledged: its records wait again, in their original order. */
  release(batchId: number): void;
  /** Everything waiting now becomes backlog (called when the uplink connects). */
  markBoundary(): void;
  /** Records held (waiting and in flight). */
  size(): number;
  /** Records waiting to be taken (not in flight), in one lane or both. */
  waiting(lane?: Lane): number;
  /** Receive time (`rx`) of the oldest record held, if any. */
  oldestRx(): number | undefined;
  /** Bytes the outbox occupies (on disk, or an estimate in memory). */
  bytes(): number;
  /** Records dropped by the bound (drop-oldest), since creation. */
  readonly dropped: number;
  close(): Promise<void>;
}

export interface OutboxBatch {
  id: number;
  lane: Lane;
  records: OutboxRecord[];
}

interface Entry {
  /** Append order: the one order the outbox keeps. */
  n: number;
  r: OutboxRecord;
  size: number;
}

/**
 * An in-memory outbox bounded by record count, dropping the oldest waiting records (counted)
 * when full. It loses its contents if the process dies; FileOutbox is the durable one.
 */
export class MemoryOutbox implements Outbox {
  readonly #maxRecords: number;
  /** Waiting entries in append order. */
  #waiting: Entry[] = [];
  readonly #inflight = new Map<number, { lane: Lane; entries: Entry[] }>();
  #inflightCount = 0;
  #nextBatch = 1;
  #nextOrdinal = 0;
  /** Ordinals below this are backlog. */
  #boundary = 0;
  #dropped = 0;
  #bytes = 0;

  constructor(maxRecords: number) {
    this.#maxRecords = maxRecords;
  }

  get dropped(): number {
    return this.#dropped;
  }

  size(): number {
    return this.#waiting.length + this.#inflightCount;
  }

  waiting(lane?: Lane): number {
    if (!lane) return this.#waiting.length;
    const firstLive = this.#firstLiveIndex();
    return lane === 'backlog' ? firstLive : this.#waiting.length - firstLive;
  }

  oldestRx(): number | undefined {
    let oldest: number | undefined = this.#waiting[0]?.r.rx;
    for (const b of this.#inflight.values()) {
      const rx = b.entries[0]?.r.rx;
      if (rx !== undefined && (oldest === undefined || rx < oldest)) oldest = rx;
    }
    return oldest;
  }

  bytes(): number {
    return this.#bytes;
  }

  markBoundary(): void {
    this.#boundary = this.#nextOrdinal;
  }

  async append(records: OutboxRecord[]): Promise<void> {
    for (const r of records) {
      const size = JSON.stringify(r).length + 16;
      this.#waiting.push({ n: this.#nextOrdinal++, r, size });
      this.#bytes += size;
    }
    const over = this.size() - this.#maxRecords;
    if (over > 0) {
      // Drop-oldest among waiting records; in-flight ones may be acknowledged any moment.
      const gone = this.#waiting.splice(0, Math.min(over, this.#waiting.length));
      for (const e of gone) this.#bytes -= e.size;
      this.#dropped += gone.length;
    }
  }

  take(max: number, lane: Lane = 'live'): OutboxBatch | null {
    const firstLive = this.#firstLiveIndex();
    const [from, to] = lane === 'backlog' ? [0, firstLive] : [firstLive, this.#waiting.length];
    const n = Math.min(max, to - from);
    if (n <= 0) return null;
    const entries = this.#waiting.splice(from, n);
    const id = this.#nextBatch++;
    this.#inflight.set(id, { lane, entries });
    this.#inflightCount += entries.length;
    return { id, lane, records: entries.map((e) => e.r) };
  }

  async ack(batchId: number): Promise<void> {
    const b = this.#inflight.get(batchId);
    if (!b) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= b.entries.length;
    for (const e of b.entries) this.#bytes -= e.size;
  }

  release(batchId: number): void {
    const b = this.#inflight.get(batchId);
    if (!b) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= b.entries.length;
    this.#waiting = mergeByOrdinal(b.entries, this.#waiting);
  }

  async close(): Promise<void> {}

  /** Index of the first waiting entry at or above the boundary (entries are sorted). */
  #firstLiveIndex(): number {
    let lo = 0;
    let hi = this.#waiting.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (this.#waiting[mid]!.n < this.#boundary) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

/** Merges two lists sorted by ordinal. */
export function mergeByOrdinal<T extends { n: number }>(a: T[], b: T[]): T[] {
  const out: T[] = [];
  let i = 0;
  let j = 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && a[i]!.n < b[j]!.n)) out.push(a[i++]!);
    else out.push(b[j++]!);
  }
  return out;
}
