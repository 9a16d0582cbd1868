import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { MemoryOutbox } from '../../gateway/src/outbox.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { LAN_TELEMETRY_TOPIC, telemetryTopic } from '../../protocol/src/topics.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';
import { startTcpProxy, type TcpProxy } from '../harness/tcpProxy.ts';

const fleet = generateFleet({ seed: 21, districts: SEED_DISTRICTS.slice(2, 3), schoolsPerDistrict: 1, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const school = fleet.schools[0]!; // lj-s01 in 两江新区
const board = (seq: number, ts: number) =>
  JSON.stringify({ device: 'lj-s01-r01-board', kind: 'interactive_board', seq, ts, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } });

describe('replay beside live data, and idempotent writes', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let proxy: TcpProxy;
  let gw: Gateway;
  const db = 'e2e_replay';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
    proxy = await startTcpProxy(stack.hub.mqttPort);
  });
  afterAll(async () => {
    await gw?.stop();
    await proxy?.stop();
    await stack?.stop();
    await influx?.stop();
  });

  it('sends live samples at once while a rate-limited backlog replays in order, flagged historical', async () => {
    proxy.cut();
    // A slow replay: 1000 backlog records at 250/s take about 4 s.
    gw = createGateway(gatewayConfig(school, proxy.port, { replayRatePerSec: 250, replayJitterMs: 0, batchMaxRecords: 100 }), { log: silentLogger(), outbox: new MemoryOutbox(100_000) });
    await gw.start();
    const dev = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: 'lj-s01-r01-board', protocolVersion: 4, reconnectPeriod: 0 });
    const t0 = Date.now() - 3_600_000;
    for (let i = 0; i < 1000; i++) await dev.publishAsync(LAN_TELEMETRY_TOPIC, board(i, t0 + i * 1000), { qos: 1 });
    expect(gw.outbox.size()).toBe(1000);
    proxy.restore();
    await waitFor('uplink', async () => gw.uplinkConnected);
    // A live sample during the replay lands long before the backlog is done.
    const liveTs = Date.now();
    await dev.publishAsync(LAN_TELEMETRY_TOPIC, board(5000, liveTs), { qos: 1 });
    const landed = await waitFor('the live sample', async () => {
      const s = await influxQuery(influx.url, db, `SELECT seq, hist FROM interactive_board WHERE seq = 5000`);
      return s[0]?.values[0];
    }, { timeoutMs: 3000, intervalMs: 20 });
    expect(landed).toEqual([liveTs, 5000, null]);
    const replayedSoFar = gw.health().replay;
    expect(replayedSoFar.active).toBe(true);
    expect(replayedSoFar.remaining).toBeGreaterThan(0);
    // Then the whole backlog, with the devices' own timestamps, every record historical.
    const all = await waitFor('the whole backlog', async () => {
      const s = await influxQuery(influx.url, db, `SELECT seq, hist FROM interactive_board WHERE seq < 1000`);
      return s[0]?.values.length === 1000 ? s[0].values : undefined;
    }, { timeoutMs: 20_000, intervalMs: 200 });
    expect(all.map((v) => v[0])).toEqual(Array.from({ length: 1000 }, (_, i) => t0 + i * 1000));
    expect(all.every((v) => v[2] === true)).toBe(true);
    // Exactly the backlog went through the backlog lane (its order is the outbox contract's).
    expect(gw.counters.get('records_delivered', { lane: 'backlog' })).toBe(1000);
    expect(gw.counters.get('records_delivered', { lane: 'live' })).toBe(1);
    await dev.endAsync();
    await gw.stop();
  });

  it('writes a duplicated or replayed record as the same point: duplicates collapse', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, {
      clientId: school.gateway,
      username: school.gateway,
      password: gatewayPassword(school.gateway),
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    const ts = Date.now() - 10_000;
    const rec = { device: 'lj-s01-r01-board', kind: 'interactive_board', seq: 7777, ts, rx: ts, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v1' } };
    const addr = { district: school.district, school: school.id, gateway: school.gateway };
    const written = stack.hub.counters.get('records_written');
    await client.publishAsync(telemetryTopic(addr), JSON.stringify({ v: 1, gateway: school.gateway, batch: 'a', records: [rec] }), { qos: 1 });
    await client.publishAsync(telemetryTopic(addr), JSON.stringify({ v: 1, gateway: school.gateway, batch: 'a', records: [rec, { ...rec, hist: true }] }), { qos: 1 });
    expect(stack.hub.counters.get('records_written')).toBe(written + 3);
    const s = await influxQuery(influx.url, db, `SELECT count(seq) FROM interactive_board WHERE seq = 7777`);
    expect(s[0]!.values[0]![1]).toBe(1);
    await client.endAsync();
  });
});
