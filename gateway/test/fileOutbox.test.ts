import { appendFileSync, mkdtempSync, readdirSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { GatewayErrorCode } from '../src/errors.ts';
import { FileOutbox, type FileOutboxConfig } from '../src/fileOutbox.ts';
import { diskFullOnAcks } from './faultyFs.ts';
import { outboxContract, recs } from './outboxContract.ts';

const dirs: string[] = [];
function tempDir(): string {
  const d = mkdtempSync(join(tmpdir(), 'outbox-'));
  dirs.push(d);
  return d;
}
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

const cfg = (dir: string, over: Partial<FileOutboxConfig> = {}): FileOutboxConfig => ({
  dir,
  maxBytes: 1 << 30,
  maxAgeMs: 100 * 365 * 86_400_000, // test records carry 2025 receive times
  segmentBytes: 4096,
  fsync: 'always',
  fsyncIntervalMs: 100,
  ...over,
});

outboxContract('file (fsync always)', () => FileOutbox.open(cfg(tempDir())), { boundedByRecords: false });
outboxContract('file (fsync interval, tiny segments)', () => FileOutbox.open(cfg(tempDir(), { fsync: 'interval', segmentBytes: 600 })), { boundedByRecords: false });

const seqsOf = (b: { records: Array<{ seq: number }> } | null) => b?.records.map((r) => r.seq) ?? null;

describe('FileOutbox durability', () => {
  it('after a crash (no close), every unacknowledged record comes back as backlog, in order, and acknowledged ones do not', async () => {
    const dir = tempDir();
    const a = await FileOutbox.open(cfg(dir));
    await a.append(recs(0, 100));
    const b1 = a.take(30)!; // 0..29
    const b2 = a.take(30)!; // 30..59
    await a.ack(b2.id); // acknowledged out of order
    // Process dies here: no close(), no flush beyond what append already awaited.
    const b = await FileOutbox.open(cfg(dir));
    expect(b.waiting('backlog')).toBe(70);
    expect(b.waiting('live')).toBe(0);
    const got: number[] = [];
    for (let x = b.take(25, 'backlog'); x; x = b.take(25, 'backlog')) got.push(...x.records.map((r) => r.seq));
    expect(got).toEqual([...Array.from({ length: 30 }, (_, i) => i), ...Array.from({ length: 40 }, (_, i) => 60 + i)]);
    expect(b1.records).toHaveLength(30);
    await b.close();
  });

  it('records appended after a restart get new ordinals and stay after the backlog', async () => {
    const dir = tempDir();
    const a = await FileOutbox.open(cfg(dir));
    await a.append(recs(0, 10));
    await a.close();
    const b = await FileOutbox.open(cfg(dir));
    await b.append(recs(10, 15));
    expect(seqsOf(b.take(100, 'live'))).toEqual([10, 11, 12, 13, 14]);
    expect(seqsOf(b.take(100, 'backlog'))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    await b.close();
  });

  it('cuts a torn last line (kill -9 mid-write) and keeps every complete record', async () => {
    const dir = tempDir();
    const a = await FileOutbox.open(cfg(dir, { segmentBytes: 1 << 20 }));
    await a.append(recs(0, 5));
    await a.close();
    const seg = readdirSync(dir).filter((n) => n.startsWith('seg-')).sort().at(-1)!;
    appendFileSync(join(dir, seg), '5\t{"device":"yz-s01-dev2","kind":"vr_k');
    const b = await FileOutbox.open(cfg(dir));
    expect(b.repairedBytes).toBe('5\t{"device":"yz-s01-dev2","kind":"vr_k'.length);
    expect(seqsOf(b.take(100, 'backlog'))).toEqual([0, 1, 2, 3, 4]);
    await b.close();
  });

  it('deletes segments once every record in them is acknowledged', async () => {
    const dir = tempDir();
    const o = await FileOutbox.open(cfg(dir, { segmentBytes: 1000 }));
    for (let i = 0; i < 40; i += 4) await o.append(recs(i, i + 4));
    const segsBefore = readdirSync(dir).filter((n) => n.startsWith('seg-')).length;
    expect(segsBefore).toBeGreaterThan(3);
    for (let b = o.take(7); b; b = o.take(7)) await o.ack(b.id);
    expect(o.size()).toBe(0);
    // Only the tail (being written) remains.
    expect(readdirSync(dir).filter((n) => n.startsWith('seg-'))).toHaveLength(1);
    await o.close();
  });
});

describe('FileOutbox bounds: whole segments, oldest first, every waiting record counted', () => {
  it('over the byte bound drops the oldest segments and counts exactly their waiting records', async () => {
    const dir = tempDir();
    const line = `0\t${JSON.stringify(recs(0, 1)[0])}\n`.length;
    // Segments of ~4 records; a bound of ~12 records' worth.
    const o = await FileOutbox.open(cfg(dir, { segmentBytes: line * 4, maxBytes: line * 12 }));
    for (let i = 0; i < 40; i += 4) await o.append(recs(i, i + 4));
    const kept = o.waiting();
    expect(o.dropped + kept).toBe(40);
    expect(o.bytes()).toBeLessThanOrEqual(line * 12 + 64);
    // What is kept is exactly the newest `kept` records, in order.
    const got = seqsOf(o.take(100));
    expect(got).toEqual(Array.from({ length: kept }, (_, i) => 40 - kept + i));
    await o.close();
  });

  it('in-flight records are not counted as dropped and are still acknowledged', async () => {
    const dir = tempDir();
    const line = `0\t${JSON.stringify(recs(0, 1)[0])}\n`.length;
    const o = await FileOutbox.open(cfg(dir, { segmentBytes: line * 4, maxBytes: line * 12 }));
    await o.append(recs(0, 4));
    const inflight = o.take(4)!; // 0..3 in flight
    for (let i = 4; i < 40; i += 4) await o.append(recs(i, i + 4));
    const kept = o.waiting();
    expect(o.dropped + kept + 4).toBe(40);
    await o.ack(inflight.id);
    expect(o.size()).toBe(kept);
    await o.close();
  });

  it('records older than the age bound are dropped (by receive time) and counted', async () => {
    const dir = tempDir();
    let now = recs(0, 1)[0]!.rx;
    const o = await FileOutbox.open(cfg(dir, { segmentBytes: 700, maxAgeMs: 60_000 }), () => now);
    await o.append(recs(0, 10)); // rx spaced 1 s apart
    now += 3_600_000; // an hour later
    await o.append(recs(3600, 3605));
    // Everything before the fresh records was older than an hour: dropped, except the segment
    // being written, which is never dropped.
    const left = seqsOf(o.take(100)) ?? [];
    expect(o.dropped + left.length).toBe(15);
    expect(left.slice(-5)).toEqual([3600, 3601, 3602, 3603, 3604]);
    expect(o.dropped).toBeGreaterThan(0);
    await o.close();
  });
});

describe('FileOutbox: an acknowledgement the disk refuses', () => {
  it('rejects with GW_ERR_OUTBOX_ACK_WRITE, forgets the batch in memory, and gives it back after a restart', async () => {
    const dir = tempDir();
    const disk = diskFullOnAcks();
    const a = await FileOutbox.open(cfg(dir), Date.now, disk.fs);
    await a.append(recs(0, 10));
    const b1 = a.take(4)!; // 0..3
    const b2 = a.take(3)!; // 4..6
    disk.full = true;
    await expect(a.ack(b1.id)).rejects.toMatchObject({ code: GatewayErrorCode.OUTBOX_ACK_WRITE });
    expect(disk.failures).toBe(1);
    // Not sent again in this run: 3 in flight + 3 waiting remain.
    expect(a.size()).toBe(6);
    disk.full = false;
    await a.ack(b2.id); // the disk has room again: this one is recorded
    expect(seqsOf(a.take(100))).toEqual([7, 8, 9]);
    // A crash and a restart: what the log missed (0..3) comes back, what it recorded (4..6) does not.
    const b = await FileOutbox.open(cfg(dir));
    expect(seqsOf(b.take(100, 'backlog'))).toEqual([0, 1, 2, 3, 7, 8, 9]);
    await b.close();
    await a.close();
  });

  it('deletes wholly delivered segments even while the ack log cannot be written (that is what frees a full disk)', async () => {
    const dir = tempDir();
    const disk = diskFullOnAcks();
    const o = await FileOutbox.open(cfg(dir, { segmentBytes: 1000 }), Date.now, disk.fs);
    for (let i = 0; i < 40; i += 4) await o.append(recs(i, i + 4));
    const segs = () => readdirSync(dir).filter((n) => n.startsWith('seg-')).length;
    expect(segs()).toBeGreaterThan(3);
    disk.full = true;
    let refused = 0;
    for (let b = o.take(7); b; b = o.take(7)) await o.ack(b.id).catch(() => refused++);
    expect(refused).toBe(disk.failures);
    expect(refused).toBeGreaterThan(0);
    expect(o.size()).toBe(0);
    // Only the tail (being written) remains, as when the acks are recorded.
    expect(segs()).toBe(1);
    const tail = readdirSync(dir).find((n) => n.startsWith('seg-'))!;
    const inTail = readFileSync(join(dir, tail), 'utf8').split('\n').filter(Boolean).length;
    await o.close();
    // After a restart nothing of a deleted segment comes back: only the tail's records, whose
    // acks the full disk missed (at-least-once).
    const again = await FileOutbox.open(cfg(dir, { segmentBytes: 1000 }));
    expect(inTail).toBeGreaterThan(0);
    expect(again.size()).toBe(inTail);
    await again.close();
  });
});

describe('FileOutbox misuse carries codes', () => {
  it('an append after close() is GW_ERR_STOPPED; a segment above half the byte bound is GW_ERR_OUTBOX_CONFIG', async () => {
    const o = await FileOutbox.open(cfg(tempDir()));
    await o.close();
    await expect(o.append(recs(0, 1))).rejects.toMatchObject({ code: GatewayErrorCode.STOPPED });
    await expect(FileOutbox.open(cfg(tempDir(), { maxBytes: 8192, segmentBytes: 4097 }))).rejects.toMatchObject({ code: GatewayErrorCode.OUTBOX_CONFIG });
  });
});
