import persistenceModule, { type AedesPersistence } from 'aedes-persistence';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../../device-sim/src/fleet.ts';
import { inventoryTopic, stateTopic } from '../../../protocol/src/topics.ts';
import { silentLogger } from '../../../runtime/src/logging.ts';
import { createHub } from '../../src/hub.ts';
import { provisionFleet } from '../../src/provision.ts';
import { Registry } from '../../src/registry.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { gatewayPassword, hubConfig, TEST_SCRYPT } from '../../../tests/harness/stack.ts';

// A CommonJS module whose typings declare an ES default: at run time the import is the factory.
const aedesMemoryPersistence = persistenceModule as unknown as () => AedesPersistence;
const fleet = generateFleet({ seed: 5, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 3, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const [s1, s2, s3] = fleet.schools as [typeof fleet.schools[0], typeof fleet.schools[0], typeof fleet.schools[0]];
const addr = (s: typeof s1) => ({ district: s.district, school: s.id, gateway: s.gateway });

/**
 * Gateways deleted or revoked while the hub was down: the hub started again on the same
 * registry and the same Aedes persistence clears their retained inventories (which the run
 * that published them can no longer clear), keeps the others', and touches no other topic.
 */
describe('the hub clears at start the retained inventories of gateways gone while it was down', () => {
  let influx: InfluxInstance;
  let registry: Registry;
  const persistence = aedesMemoryPersistence();
  const retained = async (filter: string): Promise<string[]> => {
    const out: string[] = [];
    for await (const p of persistence.createRetainedStream(filter) as AsyncIterable<{ topic: string }>) out.push(p.topic);
    return out.sort();
  };
  // The promise form: the callback one waits for a 'ready' that Aedes' async setup never emits.
  const store = (topic: string, payload: string) =>
    (persistence as unknown as { storeRetained(p: object): Promise<void> }).storeRetained({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 1, retain: true });
  const hub = () => createHub(hubConfig(influx.url, 'hub_inventory_stale', { httpPort: -1 }), { log: silentLogger(), registry, persistence });

  beforeAll(async () => {
    influx = await startInflux();
    registry = new Registry(':memory:');
    await provisionFleet(registry, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
  });
  afterAll(async () => {
    registry?.close();
    await influx?.stop();
  });

  it('clears the deleted gateway\'s, the revoked one\'s and one no registry knows; keeps the active one\'s and the state topics', async () => {
    const first = hub();
    await first.start();
    await first.stop();
    const all = [s1, s2, s3].map((s) => inventoryTopic(addr(s))).sort();
    expect(await retained('campus/v1/+/+/+/inventory')).toEqual(all);
    // While the hub is down: one gateway deleted, one revoked; an inventory left from long ago; a retained state.
    registry.deleteGateway(s1.gateway);
    expect(registry.revokeGateway(s2.gateway)).toBe(true);
    const ghost = inventoryTopic({ district: s3.district, school: 'gone-school', gateway: 'gw-gone' });
    await store(ghost, '{"v":1}');
    await store(stateTopic(addr(s1)), '{"state":"offline","bdSeq":1,"ts":1}');
    expect(await retained('campus/v1/+/+/+/inventory')).toEqual([...all, ghost].sort());

    const second = hub();
    await second.start();
    try {
      expect(await retained('campus/v1/+/+/+/inventory')).toEqual([inventoryTopic(addr(s3))]);
      expect(await retained(stateTopic(addr(s1)))).toEqual([stateTopic(addr(s1))]);
      // Three cleared at start, one published (the active gateway's).
      expect(second.counters.get('inventories_published', { kind: 'cleared' })).toBe(3);
      expect(second.counters.get('inventories_published', { kind: 'inventory' })).toBe(1);
    } finally {
      await second.stop();
    }
  });
});
