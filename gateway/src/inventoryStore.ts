import type { Logger } from 'pino';
import { gatewayInventorySchema, type GatewayInventory } from '../../protocol/src/inventory.ts';
import { toError } from '../../runtime/src/errors.ts';
import { validatePayload } from './lanValidation.ts';
import type { GatewayCounters } from './metrics.ts';
import { readStateFile, writeStateFile } from './stateFile.ts';

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
 */
export class InventoryStore {
  readonly #d: InventoryStoreDeps;
  #current: GatewayInventory | undefined;
  #receivedAt: number | undefined;
  #writing: Promise<void> = Promise.resolve();

  constructor(deps: InventoryStoreDeps) {
    this.#d = deps;
  }

  get current(): GatewayInventory | undefined {
    return this.#current;
  }

  async start(): Promise<void> {
    const { file, log } = this.#d;
    if (file === undefined) return;
    try {
      const inv = await readStateFile(file, gatewayInventorySchema);
      if (inv && inv.gateway === this.#d.gateway) this.#apply(inv, 'restored');
    } catch (err) {
      // A damaged file only costs the wait for the hub's retained copy.
      log.warn({ err: toError(err) }, 'saved inventory unreadable; waiting for the hub\'s');
    }
  }

  /** The payload of a message on the gateway's inventory topic. */
  offer(payload: Buffer, at: number): void {
    const { counters, log } = this.#d;
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
    if (this.#current && v.value.revision <= this.#current.revision) {
      counters.inc('inventories_received', { outcome: 'stale' });
      return;
    }
    this.#receivedAt = at;
    this.#apply(v.value, 'applied');
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

  #apply(inv: GatewayInventory, outcome: 'applied' | 'restored'): void {
    this.#current = inv;
    this.#d.counters.inc('inventories_received', { outcome });
    this.#d.log.info({ revision: inv.revision, devices: inv.devices.length, outcome }, 'inventory in force');
    this.#d.onInventory(inv);
  }
}
