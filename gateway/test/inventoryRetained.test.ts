import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker } from './testBroker.ts';
import type { GatewayInventory } from '../../protocol/src/inventory.ts';
import { DEFAULT_TIMETABLE } from '../../protocol/src/schedule.ts';
import { inventoryTopic } from '../../protocol/src/topics.ts';
import { waitFor } from '../../runtime/src/ports.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { INVENTORY_FILE, createGateway, type Gateway } from '../src/gateway.ts';
import { InventoryStore } from '../src/inventoryStore.ts';
import { createGatewayCounters } from '../src/metrics.ts';
import { lanOnlyConfig } from './lanRig.ts';

const cleanups: Array<() => Promise<void> | void> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

const inv = (revision: number, ids: string[]): GatewayInventory => ({ v: 1, gateway: 'gw-test', revision, timetable: DEFAULT_TIMETABLE, devices: ids.map((id) => ({ id, kind: 'interactive_board', room: 'r1' })) });
const buf = (x: unknown) => Buffer.from(JSON.stringify(x));

describe('the hub\'s retained inventory is authoritative at a new session', () => {
  it('InventoryStore: the first retained message of a session is taken whatever its revision; live ones and later ones only when newer', () => {
    const seen: Array<[number, string[]]> = [];
    const counters = createGatewayCounters();
    const store = new InventoryStore({ log: silentLogger(), counters, gateway: 'gw-test', file: undefined, onInventory: (i) => seen.push([i.revision, i.devices.map((d) => d.id)]) });
    store.offer(buf(inv(1000, ['a'])), 0, { retained: true, session: 1 });
    // Live, older: refused.
    store.offer(buf(inv(900, ['b'])), 0, { retained: false, session: 1 });
    // Session 2 opens with a live one, older: refused; the retained one after it is not the first: refused.
    store.offer(buf(inv(800, ['c'])), 0, { retained: false, session: 2 });
    store.offer(buf(inv(800, ['c'])), 0, { retained: true, session: 2 });
    // Session 3: the retained copy, older and different: taken.
    store.offer(buf(inv(700, ['d'])), 0, { retained: true, session: 3 });
    // Session 4: the retained copy equal to the one held: nothing changes.
    store.offer(buf(inv(700, ['d'])), 0, { retained: true, session: 4 });
    // Session 5: the same devices at a lower revision: taken, so that the hub's next ones (above 600) are too.
    store.offer(buf(inv(600, ['d'])), 0, { retained: true, session: 5 });
    store.offer(buf(inv(601, ['d', 'e'])), 0, { retained: false, session: 5 });
    // No delivery given (a caller without sessions): the revision rule only.
    store.offer(buf(inv(10, ['z'])), 0);
    expect(seen).toEqual([
      [1000, ['a']],
      [700, ['d']],
      [600, ['d']],
      [601, ['d', 'e']],
    ]);
    expect(counters.snapshot()).toMatchObject({
      'inventories_received{outcome="applied"}': 2,
      'inventories_received{outcome="retained_older"}': 2,
      'inventories_received{outcome="stale"}': 5,
    });
  });

  it('a gateway whose hub now holds an older inventory takes it when it connects again, and saves it; an older live one is still refused', async () => {
    const { broker, port } = await startTestBroker(cleanups);
    const dir = mkdtempSync(join(tmpdir(), 'gw-retained-'));
    cleanups.push(() => rmSync(dir, { recursive: true, force: true }));
    const address = { district: 'd1', school: 's1', gateway: 'gw-test' };
    const publish = (doc: GatewayInventory) =>
      new Promise<void>((res, rej) => broker.publish({ cmd: 'publish', topic: inventoryTopic(address), payload: buf(doc), qos: 1, retain: true, dup: false }, (e) => (e ? rej(e) : res())));

    await publish(inv(1000, ['a']));
    const cfg = await lanOnlyConfig({ GW_OUTBOX_DIR: dir, GW_RECONNECT_MS: '100', GW_RECONNECT_MAX_MS: '200' }, { hubUrl: `mqtt://127.0.0.1:${port}` });
    const gw: Gateway = createGateway(cfg, { log: silentLogger() });
    await gw.start();
    cleanups.push(() => gw.stop());
    const outcome = (o: string) => gw.counters.get('inventories_received', { outcome: o });
    await waitFor('first inventory', async () => (outcome('applied') === 1 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });

    // The hub, its revisions gone back (a registry restored from a backup), publishes an older one: live, refused.
    await publish(inv(400, ['b']));
    await waitFor('live older one refused', async () => (outcome('stale') === 1 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });

    // A new session: the retained copy (400) comes first and is taken.
    const client = (broker as unknown as { clients: Record<string, { close(): void }> }).clients['gw-test'];
    client!.close();
    await waitFor('retained older taken', async () => (outcome('retained_older') === 1 ? true : undefined), { timeoutMs: 10_000, intervalMs: 20 });
    expect(gw.counters.get('uplink_connects')).toBe(2);
    await gw.stop();
    const saved = JSON.parse(readFileSync(join(dir, 'gw-test', INVENTORY_FILE), 'utf8')) as GatewayInventory;
    expect([saved.revision, saved.devices.map((d) => d.id)]).toEqual([400, ['b']]);
  });
});
