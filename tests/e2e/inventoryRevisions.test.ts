import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type Server } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Aedes } from 'aedes';
import persistenceModule, { type AedesPersistence } from 'aedes-persistence';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { EventBus } from '../../broker/src/eventBus.ts';
import { InventoryPublisher } from '../../broker/src/features/inventoryPublisher.ts';
import { createHubCounters } from '../../broker/src/metrics.ts';
import { Registry } from '../../broker/src/registry.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { lanOnlyConfig } from '../../gateway/test/lanRig.ts';
import { gatewayInventorySchema } from '../../protocol/src/inventory.ts';
import { inventoryTopic } from '../../protocol/src/topics.ts';
import { waitFor } from '../../runtime/src/ports.ts';
import { silentLogger } from '../../runtime/src/logging.ts';

const aedesMemoryPersistence = persistenceModule as unknown as () => AedesPersistence;
const HOUR = 3_600_000;
const T = Date.UTC(2026, 2, 3, 1, 0);
const address = { district: 'd1', school: 's1', gateway: 'gw-test' };

/**
 * A hub started at clock T publishes a gateway's inventory; the hub is restarted (its broker
 * with the same persistence, the same registry file) with its clock an hour back, and a device
 * added meanwhile: the gateway takes the new inventory. Real Aedes, real registry, the hub's
 * inventory publisher and a whole gateway with its state beside a durable outbox.
 */
describe('inventory revisions across a hub restarted with its clock set back', () => {
  let dir: string;
  let registryPath: string;
  const persistence = aedesMemoryPersistence();
  let broker: { aedes: Aedes; server: Server } | undefined;
  let port = 0;
  let gw: Gateway;

  async function startBroker(): Promise<void> {
    const aedes = await Aedes.createBroker({ persistence });
    const server = createServer(aedes.handle);
    await new Promise<void>((r) => server.listen(port, '127.0.0.1', () => r()));
    port = (server.address() as { port: number }).port;
    broker = { aedes, server };
  }
  async function stopBroker(): Promise<void> {
    const b = broker;
    broker = undefined;
    if (!b) return;
    await new Promise<void>((r) => b.aedes.close(() => r()));
    await new Promise<void>((r) => b.server.close(() => r()));
  }
  /** One run of the hub's inventory publisher on the registry file, at a fixed clock. */
  async function hubRun(clock: number, edit: (reg: Registry) => void = () => {}): Promise<number> {
    const registry = new Registry(registryPath);
    edit(registry);
    const aedes = broker!.aedes;
    const publisher = new InventoryPublisher({
      registry: () => registry,
      bus: new EventBus(),
      publisher: { publish: (topic, payload, opts) => new Promise<void>((res, rej) => aedes.publish({ cmd: 'publish', topic, payload, qos: opts.qos, retain: opts.retain, dup: false }, (e) => (e ? rej(e) : res()))) },
      counters: createHubCounters(),
      log: silentLogger(),
      clock: () => clock,
    });
    await publisher.start();
    const revision = publisher.revisionOf('gw-test')!;
    publisher.stop();
    registry.close();
    return revision;
  }
  async function retainedRevision(): Promise<number> {
    const got: number[] = [];
    for await (const p of persistence.createRetainedStream(inventoryTopic(address)) as AsyncIterable<{ payload: Buffer }>) got.push(gatewayInventorySchema.parse(JSON.parse(p.payload.toString())).revision);
    expect(got.length).toBe(1);
    return got[0]!;
  }
  /** The inventory in force, as the gateway's /health tells it. */
  const held = async (): Promise<{ revision: number; devices: number } | null> =>
    ((await (await fetch(`http://127.0.0.1:${gw.healthPort}/health`)).json()) as { devices: { inventory: { revision: number; devices: number } | null } }).devices.inventory;

  beforeAll(async () => {
    dir = mkdtempSync(join(tmpdir(), 'inventory-revisions-'));
    registryPath = join(dir, 'registry.sqlite');
    const reg = new Registry(registryPath);
    reg.upsertDistrict({ id: 'd1', nameEn: 'D1' });
    reg.upsertSchool({ id: 's1', district: 'd1', name: 'S1' });
    reg.setGateway('gw-test', 's1', 'x'.repeat(20));
    reg.upsertDevice({ id: 's1-b1', school: 's1', room: 'r1', kind: 'interactive_board' });
    reg.close();
    await startBroker();
    const cfg = await lanOnlyConfig({ GW_OUTBOX_DIR: join(dir, 'outbox'), GW_RECONNECT_MS: '100', GW_RECONNECT_MAX_MS: '200', GW_HEALTH_PORT: '0' }, { hubUrl: `mqtt://127.0.0.1:${port}` });
    gw = createGateway(cfg, { log: silentLogger() });
    await gw.start();
  });
  afterAll(async () => {
    await gw?.stop();
    await stopBroker();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('takes the first run\'s inventory at revision T', async () => {
    expect(await hubRun(T)).toBe(T);
    expect(await retainedRevision()).toBe(T);
    await waitFor('inventory T', async () => ((await held())?.revision === T ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    expect((await held())?.devices).toBe(1);
  });

  it('takes the inventory of the hub restarted an hour back: revision T+1, the device added while it was down', async () => {
    await stopBroker();
    await startBroker();
    // The gateway back on the restarted broker before the hub publishes (it gets the old retained copy, equal to its own).
    await waitFor('reconnected', async () => (gw.counters.get('uplink_connects') === 2 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    await waitFor('old retained copy seen', async () => (gw.counters.get('inventories_received', { outcome: 'stale' }) === 1 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    const revision = await hubRun(T - HOUR, (reg) => reg.upsertDevice({ id: 's1-b2', school: 's1', room: 'r1', kind: 'interactive_board' }));
    // Above the last published (T), not the clock (T − 1 h).
    expect(revision).toBe(T + 1);
    expect(await retainedRevision()).toBe(T + 1);
    await waitFor('inventory T+1', async () => ((await held())?.revision === T + 1 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    expect((await held())?.devices).toBe(2);
    expect(gw.counters.get('inventories_received', { outcome: 'applied' })).toBe(2);
  });
});
