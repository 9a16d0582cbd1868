import { describe, expect, it } from 'vitest';
import { fixedHeader } from '../../tests/harness/rawMqtt.ts';
import { connectionsAllowed, PacketScanner, readOpenFileLimit, RetainedQuota, TokenBucket, topicFault } from '../src/limits.ts';

/** A fixed header for packet type `type` with a remaining length of `len` (MQTT §2.2.3). */
const header = (type: number, len: number): Buffer => fixedHeader(type, 0, len);

function publish(topic: Buffer, payload: Buffer): Buffer {
  const t = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic]);
  return Buffer.concat([header(3, t.length + payload.length), t, payload]);
}

/** Feeds `bytes` to a scanner in pieces of `step` bytes; the first violation. */
function scan(max: number, bytes: Buffer, step: number) {
  const s = new PacketScanner(max);
  for (let i = 0; i < bytes.length; i += step) {
    const v = s.feed(bytes.subarray(i, i + step));
    if (v) return v;
  }
  return null;
}

const pingreq = Buffer.from([0xc0, 0x00]);

describe('PacketScanner', () => {
  it('passes a stream of valid packets, however it is split', () => {
    const stream = Buffer.concat([
      publish(Buffer.from('campus/v1/a/b/c/telemetry'), Buffer.alloc(300, 1)),
      pingreq,
      publish(Buffer.from('é/中/🎓'), Buffer.alloc(0)),
      header(8, 5), Buffer.alloc(5, 0), // a SUBSCRIBE body is not a PUBLISH topic
      publish(Buffer.from('x'), Buffer.alloc(1000, 0)), // zero bytes in a payload are fine
    ]);
    for (const step of [1, 2, 3, 7, 64, stream.length]) expect(scan(2000, stream, step), `step ${step}`).toBeNull();
  });

  it('refuses a packet larger than the limit from its header alone', () => {
    // 10 MB announced, no body sent: the header is enough.
    expect(scan(1_114_112, header(3, 10_000_000), 1)).toEqual({ reason: 'packet_too_large', bytes: 10_000_000 });
    // A 63 MiB CONNECT, after a valid PINGREQ in the same read.
    expect(scan(1_114_112, Buffer.concat([pingreq, header(1, 63 * 1_048_576)]), 100)).toEqual({ reason: 'packet_too_large', bytes: 66_060_288 });
    // Exactly the limit passes.
    expect(scan(1000, header(3, 1000), 1)).toBeNull();
  });

  it('refuses a remaining length of more than four bytes', () => {
    expect(scan(1000, Buffer.from([0x30, 0xff, 0xff, 0xff, 0xff, 0x01]), 1)).toEqual({ reason: 'malformed_length' });
  });

  it('refuses PUBLISH topics with U+0000 or invalid UTF-8, split anywhere', () => {
    const nul = publish(Buffer.from('a/\u0000/b'), Buffer.from('x'));
    const bad = publish(Buffer.from([0x61, 0x2f, 0xc3, 0x28]), Buffer.from('x')); // C3 28: a broken two-byte sequence
    const surrogate = publish(Buffer.from([0x61, 0xed, 0xa0, 0x80]), Buffer.alloc(0)); // U+D800 encoded
    for (const step of [1, 3, 100]) {
      expect(scan(1000, Buffer.concat([pingreq, nul]), step)).toEqual({ reason: 'invalid_topic', detail: 'U+0000 in topic' });
      expect(scan(1000, bad, step)).toEqual({ reason: 'invalid_topic', detail: 'invalid UTF-8 in topic' });
      expect(scan(1000, surrogate, step)).toEqual({ reason: 'invalid_topic', detail: 'invalid UTF-8 in topic' });
    }
  });

  it('topicFault accepts valid UTF-8, U+FFFD written as itself included', () => {
    expect(topicFault(Buffer.from('a/\ufffd/中'))).toBeNull();
  });
});

describe('TokenBucket', () => {
  it('lets a burst through, then spaces takes by 1/rate and keeps the debt', () => {
    const b = new TokenBucket(10, 3, 0);
    expect([b.take(0), b.take(0), b.take(0)]).toEqual([0, 0, 0]);
    // Fourth and fifth at t=0: 1 and 2 tokens of debt at 10/s.
    expect(b.take(0)).toBeCloseTo(100, 6);
    expect(b.take(0)).toBeCloseTo(200, 6);
    // 1 s later: +10 tokens refill the debt of 2 and cap at the burst of 3, one is taken.
    expect(b.take(1000)).toBe(0);
  });
});

describe('readOpenFileLimit', () => {
  it('reads the soft and hard limits from /proc/self/limits text', () => {
    const text = 'Limit                     Soft Limit           Hard Limit           Units\nMax open files            1024                 524288               files\n';
    expect(readOpenFileLimit(text)).toEqual({ soft: 1024, hard: 524288 });
    expect(connectionsAllowed({ soft: 1024, hard: 524288 })).toBe(960);
    expect(readOpenFileLimit('Max open files            unlimited            unlimited            files')).toEqual({ soft: Infinity, hard: Infinity });
    expect(readOpenFileLimit('nothing here')).toBeNull();
  });

  it('reads this process', () => {
    const l = readOpenFileLimit();
    if (l) expect(l.soft).toBeGreaterThan(0);
  });
});

describe('RetainedQuota', () => {
  it('counts topics and bytes per owner; replacing or clearing a topic frees it', () => {
    const q = new RetainedQuota(2, 100);
    expect([q.admit('a', 't1', 40), q.admit('a', 't2', 40), q.admit('a', 't3', 1)]).toEqual([true, true, false]);
    // Replacing t2 with 60 bytes: 40 + 60 = 100, at the limit; 61 would be over.
    expect([q.admit('a', 't2', 61), q.admit('a', 't2', 60)]).toEqual([false, true]);
    // Another owner has its own quota; clearing frees a topic.
    expect(q.admit('b', 't9', 100)).toBe(true);
    expect([q.admit('a', 't1', 0), q.admit('a', 't3', 40)]).toEqual([true, true]);
    // b overwriting a's topic takes it off a's account (t2's 60 bytes): a has only t3 left.
    expect([q.admit('b', 't2', 0), q.admit('a', 't4', 60)]).toEqual([true, true]);
  });
});
