import type { LanError, LanRefusalReason } from '../../protocol/src/telemetry.ts';
import type { GatewayCounters } from './metrics.ts';

/** A device's sample refused at the edge, with the reason the device is told (lanErrorSchema). */
export interface Refusal {
  device: string;
  reason: LanRefusalReason;
  detail: string;
  seq?: number | undefined;
}

export interface DeviceFault {
  device: string;
  reason: string;
  detail: string;
  at: number;
  /** Samples refused since the device's last accepted one. */
  refused: number;
}

export interface DeviceFaultsConfig {
  /** At most one reply per device on lan/v1/err in this interval. */
  replyIntervalMs: number;
}

export interface DeviceFaultsDeps {
  counters: GatewayCounters;
  now: () => number;
  /** Whether liveness tracks the device: those get their own metric label and a /health entry. */
  tracks: (device: string) => boolean;
  /** Publishes on lan/v1/err. */
  reply: (e: LanError) => void;
}

/** Ids not tracked that still get their own label; the rest share `_other`. */
export const OTHER_DEVICE_LABELS = 100;
/** Replies remembered for the rate limit (a client inventing ids cannot grow it). */
const REPLY_MEMORY = 10_000;
/** Replies on lan/v1/err per second at most, across devices. */
export const REPLIES_PER_SECOND = 100;

/**
 * Every refusal of a device's sample: counted per device (bounded label cardinality), kept as
 * the device's fault for /health until one of its samples is accepted, and answered on
 * lan/v1/err where the device can read it, at most once per device per interval.
 */
export class DeviceFaults {
  readonly #cfg: DeviceFaultsConfig;
  readonly #d: DeviceFaultsDeps;
  readonly #faults = new Map<string, DeviceFault>();
  readonly #otherLabels = new Set<string>();
  readonly #lastReply = new Map<string, number>();
  #second = { start: 0, sent: 0 };

  constructor(cfg: DeviceFaultsConfig, deps: DeviceFaultsDeps) {
    this.#cfg = cfg;
    this.#d = deps;
  }

  refused(r: Refusal): void {
    const { counters, now, tracks } = this.#d;
    const at = now();
    counters.inc('device_samples_refused', { device: this.#label(r.device), reason: r.reason });
    if (tracks(r.device)) {
      const prev = this.#faults.get(r.device);
      this.#faults.set(r.device, { device: r.device, reason: r.reason, detail: r.detail, at, refused: (prev?.refused ?? 0) + 1 });
    }
    this.#reply(r, at);
  }

  /** A sample of the device was accepted: it is no longer faulty. */
  accepted(device: string): void {
    this.#faults.delete(device);
  }

  /**
   * The inventory changed: a device it no longer holds loses its `device_samples_refused`
   * series and its fault, unless it counts among the untracked ids with a label of their own
   * (those stay, bounded by OTHER_DEVICE_LABELS).
   */
  retain(keep: (device: string) => boolean): void {
    const gone = (d: string) => !keep(d) && !this.#otherLabels.has(d) && d !== '_other';
    this.#d.counters.drop('device_samples_refused', (l) => gone(l['device']!));
    for (const d of this.#faults.keys()) if (!keep(d)) this.#faults.delete(d);
  }

  /** Tracked devices whose latest sample was refused, by id. */
  faulty(): DeviceFault[] {
    for (const d of this.#faults.keys()) if (!this.#d.tracks(d)) this.#faults.delete(d);
    return [...this.#faults.values()].sort((a, b) => (a.device < b.device ? -1 : a.device > b.device ? 1 : 0));
  }

  #label(device: string): string {
    if (this.#d.tracks(device) || this.#otherLabels.has(device)) return device;
    if (this.#otherLabels.size < OTHER_DEVICE_LABELS) {
      this.#otherLabels.add(device);
      return device;
    }
    return '_other';
  }

  #reply(r: Refusal, at: number): void {
    const { counters } = this.#d;
    const last = this.#lastReply.get(r.device);
    if (at - this.#second.start >= 1000) this.#second = { start: at, sent: 0 };
    if ((last !== undefined && at - last < this.#cfg.replyIntervalMs) || this.#second.sent >= REPLIES_PER_SECOND) {
      counters.inc('lan_errors_suppressed');
      return;
    }
    this.#second.sent++;
    this.#lastReply.delete(r.device);
    if (this.#lastReply.size >= REPLY_MEMORY) this.#lastReply.delete(this.#lastReply.keys().next().value!);
    this.#lastReply.set(r.device, at);
    counters.inc('lan_errors_sent', { reason: r.reason });
    this.#d.reply({ v: 1, device: r.device.slice(0, 128), reason: r.reason, detail: r.detail.slice(0, 500), ...(r.seq === undefined ? {} : { seq: r.seq }), at: Math.max(1, Math.trunc(at)) });
  }
}
