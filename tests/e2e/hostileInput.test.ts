import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { LAN_TELEMETRY_TOPIC, telemetryTopic } from '../../protocol/src/topics.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';

const fleet = generateFleet({
  seed: 3,
  districts: SEED_DISTRICTS.slice(0, 1),
  schoolsPerDistrict: 2,
  roomsPerSchool: 1,
  vrKitsPerSchool: 1,
  accessSwitchesPerSchool: 0,
});
const school = fleet.schools[0]!; // yz-s01
const addr = { district: school.district, school: school.id, gateway: school.gateway };

/** Device ids a vendor or an installer might really type, each stored exactly. */
const HOSTILE_IDS = [
  'board 3, room=2',
  'a b,c=d"e 渝中区',
  "o'brien's \"VR\" kit",
  'back\\slash in the middle',
  '🎓 emoji=ok,',
  '=leading equals',
  ' leading space',
];

const board = (device: string, seq: number, ts: number) => ({
  device,
  kind: 'interactive_board',
  seq,
  ts,
  rx: ts,
  data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v1.0' },
});

describe('hostile input at the hub and at the gateway', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let gwClient: MqttClient;
  const db = 'e2e_hostile';
  const t0 = Date.now() - 60_000;

  async function send(payload: string | Buffer): Promise<void> {
    await gwClient.publishAsync(telemetryTopic(addr), payload, { qos: 1 });
  }
  const env = (records: unknown[], batch = 'b') => JSON.stringify({ v: 1, gateway: school.gateway, batch, records });

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false, hub: { limits: { maxPayloadBytes: 64 * 1024, maxFutureMs: 300_000, maxAgeMs: 30 * 86_400_000 } } });
    for (const id of HOSTILE_IDS) stack.registry.upsertDevice({ id, school: school.id, room: 'r01', kind: 'interactive_board' });
    gwClient = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, {
      clientId: school.gateway,
      username: school.gateway,
      password: gatewayPassword(school.gateway),
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
  });
  afterAll(async () => {
    await gwClient?.endAsync(true);
    await stack?.stop();
    await influx?.stop();
  });

  it('stores tag values with every special character exactly', async () => {
    await send(env(HOSTILE_IDS.map((id, i) => board(id, i, t0 + i))));
    const series = await influxQuery(influx.url, db, 'SHOW TAG VALUES FROM interactive_board WITH KEY = device');
    const stored = series[0]!.values.map((v) => v[1]);
    expect([...stored].sort()).toEqual([...HOSTILE_IDS].sort());
    // And each one can be selected back by its exact value (InfluxQL string escaping).
    for (const [i, id] of HOSTILE_IDS.entries()) {
      const q = `SELECT seq FROM interactive_board WHERE device = '${id.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
      const s = await influxQuery(influx.url, db, q);
      expect(s[0]?.values, id).toEqual([[t0 + i, i]]);
    }
    expect(stack.hub.counters.get('records_written')).toBe(HOSTILE_IDS.length);
  });

  it('refuses bad records one by one with counted reasons; the rest of the batch lands', async () => {
    const ts = t0 + 1000;
    const records = [
      board('yz-s01-r01-board', 100, ts), // good
      { ...board('yz-s01-r01-board', 101, ts + 1), data: { power: 'on', touchOk: 'yes', activeInput: 'hdmi1', firmware: 'v1' } }, // wrong type
      { ...board('yz-s01-r01-board', 102, ts + 2), seq: '102' }, // wrong type
      board('not-registered', 103, ts + 3), // unknown device
      board('line\nbreak', 104, ts + 4), // control character in a tag value
      board('trailing\\', 105, ts + 5), // unencodable backslash
      board('yz-s02-r01-board', 106, ts + 6), // another school's device
      { ...board('yz-s01-vr01', 107, ts + 7) }, // registered as vr_kit, sent as a board
      board('yz-s01-r01-board', 108, Date.now() + 3_600_000), // an hour in the future
      board('yz-s01-r01-board', 109, Date.now() - 90 * 86_400_000), // older than the limit
      board('yz-s01-r01-board', 110, ts + 10), // good
      null,
      'a string',
      // A counter that is not a decimal integer string (BigInt('1.5') would throw).
      { device: 'yz-s01-uplink', kind: 'network_node', seq: 111, ts: ts + 11, rx: ts, data: { role: 'school_uplink', capacityBps: 1e9, octetsIn: '1.5', octetsOut: '0', operUp: true } },
    ];
    await send(env(records, 'mixed'));
    const c = stack.hub.counters;
    expect({
      invalid: c.get('records_rejected', { reason: 'invalid_record' }),
      unknown: c.get('records_rejected', { reason: 'unknown_device' }),
      foreign: c.get('records_rejected', { reason: 'foreign_device' }),
      kind: c.get('records_rejected', { reason: 'kind_mismatch' }),
      future: c.get('records_rejected', { reason: 'ts_in_future' }),
      old: c.get('records_rejected', { reason: 'ts_too_old' }),
    }).toEqual({ invalid: 7, unknown: 1, foreign: 1, kind: 1, future: 1, old: 1 });
    // The same counts, as an operator's scraper sees them.
    const metrics = await (await fetch(`http://127.0.0.1:${stack.hub.httpPort}/metrics`)).text();
    expect(metrics).toContain('hub_records_rejected_total{reason="invalid_record"} 7\n');
    expect(metrics).toContain('hub_records_rejected_total{reason="unknown_device"} 1\n');
    const s = await influxQuery(influx.url, db, `SELECT seq FROM interactive_board WHERE device = 'yz-s01-r01-board'`);
    expect(s[0]!.values).toEqual([[ts, 100], [ts + 10, 110]]);
  });

  it('refuses whole messages that cannot be read, and keeps the connection', async () => {
    const c = stack.hub.counters;
    await send('{"v":1, "gateway": "gw-yz-s01", "records": [');
    await send(Buffer.from([0xff, 0xfe, 0x00, 0x01]));
    await send(JSON.stringify({ v: 2, gateway: school.gateway, batch: 'x', records: [] }));
    await send(JSON.stringify({ v: 1, gateway: 'gw-yz-s02', batch: 'x', records: [board('yz-s02-r01-board', 1, t0)] }));
    await send(Buffer.alloc(65 * 1024, 0x20));
    expect({
      json: c.get('messages_rejected', { reason: 'malformed_json' }),
      env: c.get('messages_rejected', { reason: 'bad_envelope' }),
      gw: c.get('messages_rejected', { reason: 'gateway_mismatch' }),
      big: c.get('messages_rejected', { reason: 'oversize_payload' }),
    }).toEqual({ json: 2, env: 1, gw: 1, big: 1 });
    expect(gwClient.connected).toBe(true);
    const written = c.get('records_written');
    await send(env([board('yz-s01-r01-board', 200, t0 + 5000)]));
    expect(c.get('records_written')).toBe(written + 1);
    expect(await influxQuery(influx.url, db, `SELECT count(seq) FROM interactive_board WHERE device = 'gw-yz-s02' OR school = 'yz-s02'`)).toEqual([]);
  });

  it('refuses bad samples at the gateway edge, counted, while good ones flow', async () => {
    const { createGateway } = await import('../../gateway/src/gateway.ts');
    const { gatewayConfig } = await import('../harness/stack.ts');
    const { silentLogger } = await import('../../runtime/src/logging.ts');
    const gw = createGateway(gatewayConfig(fleet.schools[1]!, stack.hub.mqttPort, { maxSampleBytes: 2048 }), { log: silentLogger() });
    await gw.start();
    const device = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: 'dev', protocolVersion: 4, reconnectPeriod: 0 });
    try {
      const ts = Date.now() - 5000;
      const good = (seq: number) => JSON.stringify({ device: 'yz-s02-r01-board', kind: 'interactive_board', seq, ts: ts + seq, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v2' } });
      await device.publishAsync(LAN_TELEMETRY_TOPIC, good(1), { qos: 1 });
      await device.publishAsync(LAN_TELEMETRY_TOPIC, 'not json', { qos: 1 });
      await device.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify({ device: 'x', kind: 'toaster', seq: 1, ts, data: {} }), { qos: 1 });
      await device.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify({ device: 'x', kind: 'vr_kit', seq: 1, ts, data: { batteryPct: 140, charging: false, inSession: false } }), { qos: 1 });
      await device.publishAsync(LAN_TELEMETRY_TOPIC, Buffer.alloc(4096, 0x41), { qos: 1 });
      await device.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify({ device: 'yz-s02-uplink', kind: 'network_node', seq: 1, ts, data: { role: 'school_uplink', capacityBps: 1e9, octetsIn: '1e3', octetsOut: 'abc', operUp: true } }), { qos: 1 });
      await device.publishAsync(LAN_TELEMETRY_TOPIC, good(2), { qos: 1 });
      expect(gw.counters.snapshot()).toMatchObject({
        samples_accepted: 2,
        'samples_rejected{reason="malformed_json"}': 1,
        'samples_rejected{reason="invalid_sample"}': 3,
        'samples_rejected{reason="oversize_payload"}': 1,
      });
      const s = await waitFor('the two good samples in InfluxDB', async () => {
        const r = await influxQuery(influx.url, db, `SELECT seq, gateway FROM interactive_board WHERE device = 'yz-s02-r01-board'`);
        return r[0]?.values.length === 2 ? r : undefined;
      });
      expect(s[0]!.values).toEqual([[ts + 1, 1, 'gw-yz-s02'], [ts + 2, 2, 'gw-yz-s02']]);
    } finally {
      await device.endAsync(true);
      await gw.stop();
    }
  });
});
