import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserWithToken } from '../../broker/src/auth/bootstrap.ts';
import { CLUSTER_PREFIX } from '../../broker/src/cluster.ts';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { generateFleet, SEED_DISTRICTS, type Fleet, type SimSchool } from '../../device-sim/src/fleet.ts';
import { createSimulator, type Simulator } from '../../device-sim/src/simulator.ts';
import { commandFilter, commandResultTopic, stateTopic } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gatewayProcess.ts';
import { startHaproxy, type HaproxyServer } from '../harness/haproxy.ts';
import { startHubProcess, type HubProcess } from '../harness/hubProcess.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort, waitFor } from '../harness/ports.ts';
import { startRedis, type RedisServer } from '../harness/redis.ts';
import { gatewayPassword, influxQuery, TEST_SCRYPT } from '../harness/stack.ts';

/**
 * Two hub processes on one Redis, behind HAProxy, sharing one registry file, writing to one real
 * InfluxDB (broker/README.md#clustering). Schools 0 and 1 have real gateway processes connected
 * straight to node A and node B (ingest once); schools 2 and 3 are played by the test (commands,
 * revocation, presence); schools 4 and 5 have real gateways that reach the hubs through HAProxy
 * (kill -9 of a node under load).
 */
const SAMPLES = 100;
// 30 s cadences × 0.002 = one sample every 60 ms per device (VR kits: 120 ms).
const CADENCE_SCALE = 0.002;
const MINUTE = 60_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

const fleet: Fleet = generateFleet({ seed: 14, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 6, roomsPerSchool: 2, vrKitsPerSchool: 1, accessSwitchesPerSchool: 1 });
const school = (i: number): SimSchool => fleet.schools[i]!;

/** A hub's counter from /metrics, summed over the series whose labels include `labels`. */
async function metric(hub: HubProcess, name: string, labels: Record<string, string> = {}): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(`${name}{`) && !line.startsWith(`${name} `)) continue;
    if (Object.entries(labels).every(([k, v]) => line.includes(`${k}="${v}"`))) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  }
  return sum;
}

