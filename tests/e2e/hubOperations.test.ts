import { tmpdir } from 'node:os';
import { join } from 'node:path';
import persistenceModule, { type AedesPersistence } from 'aedes-persistence';
import mqtt from 'mqtt';
import mqemitter from 'mqemitter';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { createHub, type Hub } from '../../broker/src/hub.ts';
import { provisionFleet } from '../../broker/src/provision.ts';
import { commandFilter, telemetryTopic } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort } from '../harness/ports.ts';
import { rawConnect } from '../harness/rawMqtt.ts';
import { gatewayPassword, hubConfig, startStack, TEST_SCRYPT, type Stack } from '../harness/stack.ts';

const fleet = generateFleet({ seed: 11, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 3, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const [s1, s2, s3] = fleet.schools as [typeof fleet.schools[0], typeof fleet.schools[0], typeof fleet.schools[0]];
// A CommonJS module whose typings declare an ES default: at run time the import is the factory.
const aedesMemoryPersistence = persistenceModule as unknown as () => AedesPersistence;
const addr = (s: typeof s1) => ({ district: s.district, school: s.id, gateway: s.gateway });

describe('hub operations: actors and audit, revocation, lifecycle, metrics, injected Aedes emitter and persistence', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  const db = 'e2e_hub_ops';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
  });
  afterAll(async () => {
    await stack?.stop();
    await influx?.stop();
  });

  const login = (g: string, password = gatewayPassword(g)) => rawConnect(stack.hub.mqttPort, { clientId: g, clean: true, username: g, password });
  const connectAsGateway = (g: string) =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { clientId: g, username: g, password: gatewayPassword(g), protocolVersion: 4, reconnectPeriod: 0 });

  it('keeps a revoked gateway out after the fleet is provisioned again and after a rotation', async () => {
    expect(await login(s1.gateway)).toBe(0);
    expect(stack.hub.revokeGateway(s1.gateway, 'system:test')).toBe(true);
    expect(await login(s1.gateway)).toBe(4);
    await provisionFleet(stack.registry, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
    expect(await login(s1.gateway)).toBe(4);
    expect(await stack.hub.rotateGatewayPassword(s1.gateway, 'rotated-password', 'system:test')).toBe(true);
    expect(stack.registry.getGateway(s1.gateway)?.revoked).toBe(true);
    expect(await login(s1.gateway, 'rotated-password')).toBe(4);
  });

  it('writes one audit entry per operation, with its actor and outcome', async () => {
    const rows = () => stack.registry.listAudit({ order: 'asc' }).items;
    const before = rows().length;
    const next = () => rows().slice(before);

    expect(stack.hub.revokeGateway('gw-nowhere', 'user:alice')).toBe(false);
    expect(next()).toMatchObject([{ actor: 'user:alice', action: 'gateway.revoke', target: 'gateway:gw-nowhere', outcome: 'not_found' }]);

    expect(await stack.hub.rotateGatewayPassword(s2.gateway, 'new-pw', 'token:t-7')).toBe(true);
    expect(next().slice(1)).toMatchObject([{ actor: 'token:t-7', action: 'gateway.rotate_password', target: `gateway:${s2.gateway}`, outcome: 'ok' }]);

    await expect(stack.hub.sendCommand({ device: 'no-such-device', action: 'reboot' }, 'system:cli')).rejects.toMatchObject({ code: 'HUB_ERR_COMMAND_REFUSED' });
    expect(next().slice(2)).toMatchObject([{ actor: 'system:cli', action: 'command.reboot', target: 'device:no-such-device', outcome: 'refused', detail: 'device no-such-device is not in the registry' }]);

    const offlineDevice = s3.devices[0]!.id;
    const rejected = await stack.hub.sendCommand({ device: offlineDevice, action: 'standby' }, 'user:bob');
    expect(rejected.status).toBe('rejected');
    expect(next().slice(3)).toMatchObject([{ actor: 'user:bob', action: 'command.standby', target: `device:${offlineDevice}`, outcome: 'rejected', detail: `id ${rejected.id}: gateway not connected` }]);

    const gw = await connectAsGateway(s3.gateway);
    try {
      await gw.subscribeAsync(commandFilter(addr(s3)), { qos: 1 });
      await expect.poll(() => stack.hub.isCommandReady(s3.gateway)).toBe(true);
      const sent = await stack.hub.sendCommand({ device: offlineDevice, action: 'reboot' }, 'user:bob');
      expect(sent.status).toBe('sent');
      expect(next().slice(4)).toMatchObject([{ actor: 'user:bob', action: 'command.reboot', target: `device:${offlineDevice}`, outcome: 'sent', detail: `id ${sent.id}` }]);
    } finally {
      await gw.endAsync(true);
    }
    expect(next()).toHaveLength(5);
    for (const r of next()) expect(typeof r.at).toBe('number');

    // An actor that is not one: refused before anything changes, and not audited.
    expect(() => stack.hub.revokeGateway(s3.gateway, 'root' as never)).toThrow(expect.objectContaining({ code: 'HUB_ERR_BAD_ACTOR' }));
    expect(stack.registry.getGateway(s3.gateway)?.revoked).toBe(false);
    expect(next()).toHaveLength(5);
  });

  it('lets a revoked gateway back in when reinstated, with one audit entry each', async () => {
    const s = s1; // revoked and rotated above
    const before = stack.registry.listAudit({ order: 'asc' }).items.length;
    const next = () => stack.registry.listAudit({ order: 'asc' }).items.slice(before);
    expect(await login(s.gateway, 'rotated-password')).toBe(4);
    expect(stack.hub.reinstateGateway(s.gateway, 'user:carol')).toBe(true);
    expect(await login(s.gateway, 'rotated-password')).toBe(0);
    expect(stack.hub.revokeGateway(s.gateway, 'user:carol')).toBe(true);
    expect(await login(s.gateway, 'rotated-password')).toBe(4);
    expect(stack.hub.reinstateGateway(s.gateway, 'user:carol')).toBe(true);
    expect(await login(s.gateway, 'rotated-password')).toBe(0);
    expect(stack.hub.reinstateGateway('gw-nowhere', 'user:carol')).toBe(false);
    expect(next()).toMatchObject([
      { actor: 'user:carol', action: 'gateway.reinstate', target: `gateway:${s.gateway}`, outcome: 'ok' },
      { actor: 'user:carol', action: 'gateway.revoke', target: `gateway:${s.gateway}`, outcome: 'ok' },
      { actor: 'user:carol', action: 'gateway.reinstate', target: `gateway:${s.gateway}`, outcome: 'ok' },
      { actor: 'user:carol', action: 'gateway.reinstate', target: 'gateway:gw-nowhere', outcome: 'not_found' },
    ]);
    expect(next()).toHaveLength(4);
    expect(stack.registry.getGateway(s.gateway)?.revoked).toBe(false);
  });

  it('fails to start with HUB_ERR_LISTEN on a taken MQTT or HTTP port, and with HUB_ERR_REGISTRY_OPEN on a registry it cannot open', async () => {
    const port = await freePort();
    const first = createHub(hubConfig(influx.url, 'e2e_hub_listen', { mqttPort: port }), { log: silentLogger(), registry: stack.registry });
    await first.start();
    try {
      const second = createHub(hubConfig(influx.url, 'e2e_hub_listen', { mqttPort: port }), { log: silentLogger(), registry: stack.registry });
      await expect(second.start()).rejects.toMatchObject({ code: 'HUB_ERR_LISTEN' });
      await second.stop();
      const third = createHub(hubConfig(influx.url, 'e2e_hub_listen', { httpPort: first.httpPort }), { log: silentLogger(), registry: stack.registry });
      await expect(third.start()).rejects.toMatchObject({ code: 'HUB_ERR_LISTEN' });
      await third.stop();
      // The first one still serves.
      expect((await fetch(`http://127.0.0.1:${first.httpPort}/health`)).status).toBe(200);
    } finally {
      await first.stop();
    }
    const registryPath = join(tmpdir(), `no-such-dir-${process.pid}-${Date.now()}`, 'registry.sqlite');
    const unopened = createHub(hubConfig(influx.url, 'e2e_hub_listen', { registryPath }), { log: silentLogger() });
    await expect(unopened.start()).rejects.toMatchObject({ code: 'HUB_ERR_REGISTRY_OPEN' });
    await unopened.stop();
  });

  it('serves /metrics in the Prometheus text format: counters, both histograms with the counts this test caused, process metrics', async () => {
    const hub = createHub(hubConfig(influx.url, 'e2e_hub_metrics'), { log: silentLogger(), registry: stack.registry });
    await hub.start();
    try {
      const s = s2; // password rotated above
      const gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, { clientId: s.gateway, username: s.gateway, password: 'new-pw', protocolVersion: 4, reconnectPeriod: 0 });
      const ts = Date.now() - 10_000;
      const device = s.devices.find((d) => d.kind === 'interactive_board')!;
      // One at a time, each acknowledged before the next: one /write per publish.
      for (let i = 0; i < 3; i++) {
        const batch = { v: 1, gateway: s.gateway, batch: `m-${i}`, records: [{ device: device.id, kind: 'interactive_board', seq: i, ts: ts + i, rx: ts + i, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } }] };
        await gw.publishAsync(telemetryTopic(addr(s)), JSON.stringify(batch), { qos: 1 });
      }
      await gw.endAsync();
      const res = await fetch(`http://127.0.0.1:${hub.httpPort}/metrics`);
      const families = new Map(parsePrometheusTextFormat(await res.text()).map((f) => [f.name, f]));

      const received = families.get('hub_messages_received_total');
      expect(received).toMatchObject({ type: 'COUNTER', help: 'Gateway messages received, by channel.' });
      expect(received!.metrics).toEqual([{ labels: { channel: 'telemetry' }, value: '3' }]);
      expect(families.get('hub_records_written_total')).toMatchObject({ type: 'COUNTER', metrics: [{ value: '3' }] });
      for (const [name, f] of families) if (name.startsWith('hub_') && f.type === 'COUNTER') expect(name).toMatch(/_total$/);

      const writes = families.get('hub_influx_write_seconds');
      expect(writes).toMatchObject({ type: 'HISTOGRAM' });
      expect(writes!.metrics[0]!.count).toBe('3');
      const pubacks = families.get('hub_puback_latency_seconds');
      expect(pubacks).toMatchObject({ type: 'HISTOGRAM' });
      expect(pubacks!.metrics[0]!.count).toBe('3');
      expect(Number(pubacks!.metrics[0]!.buckets!['+Inf'])).toBe(3);

      expect(families.get('process_cpu_user_seconds_total')?.type).toBe('COUNTER');
      expect(families.get('nodejs_eventloop_lag_seconds')?.type).toBe('GAUGE');
    } finally {
      await hub.stop();
    }
  });

  it('has lifecycle faults with codes: used before start, started twice, used after stop', async () => {
    const hub: Hub = createHub(hubConfig(influx.url, 'e2e_hub_life', { httpPort: -1 }), { log: silentLogger(), registry: stack.registry });
    await expect(hub.sendCommand({ device: 'x', action: 'reboot' }, 'system:test')).rejects.toMatchObject({ code: 'HUB_ERR_NOT_STARTED' });
    expect(() => hub.revokeGateway(s3.gateway, 'system:test')).toThrow(expect.objectContaining({ code: 'HUB_ERR_NOT_STARTED' }));
    await expect(hub.recordMinute()).rejects.toMatchObject({ code: 'HUB_ERR_NOT_STARTED' });
    await hub.start();
    await expect(hub.start()).rejects.toMatchObject({ code: 'HUB_ERR_STARTED_TWICE' });
    await hub.stop();
    await hub.stop(); // idempotent
    await expect(hub.rotateGatewayPassword(s3.gateway, 'x', 'system:test')).rejects.toMatchObject({ code: 'HUB_ERR_STOPPED' });
    await expect(hub.recordMinute()).rejects.toMatchObject({ code: 'HUB_ERR_STOPPED' });
    await expect(hub.start()).rejects.toMatchObject({ code: 'HUB_ERR_STARTED_TWICE' });
    const owned = createHub(hubConfig(influx.url, 'e2e_hub_life'), { log: silentLogger() });
    expect(() => owned.registry).toThrow(expect.objectContaining({ code: 'HUB_ERR_NOT_STARTED' }));
  });

  it('uses the emitter and the persistence it is given: two hubs on one emitter deliver each other\'s messages', async () => {
    const mq = mqemitter();
    const persistence = aedesMemoryPersistence();
    const cfg = (database: string) => hubConfig(influx.url, database, { allowAnonymous: true, httpPort: -1 });
    const a = createHub(cfg('e2e_hub_cluster'), { log: silentLogger(), registry: stack.registry, mq, persistence });
    const b = createHub(cfg('e2e_hub_cluster'), { log: silentLogger(), registry: stack.registry, mq });
    await a.start();
    await b.start();
    try {
      const sub = await mqtt.connectAsync(`mqtt://127.0.0.1:${b.mqttPort}`, { clientId: 'observer-b', protocolVersion: 4, reconnectPeriod: 0 });
      const got: string[] = [];
      sub.on('message', (t, p) => got.push(`${t} ${p.toString()}`));
      await sub.subscribeAsync('lab/#', { qos: 1 });
      const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${a.mqttPort}`, { clientId: 'publisher-a', protocolVersion: 4, reconnectPeriod: 0 });
      await pub.publishAsync('lab/one', 'from a', { qos: 1, retain: true });
      // Straight into the injected emitter: it reaches hub b's subscriber as well.
      mq.emit({ cmd: 'publish', topic: 'lab/two', payload: Buffer.from('from the emitter'), qos: 0, retain: false, dup: false });
      await expect.poll(() => got.slice().sort()).toEqual(['lab/one from a', 'lab/two from the emitter']);
      // The retained message is in the persistence hub a was given.
      const retained: string[] = [];
      for await (const p of persistence.createRetainedStream('lab/#')) retained.push(`${p.topic} ${p.payload.toString()}`);
      expect(retained).toEqual(['lab/one from a']);
      await pub.endAsync();
      await sub.endAsync();
    } finally {
      await b.stop();
      await a.stop();
    }
  });

  it('sends a command and gives up on recordMinute while InfluxDB is unreachable, instead of waiting for it', async () => {
    // A port nothing listens on: the database is never set up, so every write is held.
    const down = `http://127.0.0.1:${await freePort()}`;
    const base = hubConfig(down, 'e2e_hub_down', { httpPort: -1 });
    const hub = createHub({ ...base, influx: { ...base.influx, requestTimeoutMs: 300 } }, { log: silentLogger(), registry: stack.registry });
    await hub.start();
    const s = s3;
    const gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, { clientId: s.gateway, username: s.gateway, password: gatewayPassword(s.gateway), protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const requests: string[] = [];
      gw.on('message', (_t, p) => requests.push(JSON.parse(p.toString()).id));
      await gw.subscribeAsync(commandFilter(addr(s)), { qos: 1 });
      await expect.poll(() => hub.isCommandReady(s.gateway)).toBe(true);
      const sent = await hub.sendCommand({ device: s.devices[0]!.id, action: 'reboot' }, 'system:test');
      expect(sent.status).toBe('sent');
      await expect.poll(() => requests).toEqual([sent.id]);
      await expect(hub.recordMinute()).rejects.toMatchObject({ code: 'HUB_ERR_INFLUX_UNAVAILABLE' });
    } finally {
      await gw.endAsync(true);
      await hub.stop();
    }
    // Both of the command's points fail, counted: its `sent` point, still held at stop, and the
    // `no_result` the stop records after it (the writer has stopped by then).
    await expect.poll(() => hub.counters.get('command_point_failures')).toBe(2);
  });
});
