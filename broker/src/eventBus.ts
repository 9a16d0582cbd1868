import type { Client } from 'aedes';
import type { GatewayAddress } from '../../protocol/src/topics.ts';
import type { CommandAction, CommandStatus } from '../../protocol/src/commands.ts';
import type { AvailabilityRecord } from '../../protocol/src/telemetry.ts';
import type { PresenceEntry, PresenceEvent } from './presence.ts';

/** A live MQTT session of a gateway: what features may do with it. */
export type Session = Pick<Client, 'id' | 'close'>;

/** Presence changes that one message caused, for one gateway (in the order they happened). */
export interface PresenceChanged {
  gateway: GatewayAddress;
  events: PresenceEvent[];
  /** In a cluster: applied from another node, which publishes it (this node's publisher does not). */
  remote?: boolean;
}

export interface CommandOutcome {
  id: string;
  district: string;
  school: string;
  gateway: string;
  device: string;
  action: CommandAction;
  status: 'sent' | 'no_result' | CommandStatus;
  detail?: string;
}

export interface GatewaySession {
  gateway: GatewayAddress;
  session: Session;
}

export interface GatewaySubscribed extends GatewaySession {
  filters: string[];
}

/** A gateway's state that is not a stale death, with the write of its `gateway_state` point. */
export interface GatewayStateAccepted {
  gateway: GatewayAddress;
  state: PresenceEntry;
  /** Settles when the point is written (or not): its presence changes are announced after it. */
  written: Promise<unknown>;
}

/**
 * A login of a gateway that already had a live session (takeoverDamper.ts): it took the session
 * over, or was refused because the identity is held; `damped`: the identity is held.
 */
export interface SessionConflict {
  gateway: GatewayAddress;
  outcome: 'takeover' | 'refused';
  damped: boolean;
}

/** Live availability records of one gateway's devices, written to InfluxDB. */
export interface AvailabilityObserved {
  gateway: GatewayAddress;
  observations: AvailabilityRecord[];
}

/** The registry may hold something else now: written through this hub, or (`external`) by another process. */
export interface RegistryChanged {
  external: boolean;
}

type Listener<T> = (data: T) => void;

/** Every event of the bus and what it carries. */
interface HubEvents {
  presenceChanged: PresenceChanged;
  commandOutcome: CommandOutcome;
  gatewayConnected: GatewaySession;
  gatewayDisconnected: GatewaySession;
  gatewaySubscribed: GatewaySubscribed;
  gatewayStateAccepted: GatewayStateAccepted;
  availabilityObserved: AvailabilityObserved;
  sessionConflict: SessionConflict;
  registryChanged: RegistryChanged;
}
type HubEvent = keyof HubEvents;

/**
 * The hub's features talk through this bus rather than through shared maps (after zigbee2mqtt's
 * lib/eventBus.ts): one `onX(owner, cb)` and `emitX(data)` per event, and a feature's listeners
 * go with `removeListeners(owner)` in its stop(). Listeners run synchronously, in the order
 * they were added, so a session's connect is seen before its disconnect. A listener that throws
 * (an embedder's, through `hub.bus` or `hub.events`) is reported to `onListenerError` and the
 * other listeners still run, as zigbee2mqtt's bus does: one broken consumer never stops the
 * hub, nor the feature that emitted.
 */
export class EventBus {
  readonly #listeners = new Map<HubEvent, Array<{ owner: object; cb: Listener<never> }>>();
  readonly #onListenerError: (event: HubEvent, err: unknown) => void;

  constructor(onListenerError: (event: HubEvent, err: unknown) => void = () => {}) {
    this.#onListenerError = onListenerError;
  }

  onPresenceChanged(owner: object, cb: Listener<PresenceChanged>): void {
    this.#on('presenceChanged', owner, cb);
  }
  emitPresenceChanged(data: PresenceChanged): void {
    this.#emit('presenceChanged', data);
  }

  onCommandOutcome(owner: object, cb: Listener<CommandOutcome>): void {
    this.#on('commandOutcome', owner, cb);
  }
  emitCommandOutcome(data: CommandOutcome): void {
    this.#emit('commandOutcome', data);
  }

  /** A gateway authenticated (before its CONNACK). */
  onGatewayConnected(owner: object, cb: Listener<GatewaySession>): void {
    this.#on('gatewayConnected', owner, cb);
  }
  emitGatewayConnected(data: GatewaySession): void {
    this.#emit('gatewayConnected', data);
  }

  onGatewayDisconnected(owner: object, cb: Listener<GatewaySession>): void {
    this.#on('gatewayDisconnected', owner, cb);
  }
  emitGatewayDisconnected(data: GatewaySession): void {
    this.#emit('gatewayDisconnected', data);
  }

  /** A gateway's session subscribed (after its SUBACK). */
  onGatewaySubscribed(owner: object, cb: Listener<GatewaySubscribed>): void {
    this.#on('gatewaySubscribed', owner, cb);
  }
  emitGatewaySubscribed(data: GatewaySubscribed): void {
    this.#emit('gatewaySubscribed', data);
  }

  onGatewayStateAccepted(owner: object, cb: Listener<GatewayStateAccepted>): void {
    this.#on('gatewayStateAccepted', owner, cb);
  }
  emitGatewayStateAccepted(data: GatewayStateAccepted): void {
    this.#emit('gatewayStateAccepted', data);
  }

  onAvailabilityObserved(owner: object, cb: Listener<AvailabilityObserved>): void {
    this.#on('availabilityObserved', owner, cb);
  }
  emitAvailabilityObserved(data: AvailabilityObserved): void {
    this.#emit('availabilityObserved', data);
  }

  onSessionConflict(owner: object, cb: Listener<SessionConflict>): void {
    this.#on('sessionConflict', owner, cb);
  }
  emitSessionConflict(data: SessionConflict): void {
    this.#emit('sessionConflict', data);
  }

  /** Noticed by RegistryWatch within one of its polls. */
  onRegistryChanged(owner: object, cb: Listener<RegistryChanged>): void {
    this.#on('registryChanged', owner, cb);
  }
  emitRegistryChanged(data: RegistryChanged): void {
    this.#emit('registryChanged', data);
  }

  removeListeners(owner: object): void {
    for (const [event, list] of this.#listeners) this.#listeners.set(event, list.filter((l) => l.owner !== owner));
  }

  /** Listeners of one event (tests). */
  listenerCount(event: HubEvent): number {
    return this.#listeners.get(event)?.length ?? 0;
  }

  #on<K extends HubEvent>(event: K, owner: object, cb: Listener<HubEvents[K]>): void {
    const list = this.#listeners.get(event) ?? [];
    list.push({ owner, cb: cb as Listener<never> });
    this.#listeners.set(event, list);
  }

  #emit<K extends HubEvent>(event: K, data: HubEvents[K]): void {
    for (const l of [...(this.#listeners.get(event) ?? [])]) {
      try {
        (l.cb as Listener<HubEvents[K]>)(data);
      } catch (e) {
        this.#onListenerError(event, e);
      }
    }
  }
}