describe('cluster: two hub nodes on Redis behind HAProxy', () => {
  let influx: InfluxInstance;
  let redis: RedisServer;
  let haproxy: HaproxyServer;
  let dir: string;
  let registryPath: string;
  let token: string;
  let hubA: HubProcess;
  let hubB: HubProcess;
  let startedAt = 0;
  const db = 'e2e_cluster';
  const cleanups: Array<() => Promise<void>> = [];
  const clients: MqttClient[] = [];

  const api = async (hub: HubProcess, method: string, path: string, body?: unknown): Promise<{ status: number; body: any }> => {
    const r = await fetch(`http://127.0.0.1:${hub.httpPort}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: r.status, body: await r.json().catch(() => null) };
  };

  const sessions = async (): Promise<Record<string, string>> => {
    const r = new Redis(redis.url);
    try {
      const h = await r.hgetall(`${CLUSTER_PREFIX}:sessions`);
      return Object.fromEntries(Object.entries(h).map(([g, v]) => [g, (JSON.parse(v) as { node: string }).node]));
    } finally {
      r.disconnect();
    }
  };

  /** A gateway played by the test: logs in to `port`, is born (retained state), takes commands and answers each with `done`. */
  async function fakeGateway(s: SimSchool, port: number, bdSeq: number): Promise<MqttClient> {
    const a = { district: s.district, school: s.id, gateway: s.gateway };
    const will = { topic: stateTopic(a), payload: Buffer.from(JSON.stringify({ state: 'offline', bdSeq, ts: Date.now() })), qos: 1 as const, retain: true };
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId: s.gateway, username: s.gateway, password: gatewayPassword(s.gateway), protocolVersion: 4, clean: true, reconnectPeriod: 0, will });
    clients.push(c);
    c.on('error', () => {});
    c.on('message', (_topic, payload) => {
      const req = JSON.parse(payload.toString()) as { id: string; device: string; action: string; issuedAt: number; input?: string };
      void c.publishAsync(commandResultTopic(a), JSON.stringify({ v: 1, id: req.id, device: req.device, action: req.action, ...(req.input ? { input: req.input } : {}), issuedAt: req.issuedAt, status: 'done', at: Date.now() }), { qos: 1 }).catch(() => {});
    });
    await c.subscribeAsync(commandFilter(a), { qos: 1 });
    await c.publishAsync(stateTopic(a), JSON.stringify({ state: 'online', bdSeq, ts: Date.now() }), { qos: 1, retain: true });
    return c;
  }

  /** Per device: points in InfluxDB (one per sample: a sample written twice is one point). */
  async function stored(devices: Set<string>): Promise<Map<string, number>> {
    const series = await influxQuery(influx.url, db, 'SELECT count(seq) FROM classroom_av, interactive_board, vr_kit, network_node GROUP BY device').catch(() => []);
    const out = new Map<string, number>();
    for (const s of series) {
      const d = s.tags!['device']!;
      if (devices.has(d)) out.set(d, (out.get(d) ?? 0) + Number(s.values[0]![1]));
    }
    return out;
  }

  async function realGateway(s: SimSchool, hubPort: number): Promise<{ gateway: GatewayProcess; lanPort: number }> {
    const lanPort = await freePort();
    const healthPort = await freePort();
    const gateway = await startGatewayProcess(
      {
        GW_ID: s.gateway,
        GW_DISTRICT: s.district,
        GW_SCHOOL: s.id,
        GW_PASSWORD: gatewayPassword(s.gateway),
        GW_HUB_URL: `mqtt://127.0.0.1:${hubPort}`,
        GW_LAN_PORT: String(lanPort),
        GW_OUTBOX_DIR: join(dir, `outbox-${s.id}`),
        GW_RECONNECT_MS: '200',
        GW_RECONNECT_MAX_MS: '200',
        GW_REPLAY_JITTER_MS: '300',
        GW_REPLAY_RATE: '3000',
        GW_BATCH_LINGER_MS: '50',
        GW_HEALTH_INTERVAL_MS: '1000',
        GW_AVAILABILITY: 'false',
        LOG_LEVEL: 'warn',
      },
      healthPort,
      join(dir, `gateway-${s.id}.log`),
    );
    cleanups.push(async () => gateway.stop('SIGKILL'));
    return { gateway, lanPort };
  }

  function simulate(schools: SimSchool[], lanPorts: Map<string, number>): Simulator {
    const sub: Fleet = { districts: fleet.districts, schools };
    const sim = createSimulator(sub, (s) => `mqtt://127.0.0.1:${lanPorts.get(s.id)!}`, { seed: 3, cadenceScale: CADENCE_SCALE, samplesPerDevice: SAMPLES, startSpreadMs: 50 }, { log: silentLogger() });
    cleanups.push(() => sim.stop());
    return sim;
  }

  beforeAll(async () => {
    influx = await startInflux();
    redis = await startRedis();
    dir = mkdtempSync(join(tmpdir(), 'cluster-'));
    registryPath = join(dir, 'registry.sqlite');
    const reg = new Registry(registryPath);
    await provisionFleet(reg, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
    token = createUserWithToken(reg, { id: 'admin', role: 'city_admin' }, { name: 'test' }, Date.now()).token;
    reg.close();
    const env = (node: string) => ({ HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: db, HUB_REDIS_URL: redis.url, HUB_NODE_ID: node, HUB_ALLOW_ANONYMOUS: 'true', HUB_MINUTE_REPORTS: 'true', HUB_INFLUX_ATTEMPTS: '2', LOG_LEVEL: 'warn' });
    startedAt = Date.now();
    hubA = await startHubProcess(env('hub-a'), join(dir, 'hub-a.log'));
    hubB = await startHubProcess(env('hub-b'), join(dir, 'hub-b.log'));
    haproxy = await startHaproxy([hubA.mqttPort, hubB.mqttPort], { interMs: 200 });
  });
  afterAll(async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    for (const undo of cleanups.reverse()) await undo().catch(() => {});
    await haproxy?.stop();
    await hubA?.stop('SIGKILL');
    await hubB?.stop('SIGKILL');
    await redis?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('a command issued through node A reaches a gateway on node B; its result is recorded once, and no no_result follows', async () => {
    const s = school(2);
    await fakeGateway(s, hubB.mqttPort, 1);
    // Node A sees the session on node B (its gateway reads online, and it takes commands).
    await waitFor('node A sees the gateway on node B', async () => (await api(hubA, 'GET', `/gateways/${s.gateway}`)).body?.connection === 'online', { timeoutMs: 10_000 });
    const device = s.devices.find((d) => d.kind === 'interactive_board')!;
    const sent = await api(hubA, 'POST', `/devices/${device.id}/commands`, { action: 'reboot', ttlMs: 1000 });
    expect(sent.status).toBe(202);
    expect(sent.body.status).toBe('sent');
    const id = sent.body.id as string;
    const done = await waitFor('the result recorded', async () => {
      const r = await api(hubA, 'GET', `/commands/${id}`);
      return r.body?.status === 'done' ? r.body : undefined;
    }, { timeoutMs: 10_000 });
    expect(done.gateway).toBe(s.gateway);
    // Past the TTL and its grace (1 s + 2 s): node A's no_result timer has run, and changed nothing.
    await sleep(4000);
    expect((await api(hubB, 'GET', `/commands/${id}`)).body.status).toBe('done');
    const outcomes = async (status: string) => (await metric(hubA, 'hub_commands_total', { status })) + (await metric(hubB, 'hub_commands_total', { status }));
    expect(await outcomes('done')).toBe(1);
    expect(await outcomes('no_result')).toBe(0);
    expect(await metric(hubA, 'hub_commands_total', { status: 'sent' })).toBe(1);
    // One `command` point, with the final status.
    const points = await influxQuery(influx.url, db, `SELECT status, finished_at FROM command WHERE id = '${id}'`);
    expect(points).toHaveLength(1);
    expect(points[0]!.values.map((v) => v[1])).toEqual(['done']);
    expect(points[0]!.values[0]![2]).toBeGreaterThan(0);
  });

  it('retained presence and gateway states are the same read through either node', async () => {
    const s = school(3);
    await fakeGateway(s, hubA.mqttPort, 7);
    const docOf = async (hub: HubProcess, gateway: string) => ((await api(hub, 'GET', '/presence')).body as Array<Record<string, unknown>>).find((d) => d['gateway'] === gateway);
    for (const gw of [school(2).gateway, s.gateway]) {
      const a = await waitFor(`${gw} in node A's presence`, async () => (await docOf(hubA, gw))?.['state'] === 'online' && docOf(hubA, gw), { timeoutMs: 10_000 });
      const b = await waitFor(`${gw} in node B's presence`, async () => (await docOf(hubB, gw))?.['state'] === 'online' && docOf(hubB, gw), { timeoutMs: 10_000 });
      expect(b).toEqual(a);
    }
    expect((await docOf(hubB, s.gateway))?.['bdSeq']).toBe(7);
    // The retained presence documents, subscribed to through each node.
    const retained = async (port: number): Promise<Map<string, string>> => {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0 });
      clients.push(c);
      const got = new Map<string, string>();
      c.on('message', (topic, payload, packet) => {
        if (packet.retain) got.set(topic, payload.toString());
      });
      await c.subscribeAsync('presence/v1/#', { qos: 1 });
      await sleep(500);
      await c.endAsync();
      return got;
    };
    const viaA = await retained(hubA.mqttPort);
    const viaB = await retained(hubB.mqttPort);
    expect(viaA.size).toBeGreaterThanOrEqual(2);
    expect(viaB).toEqual(viaA);
    expect(JSON.parse(viaB.get(`presence/v1/${s.district}/${s.id}/${s.gateway}`)!)).toMatchObject({ state: 'online', bdSeq: 7 });
  });

  it('each sample is ingested exactly once, with gateways and subscribers on both nodes', async () => {
    // Anonymous observers on both nodes see every gateway's presence: the publishes of each node
    // reach the other through Redis, and must not be ingested there again.
    for (const port of [hubA.mqttPort, hubB.mqttPort]) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { protocolVersion: 4, reconnectPeriod: 0 });
      clients.push(c);
      await c.subscribeAsync(['presence/v1/#', 'events/v1/#'], { qos: 1 });
    }
    const s0 = school(0);
    const s1 = school(1);
    const g0 = await realGateway(s0, hubA.mqttPort);
    const g1 = await realGateway(s1, hubB.mqttPort);
    await waitFor('both gateways connected', async () => (await g0.gateway.health()).connected && (await g1.gateway.health()).connected, { timeoutMs: 15_000 });
    expect(await sessions()).toMatchObject({ [s0.gateway]: 'hub-a', [s1.gateway]: 'hub-b' });
    // Each node's API shows the other node's gateway as it shows its own: connected, and its last health report.
    const status = async (hub: HubProcess, gw: string) => (await api(hub, 'GET', `/gateways/${gw}`)).body as { connection: string; health: unknown };
    await waitFor('health reports seen through the other node', async () => (await status(hubA, s1.gateway)).health !== null && (await status(hubB, s0.gateway)).health !== null, { timeoutMs: 10_000 });
    expect((await status(hubA, s1.gateway)).connection).toBe('online');
    expect((await status(hubB, s0.gateway)).connection).toBe('online');
    const sim = simulate([s0, s1], new Map([[s0.id, g0.lanPort], [s1.id, g1.lanPort]]));
    await sim.start();
    await sim.finished;
    const devices = new Set([...s0.devices, ...s1.devices].map((d) => d.id));
    const produced = sim.totalAcked();
    expect(produced).toBe(SAMPLES * devices.size);
    const got = await waitFor('every sample in InfluxDB', async () => {
      const m = await stored(devices);
      return [...m.values()].reduce((n, v) => n + v, 0) === produced ? m : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    for (const d of devices) expect(got.get(d), d).toBe(sim.acked.get(d));
    // Written once: each node wrote what its own gateways sent, and nothing of the other's.
    const written = async (hub: HubProcess) => await metric(hub, 'hub_records_written_total');
    const perSchool = (s: SimSchool) => s.devices.reduce((n, d) => n + sim.acked.get(d.id)!, 0);
    expect(await written(hubA)).toBe(perSchool(s0));
    expect(await written(hubB)).toBe(perSchool(s1));
  });

  it('a gateway revoked through node A loses its live session on node B, and node B refuses its login', async () => {
    const s = school(2);
    const c = clients.find((x) => x.options.clientId === s.gateway && x.connected);
    expect(c, 'the gateway of school 2 is still connected to node B').toBeDefined();
    const closed = new Promise<void>((resolve) => c!.once('close', () => resolve()));
    const r = await api(hubA, 'POST', `/gateways/${s.gateway}/revoke`);
    expect(r.status).toBe(200);
    await closed;
    const again = await mqtt.connectAsync(`mqtt://127.0.0.1:${hubB.mqttPort}`, { clientId: s.gateway, username: s.gateway, password: gatewayPassword(s.gateway), protocolVersion: 4, reconnectPeriod: 0 }).then(
      (x) => (clients.push(x), 'connected'),
      (e: { code?: number }) => e.code,
    );
    // CONNACK 4: a revoked gateway is answered as a wrong password is (policy.ts: ids cannot be probed).
    expect(again).toBe(4);
    expect(await metric(hubB, 'hub_connections_refused_total')).toBeGreaterThanOrEqual(1);
  });

  it('minute reports are written once per minute for the whole cluster', async () => {
    // The next minute boundary: both nodes try it (and every one since they started).
    const target = Math.ceil(Date.now() / MINUTE) * MINUTE;
    await waitFor('the next minute boundary', async () => Date.now() > target + 5000, { timeoutMs: 70_000, intervalMs: 500 });
    const outcome = async (o: string) => (await metric(hubA, 'hub_minute_reports_total', { outcome: o })) + (await metric(hubB, 'hub_minute_reports_total', { outcome: o }));
    const written = await outcome('written');
    const skipped = await outcome('other_node');
    const minutes = await influxQuery(influx.url, db, `SELECT count(up) FROM gateway_up WHERE time >= ${Math.floor(startedAt / MINUTE) * MINUTE}ms AND time <= ${target}ms GROUP BY time(1m)`);
    const perMinute = minutes[0]!.values.filter((v) => Number(v[1]) > 0);
    // One write per minute across the cluster; the other node's attempt skipped (all but the
    // first minute, if the nodes started on either side of a boundary).
    expect(written).toBe(perMinute.length);
    expect(skipped).toBeGreaterThanOrEqual(written - 1);
    expect(skipped).toBeLessThanOrEqual(written);
    // The registry's active gateways (school 2's revoked), each once in that minute: not ×2.
    const up = await influxQuery(influx.url, db, `SELECT up FROM gateway_up WHERE time = ${target}ms GROUP BY gateway`);
    expect(up.map((x) => x.values.length)).toEqual(Array.from({ length: fleet.schools.length - 1 }, () => 1));
    // A gateway on node A and one on node B both read up, whichever node wrote the minute.
    const upOf = (gw: string) => up.find((x) => x.tags!['gateway'] === gw)?.values[0]?.[1];
    expect(upOf(school(0).gateway)).toBe(1);
    expect(upOf(school(1).gateway)).toBe(1);
    expect(upOf(school(3).gateway)).toBe(1);
  });

  it('kill -9 of a node under load: its gateways reconnect through HAProxy to the other, and nothing is lost', async () => {
    const s4 = school(4);
    const s5 = school(5);
    const g4 = await realGateway(s4, haproxy.port);
    const g5 = await realGateway(s5, haproxy.port);
    await waitFor('both gateways connected through HAProxy', async () => (await g4.gateway.health()).connected && (await g5.gateway.health()).connected, { timeoutMs: 15_000 });
    const placed = await sessions();
    // The node of school 4's gateway is killed (round robin puts the two on different nodes).
    const victim = placed[s4.gateway] === 'hub-a' ? hubA : hubB;
    const survivor = victim === hubA ? hubB : hubA;
    const survivorId = victim === hubA ? 'hub-b' : 'hub-a';
    const sim = simulate([s4, s5], new Map([[s4.id, g4.lanPort], [s5.id, g5.lanPort]]));
    await sim.start();
    await sleep(2000);
    await victim.stop('SIGKILL');
    await sim.finished;
    const devices = new Set([...s4.devices, ...s5.devices].map((d) => d.id));
    const produced = sim.totalAcked();
    expect(produced).toBe(SAMPLES * devices.size);
    const got = await waitFor('every sample in InfluxDB', async () => {
      const m = await stored(devices);
      return [...m.values()].reduce((n, v) => n + v, 0) === produced ? m : undefined;
    }, { timeoutMs: 90_000, intervalMs: 500 });
    for (const d of devices) expect(got.get(d), d).toBe(sim.acked.get(d));
    // Both gateways are now on the survivor.
    await waitFor('both sessions on the survivor', async () => {
      const p = await sessions();
      return p[s4.gateway] === survivorId && p[s5.gateway] === survivorId;
    }, { timeoutMs: 15_000 });
    expect((await g4.gateway.health()).outbox).toMatchObject({ records: 0, dropped: 0 });
    // The gateway connected straight to the dead node cannot come back: its Last Will, left in
    // Redis by the dead node, is published by the survivor as that gateway's death.
    const stranded = victim === hubA ? school(0) : school(1);
    const presence = async () => ((await api(survivor, 'GET', '/presence')).body as Array<Record<string, unknown>>).find((d) => d['gateway'] === stranded.gateway);
    await waitFor(`${stranded.gateway} offline on the survivor`, async () => (await presence())?.['state'] === 'offline', { timeoutMs: 60_000, intervalMs: 1000 });
    expect((await fetch(`http://127.0.0.1:${survivor.httpPort}/health`)).ok).toBe(true);

    // The next minute is written by the survivor alone.
    const next = Math.ceil(Date.now() / MINUTE) * MINUTE;
    await waitFor('the next minute written', async () => {
      const r = await influxQuery(influx.url, db, `SELECT count(up) FROM gateway_up WHERE time = ${next}ms`);
      return Number(r[0]?.values[0]?.[1] ?? 0) > 0;
    }, { timeoutMs: 75_000, intervalMs: 1000 });
    const r = await influxQuery(influx.url, db, `SELECT up FROM gateway_up WHERE time = ${next}ms GROUP BY gateway`);
    expect(r).toHaveLength(fleet.schools.length - 1);
    expect(r.find((x) => x.tags!['gateway'] === s4.gateway)?.values[0]?.[1]).toBe(1);
  });
});
