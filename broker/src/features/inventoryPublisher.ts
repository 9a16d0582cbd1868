import type { Logger } from 'pino';
import { gatewayInventorySchema, type GatewayInventory, type InventoryDevice } from '../../../protocol/src/inventory.ts';
import type { SnmpTarget } from '../../../protocol/src/snmp.ts';
import { inventoryTopic, type GatewayAddress } from '../../../protocol/src/topics.ts';
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
  /** The wall clock: revisions must grow across hub restarts whatever clock a test drives. */
  clock?: () => number;
  /** Wait before trying a failed publish again. */
  retryMs?: number;
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
      const doc: GatewayInventory = { v: 1, gateway: g.gateway, revision: Math.max((prev?.revision ?? -1) + 1, clock()), timetable, devices: items };
      const valid = gatewayInventorySchema.safeParse(doc);
      if (!valid.success) {
        counters.inc('inventory_publish_failures', { reason: 'invalid' });
        log.error({ gateway: g.gateway, detail: formatIssues(valid.error.issues) }, 'inventory not published: the registry holds what a gateway would refuse');
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
