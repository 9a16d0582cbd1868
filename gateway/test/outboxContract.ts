import { afterEach, describe, expect, it } from 'vitest';
import type { Outbox, OutboxBatch } from '../src/outbox.ts';
import type { TelemetryRecord } from '../../protocol/src/telemetry.ts';

/**
 * The contract every Outbox implementation must honour (see gateway/src/outbox.ts). Run it from
 * a *.test.ts file with a factory, e.g.
 *
 *   outboxContract('memory', ({ maxRecords }) => new MemoryOutbox(maxRecords));
 *
 * The factory is called once per test and must return a fresh, empty outbox (a durable
 * implementation gives each call its own directory/file). Every outbox the suite makes is
 * closed after its test. Records are compared by value (toEqual), never by reference, so an
 * implementation that serialises records passes as long as it round-trips them exactly.
 *
 * Every record carries a distinct `seq` equal to its append order, so "oldest first" means
 * "ascending seq" throughout.
 */
export function outboxContract(
  name: string,
  make: (opts: { maxRecords: number }) => Promise<Outbox> | Outbox,
  caps: { boundedByRecords: boolean } = { boundedByRecords: true },
): void {
  // Bounds differ by design (records for MemoryOutbox; bytes and age, whole segments, for
  // FileOutbox): the record-bound tests run where that bound exists, the others everywhere.
  const itRecordBound = caps.boundedByRecords ? it : it.skip;
  describe(`${name} outbox contract`, () => {
    const opened: Outbox[] = [];

    async function open(maxRecords = 1_000_000): Promise<Outbox> {
      const o = await make({ maxRecords });
      opened.push(o);
      return o;
    }

    afterEach(async () => {
      const all = opened.splice(0);
      for (const o of all) await o.close();
    });

    it('starts empty: size 0, dropped 0, take returns null', async () => {
      const o = await open(10);
      expect(o.size()).toBe(0);
      expect(o.dropped).toBe(0);
      expect(o.take(5)).toBeNull();
    });

    it('take returns the oldest records first, at most max per batch, then null', async () => {
      const o = await open();
      await o.append(recs(0, 5));
      const a = o.take(3);
      expect(seqs(a)).toEqual([0, 1, 2]);
      expect(a!.records).toEqual(recs(0, 3));
      const b = o.take(3);
      expect(seqs(b)).toEqual([3, 4]);
      expect(b!.records).toEqual(recs(3, 5));
      expect(o.take(3)).toBeNull();
      expect(a!.id).not.toBe(b!.id);
    });

    it('records appended in several calls come out in append order', async () => {
      const o = await open();
      await o.append(recs(0, 2));
      await o.append(recs(2, 3));
      await o.append(recs(3, 7));
      expect(seqs(o.take(100))).toEqual([0, 1, 2, 3, 4, 5, 6]);
    });

    it('take returns null when nothing waits, including when everything is in flight', async () => {
      const o = await open();
      expect(o.take(1)).toBeNull();
      await o.append(recs(0, 2));
      expect(seqs(o.take(10))).toEqual([0, 1]);
      expect(o.take(10)).toBeNull();
      expect(o.size()).toBe(2);
    });

    it('in-flight records are not taken twice', async () => {
      const o = await open();
      await o.append(recs(0, 4));
      const a = o.take(2);
      const b = o.take(10);
      expect(seqs(a)).toEqual([0, 1]);
      expect(seqs(b)).toEqual([2, 3]);
      expect(o.take(10)).toBeNull();
      await o.append(recs(4, 5));
      expect(seqs(o.take(10))).toEqual([4]);
      expect(o.size()).toBe(5);
    });

    it('ack removes the batch for good and size decreases by exactly its length', async () => {
      const o = await open();
      await o.append(recs(0, 5));
      const a = o.take(2)!;
      expect(o.size()).toBe(5);
      await o.ack(a.id);
      expect(o.size()).toBe(3);
      // A second ack and a release of the acknowledged batch change nothing.
      await o.ack(a.id);
      o.release(a.id);
      expect(o.size()).toBe(3);
      const b = o.take(10);
      expect(seqs(b)).toEqual([2, 3, 4]);
      await o.ack(b!.id);
      expect(o.size()).toBe(0);
      expect(o.take(10)).toBeNull();
      expect(o.dropped).toBe(0);
    });

    it('release puts a batch back at the front in its original order, before newer records', async () => {
      const o = await open();
      await o.append(recs(0, 3));
      const a = o.take(2)!;
      expect(seqs(a)).toEqual([0, 1]);
      await o.append(recs(3, 5));
      o.release(a.id);
      expect(o.size()).toBe(5);
      const again = o.take(10);
      expect(seqs(again)).toEqual([0, 1, 2, 3, 4]);
      expect(again!.records).toEqual(recs(0, 5));
      // Released records are waiting again, so a released id no longer acknowledges anything.
      await o.ack(a.id);
      expect(o.size()).toBe(5);
    });

    it('a released batch goes back ahead of records that were never taken', async () => {
      const o = await open();
      await o.append(recs(0, 6));
      const a = o.take(2)!; // 0,1
      const b = o.take(2)!; // 2,3
      o.release(b.id);
      expect(seqs(o.take(10))).toEqual([2, 3, 4, 5]);
      await o.ack(a.id);
      expect(o.size()).toBe(4);
    });

    it('released batches come back oldest first whatever order they are released in (take order)', async () => {
      const o = await open();
      await o.append(recs(0, 8));
      const a = o.take(3)!; // 0,1,2
      const b = o.take(3)!; // 3,4,5
      o.release(a.id);
      o.release(b.id);
      expect(o.size()).toBe(8);
      expect(seqs(o.take(100))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('released batches come back oldest first whatever order they are released in (reverse order)', async () => {
      const o = await open();
      await o.append(recs(0, 8));
      const a = o.take(3)!; // 0,1,2
      const b = o.take(3)!; // 3,4,5
      o.release(b.id);
      o.release(a.id);
      expect(o.size()).toBe(8);
      expect(seqs(o.take(100))).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
    });

    it('size counts waiting and in-flight records; waiting only those not in flight', async () => {
      const o = await open();
      await o.append(recs(0, 7));
      expect([o.size(), o.waiting()]).toEqual([7, 7]);
      const a = o.take(3)!;
      expect([o.size(), o.waiting()]).toEqual([7, 4]);
      const b = o.take(2)!;
      expect([o.size(), o.waiting()]).toEqual([7, 2]);
      await o.ack(b.id);
      expect([o.size(), o.waiting()]).toEqual([5, 2]);
      o.release(a.id);
      expect([o.size(), o.waiting()]).toEqual([5, 5]);
      await o.append(recs(7, 8));
      expect([o.size(), o.waiting()]).toEqual([6, 6]);
    });

    itRecordBound('drop-oldest bound: 25 records into maxRecords=10 keeps the newest 10 and counts 15 dropped', async () => {
      const o = await open(10);
      await o.append(recs(0, 25));
      expect(o.size()).toBe(10);
      expect(o.dropped).toBe(15);
      const b = o.take(100);
      expect(seqs(b)).toEqual(range(15, 25));
      expect(b!.records).toEqual(recs(15, 25));
      await o.ack(b!.id);
      expect(o.size()).toBe(0);
      expect(o.dropped).toBe(15);
    });

    itRecordBound('drop-oldest bound holds for records appended one at a time', async () => {
      const o = await open(10);
      for (let i = 0; i < 25; i++) {
        await o.append(recs(i, i + 1));
        expect(o.size()).toBe(Math.min(i + 1, 10));
        expect(o.dropped).toBe(Math.max(0, i + 1 - 10));
      }
      expect(seqs(o.take(100))).toEqual(range(15, 25));
    });

    itRecordBound('appending up to exactly the bound drops nothing', async () => {
      const o = await open(10);
      await o.append(recs(0, 10));
      expect(o.size()).toBe(10);
      expect(o.dropped).toBe(0);
      await o.append(recs(10, 11));
      expect(o.dropped).toBe(1);
      expect(seqs(o.take(100))).toEqual(range(1, 11));
    });

    itRecordBound('drops never touch in-flight records: only waiting ones are dropped and counted', async () => {
      const o = await open(10);
      await o.append(recs(0, 10));
      const a = o.take(5)!;
      expect(seqs(a)).toEqual([0, 1, 2, 3, 4]);
      // 5 in flight + 5 waiting (5..9) + 10 new (10..19) = 20, bound 10: drop the 10 oldest waiting.
      await o.append(recs(10, 20));
      expect(o.size()).toBe(10);
      expect(o.dropped).toBe(10);
      await o.ack(a.id);
      expect(o.size()).toBe(5);
      expect(seqs(o.take(100))).toEqual([15, 16, 17, 18, 19]);
      expect(o.dropped).toBe(10);
    });

    itRecordBound('when in-flight records fill the bound, new waiting records are what gets dropped', async () => {
      const o = await open(10);
      await o.append(recs(0, 10));
      const a = o.take(10)!;
      await o.append(recs(10, 15));
      // Only the 5 waiting records could be dropped; the 10 in flight stay.
      expect(o.dropped).toBe(5);
      expect(o.size()).toBe(10);
      expect(o.take(100)).toBeNull();
      o.release(a.id);
      expect(seqs(o.take(100))).toEqual(range(0, 10));
    });

    itRecordBound('in flight beyond the bound after a take leaves the size above the bound only through in-flight records', async () => {
      const o = await open(10);
      await o.append(recs(0, 8));
      const a = o.take(8)!;
      await o.append(recs(8, 20));
      // 8 in flight + 12 new, bound 10: 10 of the 12 waiting dropped, 8..17; 18,19 survive.
      expect(o.size()).toBe(10);
      expect(o.dropped).toBe(10);
      await o.ack(a.id);
      expect(o.size()).toBe(2);
      expect(seqs(o.take(100))).toEqual([18, 19]);
    });

    it('ack and release of an unknown batch id are no-ops', async () => {
      const o = await open(10);
      await o.append(recs(0, 3));
      const a = o.take(1)!;
      await o.ack(a.id + 1000);
      await o.ack(-1);
      o.release(a.id + 1000);
      o.release(-1);
      expect(o.size()).toBe(3);
      expect(o.dropped).toBe(0);
      expect(seqs(o.take(10))).toEqual([1, 2]);
      await o.ack(a.id);
      expect(o.size()).toBe(2);
    });

    it('batch ids are distinct across takes, including after release', async () => {
      const o = await open();
      await o.append(recs(0, 4));
      const a = o.take(2)!;
      o.release(a.id);
      const b = o.take(2)!;
      const c = o.take(2)!;
      expect(new Set([a.id, b.id, c.id]).size).toBe(3);
      // The stale id of the released batch must not acknowledge the new batch holding its records.
      await o.ack(a.id);
      expect(o.size()).toBe(4);
      await o.ack(b.id);
      await o.ack(c.id);
      expect(o.size()).toBe(0);
    });

    it('an interleaved take/ack/release/append script keeps order', async () => {
      const o = await open();
      await o.append(recs(0, 4)); // waiting 0 1 2 3
      const a = o.take(2)!; // a: 0 1
      const b = o.take(1)!; // b: 2
      await o.append(recs(4, 6)); // waiting 3 4 5
      o.release(a.id); // waiting 0 1 3 4 5
      expect(o.size()).toBe(6);
      const c = o.take(3)!;
      expect(seqs(c)).toEqual([0, 1, 3]);
      await o.ack(b.id); // 2 delivered
      expect(o.size()).toBe(5);
      await o.append(recs(6, 7)); // waiting 4 5 6
      o.release(c.id); // waiting 0 1 3 4 5 6
      const d = o.take(4)!;
      expect(seqs(d)).toEqual([0, 1, 3, 4]);
      await o.ack(d.id);
      expect(o.size()).toBe(2);
      const e = o.take(10)!;
      expect(seqs(e)).toEqual([5, 6]);
      o.release(e.id);
      await o.append(recs(7, 8));
      expect(seqs(o.take(10))).toEqual([5, 6, 7]);
      expect(o.dropped).toBe(0);
    });

    it('markBoundary turns everything waiting into backlog; later records are live', async () => {
      const o = await open();
      await o.append(recs(0, 5));
      const inflight = o.take(2)!; // 0,1 in flight
      o.markBoundary();
      await o.append(recs(5, 8));
      expect([o.waiting('backlog'), o.waiting('live'), o.waiting()]).toEqual([3, 3, 6]);
      const live = o.take(10, 'live')!;
      expect([live.lane, seqs(live)]).toEqual(['live', [5, 6, 7]]);
      const back = o.take(10, 'backlog')!;
      expect([back.lane, seqs(back)]).toEqual(['backlog', [2, 3, 4]]);
      expect(o.take(10, 'backlog')).toBeNull();
      expect(o.take(10, 'live')).toBeNull();
      // A batch taken live before the boundary and released after it comes back as backlog.
      o.release(inflight.id);
      expect(o.waiting('backlog')).toBe(2);
      expect(seqs(o.take(10, 'backlog'))).toEqual([0, 1]);
      expect(o.size()).toBe(8);
    });

    it('backlog comes out in append order across several boundaries and releases', async () => {
      const o = await open();
      await o.append(recs(0, 4));
      o.markBoundary(); // backlog 0..3
      await o.append(recs(4, 8));
      const l = o.take(2, 'live')!; // 4,5 in flight
      o.markBoundary(); // backlog adds 6,7
      o.release(l.id); // 4,5 back, now backlog
      await o.append(recs(8, 10)); // live
      const order: number[] = [];
      for (let b = o.take(3, 'backlog'); b; b = o.take(3, 'backlog')) {
        order.push(...b.records.map((r) => r.seq));
        await o.ack(b.id);
      }
      expect(order).toEqual([0, 1, 2, 3, 4, 5, 6, 7]);
      expect(seqs(o.take(10, 'live'))).toEqual([8, 9]);
    });

    it('reports the receive time of the oldest record held and a byte size', async () => {
      const o = await open();
      expect(o.oldestRx()).toBeUndefined();
      await o.append(recs(3, 6));
      expect(o.oldestRx()).toBe(recs(3, 4)[0]!.rx);
      const b = o.take(1)!;
      expect(o.oldestRx()).toBe(recs(3, 4)[0]!.rx); // in flight still counts
      await o.ack(b.id);
      expect(o.oldestRx()).toBe(recs(4, 5)[0]!.rx);
      expect(o.bytes()).toBeGreaterThan(0);
    });

    it('matches a reference model over a long seeded random sequence of operations', async () => {
      const maxRecords = caps.boundedByRecords ? 50 : 1_000_000;
      const o = await open(maxRecords);
      const model = new ModelOutbox(maxRecords);
      const rand = lcg(12345);
      let nextSeq = 0;
      const inflight: number[] = [];
      for (let step = 0; step < 3000; step++) {
        const op = rand() % 10;
        if (op < 4) {
          const n = 1 + (rand() % 8);
          const batch = recs(nextSeq, nextSeq + n);
          nextSeq += n;
          await o.append(batch);
          model.append(batch.map((r) => r.seq));
        } else if (op < 7) {
          const max = 1 + (rand() % 12);
          const got = o.take(max);
          const want = model.take(max);
          expect(seqs(got), `step ${step}: take(${max})`).toEqual(want === null ? null : want.seqs);
          if (got && want) {
            model.rename(want.id, got.id);
            inflight.push(got.id);
          }
        } else if (inflight.length > 0) {
          const id = inflight.splice(rand() % inflight.length, 1)[0]!;
          if (op < 9) {
            await o.ack(id);
            model.ack(id);
          } else {
            o.release(id);
            model.release(id);
          }
        }
        expect(o.size(), `step ${step}: size`).toBe(model.size());
        expect(o.dropped, `step ${step}: dropped`).toBe(model.dropped);
      }
      expect(nextSeq).toBeGreaterThan(2000);
      if (caps.boundedByRecords) expect(model.dropped).toBeGreaterThan(0);
    });

    it('keeps exact order across thousands of records (6000 through take/ack)', async () => {
      const o = await open(100_000);
      for (let i = 0; i < 6000; i += 500) await o.append(recs(i, i + 500));
      expect(o.size()).toBe(6000);
      const seen: number[] = [];
      for (let b = o.take(100); b; b = o.take(100)) {
        seen.push(...b.records.map((r) => r.seq));
        await o.ack(b.id);
      }
      expect(seen).toEqual(range(0, 6000));
      expect(o.size()).toBe(0);
      expect(o.dropped).toBe(0);
    });

    itRecordBound('drops exactly the oldest across thousands of records (6000 into a bound of 1000)', async () => {
      const o = await open(1000);
      for (let i = 0; i < 6000; i += 100) await o.append(recs(i, i + 100));
      expect(o.size()).toBe(1000);
      expect(o.dropped).toBe(5000);
      const b = o.take(5000);
      expect(seqs(b)).toEqual(range(5000, 6000));
    });
  });
}

const T0 = Date.UTC(2025, 8, 1, 8, 0, 0);

/** Records with seq from..to-1, all distinct, of mixed kinds. */
export function recs(from: number, to: number): TelemetryRecord[] {
  const out: TelemetryRecord[] = [];
  for (let seq = from; seq < to; seq++) out.push(rec(seq));
  return out;
}

function rec(seq: number): TelemetryRecord {
  const ts = T0 + seq * 1000;
  const common = { device: `yz-s01-dev${seq % 3}`, seq, ts, rx: ts + 5 };
  switch (seq % 3) {
    case 0:
      return { ...common, kind: 'vr_kit', data: { batteryPct: seq % 101, charging: false, inSession: true } };
    case 1:
      return {
        ...common,
        kind: 'network_node',
        data: { role: 'school_uplink', capacityBps: 1e9, octetsIn: String(BigInt(seq) * 10n ** 15n), octetsOut: '0', operUp: true },
      };
    default:
      return {
        ...common,
        kind: 'classroom_av',
        data: { power: 'on', lampHours: seq / 4, temperatureC: 40.5, inSession: true, streamKbps: 3000 },
        hist: true,
      };
  }
}

function seqs(b: OutboxBatch | null): number[] | null {
  return b === null ? null : b.records.map((r) => r.seq);
}

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

/** A tiny deterministic generator (not the one under test anywhere). */
function lcg(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s >>> 8;
  };
}

/**
 * A deliberately naive reference: waiting seqs kept sorted ascending (oldest first), in-flight
 * batches by id. Drop-oldest removes the smallest waiting seqs.
 */
class ModelOutbox {
  readonly #max: number;
  #waiting: number[] = [];
  readonly #inflight = new Map<number, number[]>();
  #tmpId = -1;
  dropped = 0;
  constructor(max: number) {
    this.#max = max;
  }
  size(): number {
    let n = this.#waiting.length;
    for (const b of this.#inflight.values()) n += b.length;
    return n;
  }
  append(s: number[]): void {
    this.#waiting.push(...s);
    this.#waiting.sort((a, b) => a - b);
    while (this.size() > this.#max && this.#waiting.length > 0) {
      this.#waiting.shift();
      this.dropped++;
    }
  }
  take(max: number): { id: number; seqs: number[] } | null {
    if (this.#waiting.length === 0) return null;
    const s = this.#waiting.splice(0, max);
    const id = this.#tmpId--;
    this.#inflight.set(id, s);
    return { id, seqs: s };
  }
  rename(from: number, to: number): void {
    const s = this.#inflight.get(from)!;
    this.#inflight.delete(from);
    this.#inflight.set(to, s);
  }
  ack(id: number): void {
    this.#inflight.delete(id);
  }
  release(id: number): void {
    const s = this.#inflight.get(id);
    if (!s) return;
    this.#inflight.delete(id);
    this.#waiting.push(...s);
    this.#waiting.sort((a, b) => a - b);
  }
}
