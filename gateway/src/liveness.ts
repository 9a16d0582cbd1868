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

interface Observed {
  kind: DeviceKind;
  lastHeard: number;
  /** Cleanly powered off (reported `power: off`, or said goodbye) and not heard from since. */
  off: boolean;
}

/** What the other modules may ask of liveness (Intake owns and writes it). */
export type LivenessView = Pick<Liveness, 'knows' | 'size' | 'stateAt' | 'minuteRecords'>;

/**
 * Device liveness as the gateway sees it on the campus LAN, turned into one availability record
 * per device per minute. Only devices heard since the gateway started are tracked.
 */
export class Liveness {
  readonly #timeouts: Readonly<Record<DeviceKind, number>>;
  readonly #devices = new Map<string, Observed>();

  constructor(timeouts: Readonly<Record<DeviceKind, number>> = HEARTBEAT_TIMEOUT_MS) {
    this.#timeouts = timeouts;
  }

  /** A sample arrived at gateway time `at`; `poweredOff` when it reports a clean power-off. */
  heard(device: string, kind: DeviceKind, at: number, poweredOff: boolean): void {
    const cur = this.#devices.get(device);
    if (cur && at < cur.lastHeard) return;
    this.#devices.set(device, { kind, lastHeard: at, off: poweredOff });
  }

  /** The device closed its session cleanly (MQTT DISCONNECT): off, not down, until heard again. */
  saidGoodbye(device: string, at: number): void {
    const cur = this.#devices.get(device);
    if (cur && at >= cur.lastHeard) cur.off = true;
  }

  /** Whether the device has been heard on the LAN since the gateway started. */
  knows(device: string): boolean {
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
    return t - d.lastHeard <= this.#timeouts[d.kind] ? 'up' : 'down';
  }

  /** One record per tracked device for the minute starting at `minute` (a multiple of 60 s). */
  minuteRecords(minute: number, rx: number): AvailabilityRecord[] {
    const out: AvailabilityRecord[] = [];
    for (const [device, d] of this.#devices) {
      out.push({ kind: 'availability', device, deviceKind: d.kind, seq: minute / MINUTE_MS, ts: minute, state: this.stateAt(device, minute)!, rx });
    }
    return out;
  }
}
