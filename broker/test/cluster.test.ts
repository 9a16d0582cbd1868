import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Cluster, CLUSTER_PREFIX, type ClusterMessage } from '../src/cluster.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { EventBus, type PresenceChanged } from '../src/eventBus.ts';
import { PresencePublisher } from '../src/features/presencePublisher.ts';
import { PresenceTracker } from '../src/features/presenceTracker.ts';
import { createHubCounters } from '../src/metrics.ts';
import { createHub } from '../src/hub.ts';
import { hubConfig } from '../../tests/harness/stack.ts';
import { startRedis, type RedisServer } from '../../tests/harness/redis.ts';
import { freePort, waitFor } from '../../tests/harness/ports.ts';

/** Cluster (one node's share of the shared state) against a real redis-server, nodes in one process. */
describe('Cluster', () => {
  let redis: RedisServer;
  let probe: Redis;
  const timing = { heartbeatMs: 100, nodeTtlMs: 400, resyncMs: 150 };
  const nodes: Cluster[] = [];
  const node = async (id: string): Promise<Cluster> => {
    const c = new Cluster({ redisUrl: redis.url, nodeId: id }, silentLogger(), timing);
    nodes.push(c);
    await c.start();
    return c;
  };

  beforeAll(async () => {
    redis = await startRedis();
    probe = new Redis(redis.url);
  });
  afterAll(async () => {
    for (const c of nodes) await c.stop().catch(() => {});
    probe?.disconnect();
    await redis?.stop();
  });

  it('sees a session on another node, ready or not, until that node ends it', async () => {
    const a = await node('a1');
    const b = await node('b1');
    b.sessionChanged('gw-1', true, false);
    await waitFor('a sees gw-1 on b', async () => a.remoteSession('gw-1')?.node === 'b1');
    expect(a.remoteSession('gw-1')).toEqual({ node: 'b1', ready: false });
    // A node's own sessions are not "remote".
    expect(b.remoteSession('gw-1')).toBeUndefined();
    b.sessionChanged('gw-1', true, true);
    await waitFor('a sees gw-1 ready', async () => a.remoteSession('gw-1')?.ready === true);
    expect(JSON.parse((await probe.hget(`${CLUSTER_PREFIX}:sessions`, 'gw-1'))!)).toEqual({ node: 'b1', ready: true });
    b.sessionChanged('gw-1', false, false);
    await waitFor('gw-1 gone on a', async () => a.remoteSession('gw-1') === undefined);
    expect(await probe.hget(`${CLUSTER_PREFIX}:sessions`, 'gw-1')).toBeNull();
  });

  it('keeps a session taken over by another node when the old node ends its own', async () => {
    const a = await node('a2');
    const b = await node('b2');
    const c = await node('c2');
    a.sessionChanged('gw-2', true, true);
    await waitFor('c sees gw-2 on a', async () => c.remoteSession('gw-2')?.node === 'a2');
    b.sessionChanged('gw-2', true, true);
    await waitFor('c sees gw-2 on b', async () => c.remoteSession('gw-2')?.node === 'b2');
    // The old session's disconnect comes after the takeover.
    a.sessionChanged('gw-2', false, false);
    await new Promise((r) => setTimeout(r, 400));
    expect(c.remoteSession('gw-2')?.node).toBe('b2');
    expect(JSON.parse((await probe.hget(`${CLUSTER_PREFIX}:sessions`, 'gw-2'))!).node).toBe('b2');
  });

  it('stops counting the sessions of a node that falls silent, and a survivor removes them', async () => {
    const a = await node('a3');
    // A node killed: its entry and heartbeat are left as they were, and nothing refreshes them.
    await probe.hset(`${CLUSTER_PREFIX}:nodes`, 'dead3', String(Date.now()));
    await probe.hset(`${CLUSTER_PREFIX}:sessions`, 'gw-3', JSON.stringify({ node: 'dead3', ready: true }));
    await waitFor('a sees gw-3 on dead3', async () => a.remoteSession('gw-3')?.node === 'dead3');
    await waitFor('gw-3 no longer counts', async () => a.remoteSession('gw-3') === undefined, { timeoutMs: 3000, intervalMs: 50 });
    await waitFor('gw-3 removed from the hash', async () => (await probe.hget(`${CLUSTER_PREFIX}:sessions`, 'gw-3')) === null, { timeoutMs: 3000, intervalMs: 50 });
    expect(a.liveNodes()).not.toContain('dead3');
  });

  it('gives each minute to one node only', async () => {
    const a = await node('a4');
    const b = await node('b4');
    const ts = 1_700_000_040_000;
    const wins = await Promise.all([a.claimMinute(ts), b.claimMinute(ts), a.claimMinute(ts), b.claimMinute(ts)]);
    expect(wins.filter(Boolean)).toHaveLength(1);
    expect([await a.claimMinute(ts + 60_000), await b.claimMinute(ts + 60_000)]).toEqual([true, false]);
  });

  it('delivers a message to every other node, never back to its sender', async () => {
    const a = await node('a5');
    const b = await node('b5');
    const c = await node('c5');
    const got = new Map<string, Array<[ClusterMessage, string]>>([['a5', []], ['b5', []], ['c5', []]]);
    a.onMessage((m, from) => got.get('a5')!.push([m, from]));
    b.onMessage((m, from) => got.get('b5')!.push([m, from]));
    c.onMessage((m, from) => got.get('c5')!.push([m, from]));
    a.broadcast({ t: 'close', gateway: 'gw-5', why: 'credentials revoked' });
    await waitFor('b and c got it', async () => got.get('b5')!.length === 1 && got.get('c5')!.length === 1);
    await new Promise((r) => setTimeout(r, 100));
    expect(got.get('a5')).toEqual([]);
    expect(got.get('c5')).toEqual([[{ t: 'close', gateway: 'gw-5', why: 'credentials revoked' }, 'a5']]);
  });

  it('leaves the cluster on stop: its heartbeat removed, every connection closed', async () => {
    const a = await node('a6');
    expect(await probe.hexists(`${CLUSTER_PREFIX}:nodes`, 'a6')).toBe(1);
    await a.stop();
    await a.stop();
    expect(await probe.hexists(`${CLUSTER_PREFIX}:nodes`, 'a6')).toBe(0);
    const clients = (await probe.client('LIST')) as string;
    expect(clients.split('\n').filter((l) => l.trim() !== '')).toHaveLength(nodes.filter((n) => n !== a).length * 5 + 1);
  });

  it('announces another node\'s presence changes as remote, and does not publish them again', async () => {
    const a = await node('a7');
    const b = await node('b7');
    const busA = new EventBus();
    const busB = new EventBus();
    const trackerA = new PresenceTracker({ bus: busA, cluster: a });
    const trackerB = new PresenceTracker({ bus: busB, cluster: b });
    const publishedA: string[] = [];
    const publisherA = new PresencePublisher({ bus: busA, presence: trackerA.presence, publisher: { publish: async (topic) => void publishedA.push(topic) }, counters: createHubCounters(), log: silentLogger() });
    for (const f of [trackerA, trackerB, publisherA]) f.start();
    const seenA: PresenceChanged[] = [];
    busA.onPresenceChanged({}, (c) => seenA.push(c));
    const gateway = { district: 'd', school: 's', gateway: 'gw-7' };
    busB.emitGatewayStateAccepted({ gateway, state: { ...gateway, state: 'online', bdSeq: 3, ts: 1000 }, written: Promise.resolve() });
    await waitFor('a announces it', async () => seenA.length === 1);
    expect(seenA[0]).toEqual({ gateway, events: [{ type: 'gateway_online', ...gateway, bdSeq: 3, ts: 1000 }], remote: true });
    expect(trackerA.presence.get('gw-7')).toMatchObject({ state: 'online', bdSeq: 3 });
    // A death older than that birth is now stale on node A too.
    expect(trackerA.isStaleDeath({ ...gateway, state: 'offline', bdSeq: 2, ts: 1500 })).toBe(true);
    expect(publishedA).toEqual([]);
    for (const f of [trackerA, trackerB, publisherA]) f.stop();
  });

  it('a hub started as a cluster node and stopped leaves no connection to Redis and no entry of its own', async () => {
    const before = ((await probe.client('LIST')) as string).split('\n').filter((l) => l.trim() !== '').length;
    // InfluxDB is not needed to start and stop (its setup is retried in the background).
    const hub = createHub(hubConfig('http://127.0.0.1:9', 'none', { httpPort: -1, cluster: { redisUrl: redis.url, nodeId: 'hub-8' } }), { log: silentLogger() });
    await hub.start();
    expect(await probe.hexists(`${CLUSTER_PREFIX}:nodes`, 'hub-8')).toBe(1);
    expect(await hub.counters.registry.metrics()).toContain('node="hub-8"');
    await hub.stop();
    expect(await probe.hexists(`${CLUSTER_PREFIX}:nodes`, 'hub-8')).toBe(0);
    await waitFor('its connections closed', async () => ((await probe.client('LIST')) as string).split('\n').filter((l) => l.trim() !== '').length === before);
  });

  it('refuses to start with HUB_ERR_REDIS_UNAVAILABLE when Redis does not answer, leaving nothing reconnecting', async () => {
    const dead = `redis://127.0.0.1:${await freePort()}`;
    const hub = createHub(hubConfig('http://127.0.0.1:9', 'none', { httpPort: -1, cluster: { redisUrl: dead, nodeId: 'hub-9' } }), { log: silentLogger() });
    await expect(hub.start()).rejects.toMatchObject({ code: 'HUB_ERR_REDIS_UNAVAILABLE' });
  });

  it('rides out a Redis restart: no crash, and sessions are shared again once it is back', async () => {
    const own = await startRedis();
    const mk = async (id: string) => {
      const c = new Cluster({ redisUrl: own.url, nodeId: id }, silentLogger(), timing);
      await c.start();
      return c;
    };
    const a = await mk('a10');
    const b = await mk('b10');
    try {
      await own.stop();
      // Down: writes and messages fail quietly (logged), nothing throws.
      b.sessionChanged('gw-10', true, true);
      await new Promise((r) => setTimeout(r, 500));
      const again = await startRedis({ port: own.port });
      try {
        // ioredis reconnects and subscribes again by itself.
        await waitFor('sessions shared again', async () => {
          b.sessionChanged('gw-10', true, true);
          await new Promise((r) => setTimeout(r, 100));
          return a.remoteSession('gw-10')?.node === 'b10';
        }, { timeoutMs: 15_000, intervalMs: 200 });
      } finally {
        await a.stop();
        await b.stop();
        await again.stop();
      }
    } finally {
      await a.stop();
      await b.stop();
    }
  });
});
