import { describe, expect, it } from 'vitest';
import { retrySize, UplinkScheduler, type UplinkSchedulerConfig } from '../src/uplinkScheduler.ts';

const CFG: UplinkSchedulerConfig = {
  batchMaxRecords: 500,
  lingerMs: 200,
  maxInflightBatches: 4,
  replayRatePerSec: 2000,
  replayJitterMs: 10_000,
  replayInflightBatches: 2,
};

const only = (backlog: number) => ({ live: 0, backlog });

describe('UplinkScheduler: backlog replay', () => {
  it('waits out the jitter drawn on connect, then paces 500-record batches at 2000/s: one every 250 ms', () => {
    const s = new UplinkScheduler(CFG);
    // random 0.25 × 10 000 ms = 2500 ms of jitter.
    expect(s.connected(0, 0.25)).toBe(2500);
    expect(s.next(0, only(5000))).toEqual({ do: 'wait', until: 2500 });
    expect(s.next(2499, only(5000))).toEqual({ do: 'wait', until: 2500 });
    const starts: number[] = [];
    let t = 2500;
    // Every batch is acknowledged at once: only the token bucket sets the pace.
    for (let sent = 0; sent < 2000; t++) {
      const d = s.next(t, only(5000 - sent));
      if (d.do !== 'send') continue;
      expect(d).toEqual({ do: 'send', lane: 'backlog', max: 500 });
      starts.push(t);
      s.sent('backlog', 500, t);
      s.settled('backlog', 500);
      sent += 500;
    }
    // 500 records ÷ 2000 per second = 250 ms between starts.
    expect(starts).toEqual([2500, 2750, 3000, 3250]);
  });

  it('holds at most replayInflightBatches in flight; a late acknowledgement moves the next start', () => {
    const s = new UplinkScheduler(CFG);
    s.connected(1000, 0); // no jitter
    expect(s.next(1000, only(5000))).toEqual({ do: 'send', lane: 'backlog', max: 500 });
    s.sent('backlog', 500, 1000); // next start 1250
    expect(s.next(1250, only(4500))).toEqual({ do: 'send', lane: 'backlog', max: 500 });
    s.sent('backlog', 500, 1250); // next start 1500, but two are in flight
    expect(s.next(1600, only(4000))).toEqual({ do: 'idle' });
    expect(s.inflightRecords('backlog')).toBe(1000);
    s.settled('backlog', 500); // acknowledged at 1700
    expect(s.next(1700, only(4000))).toEqual({ do: 'send', lane: 'backlog', max: 500 });
    s.sent('backlog', 500, 1700); // max(1500, 1700) + 250 = 1950
    s.settled('backlog', 500);
    expect(s.next(1800, only(3500))).toEqual({ do: 'wait', until: 1950 });
  });

  it('sends at most one second of the rate per batch, and at least one record', () => {
    expect(new UplinkScheduler({ ...CFG, replayRatePerSec: 300 }).backlogBatchMax).toBe(300);
    expect(new UplinkScheduler({ ...CFG, replayRatePerSec: 2000 }).backlogBatchMax).toBe(500);
    const slow = new UplinkScheduler({ ...CFG, replayRatePerSec: 4 });
    slow.connected(0, 0);
    expect(slow.next(0, only(10))).toEqual({ do: 'send', lane: 'backlog', max: 4 });
    slow.sent('backlog', 4, 0); // 4 records at 4/s: the next batch a second later
    slow.settled('backlog', 4);
    expect(slow.next(10, only(6))).toEqual({ do: 'wait', until: 1000 });
  });

  it('sends nothing of the backlog before the first connect or after a disconnect', () => {
    const s = new UplinkScheduler(CFG);
    expect(s.next(0, only(10))).toEqual({ do: 'idle' });
    s.connected(0, 0);
    s.disconnected();
    expect(s.next(60_000, only(10))).toEqual({ do: 'idle' });
  });
});

describe('UplinkScheduler: live lane', () => {
  it('sends a partial batch at once when nothing is in flight', () => {
    const s = new UplinkScheduler(CFG);
    s.connected(0, 0);
    expect(s.next(0, { live: 3, backlog: 0 })).toEqual({ do: 'send', lane: 'live', max: 500 });
  });

  it('lets a partial batch linger 200 ms while others are in flight, but sends a full one at once', () => {
    const s = new UplinkScheduler(CFG);
    s.connected(0, 0);
    s.sent('live', 3, 0);
    expect(s.next(1000, { live: 2, backlog: 0 })).toEqual({ do: 'wait', until: 1200 });
    // More records join; the wait still ends 200 ms after the first one started waiting.
    expect(s.next(1100, { live: 7, backlog: 0 })).toEqual({ do: 'wait', until: 1200 });
    expect(s.next(1150, { live: 500, backlog: 0 })).toEqual({ do: 'send', lane: 'live', max: 500 });
    s.sent('live', 500, 1150);
    expect(s.next(1150, { live: 7, backlog: 0 })).toEqual({ do: 'wait', until: 1200 });
    expect(s.next(1200, { live: 7, backlog: 0 })).toEqual({ do: 'send', lane: 'live', max: 500 });
    s.sent('live', 7, 1200);
    // The lane emptied: the next partial batch waits afresh.
    expect(s.next(1300, { live: 0, backlog: 0 })).toEqual({ do: 'idle' });
    expect(s.next(1400, { live: 1, backlog: 0 })).toEqual({ do: 'wait', until: 1600 });
  });

  it('holds at most maxInflightBatches live batches in flight', () => {
    const s = new UplinkScheduler(CFG);
    s.connected(0, 0);
    for (let i = 0; i < 4; i++) {
      expect(s.next(0, { live: 2000 - i * 500, backlog: 0 })).toEqual({ do: 'send', lane: 'live', max: 500 });
      s.sent('live', 500, 0);
    }
    expect(s.next(0, { live: 500, backlog: 0 })).toEqual({ do: 'idle' });
    s.settled('live', 500);
    expect(s.next(0, { live: 500, backlog: 0 })).toEqual({ do: 'send', lane: 'live', max: 500 });
  });

  it('serves live before the backlog, and waits for whichever comes first', () => {
    const s = new UplinkScheduler(CFG);
    s.connected(0, 0.5); // backlog from 5000
    expect(s.next(5000, { live: 600, backlog: 600 })).toEqual({ do: 'send', lane: 'live', max: 500 });
    s.sent('live', 500, 5000);
    expect(s.next(5000, { live: 100, backlog: 600 })).toEqual({ do: 'send', lane: 'backlog', max: 500 });
    s.sent('backlog', 500, 5000); // backlog again at 5250
    expect(s.next(5000, { live: 100, backlog: 100 })).toEqual({ do: 'wait', until: 5200 }); // the linger ends first
  });
});

describe('retrySize: a batch over batchMaxBytes', () => {
  it('is taken again half as large, rounding up; a single record goes whatever its size', () => {
    expect(retrySize(500, 1_000_000, 900_000)).toBe(250);
    expect(retrySize(3, 2000, 1024)).toBe(2);
    expect(retrySize(2, 2000, 1024)).toBe(1);
    expect(retrySize(1, 5_000_000, 1024)).toBeUndefined();
    expect(retrySize(500, 900_000, 900_000)).toBeUndefined();
  });
});
