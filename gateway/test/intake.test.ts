import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../runtime/src/logging.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { Intake } from '../src/intake.ts';
import { LanListener } from '../src/lanListener.ts';
import { createGatewayCounters } from '../src/metrics.ts';
import { MemoryOutbox } from '../src/outbox.ts';
import { CounterRates } from '../src/rates.ts';
import { boardSample, lanOnlyConfig, nodeSample, publish, startLanOnly } from './lanRig.ts';
import { DEFAULT_TIMETABLE } from '../../protocol/src/schedule.ts';

const T0 = Date.UTC(2026, 2, 3, 1, 0); // a minute boundary
const MINUTE = 60_000;

/** Everything waiting in the outbox, oldest first (the hub is unreachable, so nothing left). */
function drain(o: { take(max: number, lane?: 'live' | 'backlog'): { records: OutboxRecord[] } | null }): OutboxRecord[] {
  const out: OutboxRecord[] = [];
  for (const lane of ['backlog', 'live'] as const) for (let b = o.take(1000, lane); b; b = o.take(1000, lane)) out.push(...b.records);
  return out;
}

/** An outbox whose appends fail while `failing` is set (a full disk, at the outbox's edge). */
class FailingOutbox extends MemoryOutbox {
  failing = false;
  override async append(records: OutboxRecord[]): Promise<void> {
    if (this.failing) throw new Error('ENOSPC: no space left on device');
    return super.append(records);
  }
}

let stop: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stop?.();
  stop = undefined;
});

describe('intake: the bound on tracked devices (GW_MAX_TRACKED_DEVICES)', () => {
  it('with a cap of 3, refuses a fourth device, counted, and records availability for three only', async () => {
    let now = T0 + 1000;
    const rig = await startLanOnly(await lanOnlyConfig({ GW_MAX_TRACKED_DEVICES: '3' }), { now: () => now });
    stop = rig.stop;
    const c = await rig.device('noisy');
    for (const id of ['b1', 'b2', 'b3', 'b4']) await publish(c, boardSample(id, 1, T0));
    // A device already tracked is still taken in once the cap is reached.
    await publish(c, boardSample('b2', 2, T0 + 500));
    expect(rig.gw.counters.snapshot()).toMatchObject({ samples_accepted: 4, 'samples_rejected{reason="too_many_devices"}': 1 });
    now = T0 + MINUTE + 10;
    expect(await rig.gw.sampleAvailability(T0 + MINUTE)).toBe(3);
    const records = drain(rig.gw.outbox);
    expect(records.filter((r) => r.kind === 'availability').map((r) => r.device)).toEqual(['b1', 'b2', 'b3']);
    expect(records.filter((r) => r.kind !== 'availability').map((r) => r.device)).toEqual(['b1', 'b2', 'b3', 'b2']);
  });

  it('defaults to 5000', async () => {
    expect((await lanOnlyConfig()).maxTrackedDevices).toBe(5000);
  });
});

describe('intake: nothing is counted before the outbox append resolved', () => {
  it('a failed append leaves the rate baseline, liveness and the counters as they were', async () => {
    const outbox = new FailingOutbox(1000);
    let now = T0 + 1000;
    const rig = await startLanOnly(await lanOnlyConfig(), { outbox, now: () => now });
    stop = rig.stop;
    const a = await rig.device('node');
    await publish(a, nodeSample('u1', 1, T0, 0n)); // the baseline
    outbox.failing = true;
    // The device gets no PUBACK; its session is closed so it can send again.
    const closed = new Promise<void>((r) => a.once('close', () => r()));
    a.publish(LAN_TELEMETRY_TOPIC, nodeSample('u1', 2, T0 + 30_000, 3_750_000n), { qos: 1 });
    a.publish(LAN_TELEMETRY_TOPIC, boardSample('new-board', 1, T0 + 30_000), { qos: 1 });
    await closed;
    expect(rig.gw.counters.get('outbox_errors')).toBeGreaterThanOrEqual(1);
    outbox.failing = false;
    // The device sends the same sample again: its rate is taken from the baseline (0 → 30 s),
    // not refused as a duplicate of the sample the outbox never kept.
    const b = await rig.device('node');
    await publish(b, nodeSample('u1', 2, T0 + 30_000, 3_750_000n));
    expect(rig.gw.counters.snapshot()).toMatchObject({ samples_accepted: 2 });
    expect(rig.gw.counters.total('rate_intervals_dropped')).toBe(0);
    const records = drain(rig.gw.outbox);
    // 3 750 000 octets × 8 ÷ 30 s = 1 000 000 bit/s.
    expect(records.map((r) => [r.device, r.kind === 'network_node' ? r.rate : undefined])).toEqual([
      ['u1', undefined],
      ['u1', { rxBps: 1_000_000, txBps: 0 }],
    ]);
    // The board whose only sample was refused is not tracked.
    now = T0 + MINUTE + 10;
    expect(await rig.gw.sampleAvailability(T0 + MINUTE)).toBe(1);
    expect(drain(rig.gw.outbox).map((r) => r.device)).toEqual(['u1']);
  });
});

