import type { Logger } from 'pino';
import { gatewayInventorySchema, type GatewayInventory } from '../../protocol/src/inventory.ts';
import { toError } from '../../runtime/src/errors.ts';
import { StateFileError } from './errors.ts';
import { validatePayload } from './lanValidation.ts';
import type { GatewayCounters } from './metrics.ts';
import { readStateFile, writeStateFile } from './stateFile.ts';
import type { InventoryDelivery } from './uplink.ts';

export interface InventoryStoreDeps {
  log: Logger;
  counters: GatewayCounters;
  /** This gateway's id: an inventory for another is refused. */
  gateway: string;
  /** Where the newest inventory is kept beside the outbox; undefined keeps it in memory only. */
  file: string | undefined;
  /** A newer inventory is in force (also the one read at start). */
  onInventory: (inv: GatewayInventory) => void;
}

/**
 * The school's registered devices as the hub gave them (protocol/src/inventory.ts): validated,
 * the newest by `revision` kept in memory and in a file beside the outbox, read again at start,
 * so a gateway restarted while the hub is unreachable still knows its devices.
 *
 * The hub's retained copy is authoritative: the first inventory message of an uplink session,
 * when it is the retained copy the subscription brought, is taken whatever its revision (a hub
 * whose revisions went back: a registry restored from a backup, an older hub's clock). Live
 * publishes, and anything after the first message of a session, are taken only when newer.
 */
export class InventoryStore {
  readonly #d: InventoryStoreDeps;
  #current: GatewayInventory | undefined;
  #receivedAt: number | undefined;
  /** The last session whose first inventory message has come. */
  #sessionSeen: number | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(deps: InventoryStoreDeps) {
    this.#d = deps;
  }

  get current(): GatewayInventory | undefined {
    return this.#current;
  }

  async start(): Promise<void> {
    const { file, log, counters } = this.#d;
    if (file === undefined) return;
    try {
      const inv = await readStateFile(file, gatewayInventorySchema);
      if (inv && inv.gateway !== this.#d.gateway) throw new StateFileError('other_gateway', `${file} is gateway ${inv.gateway}'s`);
      if (inv) this.#apply(inv, 'restored');
    } catch (e) {
      // A damaged file only costs the wait for the hub's retained copy. The error names the
      // file and the fault, never its content (it holds SNMP secrets).
      const err = e instanceof StateFileError ? e : new StateFileError('unreadable', `${file} cannot be read`);
      counters.inc('state_files_ignored', { file: 'inventory', reason: err.reason });
      log.warn({ err }, 'saved inventory ignored; waiting for the hub\'s');
    }
  }

  /**
   * The payload of a message on the gateway's inventory topic; `delivery` says whether it is the
   * retained copy of a new subscription and in which session (without it: a live publish).
   */
  offer(payload: Buffer, at: number, delivery?: InventoryDelivery): void {
    const { counters, log } = this.#d;
    const firstOfSession = delivery !== undefined && delivery.session !== this.#sessionSeen;
    if (delivery !== undefined) this.#sessionSeen = delivery.session;
    if (payload.length === 0) {
      // The hub clears it when the gateway is deleted; the gateway keeps watching what it had.
      counters.inc('inventories_received', { outcome: 'cleared' });
      log.warn('the hub cleared this gateway\'s inventory; keeping the last one');
      return;
    }
    const v = validatePayload(payload, Number.POSITIVE_INFINITY, gatewayInventorySchema);
    if (!v.ok || v.value.gateway !== this.#d.gateway) {
      counters.inc('inventories_received', { outcome: 'invalid' });
      log.warn({ detail: v.ok ? `for gateway ${v.value.gateway}` : v.detail }, 'inventory refused');
      return;
    }
    const held = this.#current;
    let outcome: 'applied' | 'retained_older' = 'applied';
    if (held && v.value.revision <= held.revision) {
      // Only the retained copy at the start of a session overrides a newer one held, and only
      // when it says something else (an equal copy is the one held).
      const authoritative = firstOfSession && delivery.retained && (v.value.revision !== held.revision || JSON.stringify(v.value) !== JSON.stringify(held));
      if (!authoritative) {
        counters.inc('inventories_received', { outcome: 'stale' });
        return;
      }
      outcome = 'retained_older';
      log.warn({ revision: v.value.revision, held: held.revision }, 'the hub\'s retained inventory is older than the one held; taking the hub\'s');
    }
    this.#receivedAt = at;
    this.#apply(v.value, outcome);
    const file = this.#d.file;
    if (file === undefined) return;
    const inv = v.value;
    this.#writing = this.#writing
      .then(() => (this.#current === inv ? writeStateFile(file, inv) : undefined))
      .catch((err: unknown) => log.error({ err: toError(err) }, 'inventory not saved beside the outbox'));
  }

  /** For /health: the inventory in force, or null with why. */
  summary(): { revision: number; devices: number; receivedAt: number | null } | null {
    const c = this.#current;
    return c ? { revision: c.revision, devices: c.devices.length, receivedAt: this.#receivedAt ?? null } : null;
  }

  async stop(): Promise<void> {
    await this.#writing;
  }

  #apply(inv: GatewayInventory, outcome: 'applied' | 'restored' | 'retained_older'): void {
    this.#current = inv;
    this.#d.counters.inc('inventories_received', { outcome });
    this.#d.log.info({ revision: inv.revision, devices: inv.devices.length, outcome }, 'inventory in force');
    this.#d.onInventory(inv);
  }
}
