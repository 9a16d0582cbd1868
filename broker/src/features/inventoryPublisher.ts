import type { Logger } from 'pino';
import { gatewayInventorySchema, type GatewayInventory, type InventoryDevice } from '../../../protocol/src/inventory.ts';
import type { SnmpTarget } from '../../../protocol/src/snmp.ts';
import { ALL_INVENTORIES_FILTER, inventoryTopic, type GatewayAddress } from '../../../protocol/src/topics.ts';
import { formatIssues, toError } from '../../../runtime/src/errors.ts';
import type { EventBus } from '../eventBus.ts';
import type { HubCounters } from '../metrics.ts';
import type { Device, Registry } from '../registry.ts';
import type { Feature } from './feature.ts';
import type { HubPublisher } from './presencePublisher.ts';

export interface InventoryPublisherDeps {
  registry: () => Registry;
  bus: EventBus;
  publisher: HubPublisher;
  counters: HubCounters;
  log: Logger;
  /** The wall clock, the revision's floor (the registry keeps it growing when the clock goes back). */
  clock?: () => number;
  /** Wait before trying a failed publish again. */
  retryMs?: number;
  /**
   * The topics the broker holds a retained message on, matching a filter (Aedes' persistence);
   * absent: no clearing at start of what an earlier run left.
   */
  retainedTopics?: (filter: string) => AsyncIterable<string>;
}

interface Published {
  address: GatewayAddress;
  /** The document without its revision: a change is a different one. */
  content: string;
  revision: number;
}

/** A registry device as a gateway needs it (kind, room, link); the SNMP target is mapped where the registry holds one. */
/** A device as its gateway needs it; a polled node with its SNMP target, secrets included (the inventory goes to that gateway alone). */
export function inventoryDevice(d: Device, snmpTargetOf: (id: string) => SnmpTarget | undefined): InventoryDevice {
  const snmp = d.kind === 'network_node' ? snmpTargetOf(d.id) : undefined;
  return {
    id: d.id,
    kind: d.kind,
    room: d.room,
    ...(d.linkRole !== null && d.capacityBps !== null ? { link: { role: d.linkRole, capacityBps: d.capacityBps } } : {}),
    ...(snmp ? { snmp } : {}),
  };
}

/**
 * Each gateway's inventory (protocol/src/inventory.ts: its school's devices in service and
 * timetable) on its own retained topic, QoS 1: all of them at start, and again, with a higher
 * revision, for each gateway whose document changed once the registry was written (in process or
 * by another: `registryChanged`, from RegistryWatch's poll). A gateway deleted, revoked or moved
 * away from an address has the inventory there cleared (an empty retained message).
 */
export class InventoryPublisher implements Feature {
  readonly #d: InventoryPublisherDeps;
  readonly #published = new Map<string, Published>();
  #pending: Promise<void> | undefined;
  #again = false;
  #retry: NodeJS.Timeout | undefined;
  #stopped = false;

  constructor(deps: InventoryPublisherDeps) {
    this.#d = deps;
  }

  async start(): Promise<void> {
    this.#stopped = false;
    this.#d.bus.onRegistryChanged(this, () => void this.refresh());
    await this.refresh();
    await this.clearStale();
  }

