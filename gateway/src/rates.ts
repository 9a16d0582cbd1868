/**
 * Bandwidth from 64-bit octet counters (docs/design.md#bandwidth): rate = Δoctets × 8 / Δt on the device's own
 * timestamps, in exact integer arithmetic. A counter that goes backwards (a wrap at 2^64 or a
 * reset after a reboot) drops that interval; a rate above the link's capacity is refused. Both
 * are counted by the caller from the returned reason; neither ever becomes a rate.
 */
export type RateResult =
  | { ok: true; rxBps: number; txBps: number; intervalMs: number }
  | { ok: false; reason: 'first_sample' | 'duplicate' | 'time_backwards' | 'counter_backwards' | 'above_capacity' };

interface Last {
  ts: number;
  rx: bigint;
  tx: bigint;
}

export class CounterRates {
  readonly #last = new Map<string, Last>();

  observe(device: string, ts: number, octetsIn: string, octetsOut: string, capacityBps: number): RateResult {
    const a = this.assess(device, ts, octetsIn, octetsOut, capacityBps);
    a.commit();
    return a.result;
  }

  /**
   * The rate a sample gives, without moving the device's baseline: `commit()` moves it once the
   * sample is kept (a sample the outbox refused must not become the next interval's start).
   */
  assess(device: string, ts: number, octetsIn: string, octetsOut: string, capacityBps: number): { result: RateResult; commit(): void } {
    const rx = BigInt(octetsIn);
    const tx = BigInt(octetsOut);
    const prev = this.#last.get(device);
    const moveTo = (result: RateResult) => ({ result, commit: () => void this.#last.set(device, { ts, rx, tx }) });
    if (!prev) return moveTo({ ok: false, reason: 'first_sample' });
    if (ts === prev.ts) return { result: { ok: false, reason: 'duplicate' }, commit: () => {} };
    // A sample older than the last one (reordered delivery) says nothing about this interval.
    if (ts < prev.ts) return { result: { ok: false, reason: 'time_backwards' }, commit: () => {} };
    if (rx < prev.rx || tx < prev.tx) return moveTo({ ok: false, reason: 'counter_backwards' });
    const dt = BigInt(ts - prev.ts);
    const rxBps = bitsPerSecond(rx - prev.rx, dt);
    const txBps = bitsPerSecond(tx - prev.tx, dt);
    if (rxBps > capacityBps || txBps > capacityBps) return moveTo({ ok: false, reason: 'above_capacity' });
    return moveTo({ ok: true, rxBps, txBps, intervalMs: ts - prev.ts });
  }
}

/** Δoctets × 8 / Δt(ms) × 1000, exact to the millibit before the one conversion to a float. */
export function bitsPerSecond(deltaOctets: bigint, dtMs: bigint): number {
  const milli = (deltaOctets * 8n * 1000n * 1000n) / dtMs;
  return Number(milli) / 1000;
}
