import type { GatewayState } from '../../protocol/src/gatewayState.ts';
import type { DeviceKind } from '../../protocol/src/kinds.ts';
import type { AvailabilityState } from '../../protocol/src/telemetry.ts';

export interface PresenceEntry extends GatewayState {
  district: string;
  school: string;
  gateway: string;
}

export type LiveDeviceState = AvailabilityState | 'unknown';

export interface DevicePresence {
  device: string;
  kind: DeviceKind;
  /** `unknown` while its gateway is offline: no observer (docs/design.md#availability). */
  state: LiveDeviceState;
  /** The last state its gateway observed, and when. */
  lastObserved: AvailabilityState;
  since: number;
}

/** What changed, for Node-RED and the API: one event per gateway outage, not one per device. */
export type PresenceEvent =
  | { type: 'gateway_online'; district: string; school: string; gateway: string; bdSeq: number; ts: number }
  | { type: 'gateway_offline'; district: string; school: string; gateway: string; bdSeq: number; ts: number; devicesUnknown: number }
  | { type: 'device_state'; district: string; school: string; gateway: string; device: string; kind: DeviceKind; from: LiveDeviceState | null; to: AvailabilityState; ts: number };

/**
 * Current state of every gateway and of the devices behind it. A death (Last Will) whose bdSeq
 * is older than the birth in force is stale — its connection was already replaced — and is
 * ignored. Device states come from live availability records only: replayed (historical)
 * records never overwrite live state.
 */
export class Presence {
  readonly #byGateway = new Map<string, PresenceEntry>();
  readonly #devices = new Map<string, Map<string, { kind: DeviceKind; state: AvailabilityState; since: number; last: number }>>();

  /** Returns false when the update is a stale death and must not be applied or retained. */
  apply(entry: PresenceEntry): boolean {
    return this.applyGateway(entry) !== null;
  }

  /** A death whose bdSeq is older than the birth in force: its connection was already replaced. */
  isStaleDeath(entry: PresenceEntry): boolean {
    const cur = this.#byGateway.get(entry.gateway);
    return entry.state === 'offline' && cur !== undefined && cur.bdSeq > entry.bdSeq;
  }

  /** Applies a gateway state; returns the event it causes (null for a stale death, [] for no change). */
  applyGateway(entry: PresenceEntry): PresenceEvent[] | null {
    if (this.isStaleDeath(entry)) return null;
    const cur = this.#byGateway.get(entry.gateway);
    this.#byGateway.set(entry.gateway, { ...entry });
    if (cur && cur.state === entry.state && cur.bdSeq === entry.bdSeq) return [];
    const base = { district: entry.district, school: entry.school, gateway: entry.gateway, bdSeq: entry.bdSeq, ts: entry.ts };
    return entry.state === 'online'
      ? [{ type: 'gateway_online', ...base }]
      : [{ type: 'gateway_offline', ...base, devicesUnknown: this.#devices.get(entry.gateway)?.size ?? 0 }];
  }

  /** Applies a live observation of a device; returns the event when its state changed. */
  applyDevice(gw: PresenceEntry | { district: string; school: string; gateway: string }, device: string, kind: DeviceKind, state: AvailabilityState, ts: number): PresenceEvent[] {
    let devices = this.#devices.get(gw.gateway);
    if (!devices) this.#devices.set(gw.gateway, (devices = new Map()));
    const cur = devices.get(device);
    // Never back in time: an observation older than the last one is late news.
    if (cur && ts < cur.last) return [];
    if (cur && cur.state === state) {
      cur.last = ts;
      return [];
    }
    devices.set(device, { kind, state, since: ts, last: ts });
    return [{ type: 'device_state', district: gw.district, school: gw.school, gateway: gw.gateway, device, kind, from: cur?.state ?? null, to: state, ts }];
  }

  get(gateway: string): PresenceEntry | undefined {
    return this.#byGateway.get(gateway);
  }

  list(): PresenceEntry[] {
    return [...this.#byGateway.values()];
  }

  /**
   * A gateway's presence document, as the retained `presence/v1/…` topic and
   * `/api/v1/presence` both give it: its state in force, its address, its devices now.
   */
  document(gw: { district: string; school: string; gateway: string }): Partial<PresenceEntry> & { district: string; school: string; gateway: string; devices: DevicePresence[] } {
    return { ...this.get(gw.gateway), ...gw, devices: this.devicesOf(gw.gateway) };
  }

  /** A gateway's devices as operators see them now: `unknown` while the gateway is offline. */
  devicesOf(gateway: string): DevicePresence[] {
    const online = this.#byGateway.get(gateway)?.state === 'online';
    return [...(this.#devices.get(gateway) ?? new Map<string, { kind: DeviceKind; state: AvailabilityState; since: number; last: number }>())].map(([device, d]) => ({
      device,
      kind: d.kind,
      state: online ? d.state : 'unknown',
      lastObserved: d.state,
      since: d.since,
    }));
  }
}