  /**
   * Clears the retained inventories an earlier run left for gateways no longer active (deleted or
   * revoked while the hub was down), or at an address a gateway has left; this run clears only what
   * it published itself. The registry is read after the broker is listed: an inventory found was
   * published after its gateway was written, so a gateway created meanwhile (by another hub on the
   * same file) is seen and its inventory kept. Returns how many were cleared.
   */
  async clearStale(): Promise<number> {
    const { retainedTopics, counters, log } = this.#d;
    if (!retainedTopics || this.#stopped) return 0;
    const found: string[] = [];
    try {
      for await (const topic of retainedTopics(ALL_INVENTORIES_FILTER)) found.push(topic);
    } catch (e) {
      counters.inc('inventory_publish_failures', { reason: 'stale_scan' });
      log.warn({ err: toError(e) }, 'retained inventories not listed; those of gateways gone are left');
      return 0;
    }
    const live = new Set(this.#d.registry().activeGateways().map((g) => inventoryTopic({ district: g.district, school: g.school, gateway: g.gateway })));
    const stale = found.filter((t) => !live.has(t));
    let cleared = 0;
    for (const topic of stale) {
      if (this.#stopped) break;
      if (await this.#send(topic, Buffer.alloc(0), 'cleared', topic)) cleared += 1;
    }
    if (stale.length > 0) log.info({ found: found.length, cleared, stale: stale.length }, 'retained inventories of gateways gone cleared');
    return cleared;
  }

  stop(): void {
    this.#stopped = true;
    this.#d.bus.removeListeners(this);
    clearTimeout(this.#retry);
    this.#retry = undefined;
  }

  /** The revision last published for a gateway (tests). */
  revisionOf(gateway: string): number | undefined {
    return this.#published.get(gateway)?.revision;
  }

  /** Publishes what changed; concurrent calls coalesce into one more pass. */
  refresh(): Promise<void> {
    if (this.#pending) {
      this.#again = true;
      return this.#pending;
    }
    this.#pending = (async () => {
      do {
        this.#again = false;
        await this.#pass();
      } while (this.#again && !this.#stopped);
    })().finally(() => (this.#pending = undefined));
    return this.#pending;
  }

  async #pass(): Promise<void> {
    if (this.#stopped) return;
    const { registry, counters, log } = this.#d;
    const reg = registry();
    const clock = this.#d.clock ?? Date.now;
    const seen = new Set<string>();
    const sends: Array<Promise<boolean>> = [];
    for (const g of reg.activeGateways()) {
      seen.add(g.gateway);
      const address: GatewayAddress = { district: g.district, school: g.school, gateway: g.gateway };
      const { timetable, devices } = reg.schoolInventory(g.school);
      const items = devices.map((d) => inventoryDevice(d, (id) => reg.snmpTargetOf(id)));
      const content = JSON.stringify({ address, timetable, devices: items });
      const prev = this.#published.get(g.gateway);
      if (prev && prev.content === content) continue;
      const doc: GatewayInventory = { v: 1, gateway: g.gateway, revision: 0, timetable, devices: items };
      const valid = gatewayInventorySchema.safeParse(doc);
      if (!valid.success) {
        counters.inc('inventory_publish_failures', { reason: 'invalid' });
        log.error({ gateway: g.gateway, detail: formatIssues(valid.error.issues) }, 'inventory not published: the registry holds what a gateway would refuse');
        continue;
      }
      // Above every revision given to this gateway before, by this run or an earlier one, whatever the clock says.
      try {
        doc.revision = reg.nextInventoryRevision(g.gateway, clock());
      } catch (e) {
        // The registry busy or read-only: nothing published without a recorded revision; tried again.
        counters.inc('inventory_publish_failures', { reason: 'registry' });
        log.warn({ err: toError(e), gateway: g.gateway }, 'inventory revision not recorded; trying again');
        sends.push(Promise.resolve(false));
        continue;
      }
      if (prev && inventoryTopic(prev.address) !== inventoryTopic(address)) sends.push(this.#clear(g.gateway, prev.address));
      sends.push(
        this.#send(inventoryTopic(address), Buffer.from(JSON.stringify(doc)), 'inventory', g.gateway).then((ok) => {
          if (ok) this.#published.set(g.gateway, { address, content, revision: doc.revision });
          return ok;
        }),
      );
    }
    for (const [gateway, prev] of this.#published) if (!seen.has(gateway)) sends.push(this.#clear(gateway, prev.address));
    const results = await Promise.all(sends);
    if (results.includes(false) && !this.#stopped && !this.#retry) {
      this.#retry = setTimeout(() => {
        this.#retry = undefined;
        void this.refresh();
      }, this.#d.retryMs ?? 5000);
      this.#retry.unref();
    }
  }

  async #clear(gateway: string, address: GatewayAddress): Promise<boolean> {
    const ok = await this.#send(inventoryTopic(address), Buffer.alloc(0), 'cleared', gateway);
    if (ok && this.#published.get(gateway)?.address === address) this.#published.delete(gateway);
    return ok;
  }

  async #send(topic: string, payload: Buffer, kind: 'inventory' | 'cleared', gateway: string): Promise<boolean> {
    const { publisher, counters, log } = this.#d;
    try {
      await publisher.publish(topic, payload, { qos: 1, retain: true });
      counters.inc('inventories_published', { kind });
      return true;
    } catch (e) {
      counters.inc('inventory_publish_failures', { reason: 'publish' });
      log.warn({ err: toError(e), gateway }, 'inventory not published; trying again');
      return false;
    }
  }
}
