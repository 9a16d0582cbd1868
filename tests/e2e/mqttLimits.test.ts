import { connect as netConnect, type Socket } from 'node:net';
import persistenceModule, { type AedesPersistence } from 'aedes-persistence';
import mqtt, { type MqttClient } from 'mqtt';
import mqttPacket from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { commandResultTopic, healthTopic, stateTopic, telemetryTopic } from '../../protocol/src/topics.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { encodeConnect, fixedHeader, rawConnect } from '../harness/rawMqtt.ts';
import { gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';

const fleet = generateFleet({ seed: 11, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 2, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const [offenderSchool, victimSchool] = [fleet.schools[0]!, fleet.schools[1]!];
const addr = (s: typeof offenderSchool) => ({ district: s.district, school: s.id, gateway: s.gateway });
const creds = (s: typeof offenderSchool) => ({ clientId: s.gateway, clean: true, username: s.gateway, password: gatewayPassword(s.gateway) });

/** A fixed header (MQTT §2.2) for packet type `type` announcing `len` bytes. */
const header = fixedHeader;

/** A QoS 1 PUBLISH with message id 1 and a topic given as raw bytes. */
function rawPublish(topic: Buffer, payload: Buffer): Buffer {
  const body = Buffer.concat([Buffer.from([topic.length >> 8, topic.length & 0xff]), topic, Buffer.from([0, 1]), payload]);
  return Buffer.concat([header(3, 0x02, body.length), body]);
}

interface Raw {
  sock: Socket;
  /** Commands of the packets received, in order. */
  received: string[];
  closed: Promise<void>;
}

function rawSocket(port: number): Promise<Raw> {
  return new Promise((resolve) => {
    const sock = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    const received: string[] = [];
    parser.on('packet', (p) => received.push(p.cmd));
    sock.on('data', (b) => parser.parse(b));
    // Writes into a socket the hub has cut fail with EPIPE / ECONNRESET: expected here.
    sock.on('error', () => {});
    const closed = new Promise<void>((r) => sock.once('close', () => r()));
    sock.once('connect', () => resolve({ sock, received, closed }));
  });
}

/** A raw socket logged in as `s`'s gateway (CONNACK 0 seen). */
async function rawSession(port: number, s: typeof offenderSchool): Promise<Raw> {
  const r = await rawSocket(port);
  r.sock.write(encodeConnect(creds(s)));
  await waitFor('CONNACK', async () => r.received.includes('connack'), { timeoutMs: 5000 });
  return r;
}

describe('MQTT limits against an abusive client', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let victim: MqttClient;
  let victimSent = 0;
  let stopVictim = false;
  let victimLoop: Promise<void>;
  const db = 'e2e_mqtt_limits';
  const persistence = (persistenceModule as unknown as () => AedesPersistence)();
  const t0 = Date.now() - 60_000;
  const cut = (reason: string) => stack.hub.counters.get('connections_cut', { reason });

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({
      persistence,
      influxUrl: influx.url,
      database: db,
      fleet,
      withGateways: false,
      // Anonymous observers (an experiment setting) to see what is retained.
      hub: { allowAnonymous: true, mqttLimits: { connectTimeoutMs: 2000, maxPendingConnections: 8, publishRate: 20, publishBurst: 5, maxRetainedPerClient: 2, maxRetainedBytesPerClient: 1000, maxQueuedBeforeConnack: 4, maxInflightQos2: 3 } },
    });
    victim = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { ...creds(victimSchool), protocolVersion: 4, reconnectPeriod: 0 });
    // Another school's gateway sends telemetry all along, one batch every 100 ms (under its rate).
    victimLoop = (async () => {
      while (!stopVictim) {
        const seq = victimSent;
        const rec = { device: `${victimSchool.id}-r01-board`, kind: 'interactive_board', seq, ts: t0 + seq, rx: t0 + seq, data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v1.0' } };
        await victim.publishAsync(telemetryTopic(addr(victimSchool)), JSON.stringify({ v: 1, gateway: victimSchool.gateway, batch: `b${seq}`, records: [rec] }), { qos: 1 });
        victimSent++;
        await new Promise((r) => setTimeout(r, 100));
      }
    })();
  });
  afterAll(async () => {
    stopVictim = true;
    await victimLoop;
    await victim?.endAsync(true);
    await stack?.stop();
    await influx?.stop();
  });

  it('cuts a 10 MB PUBLISH at its header: no PUBACK, the connection closed', async () => {
    const r = await rawSession(stack.hub.mqttPort, offenderSchool);
    // Both counts read just after a victim publish was acknowledged, while the victim sleeps
    // (100 ms): no publish of it is then received and not yet acknowledged.
    const betweenVictimPublishes = async () => {
      const n = victimSent;
      await waitFor('a victim publish acknowledged', async () => victimSent > n, { timeoutMs: 5000, intervalMs: 1 });
      return { received: stack.hub.counters.get('messages_received', { channel: 'telemetry' }), sent: victimSent };
    };
    const before = await betweenVictimPublishes();
    r.sock.write(rawPublish(Buffer.from(telemetryTopic(addr(offenderSchool))), Buffer.alloc(10_000_000, 0x20)));
    await r.closed;
    expect(r.received).toEqual(['connack']);
    expect(cut('packet_too_large')).toBe(1);
    // The victim's publishes went on meanwhile; the offender's never reached a handler.
    await waitFor('victim publishes', async () => victimSent > before.sent + 2, { timeoutMs: 5000 });
    const after = await betweenVictimPublishes();
    expect(after.received - before.received).toBe(after.sent - before.sent);
  });

  it('cuts a 63 MiB CONNECT before authentication, having read only its header', async () => {
    const r = await rawSocket(stack.hub.mqttPort);
    // Only the header and a few bytes are ever sent: the hub cannot be waiting for the rest.
    r.sock.write(Buffer.concat([header(1, 0, 63 * 1_048_576), Buffer.from([0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 0xc2])]));
    await r.closed;
    expect(r.received).toEqual([]);
    expect(cut('packet_too_large')).toBe(2);
    expect(stack.hub.counters.get('connections_refused', { code: 'HUB_ERR_AUTH_DENIED' })).toBe(0);
  });

  it('closes the connection on a topic with U+0000 or invalid UTF-8 [MQTT-1.5.3-1, -2]', async () => {
    const own = telemetryTopic(addr(offenderSchool));
    for (const topic of [Buffer.concat([Buffer.from(own), Buffer.from([0x00])]), Buffer.concat([Buffer.from(`${own}/`), Buffer.from([0xc3, 0x28])])]) {
      const r = await rawSession(stack.hub.mqttPort, offenderSchool);
      r.sock.write(rawPublish(topic, Buffer.from('{}')));
      await r.closed;
      expect(r.received).toEqual(['connack']);
    }
    expect(cut('invalid_topic')).toBe(2);
  });

  it('closes a socket that sends no CONNECT by the deadline', async () => {
    const r = await rawSocket(stack.hub.mqttPort);
    await r.closed;
    expect(r.received).toEqual([]);
    expect(cut('connect_timeout')).toBe(1);
  });

  it('refuses sockets beyond the unauthenticated cap at accept, and logs in again once they are gone', async () => {
    const idle = await Promise.all(Array.from({ length: 8 }, () => rawSocket(stack.hub.mqttPort)));
    const extra = await rawSocket(stack.hub.mqttPort);
    await extra.closed;
    expect(extra.received).toEqual([]);
    expect(cut('pending_cap')).toBe(1);
    // The eight are still open: the hub refused only the ninth.
    expect(idle.every((r) => !r.sock.destroyed)).toBe(true);
    for (const r of idle) r.sock.destroy();
    await Promise.all(idle.map((r) => r.closed));
    await waitFor('a login', async () => (await rawConnect(stack.hub.mqttPort, creds(offenderSchool))) === 0, { timeoutMs: 5000 });
    expect(cut('pending_cap')).toBe(1);
  });

  it('slows a client over its publish rate without dropping a message', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { ...creds(offenderSchool), protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const n = 40;
      const acks = await Promise.all(Array.from({ length: n }, (_, i) => c.publishAsync(healthTopic(addr(offenderSchool)), JSON.stringify({ i }), { qos: 1 })));
      expect(acks.length).toBe(n);
      // A burst of 5 passes; of the other 35, those that found no token were held (refill adds a few).
      expect(stack.hub.counters.get('publishes_throttled')).toBeGreaterThan(0);
      expect(c.connected).toBe(true);
    } finally {
      await c.endAsync(true);
    }
  });

  /**
   * What the hub retained under `filter` — what a new subscriber would be served — read from
   * its Aedes persistence (no client may subscribe to `campus/v1/…` to look), once `control`
   * (retained last) is stored.
   */
  async function retainedAt(filter: string, control: string): Promise<Map<string, string>> {
    const read = async (pattern: string): Promise<Map<string, string>> => {
      const got = new Map<string, string>();
      for await (const p of persistence.createRetainedStream(pattern) as AsyncIterable<{ topic: string; payload: Buffer }>) got.set(p.topic, p.payload.toString());
      return got;
    };
    await waitFor('the control message stored', async () => ((await read(control)).size > 0 ? true : undefined), { timeoutMs: 5000 });
    return await read(filter);
  }

  it('never stores or serves a refused message sent as retained', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { ...creds(offenderSchool), protocolVersion: 4, reconnectPeriod: 0 });
    const ctl = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const rejected = stack.hub.counters.get('messages_rejected', { reason: 'malformed_json' });
      await c.publishAsync(telemetryTopic(addr(offenderSchool)), '{"v":1,', { qos: 1, retain: true });
      expect(stack.hub.counters.get('messages_rejected', { reason: 'malformed_json' })).toBe(rejected + 1);
      await ctl.publishAsync('lab/control/1', 'c', { qos: 1, retain: true });
      expect(await retainedAt(telemetryTopic(addr(offenderSchool)), 'lab/control/1')).toEqual(new Map());
    } finally {
      await c.endAsync(true);
      await ctl.endAsync(true);
    }
  });

  it('keeps a client to its retained quota: over it, delivered live but not stored', async () => {
    const live = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0 });
    const pub = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0 });
    const ctl = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const seen: string[] = [];
      live.on('message', (topic) => seen.push(topic));
      await live.subscribeAsync('lab/q/#', { qos: 1 });
      // A quota of 2 topics and 1000 bytes: q/1 and q/2 fit, q/3 is a third topic, q/2 at 990 bytes would make 1090.
      for (const [t, n] of [['lab/q/1', 100], ['lab/q/2', 100], ['lab/q/3', 10], ['lab/q/2', 990]] as const) {
        await pub.publishAsync(t, Buffer.alloc(n, 0x61), { qos: 1, retain: true });
      }
      await waitFor('live delivery', async () => seen.length === 4, { timeoutMs: 5000 });
      expect(stack.hub.counters.get('retained_refused', { quota: 'client' })).toBe(2);
      await ctl.publishAsync('lab/control/2', 'c', { qos: 1, retain: true });
      const stored = await retainedAt('lab/q/#', 'lab/control/2');
      expect([...stored].map(([t, p]) => [t, p.length])).toEqual([['lab/q/1', 100], ['lab/q/2', 100]]);
    } finally {
      await Promise.all([live.endAsync(true), pub.endAsync(true), ctl.endAsync(true)]);
    }
  });

  it('refuses a state, health or command-result payload over its channel limit, and keeps the connection', async () => {
    const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { ...creds(offenderSchool), protocolVersion: 4, reconnectPeriod: 0 });
    const ctl = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const a = addr(offenderSchool);
      const before = stack.hub.counters.get('messages_rejected', { reason: 'oversize_payload' });
      // 16 KiB is the default of each; 16 385 bytes is one over.
      for (const t of [stateTopic(a), healthTopic(a), commandResultTopic(a)]) await c.publishAsync(t, Buffer.alloc(16_385, 0x20), { qos: 1, retain: true });
      expect(stack.hub.counters.get('messages_rejected', { reason: 'oversize_payload' }) - before).toBe(3);
      expect(c.connected).toBe(true);
      await ctl.publishAsync('lab/control/3', 'c', { qos: 1, retain: true });
      expect(await retainedAt(stateTopic(a), 'lab/control/3')).toEqual(new Map());
    } finally {
      await c.endAsync(true);
      await ctl.endAsync(true);
    }
  });

  it('closes a client that sends more than the queue limit before its CONNACK', async () => {
    const r = await rawSocket(stack.hub.mqttPort);
    // One write: the CONNECT is being checked (scrypt) while the ten PINGREQs arrive.
    r.sock.write(Buffer.concat([encodeConnect(creds(offenderSchool)), ...Array.from({ length: 10 }, () => Buffer.from([0xc0, 0x00]))]));
    await r.closed;
    expect(r.received.filter((c) => c === 'pingresp')).toEqual([]);
    expect(cut('queue_limit')).toBe(1);
  });

  it('closes a client with more QoS 2 messages awaiting PUBREL than allowed', async () => {
    const r = await rawSession(stack.hub.mqttPort, offenderSchool);
    const topic = Buffer.from(healthTopic(addr(offenderSchool)));
    // QoS 2 PUBLISHes with ids 1..4 and never a PUBREL: the fourth is one over a limit of 3.
    for (let id = 1; id <= 4; id++) {
      const body = Buffer.concat([Buffer.from([0, topic.length]), topic, Buffer.from([0, id]), Buffer.from('{}')]);
      r.sock.write(Buffer.concat([header(3, 0x04, body.length), body]));
      if (id < 4) await waitFor(`PUBREC ${id}`, async () => r.received.filter((c) => c === 'pubrec').length === id, { timeoutMs: 5000 });
    }
    await r.closed;
    expect(r.received.filter((c) => c === 'pubrec').length).toBe(3);
    expect(cut('inflight_limit')).toBe(1);
  });

  it("the other gateway's telemetry arrived complete all along", async () => {
    stopVictim = true;
    await victimLoop;
    expect(victimSent).toBeGreaterThan(10);
    const s = await influxQuery(influx.url, db, `SELECT count(seq) FROM interactive_board WHERE school = '${victimSchool.id}'`);
    expect(s[0]!.values[0]![1]).toBe(victimSent);
  });
});

