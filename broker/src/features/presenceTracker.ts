import type { EventBus } from '../eventBus.ts';
import { Presence, type PresenceEntry } from '../presence.ts';
import type { Feature } from './feature.ts';

/**
 * The owner of presence: the only feature that changes it, from what the bus reports (a gateway
 * state accepted, live availability observed), and the one that announces its changes
 * (`presenceChanged`). Others read it through `presence` and `isStaleDeath`.
 */
export class PresenceTracker implements Feature {
  readonly #bus: EventBus;
  readonly presence = new Presence();

  constructor(deps: { bus: EventBus }) {
    this.#bus = deps.bus;
  }

  start(): void {
    const bus = this.#bus;
    // Applied as the state is accepted, so that the next state of the gateway (a stale death
    // that came meanwhile) is judged against it; announced once its point is written.
    bus.onGatewayStateAccepted(this, ({ gateway, state, written }) => {
      const events = this.presence.applyGateway(state);
      // Not written: nothing to announce (the gateway resends; the write failure is counted there).
      if (events && events.length > 0) written.then(() => bus.emitPresenceChanged({ gateway, events }), () => {});
    });
    bus.onAvailabilityObserved(this, ({ gateway, observations }) => {
      const events = observations.flatMap((a) => this.presence.applyDevice(gateway, a.device, a.deviceKind, a.state, a.ts));
      if (events.length > 0) bus.emitPresenceChanged({ gateway, events });
    });
  }

  stop(): void {
    this.#bus.removeListeners(this);
  }

  /** A death older than the birth in force: decided before the state is acknowledged. */
  isStaleDeath(entry: PresenceEntry): boolean {
    return this.presence.isStaleDeath(entry);
  }
}
