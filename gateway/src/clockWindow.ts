/** The accepted window of device timestamps around the gateway's clock: the hub's rule (HUB_MAX_FUTURE_MS, HUB_MAX_AGE_MS). */
export interface ClockWindow {
  maxFutureMs: number;
  maxAgeMs: number;
}

export interface ClockRefusal {
  reason: 'clock_ahead' | 'clock_behind';
  /** Device time minus gateway time, ms (positive: ahead). */
  offsetMs: number;
  detail: string;
}

/**
 * Whether a device timestamp is inside the window the hub accepts, at gateway time `now`. A
 * sample outside it would be dropped by the hub after the gateway had counted the device as
 * heard, so it is refused here and the device reads as silent (broker/src/ingest.ts applies the
 * same bounds, inclusive).
 */
export function checkClock(ts: number, now: number, w: ClockWindow): ClockRefusal | undefined {
  const offsetMs = ts - now;
  if (offsetMs > w.maxFutureMs) return { reason: 'clock_ahead', offsetMs, detail: `device clock ${offsetMs} ms ahead of the gateway's (at most ${w.maxFutureMs} ms accepted)` };
  if (-offsetMs > w.maxAgeMs) return { reason: 'clock_behind', offsetMs, detail: `device clock ${-offsetMs} ms behind the gateway's (at most ${w.maxAgeMs} ms accepted)` };
  return undefined;
}