/** Intake behind a real LAN listener, the way the gateway wires them, with a memory outbox. */
async function lanIntake(maxTrackedDevices: number) {
  const counters = createGatewayCounters();
  const outbox = new MemoryOutbox(10_000);
  const intake = new Intake({ maxTrackedDevices }, { counters, now: () => T0 + 1000, rates: new CounterRates(), append: (r) => outbox.append(r) });
  let ends = 0;
  const waiters: Array<{ n: number; resolve: () => void }> = [];
  const lan = new LanListener(
    { host: '127.0.0.1', port: 0, maxSampleBytes: 65_536 },
    {
      log: silentLogger(),
      counters,
      accept: (s, id) => intake.accept(s, id),
      onDisconnect: (id, clean) => {
        intake.sessionEnded(id);
        ends++;
        for (const w of waiters.filter((w) => ends >= w.n)) w.resolve();
      },
    },
  );
  await lan.start();
  const clients: MqttClient[] = [];
  stop = async () => {
    for (const c of clients) await c.endAsync(true).catch(() => {});
    await lan.stop();
  };
  return {
    intake,
    counters,
    async device(clientId: string) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${lan.port}`, { clientId, protocolVersion: 4, reconnectPeriod: 0 });
      clients.push(c);
      return c;
    },
    /** Resolves once `n` sessions in all have ended, as the listener saw it. */
    ended: (n: number) => new Promise<void>((resolve) => (ends >= n ? resolve() : waiters.push({ n, resolve }))),
  };
}

describe('intake: LAN sessions are forgotten when they end, and bounded', () => {
  it('100 sessions that report and end, cleanly or not, leave no session tracked', async () => {
    const rig = await lanIntake(5000);
    for (let i = 0; i < 100; i++) {
      const c = await rig.device(`cycling-${i}`);
      await publish(c, boardSample(`b${i % 10}`, i, T0));
      if (i % 2 === 0) await c.endAsync(); // DISCONNECT
      else c.stream.destroy(); // dropped
    }
    await rig.ended(100);
    expect(rig.counters.get('samples_accepted')).toBe(100);
    expect(rig.intake.sessions.size).toBe(0);
    for (let i = 0; i < 100; i++) expect(rig.intake.sessions.reports(`cycling-${i}`, `b${i % 10}`)).toBe(false);
    // Liveness is kept: ten devices. A clean goodbye is not a power-off: b0's last session
    // (cycling-90) said goodbye, b1's (cycling-91) was dropped, and both are up.
    expect(rig.intake.liveness.size).toBe(10);
    expect(['b0', 'b1'].map((d) => rig.intake.liveness.stateAt(d, T0 + 1000))).toEqual(['up', 'up']);
  });

  it('only a live session reports its device; with a cap of 2, a third session is refused until one ends', async () => {
    const rig = await lanIntake(2);
    const a = await rig.device('a');
    const b = await rig.device('b');
    await publish(a, boardSample('b1', 1, T0));
    await publish(b, boardSample('b1', 2, T0 + 1));
    expect([rig.intake.sessions.reports('a', 'b1'), rig.intake.sessions.reports('b', 'b1'), rig.intake.sessions.reports('a', 'b2')]).toEqual([true, true, false]);
    const c = await rig.device('c');
    await publish(c, boardSample('b1', 3, T0 + 2));
    expect(rig.counters.snapshot()).toMatchObject({ samples_accepted: 2, 'samples_rejected{reason="too_many_sessions"}': 1 });
    expect(rig.intake.sessions.reports('c', 'b1')).toBe(false);
    await a.endAsync();
    await rig.ended(1);
    expect(rig.intake.sessions.reports('a', 'b1')).toBe(false);
    await publish(c, boardSample('b1', 4, T0 + 3));
    expect(rig.counters.get('samples_accepted')).toBe(3);
    expect(rig.intake.sessions.reports('c', 'b1')).toBe(true);
    expect(rig.intake.sessions.size).toBe(2);
  });

  it('an inventory that drops a device drops its rate baseline too', async () => {
    const rates = new CounterRates();
    const intake = new Intake({ maxTrackedDevices: 10 }, { counters: createGatewayCounters(), now: () => T0, rates, append: async () => {} });
    const link = { role: 'school_uplink', capacityBps: 1e9 } as const;
    const inv = (ids: string[]) => ({ v: 1 as const, gateway: 'gw-test', revision: ids.length, timetable: DEFAULT_TIMETABLE, devices: ids.map((id) => ({ id, kind: 'network_node' as const, room: 'r', link })) });
    intake.setInventory(inv(['n1', 'n2']), T0);
    expect(await intake.accept(JSON.parse(nodeSample('n1', 1, T0 - 1000, 0n)), '')).toBeUndefined();
    expect(await intake.accept(JSON.parse(nodeSample('n2', 1, T0 - 1000, 0n)), '')).toBeUndefined();
    expect(rates.size).toBe(2);
    intake.setInventory(inv(['n1']), T0);
    expect(rates.size).toBe(1);
  });

  it('a session that ends while its sample is being appended is not tracked again afterwards', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    const intake = new Intake({ maxTrackedDevices: 10 }, { counters: createGatewayCounters(), now: () => T0, rates: new CounterRates(), append: () => held });
    const taken = intake.accept(JSON.parse(boardSample('b1', 1, T0)), 'late');
    intake.sessionEnded('late');
    release();
    expect(await taken).toBeUndefined();
    expect(intake.liveness.knows('b1')).toBe(true);
    expect([intake.sessions.size, intake.sessions.reports('late', 'b1')]).toEqual([0, false]);
  });
});
