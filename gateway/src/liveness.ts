import type { DeviceKind } from '../../protocol/src/kinds.ts';
import type { AvailabilityRecord, AvailabilityState } from '../../protocol/src/telemetry.ts';

/**
 * How long each kind may stay silent before it is `down`: 2.5 reporting cadences, so one lost
 * sample and a report jittered by up to half a cadence never make a device down. Per kind, never
 * one global timeout (docs/design.md#availability).
 */
export const HEARTBEAT_TIMEOUT_MS: Readonly<Record<DeviceKind, number>> = Object.freeze({
  classroom_av: 75_000,
  interactive_board: 75_000,
  vr_kit: 150_000,
  network_node: 75_000,
  science_kiosk: 150_000,
});

export const MINUTE_MS = 60_000;

/**
 * A node the gateway polls (SNMP) is down after the longer of its kind's timeout and
 * 2.5 × its poll interval + 2 × a poll's longest wait (`timeoutMs` × (`retries` + 1)). Each poll
 * starts up to 1.1 intervals after the last one ended, so between two answers with one failed
 * poll in between lie at most 2.2 intervals and two polls' waits: one failed poll and a slow
 * answer never make it down. The one rule for every polled node (README, liveness).
 */
export function polledTimeoutMs(kindTimeoutMs: number, pollIntervalMs: number, request: { timeoutMs: number; retries: number }): number {
  return Math.max(kindTimeoutMs, Math.ceil(2.5 * pollIntervalMs) + 2 * request.timeoutMs * (request.retries + 1));
}

interface Observed {
  kind: DeviceKind;
  /** Gateway time it was last heard, or since when it is watched (the gateway's start, a restart while it was up). */
  lastHeard: number;
  /** Reported a clean power-off (`power: off`) and not heard from since. */
  off: boolean;
  /** Heard since this gateway process started. */
  heard: boolean;
}

/** Liveness kept beside the outbox across a restart (livenessStore.ts). */
export interface LivenessSnapshot {
  savedAt: number;
  /** `timeoutMs`: the device's own timeout, when it has one (a polled node). */
  devices: Array<{ device: string; kind: DeviceKind; lastHeard: number; off: boolean; timeoutMs?: number }>;
}

/** What the other modules may ask of liveness (Intake owns and writes it). */
export type LivenessView = Pick<Liveness, 'knows' | 'tracks' | 'size' | 'stateAt' | 'timeoutOf' | 'minuteRecords' | 'snapshot' | 'registeredKind'>;

/**
 * Device liveness as the gateway sees it on the campus LAN, turned into one availability record
 * per device per minute. With an inventory (`register`), exactly the registered devices are
 * tracked, heard or not: one never heard is watched from the moment it was registered here (the
 * gateway's start), so it is `down` after its kind's timeout, never left out. Without one, the
 * devices heard since the start are tracked (Intake caps them).
 */
export class Liveness {
  readonly #timeouts: Readonly<Record<DeviceKind, number>>;
  readonly #devices = new Map<string, Observed>();
  #registered: ReadonlyMap<string, DeviceKind> | undefined;
  /** Devices with a timeout of their own instead of their kind's (polled nodes: `polledTimeoutMs`). */
  #own: ReadonlyMap<string, number> = new Map();

  constructor(timeouts: Readonly<Record<DeviceKind, number>> = HEARTBEAT_TIMEOUT_MS) {
    this.#timeouts = timeouts;
  }

  /** A sample arrived at gateway time `at`; `poweredOff` when it reports a clean power-off. */
  heard(device: string, kind: DeviceKind, at: number, poweredOff: boolean): void {
    if (this.#registered && !this.#registered.has(device)) return;
    const cur = this.#devices.get(device);
    if (cur && at < cur.lastHeard) return;
    this.#devices.set(device, { kind, lastHeard: at, off: poweredOff, heard: true });
  }

  /**
   * The inventory's devices (id → kind) as of gateway time `at`: only they are tracked from
   * now on, with the registered kind; one not tracked yet is watched from `at`.
   */
  register(devices: ReadonlyMap<string, DeviceKind>, at: number): void {
    this.#registered = devices;
    for (const id of [...this.#devices.keys()]) if (!devices.has(id)) this.#devices.delete(id);
    for (const [id, kind] of devices) {
      const cur = this.#devices.get(id);
      if (cur) cur.kind = kind;
      else this.#devices.set(id, { kind, lastHeard: at, off: false, heard: false });
    }
  }

  /** The devices whose timeout is their own (id → ms), replacing the last such set. */
  setOwnTimeouts(timeouts: ReadonlyMap<string, number>): void {
    this.#own = timeouts;
  }

  /** How long the device may stay silent before it is `down`. */
  timeoutOf(device: string, kind: DeviceKind): number {
    return this.#own.get(device) ?? this.#timeouts[kind];
  }

  /**
   * The kind the inventory registers the device as; `null` when the inventory does not hold it,
   * undefined while the gateway has no inventory (every id is taken).
   */
  registeredKind(device: string): DeviceKind | null | undefined {
    return this.#registered ? (this.#registered.get(device) ?? null) : undefined;
  }

  /** Whether the device has been heard on the LAN since the gateway started. */
  knows(device: string): boolean {
    return this.#devices.get(device)?.heard ?? false;
  }

  /** Whether the device is tracked (registered, heard, or restored from before a restart). */
  tracks(device: string): boolean {
    return this.#devices.has(device);
  }

  /** Devices tracked. */
  get size(): number {
    return this.#devices.size;
  }

  stateAt(device: string, t: number): AvailabilityState | undefined {
    const d = this.#devices.get(device);
    if (!d) return undefined;
    if (d.off) return 'off';
    return t - d.lastHeard <= this.timeoutOf(device, d.kind) ? 'up' : 'down';
  }

  /**
   * One record per tracked device for the minute starting at `minute` (a multiple of 60 s), each
   * with its state at `at` (the moment of sampling, within that minute; default its start).
   */
  minuteRecords(minute: number, rx: number, at: number = minute): AvailabilityRecord[] {
    const out: AvailabilityRecord[] = [];
    for (const [device, d] of this.#devices) {
      out.push({ kind: 'availability', device, deviceKind: d.kind, seq: minute / MINUTE_MS, ts: minute, state: this.stateAt(device, at)!, rx });
    }
    return out;
  }

  snapshot(at: number): LivenessSnapshot {
    return {
      savedAt: at,
      devices: [...this.#devices].map(([device, d]) => {
        const own = this.#own.get(device);
        return { device, kind: d.kind, lastHeard: d.lastHeard, off: d.off, ...(own === undefined ? {} : { timeoutMs: own }) };
      }),
    };
  }

  /**
   * The state saved before a restart, at the new start `startedAt`, at most `max` devices: one
   * that was down when saved stays down (its last-heard time kept), one off stays off, and one
   * that was up is watched afresh from `startedAt` (the gateway saw nothing while it was away).
   */
  restore(s: LivenessSnapshot, startedAt: number, max: number): void {
    for (const d of s.devices) {
      if (this.#devices.size >= max) break;
      if (this.#devices.has(d.device)) continue;
      // Judged by the timeout in force when it was saved (the inventory giving a polled node its own comes later).
      const wasDown = !d.off && s.savedAt - d.lastHeard > (d.timeoutMs ?? this.timeoutOf(d.device, d.kind));
      this.#devices.set(d.device, { kind: d.kind, lastHeard: wasDown || d.off ? d.lastHeard : Math.max(d.lastHeard, startedAt), off: d.off, heard: false });
    }
  }
}
