import type { Logger } from 'pino';
import { gatewayStateSchema } from '../../../protocol/src/gatewayState.ts';
import { commandFilter } from '../../../protocol/src/topics.ts';
import type { Cluster } from '../cluster.ts';
import type { ChannelHandler } from '../dispatch.ts';
import type { EventBus, Session } from '../eventBus.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point } from '../../../storage/src/point.ts';
import type { InfluxWriter } from '../influx/writer.ts';
import { parseJsonPayload } from '../jsonPayload.ts';
import type { HubCounters } from '../metrics.ts';
import type { PresenceEntry } from '../presence.ts';
import type { Feature } from './feature.ts';

export interface GatewaySessionsDeps {
  writer: InfluxWriter;
  /** The presence tracker's verdict, read before the state is acknowledged. */
  isStaleDeath: (entry: PresenceEntry) => boolean;
  bus: EventBus;
  counters: HubCounters;
  log: Logger;
  now: () => number;
  /** A node of a cluster: sessions are recorded in Redis, and those of other nodes count. */
  cluster?: Cluster | undefined;
}

/**
 * Gateways' sessions and states: which session of each gateway is live on this hub, whether it
 * takes commands (it has subscribed to them), and its births and deaths (`state`, with the
 * session's `bdSeq`), written as `gateway_state` and announced on the bus for the presence
 * tracker. In a cluster each change is recorded in Redis too (cluster.ts), and `isLive` and
 * `isCommandReady` answer for the whole cluster: a session on another live node counts.
 */
export class GatewaySessions implements Feature {
  readonly #d: GatewaySessionsDeps;
  readonly #live = new Map<string, Session>();
  /** Gateways subscribed to their command topic on their current session. */
  readonly #commandReady = new Set<string>();
  #stopped = false;

  constructor(deps: GatewaySessionsDeps) {
    this.#d = deps;
  }

  start(): void {
    const bus = this.#d.bus;
    bus.onGatewayConnected(this, ({ gateway, session }) => {
      const before = this.#live.get(gateway.gateway);
      // [MQTT-3.1.4-2]: the new connection takes over. Counted: frequent takeovers mean two
      // devices share one gateway's credentials.
      if (before && before !== session) {
        this.#d.counters.inc('session_takeovers', { gateway: gateway.gateway });
        this.#d.log.warn({ gateway: gateway.gateway }, 'session taken over by a new connection of the same gateway');
      }
      this.#live.set(gateway.gateway, session);
      this.#d.cluster?.sessionChanged(gateway.gateway, true, this.#commandReady.has(gateway.gateway));
    });
    // A replaced session's disconnect comes after its successor's connect: only the live one counts.
    bus.onGatewayDisconnected(this, ({ gateway, session }) => {
      if (this.#live.get(gateway.gateway) !== session) return;
      this.#live.delete(gateway.gateway);
      this.#commandReady.delete(gateway.gateway);
      this.#d.cluster?.sessionChanged(gateway.gateway, false, false);
    });
    // For the shared-credentials alert (dashboards/src/alerts.ts); written, not awaited: a login does not wait for InfluxDB.
    bus.onSessionConflict(this, ({ gateway, outcome, damped }) => {
      const fields = { takeovers: outcome === 'takeover' ? 1 : 0, refused: outcome === 'refused' ? 1 : 0, damped: damped ? 1 : 0 };
      this.#d.writer
        .write([encodePoint(point('gateway_conflict', { district: gateway.district, school: gateway.school, gateway: gateway.gateway }, fields, this.#d.now()))])
        // InfluxDB down and the hub stopping: the writer gives the write up; nothing waits for it.
        .catch((err: unknown) => this.#d.log.warn({ err, gateway: gateway.gateway }, 'gateway_conflict point not written'));
    });
    bus.onGatewaySubscribed(this, ({ gateway, session, filters }) => {
      if (this.#live.get(gateway.gateway) === session && filters.includes(commandFilter(gateway))) {
        this.#commandReady.add(gateway.gateway);
        this.#d.cluster?.sessionChanged(gateway.gateway, true, true);
      }
    });
    // A credential changed through another node: its live session here is dropped too.
    this.#d.cluster?.onMessage((m) => {
      if (m.t === 'close' && !this.#stopped) this.close(m.gateway, `${m.why} through another node`);
    });
    this.#stopped = false;
  }

  stop(): void {
    this.#stopped = true;
    this.#d.bus.removeListeners(this);
    this.#live.clear();
    this.#commandReady.clear();
  }

  /** Connected to this hub, or (in a cluster) to another live node. */
  isLive(gateway: string): boolean {
    return this.#live.has(gateway) || this.#d.cluster?.remoteSession(gateway) !== undefined;
  }

  /** Subscribed to its commands on this hub, or (in a cluster) on another live node. */
  isCommandReady(gateway: string): boolean {
    return this.#commandReady.has(gateway) || this.#d.cluster?.remoteSession(gateway)?.ready === true;
  }

  /** Closes the gateway's live session wherever it is: here, and (in a cluster) on every other node. */
  closeEverywhere(gateway: string, why: string): boolean {
    this.#d.cluster?.broadcast({ t: 'close', gateway, why });
    return this.close(gateway, why);
  }

  /** Closes the gateway's live session on this hub, if any; it must log in again. */
  close(gateway: string, why: string): boolean {
    const session = this.#live.get(gateway);
    if (!session) return false;
    this.#d.log.info({ gateway }, `${why}: closing live session`);
    session.close();
    return true;
  }

  /**
   * An invalid state or a stale death (its session was already replaced) is acknowledged but
   * neither retained nor forwarded, so the state in force stays.
   */
  readonly handleState: ChannelHandler = async ({ identity, payload }) => {
    const { counters, log } = this.#d;
    const state = parseJsonPayload(gatewayStateSchema, payload);
    if (!state) {
      counters.inc('messages_rejected', { reason: 'bad_state' });
      return 'refuse_unretained';
    }
    const entry = { ...state, district: identity.district, school: identity.school, gateway: identity.gateway };
    if (this.#d.isStaleDeath(entry)) {
      counters.inc('stale_deaths_ignored');
      log.info({ gateway: identity.gateway, bdSeq: entry.bdSeq }, 'stale gateway death ignored');
      return 'refuse_unretained';
    }
    log.info({ gateway: identity.gateway, state: entry.state, bdSeq: entry.bdSeq }, 'gateway state');
    const online = entry.state === 'online';
    // `up` repeats `online` as 1/0, for aggregating the event log (the dashboards and rules read
    // gateway_up, written every minute).
    const line = encodePoint(
      point('gateway_state', { district: identity.district, school: identity.school, gateway: identity.gateway }, { online, up: online ? 1 : 0, bd_seq: entry.bdSeq }, this.#d.now()),
    );
    const written = this.#d.writer.write([line]);
    // In the same turn as the verdict: a death that comes while this point is written is judged against this state.
    this.#d.bus.emitGatewayStateAccepted({ gateway: identity, state: entry, written });
    await written;
    return 'accept';
  };
}
