import { connect as netConnect } from 'node:net';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { MemoryOutbox } from '../../gateway/src/outbox.ts';
import { LAN_TELEMETRY_TOPIC, telemetryTopic } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import type { PresenceEvent } from '../../broker/src/presence.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';

const fleet = generateFleet({ seed: 33, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 1, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const school = fleet.schools[0]!;
const board = school.devices.find((d) => d.kind === 'interactive_board')!;
const sample = (seq: number, ts: number): string =>
  JSON.stringify({ device: board.id, kind: 'interactive_board', seq, ts, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } });
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Each scenario's hub, gateway and LAN device; stopped after it. */
interface Rig {
  stack: Stack;
  gw: Gateway;
  dev: MqttClient;
  events: PresenceEvent[];
}

describe('InfluxDB down: sessions stay up, publishes wait unacknowledged, nothing is lost or doubled', () => {
  let influx: InfluxInstance;
  const rigs: Rig[] = [];

  beforeAll(async () => {
    // A local influxd, so the test can stop and start it.
    influx = await startInflux({ forceLocal: true });
  });
  afterAll(async () => {
    for (const r of rigs) {
      await r.dev.endAsync(true).catch(() => {});
      await r.gw.stop();
      await r.stack.stop();
    }
    await influx?.stop();
  });

  async function rig(db: string): Promise<Rig> {
    const stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false, hub: { influx: { url: influx.url, database: db, maxLines: 5000, lingerMs: 10, attempts: 2, requestTimeoutMs: 2000 } } });
    const events: PresenceEvent[] = [];
    stack.hub.events.on('presence', (e) => events.push(e));
    // A one-second keepalive: an outage of several seconds outlasts it many times over.
    const gw = createGateway(gatewayConfig(school, stack.hub.mqttPort, { keepaliveSec: 1 }), { log: silentLogger(), outbox: new MemoryOutbox(100_000) });
    await gw.start();
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: board.id, protocolVersion: 4, reconnectPeriod: 0 });
    const r = { stack, gw, dev, events };
    rigs.push(r);
    return r;
  }

  async function send(r: Rig, from: number, n: number): Promise<void> {
    const t0 = Date.now() - 60_000;
    for (let i = from; i < from + n; i++) await r.dev.publishAsync(LAN_TELEMETRY_TOPIC, sample(i, t0 + i), { qos: 1 });
  }

  async function storedSeqs(db: string): Promise<{ count: number; distinct: number }> {
    const s = await influxQuery(influx.url, db, `SELECT count(seq), count(distinct(seq)) FROM interactive_board WHERE device = '${board.id}'`);
    const row = s[0]?.values[0];
    return { count: Number(row?.[1] ?? 0), distinct: Number(row?.[2] ?? 0) };
  }

  it('keeps the gateway online through an outage longer than its keepalive, and writes every record exactly once', async () => {
    const db = 'e2e_outage';
    const r = await rig(db);
    const born = await waitFor('birth', async () => (r.stack.hub.presence.get(school.gateway)?.state === 'online' ? r.stack.hub.presence.get(school.gateway) : undefined));
    await send(r, 0, 50);
    await waitFor('first records stored', async () => ((await storedSeqs(db)).count === 50 ? true : undefined));

    await influx.kill!('SIGKILL');
    await send(r, 50, 150);
    await sleep(5000); // five keepalives
    expect(r.gw.outbox.size()).toBeGreaterThan(0); // held at the edge, unacknowledged
    expect(r.gw.uplinkConnected).toBe(true);
    expect(r.stack.hub.presence.get(school.gateway)?.state).toBe('online');
    expect(r.stack.hub.writer.lastError).toBeDefined(); // degraded meanwhile

    await influx.restart!();
    await waitFor('outbox drained', async () => (r.gw.outbox.size() === 0 ? true : undefined), { timeoutMs: 30_000 });
    expect(await storedSeqs(db)).toEqual({ count: 200, distinct: 200 });
    expect(r.events.filter((e) => e.type === 'gateway_offline')).toEqual([]);
    expect(r.events.filter((e) => e.type === 'gateway_online')).toHaveLength(1);
    expect(r.stack.hub.presence.get(school.gateway)?.bdSeq).toBe(born!.bdSeq);
    expect(r.stack.hub.counters.get('connections_accepted', { kind: 'gateway' })).toBe(1);
    expect(r.gw.counters.get('uplink_connects')).toBe(1);
    const states = await influxQuery(influx.url, db, `SELECT count(bd_seq) FROM gateway_state WHERE gateway = '${school.gateway}'`);
    expect(states[0]?.values[0]?.[1]).toBe(1); // one birth, no death
  });

  it('starts while InfluxDB is down, reports degraded, and sets the database up once it is back', async () => {
    await influx.kill!('SIGKILL');
    const db = 'e2e_late_influx';
    const r = await rig(db);
    const health = async (): Promise<{ code: number; body: { status: string; reason?: string } }> => {
      const res = await fetch(`http://127.0.0.1:${r.stack.hub.httpPort}/health`);
      return { code: res.status, body: (await res.json()) as { status: string; reason?: string } };
    };
    const down = await health();
    expect(down.code).toBe(503);
    expect(down.body.status).toBe('degraded');
    expect(down.body.reason).toMatch(/database not set up/);
    await waitFor('gateway connected', async () => (r.gw.uplinkConnected ? true : undefined));
    await send(r, 0, 30);
    await sleep(2500);
    expect(r.gw.outbox.size()).toBe(30); // nothing acknowledged
    expect(r.stack.hub.writer.stats.requests).toBe(0); // held before the database exists

    await influx.restart!();
    await waitFor('healthy', async () => ((await health()).code === 200 ? true : undefined), { timeoutMs: 30_000 });
    await waitFor('outbox drained', async () => (r.gw.outbox.size() === 0 ? true : undefined), { timeoutMs: 30_000 });
    expect(await storedSeqs(db)).toEqual({ count: 30, distinct: 30 });
    expect(r.events.filter((e) => e.type === 'gateway_offline')).toEqual([]);
    expect(r.gw.counters.get('uplink_connects')).toBe(1);
  });

  it('answers PINGREQ while two publishes of one socket read are held, and acknowledges both once InfluxDB is back', async () => {
    await influx.kill!('SIGKILL');
    const db = 'e2e_held_pings';
    const stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
    try {
      const sock = netConnect(stack.hub.mqttPort, '127.0.0.1');
      const parser = mqttPacket.parser({ protocolVersion: 4 });
      const got: string[] = [];
      let closed = false;
      parser.on('packet', (p) => got.push(p.cmd === 'puback' ? `puback ${p.messageId}` : p.cmd));
      sock.on('data', (b) => parser.parse(b));
      sock.on('close', () => (closed = true));
      await new Promise((r) => sock.once('connect', r));
      const g = school.gateway;
      sock.write(mqttPacket.generate({ cmd: 'connect', protocolId: 'MQTT', protocolVersion: 4, clientId: g, username: g, password: Buffer.from(gatewayPassword(g)), clean: true, keepalive: 1 }));
      await waitFor('connack', async () => (got.includes('connack') ? true : undefined));
      const ts = Date.now() - 1000;
      const body = (seq: number): string =>
        JSON.stringify({ v: 1, gateway: g, batch: `held-${seq}`, records: [{ device: board.id, kind: 'interactive_board', seq, ts: ts + seq, rx: ts + seq, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } }] });
      // Both in one write, so Aedes reads them in one go.
      const topic = telemetryTopic({ district: school.district, school: school.id, gateway: school.gateway });
      sock.write(Buffer.concat([1, 2].map((id) => mqttPacket.generate({ cmd: 'publish', topic, payload: body(id), qos: 1, messageId: id, retain: false, dup: false }))));
      // Each PINGREQ is answered with nothing else sent after it (a client waits for its
      // PINGRESP before the next keepalive), and the session outlives several keepalives.
      for (let i = 1; i <= 5; i++) {
        await sleep(400);
        sock.write(mqttPacket.generate({ cmd: 'pingreq' }));
        await waitFor(`PINGRESP ${i}`, async () => (got.filter((c) => c === 'pingresp').length === i ? true : undefined), { timeoutMs: 5000, intervalMs: 10 });
      }
      expect(closed).toBe(false);
      expect(got.filter((c) => c === 'pingresp')).toHaveLength(5);
      expect(got.filter((c) => c.startsWith('puback'))).toEqual([]);
      await influx.restart!();
      const pingUntilAcked = setInterval(() => sock.write(mqttPacket.generate({ cmd: 'pingreq' })), 700);
      try {
        await waitFor('both acknowledged', async () => (got.filter((c) => c.startsWith('puback')).length === 2 ? true : undefined), { timeoutMs: 30_000 });
      } finally {
        clearInterval(pingUntilAcked);
      }
      expect(got.filter((c) => c.startsWith('puback')).sort()).toEqual(['puback 1', 'puback 2']);
      expect(closed).toBe(false);
      expect(await storedSeqs(db)).toEqual({ count: 2, distinct: 2 });
      sock.destroy();
    } finally {
      await stack.stop();
    }
  });
});
