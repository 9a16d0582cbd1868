import type { Logger } from 'pino';
import { eventsTopic, presenceTopic } from '../../../protocol/src/topics.ts';
import { toError } from '../../../runtime/src/errors.ts';
import { WarnThrottle } from '../../../runtime/src/logThrottle.ts';
import type { EventBus } from '../eventBus.ts';
import type { HubCounters } from '../metrics.ts';
import type { Presence, PresenceEvent } from '../presence.ts';
import type { Feature } from './feature.ts';

/** Publishing into the hub's own broker (implemented by MqttServer). */
export interface HubPublisher {
  publish(topic: string, payload: Buffer, opts: { qos: 0 | 1; retain: boolean }): Promise<void>;
}

export interface PresencePublisherDeps {
  bus: EventBus;
  presence: Presence;
  publisher: HubPublisher;
  counters: HubCounters;
  log: Logger;
}

/**
 * Presence changes go out as events on `events/v1/…` (QoS 0, not retained), then as the
 * gateway's whole presence document on `presence/v1/…`, retained, so a new subscriber has the
 * current state at once.
 */
export class PresencePublisher implements Feature {
  readonly #d: PresencePublisherDeps;
  readonly #warn: WarnThrottle;

  constructor(deps: PresencePublisherDeps) {
    this.#d = deps;
    this.#warn = new WarnThrottle(deps.log);
  }

  start(): void {
    const { bus, presence, publisher, counters } = this.#d;
    // QoS 0 and nobody to retry for: a failure (the broker closing) is counted and logged, throttled.
    const send = (topic: string, body: unknown, retain: boolean): void =>
      void publisher.publish(topic, Buffer.from(JSON.stringify(body)), { qos: 0, retain }).catch((e: unknown) => {
        counters.inc('presence_publish_failures');
        this.#warn.warn('publish', { err: toError(e), topic }, 'presence not published');
      });
    bus.onPresenceChanged(this, ({ gateway, events, remote }) => {
      // Another node's change: that node publishes it (once for the cluster).
      if (remote) return;
      for (const ev of events) {
        counters.inc('presence_events', { type: ev.type });
        send(eventsTopic(gateway), ev, false);
      }
      send(presenceTopic(gateway), presence.document(gateway), true);
    });
  }

  stop(): void {
    this.#d.bus.removeListeners(this);
  }
}

type PresenceListener = (e: PresenceEvent) => void;

/**
 * `hub.events`: every PresenceEvent, as published on events/v1/…, for in-process consumers.
 * The EventEmitter-shaped surface (`on('presence', cb)`, `off`) over the bus.
 */
export class PresenceEvents {
  readonly #bus: EventBus;
  readonly #owners = new Map<PresenceListener, object>();

  constructor(bus: EventBus) {
    this.#bus = bus;
  }

  on(event: 'presence', listener: PresenceListener): this {
    const owner = {};
    this.#owners.set(listener, owner);
    this.#bus.onPresenceChanged(owner, ({ events }) => events.forEach((e) => listener(e)));
    return this;
  }

  off(event: 'presence', listener: PresenceListener): this {
    const owner = this.#owners.get(listener);
    if (owner) this.#bus.removeListeners(owner);
    this.#owners.delete(listener);
    return this;
  }
}
