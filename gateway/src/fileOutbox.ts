import * as nodeFs from 'node:fs';
import { open, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { toError } from '../../runtime/src/errors.ts';
import { GatewayError, GatewayErrorCode } from './errors.ts';
import { mergeByOrdinal, type Lane, type Outbox, type OutboxBatch } from './outbox.ts';

/**
 * A durable outbox: an append-only log of segment files in one directory.
 *
 * - Each record is one line `ordinal<TAB>json\n` in `seg-<first ordinal>.log`; a new segment
 *   starts when the current one reaches `segmentBytes`.
 * - `append` resolves after write(2) (fsync `interval`) or after write(2) + fdatasync (fsync
 *   `always`, group-committed: one fdatasync for everything appended meanwhile). Either way a
 *   `kill -9` loses nothing acknowledged; a power cut loses nothing with `always`, and up to
 *   `fsyncIntervalMs` of records with `interval`.
 * - Acknowledged ordinals are appended to `acks.log` (no fsync: an ack lost in a crash only
 *   means the batch is sent again, and a resent record writes the same point).
 * - Only positions are in memory; records are read back from the files (page cache) when taken,
 *   so a weekend of backlog costs disk, not heap.
 * - Bounds: total bytes and record age (by gateway receive time). Whole segments are dropped,
 *   oldest first; every waiting record in them is counted in `dropped`. Records in flight when
 *   their segment is dropped are still delivered if the hub acknowledges them.
 */
export interface FileOutboxConfig {
  dir: string;
  maxBytes: number;
  maxAgeMs: number;
  segmentBytes: number;
  fsync: 'always' | 'interval';
  fsyncIntervalMs: number;
}

interface Segment {
  first: number;
  /** first - 1 while empty. */
  last: number;
  bytes: number;
  path: string;
  newestRx: number;
  readFd: number | undefined;
  deleted: boolean;
}

interface Pos {
  ord: number;
  seg: Segment;
  off: number;
}

interface Entry {
  n: number;
  r: OutboxRecord;
  size: number;
}

interface ReadEntry extends Entry {
  next: Pos;
}

interface PendingAppend {
  buf: Buffer;
  count: number;
  lastRx: number;
  resolve(): void;
  reject(e: Error): void;
}

/**
 * The synchronous filesystem calls the outbox makes (node:fs by default). Tests pass a wrapper
 * that injects faults, e.g. ENOSPC on the acknowledgement log: the process edge, not a mock.
 */
export type OutboxFs = Pick<typeof nodeFs, 'closeSync' | 'fdatasyncSync' | 'fsyncSync' | 'mkdirSync' | 'openSync' | 'readdirSync' | 'readFileSync' | 'readSync' | 'renameSync' | 'rmSync' | 'truncateSync' | 'writeSync'>;

const SEG_RE = /^seg-(\d{16})\.log$/;
const READ_CHUNK = 1 << 20;

export class FileOutbox implements Outbox {
  readonly #cfg: FileOutboxConfig;
  readonly #now: () => number;
  #segments: Segment[] = [];
  #tailHandle: FileHandle | undefined;
  #nextOrdinal = 0;
  /** Smallest ordinal neither acknowledged nor dropped. */
  #lowWater = 0;
  /** Acknowledged ranges [from, to] above #lowWater, sorted and disjoint. */
  #acked: Array<[number, number]> = [];
  #boundary = 0;
  /** Untaken backlog ranges: from `start` up to `end` (exclusive), sorted. */
  #backlog: Array<{ start: Pos; end: number }> = [];
  #live!: Pos;
  /** Released entries waiting again, sorted by ordinal. */
  #released: Entry[] = [];
  readonly #inflight = new Map<number, { lane: Lane; entries: Entry[] }>();
  #inflightCount = 0;
  #nextBatch = 1;
  #dropped = 0;
  #totalBytes = 0;
  #pending: PendingAppend[] = [];
  #flushing: Promise<void> | undefined;
  #dirty = false;
  #syncTimer: NodeJS.Timeout | undefined;
  #acksFd: number | undefined;
  #acksBytes = 0;
  #closed = false;
  /** Bytes cut from a torn last line when the outbox was opened (a crash mid-write). */
  repairedBytes = 0;

  readonly #fs: OutboxFs;
  /** A write to acks.log failed, maybe half-way: the next one starts on a fresh line. */
  #acksTorn = false;

  private constructor(cfg: FileOutboxConfig, now: () => number, fs: OutboxFs) {
    this.#cfg = cfg;
    this.#now = now;
    this.#fs = fs;
  }

  /** Opens (and recovers) the outbox in `cfg.dir`. Everything recovered is backlog. */
  static async open(cfg: FileOutboxConfig, now: () => number = Date.now, fs: OutboxFs = nodeFs): Promise<FileOutbox> {
    if (cfg.segmentBytes * 2 > cfg.maxBytes) throw new GatewayError(GatewayErrorCode.OUTBOX_CONFIG, 'segmentBytes must be at most half of maxBytes');
    const o = new FileOutbox(cfg, now, fs);
    await o.#recover();
    return o;
  }

  get dropped(): number {
    return this.#dropped;
  }

  size(): number {
    return this.waiting() + this.#inflightCount;
  }

  waiting(lane?: Lane): number {
    const backlogDisk = this.#backlog.reduce((n, r) => n + this.#countUnacked(r.start.ord, r.end), 0);
    const liveDisk = this.#countUnacked(this.#live.ord, this.#writtenEnd());
    const relBacklog = this.#released.filter((e) => e.n < this.#boundary).length;
    const relLive = this.#released.length - relBacklog;
    if (lane === 'backlog') return backlogDisk + relBacklog;
    if (lane === 'live') return liveDisk + relLive;
    return backlogDisk + liveDisk + this.#released.length;
  }

  bytes(): number {
    return this.#totalBytes;
  }

  oldestRx(): number | undefined {
    const candidates: number[] = [];
    if (this.#released[0]) candidates.push(this.#released[0].r.rx);
    for (const b of this.#inflight.values()) if (b.entries[0]) candidates.push(b.entries[0].r.rx);
    const firstBacklog = this.#backlog[0];
    if (firstBacklog) {
      const e = this.#read(firstBacklog.start, 1, firstBacklog.end)[0];
      if (e) candidates.push(e.r.rx);
    }
    const e = this.#read(this.#live, 1, Number.MAX_SAFE_INTEGER)[0];
    if (e) candidates.push(e.r.rx);
    return candidates.length ? Math.min(...candidates) : undefined;
  }

  markBoundary(): void {
    const end = this.#writtenEnd() + this.#pendingCount();
    if (this.#live.ord < end) {
      const last = this.#backlog.at(-1);
      if (last && last.end === this.#live.ord) last.end = end;
      else this.#backlog.push({ start: this.#live, end });
    }
    this.#boundary = end;
    // Its byte offset is found when first read (the lines may not be written yet).
    this.#live = { ord: end, seg: this.#segments.at(-1)!, off: Number.NaN };
  }

  async append(records: OutboxRecord[]): Promise<void> {
    if (this.#closed) throw new GatewayError(GatewayErrorCode.STOPPED, 'outbox closed'); // a use after stop
    if (records.length === 0) return;
    let text = '';
    for (const r of records) text += `${this.#nextOrdinal++}\t${JSON.stringify(r)}\n`;
    const buf = Buffer.from(text);
    await new Promise<void>((resolve, reject) => {
      this.#pending.push({ buf, count: records.length, lastRx: records.at(-1)!.rx, resolve, reject });
      this.#flushing ??= this.#flushLoop().finally(() => (this.#flushing = undefined));
    });
  }

  take(max: number, lane: Lane = 'live'): OutboxBatch | null {
    const out: Entry[] = [];
    while (out.length < max) {
      const rel = this.#released.findIndex((e) => (lane === 'backlog' ? e.n < this.#boundary : e.n >= this.#boundary));
      const relHead = rel >= 0 ? this.#released[rel] : undefined;
      const range = lane === 'backlog' ? this.#backlog[0] : { start: this.#live, end: this.#writtenEnd() };
      const diskHead = range && range.start.ord < range.end ? range.start.ord : undefined;
      if (relHead && (diskHead === undefined || relHead.n < diskHead)) {
        out.push(relHead);
        this.#released.splice(rel, 1);
        continue;
      }
      if (!range || diskHead === undefined) {
        if (lane === 'backlog' && range) {
          this.#backlog.shift();
          continue;
        }
        break;
      }
      const limit = relHead ? Math.min(range.end, relHead.n) : range.end;
      const got = this.#read(range.start, max - out.length, limit);
      if (got.length === 0) {
        // Nothing readable below the limit (acknowledged, or not yet written).
        if (lane === 'backlog') {
          if (limit === range.end) this.#backlog.shift();
          else range.start = { ...range.start, ord: limit };
          continue;
        }
        break;
      }
      for (const e of got) out.push({ n: e.n, r: e.r, size: e.size });
      const next = got.at(-1)!.next;
      if (lane === 'backlog') {
        range.start = next;
        if (next.ord >= range.end) this.#backlog.shift();
      } else {
        this.#live = next;
      }
    }
    if (out.length === 0) return null;
    const id = this.#nextBatch++;
    this.#inflight.set(id, { lane, entries: out });
    this.#inflightCount += out.length;
    return { id, lane, records: out.map((e) => e.r) };
  }

  async ack(batchId: number): Promise<void> {
    const b = this.#inflight.get(batchId);
    if (!b) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= b.entries.length;
    const ranges = toRanges(b.entries.map((e) => e.n).filter((n) => n >= this.#lowWater));
    if (ranges.length === 0) return;
    // In memory the batch is acknowledged whatever the disk says: it is not sent again in this
    // run. An ack the log missed only means the batch is resent after a restart (at-least-once).
    for (const r of ranges) this.#addAcked(r);
    this.#advanceLowWater();
    let failure: unknown;
    try {
      this.#writeAcks(ranges.map(([a, z]) => `${a}\t${z}\n`).join(''));
    } catch (e) {
      failure = e;
    }
    // Whatever the ack log says: segments wholly delivered go, which is what frees a full disk
    // (a deleted segment is never resent, so no ack is needed for it).
    try {
      this.#deleteConsumedSegments();
      if (failure === undefined && this.#acksBytes > 1 << 20) this.#compactAcks();
    } catch (e) {
      failure ??= e;
    }
    if (failure !== undefined) throw new GatewayError(GatewayErrorCode.OUTBOX_ACK_WRITE, 'recording an acknowledgement failed', { cause: failure });
  }

  #writeAcks(text: string): void {
    if (this.#acksFd === undefined) return;
    const line = this.#acksTorn ? `\n${text}` : text;
    this.#acksTorn = true;
    this.#acksBytes += this.#fs.writeSync(this.#acksFd, line);
    this.#acksTorn = false;
  }

  release(batchId: number): void {
    const b = this.#inflight.get(batchId);
    if (!b) return;
    this.#inflight.delete(batchId);
    this.#inflightCount -= b.entries.length;
    this.#released = mergeByOrdinal(b.entries, this.#released);
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    clearInterval(this.#syncTimer);
    while (this.#flushing) await this.#flushing;
    if (this.#tailHandle) {
      await this.#tailHandle.datasync().catch(() => {});
      await this.#tailHandle.close();
      this.#tailHandle = undefined;
    }
    for (const s of this.#segments) this.#closeRead(s);
    if (this.#acksFd !== undefined) this.#fs.closeSync(this.#acksFd);
    this.#acksFd = undefined;
  }

  // ── writing ────────────────────────────────────────────────────────────────────────────

  async #flushLoop(): Promise<void> {
    while (this.#pending.length > 0) {
      const batch = this.#pending;
      this.#pending = [];
      try {
        await this.#ensureTail();
        const tail = this.#segments.at(-1)!;
        const buf = batch.length === 1 ? batch[0]!.buf : Buffer.concat(batch.map((p) => p.buf));
        let written = 0;
        while (written < buf.length) {
          const { bytesWritten } = await this.#tailHandle!.write(buf, written, buf.length - written, tail.bytes + written);
          written += bytesWritten;
        }
        if (this.#cfg.fsync === 'always') await this.#tailHandle!.datasync();
        else this.#dirty = true;
        const count = batch.reduce((n, p) => n + p.count, 0);
        tail.last += count;
        tail.bytes += buf.length;
        tail.newestRx = batch.at(-1)!.lastRx;
        this.#totalBytes += buf.length;
        for (const p of batch) p.resolve();
      } catch (e) {
        for (const p of batch) p.reject(toError(e));
      }
      this.#enforceBounds();
    }
  }

  /** Opens a new tail segment when there is none or the current one is full. */
  async #ensureTail(): Promise<void> {
    const tail = this.#segments.at(-1);
    if (tail && this.#tailHandle && tail.bytes < this.#cfg.segmentBytes) return;
    if (this.#tailHandle) {
      if (this.#cfg.fsync === 'interval' && this.#dirty) await this.#tailHandle.datasync();
      await this.#tailHandle.close();
      this.#tailHandle = undefined;
    }
    const first = tail ? tail.last + 1 : this.#writtenEnd();
    const seg = this.#newSegment(first);
    // Positional writes: not append mode, which Linux would make ignore the position.
    this.#tailHandle = await open(seg.path, 'w');
    if (this.#cfg.fsync === 'always') this.#syncDir();
  }

  #newSegment(first: number): Segment {
    const seg: Segment = {
      first,
      last: first - 1,
      bytes: 0,
      path: join(this.#cfg.dir, `seg-${String(first).padStart(16, '0')}.log`),
      newestRx: 0,
      readFd: undefined,
      deleted: false,
    };
    this.#segments.push(seg);
    return seg;
  }

  /** Ordinal after the last written record. */
  #writtenEnd(): number {
    const tail = this.#segments.at(-1);
    return tail ? tail.last + 1 : this.#nextOrdinal;
  }

  #pendingCount(): number {
    return this.#nextOrdinal - this.#writtenEnd();
  }

  /** The position of a written ordinal (scans its segment's lines). */
  #locate(ord: number): Pos | undefined {
    const seg = this.#segments.find((s) => !s.deleted && s.first <= ord && ord <= s.last + 1 && (ord <= s.last || s === this.#segments.at(-1)));
    if (!seg) return undefined;
    if (ord === seg.first) return { ord, seg, off: 0 };
    if (ord === seg.last + 1) return { ord, seg, off: seg.bytes };
    const data = this.#readRange(seg, 0, seg.bytes);
    let off = 0;
    for (let n = seg.first; n < ord; n++) off = data.indexOf(0x0a, off) + 1;
    return { ord, seg, off };
  }

  #syncDir(): void {
    const fd = this.#fs.openSync(this.#cfg.dir, 'r');
    try {
      this.#fs.fsyncSync(fd);
    } finally {
      this.#fs.closeSync(fd);
    }
  }

  // ── reading ────────────────────────────────────────────────────────────────────────────

  #readRange(seg: Segment, from: number, to: number): Buffer {
    seg.readFd ??= this.#fs.openSync(seg.path, 'r');
    const buf = Buffer.allocUnsafe(to - from);
    let got = 0;
    while (got < buf.length) {
      const n = this.#fs.readSync(seg.readFd, buf, got, buf.length - got, from + got);
      if (n === 0) break;
      got += n;
    }
    return buf.subarray(0, got);
  }

  /** Up to `max` records from `pos`, below ordinal `end`, skipping acknowledged ones. */
  #read(pos: Pos, max: number, end: number): ReadEntry[] {
    const out: ReadEntry[] = [];
    if (Number.isNaN(pos.off)) {
      const found = this.#locate(pos.ord);
      if (!found) return out;
      pos = found;
    }
    let seg = pos.seg;
    let off = pos.off;
    if (seg.deleted || (off >= seg.bytes && seg !== this.#segments.at(-1))) {
      const next = this.#segments.find((s) => !s.deleted && s.last >= pos.ord);
      if (!next) return out;
      seg = next;
      off = 0;
    }
    while (out.length < max) {
      if (off >= seg.bytes) {
        const i = this.#segments.indexOf(seg);
        const next = this.#segments[i + 1];
        if (!next) break;
        seg = next;
        off = 0;
        continue;
      }
      let chunk = this.#readRange(seg, off, Math.min(seg.bytes, off + READ_CHUNK));
      let nl = chunk.indexOf(0x0a);
      if (nl < 0) chunk = this.#readRange(seg, off, seg.bytes); // one line longer than a chunk
      let start = 0;
      nl = chunk.indexOf(0x0a, start);
      let progressed = false;
      while (nl >= 0 && out.length < max) {
        const line = chunk.subarray(start, nl);
        const tab = line.indexOf(0x09);
        const n = Number(line.subarray(0, tab).toString('latin1'));
        const lineBytes = nl - start + 1;
        start = nl + 1;
        progressed = true;
        if (n >= end) return out;
        const next: Pos = { ord: n + 1, seg, off: off + start };
        if (n >= pos.ord && n >= this.#lowWater && !this.#isAcked(n)) {
          const r = JSON.parse(line.subarray(tab + 1).toString('utf8')) as OutboxRecord;
          out.push({ n, r, size: lineBytes, next });
        }
        nl = chunk.indexOf(0x0a, start);
      }
      if (!progressed) break;
      off += start;
    }
    return out;
  }

  #closeRead(s: Segment): void {
    if (s.readFd !== undefined) this.#fs.closeSync(s.readFd);
    s.readFd = undefined;
  }

  // ── acknowledgements and bounds ───────────────────────────────────────────────────────

  #isAcked(n: number): boolean {
    let lo = 0;
    let hi = this.#acked.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const [a, z] = this.#acked[mid]!;
      if (n < a) hi = mid - 1;
      else if (n > z) lo = mid + 1;
      else return true;
    }
    return false;
  }

  /** Ordinals in [from, to) neither acknowledged nor below the low-water mark. */
  #countUnacked(from: number, to: number): number {
    const a0 = Math.max(from, this.#lowWater);
    if (to <= a0) return 0;
    let n = to - a0;
    for (const [a, z] of this.#acked) {
      const lo = Math.max(a, a0);
      const hi = Math.min(z + 1, to);
      if (hi > lo) n -= hi - lo;
    }
    return n;
  }

  #addAcked([a, z]: [number, number]): void {
    this.#acked.push([a, z]);
    this.#acked.sort((x, y) => x[0] - y[0]);
    const merged: Array<[number, number]> = [];
    for (const r of this.#acked) {
      const last = merged.at(-1);
      if (last && r[0] <= last[1] + 1) last[1] = Math.max(last[1], r[1]);
      else merged.push([r[0], r[1]]);
    }
    this.#acked = merged;
  }

  #advanceLowWater(): void {
    while (this.#acked.length > 0 && this.#acked[0]![0] <= this.#lowWater) {
      this.#lowWater = Math.max(this.#lowWater, this.#acked[0]![1] + 1);
      this.#acked.shift();
    }
  }

  /** Deletes read-only segments whose every record is acknowledged or dropped. */
  #deleteConsumedSegments(): void {
    while (this.#segments.length > 1 && this.#segments[0]!.last < this.#lowWater) {
      this.#removeSegment(this.#segments[0]!);
    }
  }

  #removeSegment(s: Segment): void {
    this.#closeRead(s);
    this.#fs.rmSync(s.path, { force: true });
    s.deleted = true;
    this.#segments.shift();
    this.#totalBytes -= s.bytes;
  }

  /** Drop-oldest: whole segments while over the byte bound or older than the age bound. */
  #enforceBounds(): void {
    const cutoff = this.#now() - this.#cfg.maxAgeMs;
    while (this.#segments.length > 1) {
      const s = this.#segments[0]!;
      if (this.#totalBytes <= this.#cfg.maxBytes && s.newestRx >= cutoff) break;
      this.#dropSegment(s);
    }
  }

  #dropSegment(s: Segment): void {
    const end = s.last + 1;
    const next: Pos = { ord: end, seg: this.#segments[1]!, off: 0 };
    let count = 0;
    for (const r of this.#backlog) {
      if (r.start.ord < end) {
        count += this.#countUnacked(r.start.ord, Math.min(r.end, end));
        r.start = next;
      }
    }
    this.#backlog = this.#backlog.filter((r) => r.start.ord < r.end);
    if (this.#live.ord < end) {
      count += this.#countUnacked(this.#live.ord, end);
      this.#live = next;
    }
    const keep = this.#released.filter((e) => e.n >= end);
    count += this.#released.length - keep.length;
    this.#released = keep;
    this.#dropped += count;
    this.#lowWater = Math.max(this.#lowWater, end);
    this.#acked = this.#acked.filter(([, z]) => z >= this.#lowWater);
    this.#advanceLowWater();
    this.#removeSegment(s);
  }

  #compactAcks(): void {
    const path = join(this.#cfg.dir, 'acks.log');
    const tmp = `${path}.tmp`;
    const text = this.#acked.map(([a, z]) => `${a}\t${z}\n`).join('');
    // The old log stays in use until the new one is complete and renamed over it.
    const fd = this.#fs.openSync(tmp, 'w');
    try {
      this.#fs.writeSync(fd, text);
      this.#fs.fdatasyncSync(fd);
    } catch (e) {
      this.#fs.closeSync(fd);
      this.#fs.rmSync(tmp, { force: true });
      throw e;
    }
    this.#fs.closeSync(fd);
    this.#fs.renameSync(tmp, path);
    const next = this.#fs.openSync(path, 'a');
    if (this.#acksFd !== undefined) this.#fs.closeSync(this.#acksFd);
    this.#acksFd = next;
    this.#acksBytes = text.length;
    this.#acksTorn = false;
  }

  // ── recovery ───────────────────────────────────────────────────────────────────────────

  async #recover(): Promise<void> {
    this.#fs.mkdirSync(this.#cfg.dir, { recursive: true });
    const names = this.#fs.readdirSync(this.#cfg.dir).filter((n) => SEG_RE.test(n)).sort();
    let maxAcked = -1;
    const acksPath = join(this.#cfg.dir, 'acks.log');
    let acksText = '';
    try {
      acksText = this.#fs.readFileSync(acksPath, 'utf8');
    } catch {
      acksText = '';
    }
    for (const line of acksText.split('\n')) {
      const m = /^(\d+)\t(\d+)$/.exec(line);
      if (!m) continue;
      const r: [number, number] = [Number(m[1]), Number(m[2])];
      if (r[1] < r[0]) continue; // the head of a torn line: never an acknowledgement
      this.#addAcked(r);
      maxAcked = Math.max(maxAcked, r[1]);
    }
    for (const name of names) {
      const path = join(this.#cfg.dir, name);
      const first = Number(SEG_RE.exec(name)![1]);
      const seg = this.#recoverSegment(path, first);
      if (seg) this.#segments.push(seg);
    }
    const lastSeg = this.#segments.at(-1);
    this.#nextOrdinal = Math.max(lastSeg ? lastSeg.last + 1 : 0, maxAcked + 1);
    this.#lowWater = this.#segments[0]?.first ?? this.#nextOrdinal;
    this.#acked = this.#acked.filter(([, z]) => z >= this.#lowWater);
    this.#advanceLowWater();
    this.#totalBytes = this.#segments.reduce((n, s) => n + s.bytes, 0);
    // Recovered segments are read-only; new records go to a fresh tail.
    while (this.#segments.length > 0 && this.#segments[0]!.last < this.#lowWater) this.#removeSegment(this.#segments[0]!);
    const empty = this.#segments.at(-1);
    if (empty && empty.last < empty.first) {
      this.#segments.pop();
      this.#fs.rmSync(empty.path, { force: true });
    }
    const tail = this.#newSegment(this.#nextOrdinal);
    this.#tailHandle = await open(tail.path, 'w');
    this.#boundary = this.#nextOrdinal;
    const firstHeld = this.#segments.find((s) => s.last >= this.#lowWater && s.last >= s.first);
    if (firstHeld && this.#lowWater < this.#nextOrdinal) {
      this.#backlog = [{ start: { ord: this.#lowWater, seg: firstHeld, off: 0 }, end: this.#nextOrdinal }];
    }
    this.#live = { ord: this.#nextOrdinal, seg: tail, off: 0 };
    // Rewrite the ack log with only what still matters.
    const text = this.#acked.map(([a, z]) => `${a}\t${z}\n`).join('');
    const fd = this.#fs.openSync(acksPath, 'w');
    this.#fs.writeSync(fd, text);
    this.#fs.closeSync(fd);
    this.#acksFd = this.#fs.openSync(acksPath, 'a');
    this.#acksBytes = text.length;
    if (this.#cfg.fsync === 'interval') {
      this.#syncTimer = setInterval(() => {
        if (this.#dirty && this.#tailHandle && !this.#flushing) {
          this.#dirty = false;
          void this.#tailHandle.datasync().catch(() => {});
        }
      }, this.#cfg.fsyncIntervalMs);
      this.#syncTimer.unref();
    }
    this.#enforceBounds();
  }

  /** Reads a segment, cutting a torn last line (a crash mid-write) at the last complete one. */
  #recoverSegment(path: string, first: number): Segment | undefined {
    const data = this.#fs.readFileSync(path);
    let end = data.lastIndexOf(0x0a) + 1;
    // A power cut can leave garbage after the last good line: walk back to a line that parses.
    while (end > 0) {
      const prev = data.lastIndexOf(0x0a, end - 2) + 1;
      const line = data.subarray(prev, end - 1);
      const tab = line.indexOf(0x09);
      let ok = tab > 0 && /^\d+$/.test(line.subarray(0, tab).toString('latin1'));
      if (ok) {
        try {
          JSON.parse(line.subarray(tab + 1).toString('utf8'));
        } catch {
          ok = false;
        }
      }
      if (ok) break;
      end = prev;
    }
    if (end < data.length) {
      this.repairedBytes += data.length - end;
      this.#fs.truncateSync(path, end);
    }
    let count = 0;
    for (let i = 0; i < end; i++) if (data[i] === 0x0a) count++;
    const seg: Segment = { first, last: first + count - 1, bytes: end, path, newestRx: 0, readFd: undefined, deleted: false };
    if (count > 0) {
      const lastLine = data.subarray(data.lastIndexOf(0x0a, end - 2) + 1, end - 1);
      seg.newestRx = rxOf(lastLine);
    }
    return seg;
  }
}

function rxOf(line: Buffer): number {
  const tab = line.indexOf(0x09);
  return (JSON.parse(line.subarray(tab + 1).toString('utf8')) as OutboxRecord).rx;
}

function toRanges(ns: number[]): Array<[number, number]> {
  const sorted = [...ns].sort((a, b) => a - b);
  const out: Array<[number, number]> = [];
  for (const n of sorted) {
    const last = out.at(-1);
    if (last && n === last[1] + 1) last[1] = n;
    else if (!last || n > last[1]) out.push([n, n]);
  }
  return out;
}