describe('the retained quota of anonymous clients', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  const persistence = (persistenceModule as unknown as () => AedesPersistence)();
  const stored = async (pattern: string): Promise<string[]> => {
    const got: string[] = [];
    for await (const p of persistence.createRetainedStream(pattern) as AsyncIterable<{ topic: string }>) got.push(p.topic);
    return got.sort();
  };

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ persistence, influxUrl: influx.url, database: 'e2e_anonymous_retained', fleet, withGateways: false, hub: { allowAnonymous: true, mqttLimits: { maxRetainedPerClient: 2, maxRetainedAnonymous: 3 } } });
  });
  afterAll(async () => {
    await stack?.stop();
    await influx?.stop();
  });

  it('is shared by every anonymous client: a new client id is no new quota', async () => {
    const url = `mqtt://127.0.0.1:${stack.hub.mqttPort}`;
    const a = await mqtt.connectAsync(url, { clientId: 'anon-a', protocolVersion: 4, reconnectPeriod: 0 });
    const b = await mqtt.connectAsync(url, { clientId: 'anon-b', protocolVersion: 4, reconnectPeriod: 0 });
    try {
      // Two for a (its own quota), one for b: the three the anonymous clients share.
      for (const [c, t] of [[a, 'lab/a/1'], [a, 'lab/a/2'], [b, 'lab/b/1']] as const) await c.publishAsync(t, 'x', { qos: 1, retain: true });
      expect(stack.hub.counters.total('retained_refused')).toBe(0);
      // b is within its own quota of 2, but the shared one is full.
      await b.publishAsync('lab/b/2', 'x', { qos: 1, retain: true });
      expect(stack.hub.counters.get('retained_refused', { quota: 'anonymous_pool' })).toBe(1);
      // b's clear of lab/b/1 comes after lab/b/2 on the same connection: once it is applied,
      // lab/b/2 would have been stored if it were going to be.
      await b.publishAsync('lab/b/1', '', { qos: 1, retain: true });
      await waitFor('the clear applied', async () => !(await stored('lab/#')).includes('lab/b/1'), { timeoutMs: 5000 });
      expect(await stored('lab/#')).toEqual(['lab/a/1', 'lab/a/2']);
      // The clear gave its place back to the pool: a third client id may use it, and no more.
      const c = await mqtt.connectAsync(url, { clientId: 'anon-c', protocolVersion: 4, reconnectPeriod: 0 });
      await c.publishAsync('lab/c/1', 'x', { qos: 1, retain: true });
      await c.publishAsync('lab/c/2', 'x', { qos: 1, retain: true });
      await c.endAsync(true);
      expect(stack.hub.counters.get('retained_refused', { quota: 'anonymous_pool' })).toBe(2);
      expect(stack.hub.counters.get('retained_refused', { quota: 'client' })).toBe(0);
      await waitFor('lab/c/1 stored', async () => (await stored('lab/#')).includes('lab/c/1'), { timeoutMs: 5000 });
      expect(await stored('lab/#')).toEqual(['lab/a/1', 'lab/a/2', 'lab/c/1']);
    } finally {
      await Promise.all([a.endAsync(true), b.endAsync(true)]);
    }
  });
});
