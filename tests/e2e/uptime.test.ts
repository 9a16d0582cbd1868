import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ROLLUP_RP, rollupBackfill } from '../../storage/src/rollups.ts';
import { availabilityFigures, availabilityQuery, districtBandwidthQuery, districtUtilisationQuery, schoolUplinkQuery, type TimeRange } from '../../storage/src/queries.ts';
import { createUserWithToken } from '../../broker/src/auth/bootstrap.ts';
import type { PresenceEvent } from '../../broker/src/presence.ts';
import type { Fleet, SimDevice, SimSchool } from '../../device-sim/src/fleet.ts';
import type { DeviceSample } from '../../protocol/src/telemetry.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { lastTuesdayAt } from '../harness/clock.ts';
import { campusRig } from '../harness/campusRig.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * Truthful uptime and bandwidth through the real gateway, hub and InfluxDB, on a clock the test
 * drives (the gateway's clock is injected; devices stamp samples with it). Every expected figure
 * is computed by hand in the comments.
 */
const MIN = 60_000;
const STEP = 30_000; // devices report every 30 s

const board = (id: string, room: string): SimDevice => ({ id, kind: 'interactive_board', room });
const av = (id: string, room: string): SimDevice => ({ id, kind: 'classroom_av', room });
const uplink = (id: string, capacityBps: number): SimDevice => ({ id, kind: 'network_node', room: 'server-room', link: { role: 'school_uplink', capacityBps } });

const schoolA: SimSchool = {
  id: 'yz-s01',
  name: '渝中区第1中学',
  district: '渝中区',
  gateway: 'gw-yz-s01',
  devices: [...Array.from({ length: 10 }, (_, i) => board(`yz-s01-b${i + 1}`, `r${i + 1}`)), uplink('yz-s01-uplink', 1e9)],
};
const schoolB: SimSchool = {
  id: 'yz-s02',
  name: '渝中区第2中学',
  district: '渝中区',
  gateway: 'gw-yz-s02',
  devices: [...Array.from({ length: 4 }, (_, i) => board(`yz-s02-b${i + 1}`, `r${i + 1}`)), uplink('yz-s02-uplink', 1e9)],
};
const schoolC: SimSchool = {
  id: 'jb-s01',
  name: '江北区第1中学',
  district: '江北区',
  gateway: 'gw-jb-s01',
  devices: [av('jb-s01-av1', 'r1'), av('jb-s01-av2', 'r2'), board('jb-s01-b1', 'r1'), uplink('jb-s01-uplink', 100e6)],
};
const schoolD: SimSchool = {
  id: 'jb-s02',
  name: '江北区第2中学',
  district: '江北区',
  gateway: 'gw-jb-s02',
  devices: [uplink('jb-s02-uplink', 100e6)],
};
const fleet: Fleet = {
  districts: [
    { id: '渝中区', nameEn: 'Yuzhong', code: 'yz' },
    { id: '江北区', nameEn: 'Jiangbei', code: 'jb' },
  ],
  schools: [schoolA, schoolB, schoolC, schoolD],
};

function sample(d: SimDevice, seq: number, ts: number, extra: { octets?: bigint; power?: 'on' | 'off' } = {}): DeviceSample {
  switch (d.kind) {
    case 'interactive_board':
      return { device: d.id, kind: d.kind, seq, ts, data: { power: extra.power ?? 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v3.1' } };
    case 'classroom_av':
      return { device: d.id, kind: d.kind, seq, ts, data: { power: extra.power ?? 'on', lampHours: 1000, temperatureC: 40, inSession: false } };
    default: {
      const o = (extra.octets ?? 0n).toString();
      return { device: d.id, kind: 'network_node', seq, ts, data: { role: 'school_uplink', capacityBps: d.link!.capacityBps, octetsIn: o, octetsOut: '0', operUp: true } };
    }
  }
}

describe('truthful uptime and bandwidth per district, through outages', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  const db = 'e2e_uptime';
  const clock = { now: 0 };
  const rig = campusRig(() => stack.hub.mqttPort, () => clock.now);
  const { gateways, proxies, clients } = rig;
  const seqs = new Map<string, number>();

  async function startSchool(s: SimSchool): Promise<void> {
    await rig.startSchool(s, { gateway: { batchMaxRecords: 1000 } });
  }

  async function publish(d: SimDevice, extra: { octets?: bigint; power?: 'on' | 'off' } = {}): Promise<void> {
    const seq = seqs.get(d.id) ?? 0;
    seqs.set(d.id, seq + 1);
    await clients.get(d.id)!.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(sample(d, seq, clock.now, extra)), { qos: 1 });
  }

  const { drained } = rig;

  const events: PresenceEvent[] = [];
  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
    stack.hub.events.on('presence', (e: PresenceEvent) => events.push(e));
  });
  afterAll(async () => {
    await rig.stop();
    await stack?.stop();
    await influx?.stop();
  });

  // Tuesday 09:00–11:00 Shanghai, school hours throughout.
  const T0 = lastTuesdayAt(9, 0);
  const range: TimeRange = { fromMs: T0, toMs: T0 + 120 * MIN };
  const failed = new Set(['yz-s01-b1', 'yz-s01-b2']);

  it('runs two hours: school A\'s WAN cut 40 min while two boards fail; school B\'s gateway dies at 60 min', async () => {
    await startSchool(schoolA);
    await startSchool(schoolB);
    // Uplinks: A carries 200 Mbit/s (750,000,000 octets per 30 s), B 50 Mbit/s (187,500,000).
    const octets = new Map<string, bigint>([['yz-s01-uplink', 10n ** 12n], ['yz-s02-uplink', 5n * 10n ** 11n]]);
    const perStep = new Map<string, bigint>([['yz-s01-uplink', 750_000_000n], ['yz-s02-uplink', 187_500_000n]]);
    for (let step = 0; step < 240; step++) {
      clock.now = T0 + step * STEP;
      const minute = step % 2 === 0 ? clock.now : undefined;
      // The simulated clock runs far ahead of the wall clock: wait for the gateway to notice the
      // cut and the restore, as it would long before the next sample in real time.
      if (minute === T0 + 40 * MIN) {
        proxies.get('yz-s01')!.cut();
        await waitFor('A disconnected', async () => !gateways.get('yz-s01')!.uplinkConnected);
      }
      if (minute === T0 + 80 * MIN) {
        proxies.get('yz-s01')!.restore();
        await waitFor('A reconnected', async () => gateways.get('yz-s01')!.uplinkConnected);
      }
      for (const s of [schoolA, schoolB]) {
        if (s === schoolB && clock.now > T0 + 59 * MIN) continue; // B's gateway died after 09:59
        // Boards b1 and b2 of school A fail at 09:50: their last sample is at 09:49:30.
        const alive = s.devices.filter((d) => !(failed.has(d.id) && clock.now >= T0 + 50 * MIN));
        await Promise.all(
          alive.map((d) => {
            if (d.kind !== 'network_node') return publish(d);
            const o = octets.get(d.id)!;
            octets.set(d.id, o + perStep.get(d.id)!);
            return publish(d, { octets: o });
          }),
        );
        if (minute !== undefined) await gateways.get(s.id)!.sampleAvailability(minute);
      }
      if (minute === T0 + 59 * MIN) {
        // B's last records reach the hub, then its gateway dies for good.
        await drained(schoolB);
        await gateways.get('yz-s02')!.stop();
      }
    }
    // The cut ended at 80 min: A's backlog replays (flagged historical) and drains.
    await drained(schoolA);
    expect(gateways.get('yz-s01')!.counters.get('records_delivered', { lane: 'backlog' })).toBeGreaterThan(0);
  });

  it('gives the district availability computed by hand, with coverage', async () => {
    // A: 10 boards × 120 expected minutes = 1200; up: 8 × 120 + 2 × 51 (09:00…09:50) = 1062.
    //    uplink: 120 / 120.
    // B: 5 devices observed 09:00…09:59 = 60 minutes each, all up: 300 / 300; 10:00… unknown.
    // District: up 1062 + 120 + 300 = 1482, expected 1200 + 120 + 300 = 1620.
    // Coverage: (11 × 120 + 5 × 60) / (16 devices × 120 minutes) = 1620 / 1920.
    const rows = await influxQuery(influx.url, db, availabilityQuery(range, ['district'], { district: '渝中区' }));
    expect(rows.map((r) => r.values[0]!.slice(1))).toEqual([[1482, 1620, 1620]]);
    const fig = availabilityFigures({ up: 1482, expected: 1620, observed: 1620 }, 16, range);
    expect(fig.availability).toBeCloseTo(1482 / 1620, 12); // 91.48 %
    expect(fig.coverage).toBe(1620 / 1920); // 84.375 %
    // Boards only: up 1062 + 240, expected 1200 + 240.
    const boards = await influxQuery(influx.url, db, availabilityQuery(range, ['kind'], { district: '渝中区', kind: 'interactive_board' }));
    expect(boards[0]!.values[0]!.slice(1)).toEqual([1302, 1440, 1440]);
  });

  it('attributes the failed boards\' downtime to them, and none to the rest', async () => {
    const rows = await influxQuery(influx.url, db, `SELECT count(state) FROM availability WHERE ${`time >= ${range.fromMs}ms AND time < ${range.toMs}ms`} AND state = 'down' GROUP BY device`);
    // Last heard 09:49:30; timeout 75 s: up at 09:50:00, down from the 09:51 sample: 69 minutes.
    expect(Object.fromEntries(rows.map((r) => [r.tags!['device'], r.values[0]![1]]))).toEqual({ 'yz-s01-b1': 69, 'yz-s01-b2': 69 });
    const perSchool = await influxQuery(influx.url, db, availabilityQuery(range, ['school']));
    expect(Object.fromEntries(perSchool.map((r) => [r.tags!['school'], r.values[0]!.slice(1)]))).toEqual({
      'yz-s01': [1182, 1320, 1320],
      'yz-s02': [300, 300, 300],
    });
  });

  it('keeps the same figures in the hourly rollups (recomputed after the replay)', async () => {
    for (const statement of rollupBackfill(db, range)) {
      const r = (await (await fetch(`${influx.url}/query?${new URLSearchParams({ q: statement })}`, { method: 'POST' })).json()) as { results: Array<{ error?: string }> };
      expect(r.results[0]!.error).toBeUndefined();
    }
    const rows = await influxQuery(influx.url, db, `SELECT sum(up), sum(expected), sum(observed) FROM "${ROLLUP_RP}"."availability_1h" WHERE district = '渝中区' AND time >= ${range.fromMs}ms AND time < ${range.toMs}ms`);
    expect(rows[0]!.values[0]!.slice(1)).toEqual([1482, 1620, 1620]);
    const cqs = await influxQuery(influx.url, db, 'SHOW CONTINUOUS QUERIES').catch(() => []);
    // Each name ends in a hash of its definition.
    expect(cqs.find((s) => s.name === db)?.values.map((v) => String(v[0]).replace(/_[0-9a-f]{8}$/, '')).sort()).toEqual(['cq_availability_1h', 'cq_inventory_1h', 'cq_school_uplink_1h']);
  });

  it('reports the dead gateway once, as unknown for its devices, not as 5 device outages', async () => {
    expect(stack.hub.presence.get('gw-yz-s02')?.state).toBe('offline');
    const downB = await influxQuery(influx.url, db, `SELECT count(state) FROM availability WHERE school = 'yz-s02' AND state = 'down'`);
    expect(downB).toEqual([]);
    // Its devices have no availability after 09:59 at all: unknown, on neither side.
    const after = await influxQuery(influx.url, db, `SELECT count(up) FROM availability WHERE school = 'yz-s02' AND time >= ${T0 + 60 * MIN}ms`);
    expect(after).toEqual([]);
  });

  it('keeps live presence: one event for the dead gateway, its devices unknown; failed boards down', async () => {
    // A's WAN cut is one outage of A (its 11 devices unknown meanwhile), B's death one of B.
    const offline = events.filter((e) => e.type === 'gateway_offline');
    expect(offline.map((e) => e.type === 'gateway_offline' && [e.gateway, e.devicesUnknown])).toEqual([['gw-yz-s01', 11], ['gw-yz-s02', 5]]);
    const online = events.filter((e) => e.type === 'gateway_online').map((e) => e.gateway);
    expect(online.sort()).toEqual(['gw-yz-s01', 'gw-yz-s01', 'gw-yz-s02']);
    const b = events.filter((e) => e.type === 'device_state' && e.school === 'yz-s02');
    // B's five devices appeared once each (null → up) and never changed: no device alarms.
    expect(b.map((e) => e.type === 'device_state' && [e.device, e.from, e.to])).toEqual(schoolB.devices.map((d) => [d.id, null, 'up']));
    const downs = events.filter((e) => e.type === 'device_state' && e.to === 'down');
    expect(downs.map((e) => e.type === 'device_state' && [e.device, e.from])).toEqual([['yz-s01-b1', 'up'], ['yz-s01-b2', 'up']]);
    // Replayed (historical) observations never moved live state: the downs come from the first
    // live records after the cut, at 80 min, not from the replayed 51 min.
    for (const e of downs) expect(e.ts).toBe(T0 + 80 * MIN);
    const { token } = createUserWithToken(stack.registry, { id: 'uptime-viewer', role: 'viewer' }, { ttlMs: 3_600_000 }, Date.now());
    const api = (await (await fetch(`http://127.0.0.1:${stack.hub.httpPort}/api/v1/presence`, { headers: { authorization: `Bearer ${token}` } })).json()) as Array<{ gateway: string; state: string; devices: Array<{ device: string; state: string; lastObserved: string }> }>;
    const gwB = api.find((g) => g.gateway === 'gw-yz-s02')!;
    expect(gwB.state).toBe('offline');
    expect(gwB.devices.map((d) => d.state)).toEqual(['unknown', 'unknown', 'unknown', 'unknown', 'unknown']);
    expect(gwB.devices.map((d) => d.lastObserved)).toEqual(['up', 'up', 'up', 'up', 'up']);
    const gwA = api.find((g) => g.gateway === 'gw-yz-s01')!;
    expect(gwA.devices.filter((d) => d.state === 'down').map((d) => d.device)).toEqual(['yz-s01-b1', 'yz-s01-b2']);
  });

  it('sums school uplinks into district bandwidth, from exact counter rates', async () => {
    // 09:00–10:00 in 10-minute intervals: A 200 Mbit/s + B 50 Mbit/s = 250 Mbit/s. The first
    // interval has no rate for its first sample, which changes no mean.
    const first = { fromMs: T0, toMs: T0 + 60 * MIN };
    const rows = await influxQuery(influx.url, db, districtBandwidthQuery(first, 600, { district: '渝中区' }));
    expect(rows[0]!.values.map((v) => v[1])).toEqual([250e6, 250e6, 250e6, 250e6, 250e6, 250e6]);
    const uplinks = await influxQuery(influx.url, db, schoolUplinkQuery(first, 3600, { district: '渝中区' }));
    const bySchool = Object.fromEntries(uplinks.map((r) => [r.tags!['school'], r.values[0]!.slice(1) as number[]]));
    expect([bySchool['yz-s01']![0], bySchool['yz-s01']![1], bySchool['yz-s02']![0], bySchool['yz-s02']![1]]).toEqual([200e6, 0, 50e6, 0]);
    // Utilisation = rate ÷ capacity (1 Gbit/s); InfluxDB's mean of 119 equal floats rounds in the last bits.
    expect(bySchool['yz-s01']![2]).toBeCloseTo(0.2, 12);
    expect(bySchool['yz-s02']![2]).toBeCloseTo(0.05, 12);
  });

  it('gives district uplink utilisation against 10G, and coverage denominators from the registry', async () => {
    const first = { fromMs: T0, toMs: T0 + 60 * MIN };
    const rows = await influxQuery(influx.url, db, districtUtilisationQuery(first, 1800, { district: '渝中区' }));
    // 250 Mbit/s of school uplinks ÷ 10 Gbit/s = 2.5 %, in both half-hour intervals.
    expect(rows[0]!.values.map((v) => v[1])).toEqual([0.025, 0.025]);
    const yz = stack.registry.deviceCounts().filter((c) => c.district === '渝中区');
    // 10 + 4 boards and 2 uplinks: the 16 devices behind the coverage figure above.
    expect(yz.reduce((n, c) => n + c.n, 0)).toBe(16);
    expect(yz.find((c) => c.school === 'yz-s02' && c.kind === 'interactive_board')?.n).toBe(4);
  });

  it('does not count classrooms switched off at 18:00 as down; a board that vanishes after hours is not counted either', async () => {
    // Tuesday 17:30–18:30 at school C. The AV systems report power off at 18:00 and say goodbye;
    // the board vanishes after its 17:59:30 sample.
    const T1 = lastTuesdayAt(17, 30);
    await startSchool(schoolC);
    let octets = 0n;
    for (let step = 0; step < 120; step++) {
      clock.now = T1 + step * STEP;
      for (const d of schoolC.devices) {
        if (d.kind === 'classroom_av') {
          if (clock.now < T1 + 30 * MIN) await publish(d);
          else if (clock.now === T1 + 30 * MIN) {
            await publish(d, { power: 'off' });
            await clients.get(d.id)!.endAsync(); // a clean DISCONNECT
          }
        } else if (d.kind === 'interactive_board') {
          if (clock.now < T1 + 30 * MIN) await publish(d);
        } else {
          await publish(d, { octets });
          octets += 37_500_000n; // 10 Mbit/s on a 100 Mbit/s link
        }
      }
      if (step % 2 === 0) await gateways.get('jb-s01')!.sampleAvailability(clock.now);
    }
    await drained(schoolC);
    const r1 = { fromMs: T1, toMs: T1 + 60 * MIN };
    // Expected 17:30–17:59 only: 3 classroom devices × 30 = 90, all up; uplink 60 / 60.
    const rows = await influxQuery(influx.url, db, availabilityQuery(r1, ['kind'], { school: 'jb-s01' }));
    expect(Object.fromEntries(rows.map((r) => [r.tags!['kind'], r.values[0]!.slice(1)]))).toEqual({
      classroom_av: [60, 60, 120],
      interactive_board: [30, 30, 60],
      network_node: [60, 60, 60],
    });
    const count = async (state: string) => {
      const r = await influxQuery(influx.url, db, `SELECT count(state) FROM availability WHERE time >= ${T1}ms AND time < ${T1 + 60 * MIN}ms AND school = 'jb-s01' AND state = '${state}' GROUP BY device`);
      return Object.fromEntries(r.map((x) => [x.tags!['device'], x.values[0]![1]]));
    };
    // AV off from 18:00: 30 minutes each, never down. Board last heard 17:59:30: down from
    // 18:01, 29 minutes, none of them expected.
    expect(await count('off')).toEqual({ 'jb-s01-av1': 30, 'jb-s01-av2': 30 });
    expect(await count('down')).toEqual({ 'jb-s01-b1': 29 });
  });

  it('turns counter wraps, reboots, impossible rates and duplicates into no rate at all, counted', async () => {
    await startSchool(schoolD);
    const d = schoolD.devices[0]!;
    const T2 = lastTuesdayAt(12, 0);
    const MAX = (1n << 64n) - 1n;
    // [seconds after T2, octets in] on a 100 Mbit/s link; 3,750,000 octets per 30 s = 1 Mbit/s.
    const script: Array<[number, bigint]> = [
      [0, MAX - 1_000_000n],
      [30, MAX - 1_000_000n + 3_750_000n - MAX - 1n], // wrapped past 2^64: 2,749,999 → dropped
      [60, 2_749_999n + 3_750_000n], // 1 Mbit/s
      [90, 1_000n], // rebooted: counter reset → dropped
      [120, 1_000n + 3_750_000n], // 1 Mbit/s
      [150, 1_000n + 3_750_000n + 1_000_000_000n], // 266.7 Mbit/s on 100 Mbit/s → refused
      [180, 1_000n + 3_750_000n + 1_000_000_000n + 3_750_000n], // 1 Mbit/s
      [180, 1_000n + 3_750_000n + 1_000_000_000n + 3_750_000n], // the same sample again, thrice
      [180, 1_000n + 3_750_000n + 1_000_000_000n + 3_750_000n],
      [210, 1_000n + 3_750_000n + 1_000_000_000n + 7_500_000n], // 1 Mbit/s
    ];
    for (const [sec, o] of script) {
      clock.now = T2 + sec * 1000;
      await publish(d, { octets: o });
    }
    await drained(schoolD);
    const rows = await influxQuery(influx.url, db, `SELECT rx_bps FROM network_node WHERE device = 'jb-s02-uplink' AND rx_bps >= 0`);
    // Rates only for 60, 120, 180 and 210 s, each exactly 1,000,000 bit/s; never negative or huge.
    expect(rows[0]!.values).toEqual([60, 120, 180, 210].map((sec) => [T2 + sec * 1000, 1_000_000]));
    expect(gateways.get('jb-s02')!.counters.snapshot()).toMatchObject({
      'rate_intervals_dropped{reason="counter_backwards"}': 2,
      'rate_intervals_dropped{reason="above_capacity"}': 1,
      'rate_intervals_dropped{reason="duplicate"}': 2,
    });
    // Every sample is still stored (one point per timestamp: the duplicates collapse).
    const all = await influxQuery(influx.url, db, `SELECT count(octets_in) FROM network_node WHERE device = 'jb-s02-uplink'`);
    expect(all[0]!.values[0]![1]).toBe(8);
  });
});
