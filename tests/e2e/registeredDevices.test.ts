import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { availabilityQuery, type TimeRange } from '../../storage/src/queries.ts';
import type { Fleet, SimSchool } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { lanErrorSchema, type LanError } from '../../protocol/src/telemetry.ts';
import { LAN_ERROR_TOPIC, LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { lastTuesdayAt } from '../harness/clock.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * The gateway knows its school's registered devices (the hub's inventory), through the real
 * gateway, hub and InfluxDB, on a clock the test drives: a board never heard is down, not left
 * out; a restart keeps it down; a board whose clock runs 10 minutes ahead is refused at the edge
 * and down; thousands of unregistered ids change nothing. Every figure is computed by hand below.
 */
const MIN = 60_000;
const STEP = 30_000; // boards report every 30 s

const boards = ['b1', 'b2', 'b3', 'b4', 'dead', 'skewed'].map((n) => `nn-s01-${n}`);
const [DEAD, SKEWED] = [boards[4]!, boards[5]!];
const school: SimSchool = {
  id: 'nn-s01',
  name: '南岸区第1中学',
  district: '南岸区',
  gateway: 'gw-nn-s01',
  devices: boards.map((id, i) => ({ id, kind: 'interactive_board', room: `r${i + 1}` })),
};
const fleet: Fleet = { districts: [{ id: '南岸区', nameEn: 'Nan\'an', code: 'nn' }], schools: [school] };

const boardSample = (device: string, seq: number, ts: number) =>
  JSON.stringify({ device, kind: 'interactive_board', seq, ts, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v2' } });

describe('registered devices: never invisible, through the real gateway, hub and InfluxDB', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let dir: string;
  const db = 'e2e_registered';
  const clock = { now: 0 };
  const T0 = lastTuesdayAt(9, 0); // school hours throughout
  let gw: Gateway | undefined;
  let clients: MqttClient[] = [];
  const seqs = new Map<string, number>();
  const errors: LanError[] = [];

  /** The school's gateway with its durable outbox in `dir`, and one LAN client per board. */
  async function startGateway(): Promise<Gateway> {
    const cfg = gatewayConfig(school, stack.hub.mqttPort, {
      outbox: { dir: join(dir, school.gateway), maxBytes: 64 << 20, maxAgeMs: 7 * 86_400_000, segmentBytes: 1 << 20, fsync: 'interval', fsyncIntervalMs: 20 },
      healthPort: 0,
      batchMaxRecords: 1000,
    });
    const g = createGateway(cfg, { log: silentLogger(), now: () => clock.now });
    await g.start();
    gw = g;
    clients = [];
    for (const id of boards) clients.push(await mqtt.connectAsync(`mqtt://127.0.0.1:${g.lanPort}`, { clientId: id, protocolVersion: 4, reconnectPeriod: 0 }));
    // The skewed board reads why it is refused.
    const skewed = clients[5]!;
    skewed.on('message', (t, p) => t === LAN_ERROR_TOPIC && errors.push(lanErrorSchema.parse(JSON.parse(p.toString()))));
    await skewed.subscribeAsync(LAN_ERROR_TOPIC, { qos: 1 });
    // The first start waits for the hub's inventory; a restart has the one saved beside the outbox.
    await waitFor('an inventory in force', async () => g.counters.total('inventories_received') - g.counters.get('inventories_received', { outcome: 'stale' }) >= 1 || undefined, { timeoutMs: 10_000, intervalMs: 20 });
    return g;
  }

  async function stopGateway(): Promise<void> {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await gw?.stop();
    gw = undefined;
  }

  /** One 30-second step: every board but the dead one reports; the skewed one 10 minutes ahead. */
  async function step(g: Gateway, t: number): Promise<void> {
    clock.now = t;
    for (const [i, id] of boards.entries()) {
      if (id === DEAD) continue;
      const seq = seqs.get(id) ?? 0;
      seqs.set(id, seq + 1);
      await clients[i]!.publishAsync(LAN_TELEMETRY_TOPIC, boardSample(id, seq, id === SKEWED ? t + 10 * MIN : t), { qos: 1 });
    }
    if (t % MIN === 0) await g.sampleAvailability(t);
  }

  const drained = (g: Gateway) => waitFor('outbox drained', async () => (g.outbox.size() === 0 ? true : undefined), { timeoutMs: 30_000, intervalMs: 20 });

  beforeAll(async () => {
    influx = await startInflux();
    dir = mkdtempSync(join(tmpdir(), 'e2e-registered-'));
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
  });
  afterAll(async () => {
    await stopGateway();
    await stack?.stop();
    await influx?.stop();
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  it('runs 30 minutes: the dead board is down from its timeout, the skewed one refused at the edge', async () => {
    clock.now = T0;
    const g = await startGateway();
    for (let s = 0; s < 60; s++) await step(g, T0 + s * STEP);
    await drained(g);
    // Every refusal of the skewed board was told to it on lan/v1/err, with the offset.
    await waitFor('refusals told', async () => errors.length > 0 || undefined, { timeoutMs: 5000, intervalMs: 20 });
    expect(new Set(errors.map((e) => [e.device, e.reason, e.detail].join(' ')))).toEqual(
      new Set([`${SKEWED} clock_ahead device clock 600000 ms ahead of the gateway's (at most 300000 ms accepted)`]),
    );
    expect(g.counters.get('samples_rejected', { reason: 'clock_ahead' })).toBe(60);
    const health = (await (await fetch(`http://127.0.0.1:${g.healthPort}/health`)).json()) as { devices: { tracked: number; faulty: Array<{ device: string; reason: string }> } };
    expect(health.devices.tracked).toBe(6);
    expect(health.devices.faulty.map((f) => [f.device, f.reason])).toEqual([[SKEWED, 'clock_ahead']]);
    // The hub never saw a sample of it.
    expect(await influxQuery(influx.url, db, `SELECT count(power) FROM interactive_board WHERE device = '${SKEWED}'`)).toEqual([]);
  });

  it('counts the board never heard and the skewed one as down for the school', async () => {
    const range: TimeRange = { fromMs: T0, toMs: T0 + 30 * MIN };
    // Minutes 09:00…09:29, 30 records per board. b1–b4 up throughout: 4 × 30 = 120.
    // The dead and the skewed board are watched from the gateway's start at 09:00: up at 09:00
    // and 09:01 (silent ≤ 75 s), down from 09:02: 2 up, 28 down each.
    // School: up 120 + 2 + 2 = 124 of 6 × 30 = 180 expected (68.9 %), observed 180: coverage 1.
    // Without the inventory both would be unknown, left out: 120 / 120 = 100 %.
    const rows = await influxQuery(influx.url, db, availabilityQuery(range, ['school'], { school: school.id }));
    expect(rows[0]!.values[0]!.slice(1)).toEqual([124, 180, 180]);
    const down = await influxQuery(influx.url, db, `SELECT count(state) FROM availability WHERE time >= ${range.fromMs}ms AND time < ${range.toMs}ms AND state = 'down' GROUP BY device`);
    expect(Object.fromEntries(down.map((r) => [r.tags!['device'], r.values[0]![1]]))).toEqual({ [DEAD]: 28, [SKEWED]: 28 });
  });

  it('keeps the dead board down across a gateway restart (state beside the durable outbox)', async () => {
    // Stopped at 09:30; 09:30…09:39 nobody observes (unknown); restarted at 09:40 for 10 minutes.
    clock.now = T0 + 30 * MIN;
    await stopGateway();
    clock.now = T0 + 40 * MIN;
    const g = await startGateway();
    expect(g.counters.get('inventories_received', { outcome: 'restored' })).toBe(1);
    for (let s = 80; s < 100; s++) await step(g, T0 + s * STEP);
    await drained(g);
    const range: TimeRange = { fromMs: T0 + 40 * MIN, toMs: T0 + 50 * MIN };
    // 09:40…09:49: b1–b4 up, 40. The dead and skewed boards were down when the gateway stopped
    // and stay down from 09:40 (a fresh watch would have given them 09:40 and 09:41 up): 0 of 20.
    // Up 40 of 60, observed 60.
    const rows = await influxQuery(influx.url, db, availabilityQuery(range, ['school'], { school: school.id }));
    expect(rows[0]!.values[0]!.slice(1)).toEqual([40, 60, 60]);
    // Over 09:00–09:50: up 124 + 40 = 164, expected 180 + 60 = 240; the 10 unobserved minutes
    // are unknown (coverage 240 of 6 × 50 = 300).
    const all = await influxQuery(influx.url, db, availabilityQuery({ fromMs: T0, toMs: T0 + 50 * MIN }, ['school'], { school: school.id }));
    expect(all[0]!.values[0]!.slice(1)).toEqual([164, 240, 240]);
  });

  it('refuses thousands of unregistered LAN ids without growing the gateway\'s state', async () => {
    const g = gw!;
    const intruder = await mqtt.connectAsync(`mqtt://127.0.0.1:${g.lanPort}`, { clientId: 'intruder', protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(intruder);
    for (let i = 0; i < 2000; i++) await intruder.publishAsync(LAN_TELEMETRY_TOPIC, boardSample(`nn-s01-fake-${i}`, 0, clock.now), { qos: 1 });
    expect(g.counters.get('samples_rejected', { reason: 'unregistered' })).toBe(2000);
    const metrics = await (await fetch(`http://127.0.0.1:${g.healthPort}/metrics`)).text();
    expect(metrics).toMatch(/^gateway_tracked_devices 6$/m);
    // The next minute holds the six registered boards only, and nothing of the fakes reached the hub.
    expect(await g.sampleAvailability(T0 + 50 * MIN)).toBe(6);
    await drained(g);
    expect(await influxQuery(influx.url, db, `SELECT count(state) FROM availability WHERE device =~ /fake/`)).toEqual([]);
  });

  it('watches a board registered while the gateway runs once the hub republishes the inventory', async () => {
    const g = gw!;
    stack.registry.createDevice({ id: 'nn-s01-new', school: school.id, room: 'r1', kind: 'interactive_board', model: '', vendor: '', serial: '', linkRole: null, capacityBps: null }, Date.now());
    await waitFor('the new inventory applied', async () => g.counters.get('inventories_received', { outcome: 'applied' }) >= 1 || undefined, { timeoutMs: 10_000, intervalMs: 20 });
    // Tracked from the arrival (never heard: up for its timeout, then down), and its samples taken.
    expect(await g.sampleAvailability(T0 + 51 * MIN)).toBe(7);
    await clients[0]!.publishAsync(LAN_TELEMETRY_TOPIC, boardSample('nn-s01-new', 0, clock.now), { qos: 1 });
    expect(g.counters.get('samples_rejected', { reason: 'unregistered' })).toBe(2000);
  });
});
