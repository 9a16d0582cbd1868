import type { Lane } from './outbox.ts';

export interface UplinkSchedulerConfig {
  batchMaxRecords: number;
  lingerMs: number;
  /** Live batches in flight at once. */
  maxInflightBatches: number;
  /** Backlog replay: records per second, at most. */
  replayRatePerSec: number;
  /** Backlog replay starts after a random delay in [0, replayJitterMs), per connection. */
  replayJitterMs: number;
  /** Backlog batches in flight at once. */
  replayInflightBatches: number;
}

/** What the uplink does next: take and send up to `max` records of a lane, wait, or nothing. */
export type UplinkDecision =
  | { do: 'send'; lane: Lane; max: number }
  | { do: 'wait'; until: number }
  | { do: 'idle' };

/**
 * When the uplink sends what, with the clock passed in (no timers, no I/O): the live lane goes at
 * once within its in-flight bound, a partial live batch lingers while others are in flight; the
 * backlog is replayed after a per-connection jitter, paced by a token bucket. The uplink asks
 * `next()` until it says wait or idle, and reports what it sent and what was settled.
 */
export class UplinkScheduler {
  readonly #cfg: UplinkSchedulerConfig;
  readonly #inflight: Record<Lane, { batches: number; records: number }> = {
    live: { batches: 0, records: 0 },
    backlog: { batches: 0, records: 0 },
  };
  /** When a partial live batch started waiting for company; undefined when none waits. */
  #lingerSince: number | undefined;
  /** Replay may send once the clock reaches this (jitter, then the rate limit). */
  #replayNotBefore = Number.POSITIVE_INFINITY;

  constructor(cfg: UplinkSchedulerConfig) {
    this.#cfg = cfg;
  }

  /** Records in flight in a lane (taken from the outbox, not yet settled). */
  inflightRecords(lane: Lane): number {
    return this.#inflight[lane].records;
  }

  /** The session is up: the replay starts after a fresh random delay; `random` is in [0, 1). */
  connected(now: number, random: number): number {
    const jitter = Math.floor(random * this.#cfg.replayJitterMs);
    this.#replayNotBefore = now + jitter;
    this.#lingerSince = undefined;
    return jitter;
  }

  /** The session is down: nothing is sent until the next connect. */
  disconnected(): void {
    this.#replayNotBefore = Number.POSITIVE_INFINITY;
    this.#lingerSince = undefined;
  }

  /** Records per backlog batch: at most one second's worth, so pacing stays smooth at low rates. */
  get backlogBatchMax(): number {
    return Math.max(1, Math.min(this.#cfg.batchMaxRecords, this.#cfg.replayRatePerSec));
  }

  next(now: number, waiting: Record<Lane, number>): UplinkDecision {
    const live = this.#nextLive(now, waiting.live);
    if (live.do === 'send') return live;
    const backlog = this.#nextBacklog(now, waiting.backlog);
    if (backlog.do === 'send') return backlog;
    if (live.do === 'wait' && backlog.do === 'wait') return { do: 'wait', until: Math.min(live.until, backlog.until) };
    return live.do === 'wait' ? live : backlog;
  }

  #nextLive(now: number, waiting: number): UplinkDecision {
    if (waiting === 0) {
      this.#lingerSince = undefined;
      return { do: 'idle' };
    }
    const inflight = this.#inflight.live.batches;
    if (inflight >= this.#cfg.maxInflightBatches) return { do: 'idle' }; // an acknowledgement wakes us
    const send: UplinkDecision = { do: 'send', lane: 'live', max: this.#cfg.batchMaxRecords };
    if (waiting >= this.#cfg.batchMaxRecords || inflight === 0) return send;
    // A partial batch waits up to lingerMs for company while others are in flight.
    this.#lingerSince ??= now;
    const until = this.#lingerSince + this.#cfg.lingerMs;
    return now >= until ? send : { do: 'wait', until };
  }

  #nextBacklog(now: number, waiting: number): UplinkDecision {
    if (waiting === 0 || this.#inflight.backlog.batches >= this.#cfg.replayInflightBatches) return { do: 'idle' };
    if (now < this.#replayNotBefore) {
      return Number.isFinite(this.#replayNotBefore) ? { do: 'wait', until: this.#replayNotBefore } : { do: 'idle' };
    }
    return { do: 'send', lane: 'backlog', max: this.backlogBatchMax };
  }

  /** A batch of `n` records left: token-bucket pacing moves the next backlog start n / rate later. */
  sent(lane: Lane, n: number, now: number): void {
    this.#inflight[lane].batches++;
    this.#inflight[lane].records += n;
    if (lane === 'backlog') this.#replayNotBefore = Math.max(this.#replayNotBefore, now) + (n * 1000) / this.#cfg.replayRatePerSec;
  }

  /** A batch of `n` records was acknowledged or released. */
  settled(lane: Lane, n: number): void {
    this.#inflight[lane].batches--;
    this.#inflight[lane].records -= n;
  }
}

/**
 * A batch whose message would exceed `maxBytes` goes back and is taken again half as large
 * (recursively); a single record is sent whatever its size. Returns the size to retry with, or
 * undefined when the batch goes as it is.
 */
export function retrySize(records: number, bytes: number, maxBytes: number): number | undefined {
  return bytes > maxBytes && records > 1 ? Math.ceil(records / 2) : undefined;
}
