import type { Logger } from 'pino';
import type { EventBus, Session } from '../eventBus.ts';
import type { HubCounters } from '../metrics.ts';
import type { Registry } from '../registry.ts';
import type { Feature } from './feature.ts';

export interface RegistryWatchDeps {
  registry: () => Registry;
  bus: EventBus;
  /** Closes a gateway's live session (it must log in again with what the registry now holds). */
  closeSession: (gateway: string, why: string) => boolean;
  counters: HubCounters;
  log: Logger;
  /** How often SQLite's data_version is read; 250–500 ms keeps a change under a second. */
  pollMs?: number;
}

/**
 * Revocation, rotation and removal by another process (the CLI, a second hub on the same file)
 * act on live sessions too: the hub polls `PRAGMA data_version`, which changes only when another
 * connection commits, and on a change checks each live gateway against the registry. A gateway
 * revoked, deleted or whose hash is no longer the one it logged in with loses its session.
 * Changes made through this hub's own Credentials close sessions themselves. Any write, this
 * hub's own (SQLite's total_changes()) or another process's, is announced on the bus as
 * `registryChanged` (the inventory publisher listens), so there is one poller, not one per feature.
 */
export class RegistryWatch implements Feature {
  readonly #d: RegistryWatchDeps;
  /** The hash each live gateway logged in against (read in the turn its login was accepted). */
  readonly #loggedInWith = new Map<string, { session: Session; hash: string }>();
  #version = -1;
  #changes = -1;
  #timer: NodeJS.Timeout | undefined;

  constructor(deps: RegistryWatchDeps) {
    this.#d = deps;
  }

  start(): void {
    const { bus } = this.#d;
    this.#version = this.#d.registry().dataVersion();
    this.#changes = this.#d.registry().changeCount();
    bus.onGatewayConnected(this, ({ gateway, session }) => {
      const row = this.#d.registry().getGateway(gateway.gateway);
      if (row) this.#loggedInWith.set(gateway.gateway, { session, hash: row.passwordHash });
    });
    bus.onGatewayDisconnected(this, ({ gateway, session }) => {
      // A replaced session's disconnect comes after its successor's connect: keep the successor's.
      if (this.#loggedInWith.get(gateway.gateway)?.session === session) this.#loggedInWith.delete(gateway.gateway);
    });
    this.#timer = setInterval(() => this.check(), this.#d.pollMs ?? 300);
    this.#timer.unref();
  }

  stop(): void {
    if (this.#timer) clearInterval(this.#timer);
    this.#timer = undefined;
    this.#d.bus.removeListeners(this);
    this.#loggedInWith.clear();
  }

  /** One poll: a no-op unless the registry was written since the last one. */
  check(): void {
    const reg = this.#d.registry();
    const v = reg.dataVersion();
    const c = reg.changeCount();
    const external = v !== this.#version;
    if (!external && c === this.#changes) return;
    this.#version = v;
    this.#changes = c;
    if (external) {
      // Devices moved, retired or deleted elsewhere: ingest reads them again from the next record.
      reg.dropCaches();
      this.#checkSessions(reg);
    }
    this.#d.bus.emitRegistryChanged({ external });
  }

  #checkSessions(reg: Registry): void {
    for (const [gateway, { hash }] of this.#loggedInWith) {
      const row = reg.getGateway(gateway);
      const why = !row ? 'gateway removed' : row.revoked ? 'credentials revoked' : row.passwordHash !== hash ? 'credentials rotated' : undefined;
      if (why === undefined) continue;
      this.#loggedInWith.delete(gateway);
      this.#d.counters.inc('sessions_dropped_by_registry', { reason: why.split(' ')[1]! });
      this.#d.closeSession(gateway, `${why} by another process`);
    }
  }
}
