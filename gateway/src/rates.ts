/**
 * Bandwidth from 64-bit octet counters (docs/design.md#bandwidth): rate = Δoctets × 8 / Δt on the device's own
 * timestamps, in exact integer arithmetic. A counter that goes backwards (a wrap at 2^64 or a
 * reset after a reboot) drops that interval; a rate above the link's capacity is refused. Both
 * are counted by the caller from the returned reason; neither ever becomes a rate.
 *
 * A polled counter (SNMP) comes with its width and whether the agent rebooted (its sysUpTime
 * went back). The link carries at most capacity × Δt / 8 octets in an interval: when that
 * reaches 2^bits the counter may have wrapped an unseen time, so the interval is dropped
 * (`ambiguous_wrap`) however the counter moved; otherwise a smaller counter is one wrap only
 * when the wrapped Δ fits in what the link could carry, and a reset (`counter_reset`: cleared
 * counters, with no reboot) when it does not. A reboot drops the interval (`counter_reset`).
 */
export type RateResult =
  | { ok: true; rxBps: number; txBps: number; intervalMs: number }
  | { ok: false; reason: RateDropReason };

export type RateDropReason = 'first_sample' | 'duplicate' | 'time_backwards' | 'counter_backwards' | 'counter_reset' | 'ambiguous_wrap' | 'above_capacity';

/** What a poller knows of a counter that a device's own sample does not say. */
export interface PolledCounter {
  bits: 32 | 64;
  rebooted: boolean;
}

interface Last {
  ts: number;
  rx: bigint;
  tx: bigint;
  bits: 32 | 64 | undefined;
}

export class CounterRates {
  readonly #last = new Map<string, Last>();

  /** Forgets the baselines of the devices `keep` says no to (they left the inventory). */
  retain(keep: (device: string) => boolean): void {
    for (const d of this.#last.keys()) if (!keep(d)) this.#last.delete(d);
  }

  /** Devices with a baseline. */
  get size(): number {
    return this.#last.size;
  }

  observe(device: string, ts: number, octetsIn: string, octetsOut: string, capacityBps: number): RateResult {
    const a = this.assess(device, ts, octetsIn, octetsOut, capacityBps);
    a.commit();
    return a.result;
  }

  /**
   * The rate a sample gives, without moving the device's baseline: `commit()` moves it once the
   * sample is kept (a sample the outbox refused must not become the next interval's start).
   */
  assess(device: string, ts: number, octetsIn: string, octetsOut: string, capacityBps: number, polled?: PolledCounter): { result: RateResult; commit(): void } {
    const rx = BigInt(octetsIn);
    const tx = BigInt(octetsOut);
    const bits = polled?.bits;
    const prev = this.#last.get(device);
    const moveTo = (result: RateResult) => ({ result, commit: () => void this.#last.set(device, { ts, rx, tx, bits }) });
    if (!prev) return moveTo({ ok: false, reason: 'first_sample' });
    if (ts === prev.ts) return { result: { ok: false, reason: 'duplicate' }, commit: () => {} };
    // A sample older than the last one (reordered delivery) says nothing about this interval.
    if (ts < prev.ts) return { result: { ok: false, reason: 'time_backwards' }, commit: () => {} };
    // A reboot, or counters of another width than the last (an agent that gained or lost its
    // HC counters), say nothing about the interval either.
    if (polled && (polled.rebooted || prev.bits !== bits)) return moveTo({ ok: false, reason: 'counter_reset' });
    if (!bits && (rx < prev.rx || tx < prev.tx)) return moveTo({ ok: false, reason: 'counter_backwards' });
    const dt = BigInt(ts - prev.ts);
    if (bits) {
      const fell = polledFall(prev, rx, tx, bits, dt, capacityBps);
      if (fell) return moveTo({ ok: false, reason: fell });
    }
    const rxBps = bitsPerSecond(counterDelta(prev.rx, rx, bits), dt);
    const txBps = bitsPerSecond(counterDelta(prev.tx, tx, bits), dt);
    if (rxBps > capacityBps || txBps > capacityBps) return moveTo({ ok: false, reason: 'above_capacity' });
    return moveTo({ ok: true, rxBps, txBps, intervalMs: ts - prev.ts });
  }
}

/**
 * Whether a polled interval of `dtMs` can give a rate: not when the link at its capacity could
 * have wrapped the counter (capacity × Δt / 8 ≥ 2^bits octets, i.e. Δt ≥ 2^bits × 8 / capacity:
 * 34.4 s for a 32-bit counter at 1 Gbit/s), nor when a counter fell by more than one wrap the
 * link could carry explains (cleared counters).
 */
function polledFall(prev: Last, rx: bigint, tx: bigint, bits: 32 | 64, dtMs: bigint, capacityBps: number): 'ambiguous_wrap' | 'counter_reset' | undefined {
  const modulus = 1n << BigInt(bits);
  // Bits the link can carry in the interval, × 1000 (Δt is in ms): compared with octets × 8000.
  const carried = BigInt(Math.floor(capacityBps)) * dtMs;
  if (carried >= modulus * 8000n) return 'ambiguous_wrap';
  for (const [from, to] of [
    [prev.rx, rx],
    [prev.tx, tx],
  ] as const) {
    if (to < from && (to + modulus - from) * 8000n > carried) return 'counter_reset';
  }
  return undefined;
}

/** from → to on a counter of `bits` width: one wrap when it is smaller (only a polled counter says its width). */
function counterDelta(from: bigint, to: bigint, bits: 32 | 64 | undefined): bigint {
  return to >= from || !bits ? to - from : to + (1n << BigInt(bits)) - from;
}

/** Δoctets × 8 / Δt(ms) × 1000, exact to the millibit before the one conversion to a float. */
export function bitsPerSecond(deltaOctets: bigint, dtMs: bigint): number {
  const milli = (deltaOctets * 8n * 1000n * 1000n) / dtMs;
  return Number(milli) / 1000;
}
