import { gatewayStateSchema } from '../../../protocol/src/gatewayState.ts';
import { DEVICE_KINDS } from '../../../protocol/src/kinds.ts';
import { AVAILABILITY_STATES } from '../../../protocol/src/telemetry.ts';
import type { Cluster } from '../cluster.ts';
import type { EventBus } from '../eventBus.ts';
import { Presence, type PresenceEntry } from '../presence.ts';
import type { Feature } from './feature.ts';

/**
 * The owner of presence: the only feature that changes it, from what the bus reports (a gateway
 * state accepted, live availability observed), and the one that announces its changes
 * (`presenceChanged`). Others read it through `presence` and `isStaleDeath`. In a cluster it
 * sends what it applies to the other nodes and applies theirs, announced as `remote`: only the
 * node that received a gateway's message publishes its presence (retained: every node serves it).
 */
export class PresenceTracker implements Feature {
  readonly #bus: EventBus;
  readonly #cluster: Cluster | undefined;
  readonly presence = new Presence();
  #stopped = false;

  constructor(deps: { bus: EventBus; cluster?: Cluster | undefined }) {
    this.#bus = deps.bus;
    this.#cluster = deps.cluster;
  }

  start(): void {
    const bus = this.#bus;
    const cluster = this.#cluster;
    // Another node's changes are announced here as remote: the event stream and `hub.events`
    // see the whole cluster's, and only the node that received them publishes them.
    cluster?.onMessage((m) => {
      const events = m.t === 'state' ? this.presence.applyGateway(m.entry) : m.t === 'availability' ? m.observations.flatMap((a) => this.presence.applyDevice(m.gateway, a.device, a.deviceKind, a.state, a.ts)) : null;
      if ((m.t === 'state' || m.t === 'availability') && events && events.length > 0 && !this.#stopped) bus.emitPresenceChanged({ gateway: m.gateway, events, remote: true });
    });
    this.#stopped = false;
    // Applied as the state is accepted, so that the next state of the gateway (a stale death
    // that came meanwhile) is judged against it; announced once its point is written.
    bus.onGatewayStateAccepted(this, ({ gateway, state, written }) => {
      const events = this.presence.applyGateway(state);
      if (events !== null) cluster?.broadcast({ t: 'state', gateway: { district: gateway.district, school: gateway.school, gateway: gateway.gateway }, entry: state });
      // Not written: nothing to announce (the gateway resends; the write failure is counted there).
      if (events && events.length > 0) written.then(() => bus.emitPresenceChanged({ gateway, events }), () => {});
    });
    bus.onAvailabilityObserved(this, ({ gateway, observations }) => {
      const events = observations.flatMap((a) => this.presence.applyDevice(gateway, a.device, a.deviceKind, a.state, a.ts));
      cluster?.broadcast({ t: 'availability', gateway: { district: gateway.district, school: gateway.school, gateway: gateway.gateway }, observations });
      if (events.length > 0) bus.emitPresenceChanged({ gateway, events });
    });
  }

  stop(): void {
    this.#stopped = true;
    this.#bus.removeListeners(this);
  }

  /**
   * A gateway's retained presence document (`presence/v1/…`, as another node published it),
   * applied unannounced (at start, before anyone listens): a node joining a cluster starts from what the others know. Returns
   * false for a document that is not one (ignored).
   */
  loadDocument(doc: unknown): boolean {
    if (typeof doc !== 'object' || doc === null) return false;
    const d = doc as Record<string, unknown>;
    const state = gatewayStateSchema.safeParse({ state: d['state'], bdSeq: d['bdSeq'], ts: d['ts'] });
    if (!state.success || typeof d['district'] !== 'string' || typeof d['school'] !== 'string' || typeof d['gateway'] !== 'string') return false;
    const gw = { district: d['district'], school: d['school'], gateway: d['gateway'] };
    this.presence.applyGateway({ ...state.data, ...gw });
    for (const dev of Array.isArray(d['devices']) ? (d['devices'] as Array<Record<string, unknown>>) : []) {
      const kind = dev['kind'];
      const observed = dev['lastObserved'];
      if (typeof dev['device'] !== 'string' || typeof dev['since'] !== 'number' || !(DEVICE_KINDS as readonly unknown[]).includes(kind) || !(AVAILABILITY_STATES as readonly unknown[]).includes(observed)) continue;
      this.presence.applyDevice(gw, dev['device'], kind as (typeof DEVICE_KINDS)[number], observed as (typeof AVAILABILITY_STATES)[number], dev['since']);
    }
    return true;
  }

  /** A death older than the birth in force: decided before the state is acknowledged. */
  isStaleDeath(entry: PresenceEntry): boolean {
    return this.presence.isStaleDeath(entry);
  }
}
