import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { rollupBackfill } from '../../storage/src/rollups.ts';
import { retentionPolicyOf, SCHEMA, type Measurement } from '../../storage/src/schema.ts';
import type { Fleet, SimDevice, SimSchool } from '../../device-sim/src/fleet.ts';
import type { DeviceSample } from '../../protocol/src/telemetry.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC } from '../../protocol/src/commands.ts';
import {
  influxQL,
  interpolateVariables,
  loadAlerting,
  loadDashboard,
  route,
  rowsOf,
  runPanel,
  simulateRule,
  type AlertState,
  type DashboardJson,
  type PanelContext,
  type PanelResult,
  type Rule,
  type VariableValue,
} from '../harness/grafana.ts';
import { lastTuesdayAt } from '../harness/clock.ts';
import { campusRig } from '../harness/campusRig.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { startStack, type Stack } from '../harness/stack.ts';

/**
 * Every panel and every alert rule that dashboards/provisioning ships, run the way Grafana runs
 * them (tests/harness/grafana.ts) against a real InfluxDB, filled by the real gateways and hub
 * with one known hour of a city: Tuesday 09:00–10:00, school hours, on a clock the test drives.
 * Every expected figure is worked out by hand in the comments.
 *
 * 渝中区 yz-s01: 4 boards, 2 classroom AV streaming, a 1G uplink at 200 Mbit/s. The board in r4
 *        fails at 09:30 (last heard 09:29:30).
 * 渝中区 yz-s02: 2 boards, a 1G uplink at 50 Mbit/s. Its gateway stops for good at 09:20.
 * 江北区 jb-s01: nine 1G uplinks at 950 Mbit/s in, 100 Mbit/s out (8.55 Gbit/s: 85.5 % of the
 *        district's 10G), 2 classroom AV streaming (one losing 5 % of its packets), a VR kit.
 * Science kiosks (科普 terminals, reporting once a minute): jb-s01's hall kiosk syncs its content
 *        every quarter hour; its library kiosk, whose sync broke yesterday, is switched off
 *        cleanly at 09:40 (that minute's sample says power off, then silence); yz-s02's hall
 *        kiosk reports until its gateway stops.
 * 北碚区 bs-s01: 2 boards. From 09:30 its uplink's return path stalls: the gateway stays
 *        connected, but no acknowledgement comes back, so its outbox (bound: 60 records) fills
 *        and then drops its oldest records.
 */
const MIN = 60_000;
const STEP = 30_000;

const board = (id: string, room: string): SimDevice => ({ id, kind: 'interactive_board', room });
const av = (id: string, room: string): SimDevice => ({ id, kind: 'classroom_av', room, synchronous: true });
const kiosk = (id: string, room: string): SimDevice => ({ id, kind: 'science_kiosk', room });
const uplink = (id: string): SimDevice => ({ id, kind: 'network_node', room: 'server', link: { role: 'school_uplink', capacityBps: 1e9 } });

const A: SimSchool = {
  id: 'yz-s01',
  name: '渝中区第1中学',
  district: '渝中区',
  gateway: 'gw-yz-s01',
  devices: [board('yz-s01-r1-board', 'r1'), board('yz-s01-r2-board', 'r2'), board('yz-s01-r3-board', 'r3'), board('yz-s01-r4-board', 'r4'), av('yz-s01-r1-av', 'r1'), av('yz-s01-r2-av', 'r2'), uplink('yz-s01-uplink')],
};
const B: SimSchool = {
  id: 'yz-s02',
  name: '渝中区第2中学',
  district: '渝中区',
  gateway: 'gw-yz-s02',
  devices: [board('yz-s02-r1-board', 'r1'), board('yz-s02-r2-board', 'r2'), uplink('yz-s02-uplink'), kiosk('yz-s02-hall-kiosk', 'hall')],
};
const C: SimSchool = {
  id: 'jb-s01',
  name: '江北区第1中学',
  district: '江北区',
  gateway: 'gw-jb-s01',
  devices: [...Array.from({ length: 9 }, (_, i) => uplink(`jb-s01-uplink-${i + 1}`)), av('jb-s01-r1-av', 'r1'), av('jb-s01-r2-av', 'r2'), { id: 'jb-s01-lab-vr', kind: 'vr_kit', room: 'lab' }, kiosk('jb-s01-hall-kiosk', 'hall'), kiosk('jb-s01-lib-kiosk', 'library')],
};
const D: SimSchool = { id: 'bs-s01', name: '北碚区第1中学', district: '北碚区', gateway: 'gw-bs-s01', devices: [board('bs-s01-r1-board', 'r1'), board('bs-s01-r2-board', 'r2')] };
const fleet: Fleet = {
  districts: [
    { id: '渝中区', nameEn: 'Yuzhong', code: 'yz' },
    { id: '江北区', nameEn: 'Jiangbei', code: 'jb' },
    { id: '北碚区', nameEn: 'Beibei', code: 'bs' },
  ],
  schools: [A, B, C, D],
};

/** Octets per 30 s step: rate × 30 ÷ 8. */
const RX_PER_STEP: Record<string, bigint> = { 'yz-s01-uplink': 750_000_000n, 'yz-s02-uplink': 187_500_000n };
for (let i = 1; i <= 9; i++) RX_PER_STEP[`jb-s01-uplink-${i}`] = 3_562_500_000n;
const TX_PER_STEP: Record<string, bigint> = {};
for (let i = 1; i <= 9; i++) TX_PER_STEP[`jb-s01-uplink-${i}`] = 375_000_000n;
/** Stream bitrate (kbit/s) and loss (%) per classroom AV. */
const STREAMS: Record<string, [number, number]> = {
  'yz-s01-r1-av': [2000, 0.5],
  'yz-s01-r2-av': [1000, 1],
  'jb-s01-r1-av': [3000, 5],
  'jb-s01-r2-av': [2500, 0],
};

/**
 * Per kiosk at 09:mm: content sync age (s) and free disk (MiB). The hall kiosk syncs at :00, :15,
 * :30 and :45; the library kiosk's age grows from 25 h; yz-s02's from 5 minutes.
 */
const KIOSKS: Record<string, (m: number) => [number, number]> = {
  'jb-s01-hall-kiosk': (m) => [(m % 15) * 60, 51_200],
  'jb-s01-lib-kiosk': (m) => [90_000 + m * 60, 2048],
  'yz-s02-hall-kiosk': (m) => [300 + m * 60, 30_720],
};
const KIOSK_OFF_AT = 40;

const T0 = lastTuesdayAt(9, 0);
const RANGE = { fromMs: T0, toMs: T0 + 60 * MIN };

describe('dashboards and alert rules, run as Grafana runs them, against a known hour in InfluxDB', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  const db = 'e2e_dashboards';
  const clock = { now: T0 };
  const rig = campusRig(() => stack.hub.mqttPort, () => clock.now);
  const { gateways, proxies, clients } = rig;
  const seqs = new Map<string, number>();
  const octets = new Map<string, { rx: bigint; tx: bigint }>();

  function sample(d: SimDevice): DeviceSample {
    const seq = seqs.get(d.id) ?? 0;
    seqs.set(d.id, seq + 1);
    const base = { device: d.id, seq, ts: clock.now };
    switch (d.kind) {
      case 'interactive_board':
        return { ...base, kind: d.kind, data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v3.1' } };
      case 'classroom_av': {
        const [kbps, loss] = STREAMS[d.id]!;
        return { ...base, kind: d.kind, data: { power: 'on', lampHours: 1200, temperatureC: 41, inSession: true, streamKbps: kbps, streamLossPct: loss } };
      }
      case 'vr_kit':
        return { ...base, kind: d.kind, data: { batteryPct: 80, charging: false, inSession: true } };
      case 'science_kiosk': {
        const m = (clock.now - T0) / MIN;
        const [contentSyncAgeS, freeDiskMiB] = KIOSKS[d.id]!(m);
        const power = d.id === 'jb-s01-lib-kiosk' && m >= KIOSK_OFF_AT ? 'off' : 'on';
        return { ...base, kind: d.kind, data: { power, screenOn: power === 'on', contentSyncAgeS, freeDiskMiB } };
      }
      case 'network_node': {
        const o = octets.get(d.id) ?? { rx: 10n ** 12n, tx: 10n ** 11n };
        octets.set(d.id, { rx: o.rx + (RX_PER_STEP[d.id] ?? 0n), tx: o.tx + (TX_PER_STEP[d.id] ?? 0n) });
        return { ...base, kind: d.kind, data: { role: 'school_uplink', capacityBps: d.link!.capacityBps, octetsIn: o.rx.toString(), octetsOut: o.tx.toString(), operUp: true } };
      }
    }
  }

  const healthSeen = () => stack.hub.counters.get('messages_received', { channel: 'health' });

  async function startSchool(s: SimSchool, opts: { outbox?: number } = {}): Promise<void> {
    await rig.startSchool(s, { gateway: { keepaliveSec: 3600, healthIntervalMs: 86_400_000 }, ...(opts.outbox ? { outboxRecords: opts.outbox } : {}) });
    // The birth is stamped by the hub's clock: let it land before the clock moves.
    await waitFor(`${s.gateway} online`, async () => stack.hub.presence.get(s.gateway)?.state === 'online');
  }

  const { drained } = rig;

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false, now: () => clock.now });
    for (const s of [A, B, C]) await startSchool(s);
    await startSchool(D, { outbox: 60 });
    // The board in yz-s01's r1 carries out the commands it gets.
    const r1 = clients.get('yz-s01-r1-board')!;
    await r1.subscribeAsync(LAN_COMMAND_TOPIC, { qos: 1 });
    r1.on('message', (_t, payload) => {
      const cmd = JSON.parse(payload.toString()) as { id: string; device: string };
      if (cmd.device === 'yz-s01-r1-board') void r1.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id: cmd.id, device: cmd.device, status: 'done' }), { qos: 1 });
    });

    for (let step = 0; step < 120; step++) {
      clock.now = T0 + step * STEP;
      const minute = step % 2 === 0 ? clock.now : undefined;
      if (clock.now === T0 + 20 * MIN) {
        // B's gateway stops for good: its clean stop publishes offline, stamped 09:20.
        await gateways.get(B.id)!.stop();
        gateways.delete(B.id);
        await waitFor('gw-yz-s02 offline', async () => stack.hub.presence.get(B.gateway)?.state === 'offline');
      }
      if (clock.now === T0 + 30 * MIN) {
        await drained(D); // the 09:29:30 samples acknowledged: the stall starts with an empty outbox
        proxies.get(D.id)!.hold();
      }
      for (const s of [A, B, C, D]) {
        const gw = gateways.get(s.id);
        if (!gw) continue;
        // Kiosks report on the minute; the library kiosk's last word is its power-off at 09:40.
        const reporting = (d: SimDevice) =>
          d.kind !== 'science_kiosk' || (minute !== undefined && !(d.id === 'jb-s01-lib-kiosk' && clock.now > T0 + KIOSK_OFF_AT * MIN));
        const alive = s.devices.filter((d) => reporting(d) && !(d.id === 'yz-s01-r4-board' && clock.now >= T0 + 30 * MIN));
        await Promise.all(alive.map((d) => clients.get(d.id)!.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(sample(d)), { qos: 1 })));
        if (minute !== undefined) await gw.sampleAvailability(minute);
      }
      if (minute === undefined) continue;
      await stack.hub.recordMinute(minute);
      if (minute === T0 + 45 * MIN) {
        // An operator reboots the board in r1 at 09:45; it does so.
        const { id } = await stack.hub.sendCommand({ device: 'yz-s01-r1-board', action: 'reboot' }, 'system:test');
        await waitFor('the reboot answered', async () => {
          const r = await influxQL(influx.url, db, `SELECT status FROM command WHERE "id" = '${id}'`);
          return r[0]?.values[0]?.[1] === 'done' ? true : undefined;
        });
      }
      if (minute === T0 + 50 * MIN) {
        // And switches its input to hdmi2 at 09:50: the command point carries `input`.
        const { id } = await stack.hub.sendCommand({ device: 'yz-s01-r1-board', action: 'switch_input', input: 'hdmi2' }, 'system:test');
        await waitFor('the switch answered', async () => {
          const r = await influxQL(influx.url, db, `SELECT status FROM command WHERE "id" = '${id}'`);
          return r[0]?.values[0]?.[1] === 'done' ? true : undefined;
        });
      }
      // Health once a minute, stamped by the hub at this minute; the healthy gateways first
      // deliver what they hold, so their backlog reads 0.
      for (const s of [A, B, C, D]) {
        const gw = gateways.get(s.id);
        if (!gw) continue;
        if (!(s === D && clock.now >= T0 + 30 * MIN)) await drained(s);
        const before = healthSeen();
        expect(gw.reportHealth()).toBe(true);
        await waitFor(`${s.id} health`, async () => healthSeen() > before);
      }
    }
    // Let the stalled gateway's surviving records through, so every figure is final.
    proxies.get(D.id)!.release();
    await drained(D);
    // Every health report written: a minute each from A, C and D, 20 from B.
    await waitFor('health points written', async () => {
      const r = await influxQL(influx.url, db, 'SELECT count(outbox_records) FROM gateway_health');
      return r[0]?.values[0]?.[1] === 200 ? true : undefined;
    });
    // The continuous queries run on the wall clock, not this hour's: fill the rollups for it as
    // the hourly CQs would have.
    for (const statement of rollupBackfill(db, RANGE)) await influxQL(influx.url, db, statement);
  }, 180_000);

  afterAll(async () => {
    await rig.stop();
    await stack?.stop();
    await influx?.stop();
  });

  // ── helpers ───────────────────────────────────────────────────────────────────────────────

  const KINDS = ['classroom_av', 'interactive_board', 'vr_kit', 'network_node', 'science_kiosk'];
  const all = (options: string[], multi = true): VariableValue => ({ value: 'All', multi, includeAll: multi, options });
  const one = (v: string): VariableValue => ({ value: v, multi: false, includeAll: false, options: [v] });
  const some = (vs: string[], options: string[]): VariableValue => ({ value: vs, multi: true, includeAll: true, options });

  /** A variable's options, by running its query as Grafana does (interpolated with the variables before it). */
  async function options(dash: DashboardJson, name: string, vars: Record<string, VariableValue>): Promise<string[]> {
    const v = dash.templating.list.find((x) => x.name === name)!;
    if (v.type === 'custom') return v.query.split(',');
    const series = await influxQL(influx.url, db, interpolateVariables(v.query, vars));
    return (series[0]?.values ?? []).map((r) => String(r[1]));
  }

  function ctx(vars: Record<string, VariableValue>, range = RANGE): PanelContext {
    return { influxUrl: influx.url, db, range, vars, maxDataPoints: 1000, datasourceInterval: '1m' };
  }

  async function panel(dash: DashboardJson, title: string, vars: Record<string, VariableValue>): Promise<PanelResult> {
    const p = dash.panels.find((x) => x.title === title);
    if (!p) throw new Error(`no panel "${title}" in ${dash.uid}`);
    return runPanel(p, ctx(vars));
  }

  /** Per series name: its values in time order. */
  const valuesByName = (r: PanelResult) => Object.fromEntries(r.series.map((s) => [s.name, s.points.map(([, v]) => v)]));
  const minutes = (n: number, v: unknown) => Array<unknown>(n).fill(v);

  // ── schema ────────────────────────────────────────────────────────────────────────────────

  it('reads only measurements and fields that exist, with the types the schema says', async () => {
    // gateway_conflict is written only when two devices share a gateway's credentials, which
    // this hour has no case of: tests/e2e/sharedCredentials.test.ts checks it the same way.
    for (const m of (Object.keys(SCHEMA) as Measurement[]).filter((x) => x !== 'gateway_conflict')) {
      const rp = retentionPolicyOf(m);
      const name = rp ? `"${rp}"."${m}"` : `"${m}"`;
      const rows = await influxQL(influx.url, db, `SHOW FIELD KEYS FROM ${name}`);
      const actual = Object.fromEntries((rows[0]?.values ?? []).map((r) => [String(r[0]), String(r[1])]));
      // hist appears only on replayed points, which this hour has none of.
      const expected = Object.fromEntries(Object.entries(SCHEMA[m].fields).filter(([f]) => f !== 'hist'));
      expect(actual, m).toEqual(expected);
      const tags = await influxQL(influx.url, db, `SHOW TAG KEYS FROM ${name}`);
      expect((tags[0]?.values ?? []).map((r) => r[0]).sort(), m).toEqual([...SCHEMA[m].tags].sort());
    }
  });

  // ── city overview ─────────────────────────────────────────────────────────────────────────

  it('city: template variables list the registry\'s districts and the five kinds', async () => {
    const city = loadDashboard('campus-city');
    expect(await options(city, 'district', {})).toEqual(['北碚区', '江北区', '渝中区']);
    expect(await options(city, 'kind', {})).toEqual(KINDS);
  });

  it('city: availability and coverage per district, over expected minutes, unknown minutes on neither side', async () => {
    const city = loadDashboard('campus-city');
    const vars = { district: all(await options(city, 'district', {})), kind: all(KINDS) };
    const r = await panel(city, 'Availability and coverage by district', vars);
    expect(r.queries[0]).toContain(`"district" =~ /^(北碚区|江北区|渝中区)$/ AND "kind" =~ /^(classroom_av|interactive_board|vr_kit|network_node|science_kiosk)$/`);
    expect(r.queries[0]).toContain(`time >= ${T0}ms and time <= ${T0 + 60 * MIN}ms`);
    const rows = rowsOf(r.tables[0]!);
    expect(r.tables[0]!.fields).toEqual(['district', 'availability', 'coverage']);
    const byDistrict = Object.fromEntries(rows.map((x) => [x['district'], [x['availability'], x['coverage']]]));
    // 渝中区: yz-s01 7 devices × 60 min expected = 420, up 420 − 29 (r4 board down 09:31–09:59)
    // = 391; yz-s02 4 devices (its kiosk too) × 20 min (09:00–09:19) = 80, all up. 471 / 500.
    // Coverage: observed 420 + 80 = 500 of registered 11 devices × 60 min = 660.
    expect(byDistrict['渝中区']![0]).toBeCloseTo(471 / 500, 12);
    expect(byDistrict['渝中区']![1]).toBeCloseTo(500 / 660, 12);
    // 江北区: 14 devices, all up while expected: 12 × 60 + the hall kiosk's 60 + the library
    // kiosk's 40 (09:00–09:39; off from 09:40, not expected) = 820 of 820. Observed: every device
    // every minute (off minutes are observed too), 14 × 60 of 14 registered × 60.
    expect(byDistrict['江北区']).toEqual([1, 1]);
    // 北碚区: every stored minute was up; some minutes after 09:30 were dropped with the full outbox,
    // so coverage is what reached InfluxDB ÷ 2 boards × 60 min.
    const stored = await influxQL(influx.url, db, `SELECT count(state) FROM availability WHERE school = 'bs-s01'`);
    const observedD = Number(stored[0]!.values[0]![1]);
    expect(observedD).toBeGreaterThanOrEqual(60); // 09:00–09:29 went through before the stall
    expect(observedD).toBeLessThan(120);
    expect(byDistrict['北碚区']).toEqual([1, observedD / 120]);
    // Worst first.
    expect(rows[0]!['district']).toBe('渝中区');
  });

  it('city: bandwidth per district = sum of its school uplinks, and utilisation of the 10G district uplink, hourly', async () => {
    const city = loadDashboard('campus-city');
    const vars = { district: all(await options(city, 'district', {})), kind: all(KINDS) };
    const bw = await panel(city, 'Bandwidth by district (sum of school uplinks)', vars);
    // One hour ÷ 1000 points = 3.6 s → rounded 5 s, raised to the panel's 1 h minimum.
    expect(bw.intervalMs).toBe(60 * MIN);
    expect(bw.queries[0]).toContain('FROM "rollup_1h"."school_uplink_1h" WHERE time >= ');
    expect(bw.queries[0]).toContain('GROUP BY time(1h)');
    const v = valuesByName(bw);
    // 渝中区: each uplink's mean over the samples of the hour: 200 + 50 Mbit/s (yz-s02's samples
    // stop at 09:19:30; its mean is over those). 北碚区 has no uplink device.
    expect(v).toEqual({ '渝中区 in': [250e6], '渝中区 out': [0], '江北区 in': [8.55e9], '江北区 out': [9e8] });
    const util = valuesByName(await panel(city, 'District uplink utilisation (of 10 Gbit/s)', vars));
    expect(util['江北区 in']![0]).toBeCloseTo(0.855, 12);
    expect(util['渝中区 in']).toEqual([0.025]);
  });

  it('city: devices up by kind, for two districts chosen (multi-value variable), hourly', async () => {
    const city = loadDashboard('campus-city');
    const districts = await options(city, 'district', {});
    const r = await panel(city, 'Devices up, by kind', { district: some(['渝中区', '江北区'], districts), kind: all(KINDS) });
    expect(r.queries[0]).toContain('"district" =~ /^(渝中区|江北区)$/');
    const v = valuesByName(r) as Record<string, number[]>;
    // Device-minutes up ÷ 60. Boards: yz-s01 3 × 60 + 31 (r4 up to 09:30), yz-s02 2 × 20 = 251.
    expect(v['interactive_board']![0]).toBeCloseTo(251 / 60, 12);
    expect(v['classroom_av']).toEqual([4]);
    expect(v['vr_kit']).toEqual([1]);
    // Kiosks: yz-s02's 20 (until its gateway died) + the hall kiosk's 60 + the library kiosk's 40
    // (off from 09:40) = 120 device-minutes up.
    expect(v['science_kiosk']).toEqual([2]);
    // Network nodes: 60 + 20 (yz-s02's uplink until its gateway died) + 9 × 60 = 620.
    expect(v['network_node']![0]).toBeCloseTo(620 / 60, 12);
    expect(Object.values(v).every((x) => x.length === 1)).toBe(true);
  });

  it('city: worst schools first, with coverage', async () => {
    const city = loadDashboard('campus-city');
    const vars = { district: all(await options(city, 'district', {})), kind: all(KINDS) };
    const r = await panel(city, 'Worst schools (availability)', vars);
    const rows = rowsOf(r.tables[0]!);
    expect(rows.map((x) => x['school'])[0]).toBe('yz-s01');
    const by = Object.fromEntries(rows.map((x) => [x['school'], [x['availability'], x['coverage']]]));
    expect(by['yz-s01']![0]).toBeCloseTo(391 / 420, 12);
    expect(by['yz-s01']![1]).toBe(1);
    // yz-s02: all up while observed; 80 of 4 × 60 device-minutes observed.
    expect(by['yz-s02']![0]).toBe(1);
    expect(by['yz-s02']![1]).toBeCloseTo(1 / 3, 12);
    expect(by['jb-s01']).toEqual([1, 1]);
    expect(rows).toHaveLength(4);
    // Each row carries its district, for the link to the school's dashboard.
    expect(Object.fromEntries(rows.map((x) => [x['school'], x['district']]))).toEqual({ 'yz-s01': '渝中区', 'yz-s02': '渝中区', 'jb-s01': '江北区', 'bs-s01': '北碚区' });
  });

  // ── district ──────────────────────────────────────────────────────────────────────────────

  it('district: schools ranked by availability and by uplink saturation; school uplink bandwidth', async () => {
    const dash = loadDashboard('campus-district');
    const district = one('渝中区');
    const schools = await options(dash, 'school', { district });
    expect(schools).toEqual(['yz-s01', 'yz-s02']);
    const vars = { district, school: all(schools) };
    const avail = rowsOf((await panel(dash, 'Schools by availability', vars)).tables[0]!);
    expect(avail.map((x) => x['school'])).toEqual(['yz-s01', 'yz-s02']);
    expect(avail[0]!['availability']).toBeCloseTo(391 / 420, 12);
    expect(avail[1]!['coverage']).toBeCloseTo(1 / 3, 12);
    const sat = await panel(dash, 'Schools by uplink saturation', vars);
    expect(sat.queries[0]).toContain(`"district" =~ /^渝中区$/ AND "school" =~ /^(yz-s01|yz-s02)$/`);
    const satRows = rowsOf(sat.tables[0]!);
    expect(satRows.map((x) => x['school'])).toEqual(['yz-s01', 'yz-s02']); // most saturated first
    // 200 Mbit/s and 50 Mbit/s on 1 Gbit/s links.
    expect(satRows.map((x) => x['peak_in'])).toEqual([200e6, 50e6]);
    // InfluxDB's mean of equal floats rounds in the last bits.
    expect(satRows[0]!['utilisation']).toBeCloseTo(0.2, 12);
    expect(satRows[1]!['utilisation']).toBeCloseTo(0.05, 12);
    const bw = valuesByName(await panel(dash, 'School uplink bandwidth', vars));
    expect(bw['yz-s01 in']).toEqual(minutes(60, 200e6));
    expect(bw['yz-s02 in']).toEqual(minutes(20, 50e6));
  });

  it('district: synchronous-classroom stream health and lossy streams', async () => {
    const dash = loadDashboard('campus-district');
    const district = one('江北区');
    const vars = { district, school: all(await options(dash, 'school', { district })) };
    const v = valuesByName(await panel(dash, 'Synchronous-classroom streams: bitrate and worst loss', vars));
    // Mean of 3000 and 2500 kbit/s; the worst loss is r1's 5 %.
    expect(v['jb-s01 bitrate']).toEqual(minutes(60, 2750));
    expect(v['jb-s01 loss']).toEqual(minutes(60, 5));
    const lossy = rowsOf((await panel(dash, 'Stream samples with loss above 2 %, by school', vars)).tables[0]!);
    // r1 streams with 5 % loss in all 120 samples; r2 loses nothing.
    expect(lossy).toEqual([{ school: 'jb-s01', lossy: 120 }]);
    const quiet = await panel(dash, 'Stream samples with loss above 2 %, by school', { district: one('渝中区'), school: all(['yz-s01', 'yz-s02']) });
    expect(rowsOf(quiet.tables[0]!)).toEqual([]); // 0.5 % and 1 %: nothing above 2 %
  });

  it('district: science kiosks at their last sample, stalest first', async () => {
    const dash = loadDashboard('campus-district');
    const district = one('江北区');
    const rows = rowsOf((await panel(dash, 'Science kiosks: content sync age and free disk', { district, school: all(await options(dash, 'school', { district })) })).tables[0]!);
    // The library kiosk's last sample is its power-off at 09:40: 90 000 + 40 × 60 = 92 400 s.
    // The hall kiosk's at 09:59: 14 minutes after its 09:45 sync, 840 s.
    expect(rows).toEqual([
      { school: 'jb-s01', device: 'jb-s01-lib-kiosk', sync_age: 92_400, free_disk: 2048 },
      { school: 'jb-s01', device: 'jb-s01-hall-kiosk', sync_age: 840, free_disk: 51_200 },
    ]);
    // yz-s02's kiosk last reported at 09:19, before its gateway stopped: 300 + 19 × 60 = 1440 s.
    const yz = rowsOf((await panel(dash, 'Science kiosks: content sync age and free disk', { district: one('渝中区'), school: all(['yz-s01', 'yz-s02']) })).tables[0]!);
    expect(yz).toEqual([{ school: 'yz-s02', device: 'yz-s02-hall-kiosk', sync_age: 1440, free_disk: 30_720 }]);
  });

  // ── school ────────────────────────────────────────────────────────────────────────────────

  it('school: rooms and devices with their last state and availability; the state timeline', async () => {
    const dash = loadDashboard('campus-school');
    const vars = { district: one('渝中区'), school: one('yz-s01'), kind: all(KINDS) };
    const t = await panel(dash, 'Rooms and devices', vars);
    expect(t.queries[0]).toContain(`"school" =~ /^yz-s01$/`);
    const rows = rowsOf(t.tables[0]!);
    expect(t.tables[0]!.fields).toEqual(['device', 'kind', 'room', 'state', 'availability']);
    expect(rows.map((x) => x['room'])).toEqual(['r1', 'r1', 'r2', 'r2', 'r3', 'r4', 'server']);
    const r4 = rows.find((x) => x['device'] === 'yz-s01-r4-board')!;
    // Up 09:00–09:30 (31 minutes), down 09:31–09:59 (29).
    expect([r4['state'], r4['availability']]).toEqual(['down', 31 / 60]);
    expect(rows.filter((x) => x['device'] !== 'yz-s01-r4-board').map((x) => [x['state'], x['availability']])).toEqual(minutes(6, ['up', 1]));
    const timeline = valuesByName(await panel(dash, 'Device states', vars));
    // fill(null): the 10:00 interval at the range's end has no observation: unknown.
    expect(timeline['yz-s01-r4-board']).toEqual([...minutes(31, 'up'), ...minutes(29, 'down'), null]);
    expect(timeline['yz-s01-uplink']).toEqual([...minutes(60, 'up'), null]);
    // The kind variable narrows both.
    const boards = valuesByName(await panel(dash, 'Device states', { ...vars, kind: some(['interactive_board'], KINDS) }));
    expect(Object.keys(boards).sort()).toEqual(['yz-s01-r1-board', 'yz-s01-r2-board', 'yz-s01-r3-board', 'yz-s01-r4-board']);
    const commands = rowsOf((await panel(dash, 'Recent commands', vars)).tables[0]!);
    expect(commands.map((x) => [x['time'] ?? x['Time'], x['device'], x['action'], x['input'], x['status']])).toEqual([
      [T0 + 50 * MIN, 'yz-s01-r1-board', 'switch_input', 'hdmi2', 'done'],
      [T0 + 45 * MIN, 'yz-s01-r1-board', 'reboot', null, 'done'],
    ]);
    const up = valuesByName(await panel(dash, 'School uplink', vars));
    expect(up).toEqual({ in: minutes(60, 200e6), out: minutes(60, 0) });
  });

  it('school: science kiosks follow the school timetable, and a clean power-off is off, not down', async () => {
    const dash = loadDashboard('campus-school');
    const vars = { district: one('江北区'), school: one('jb-s01'), kind: some(['science_kiosk'], KINDS) };
    const rows = rowsOf((await panel(dash, 'Rooms and devices', vars)).tables[0]!);
    // Hall: up and expected 60 of 60. Library: up 09:00–09:39 (40 of 40 expected), then off
    // and not expected: 100 %, last state off.
    expect(rows.map((x) => [x['room'], x['device'], x['state'], x['availability']])).toEqual([
      ['hall', 'jb-s01-hall-kiosk', 'up', 1],
      ['library', 'jb-s01-lib-kiosk', 'off', 1],
    ]);
    const timeline = valuesByName(await panel(dash, 'Device states', vars));
    expect(timeline['jb-s01-hall-kiosk']).toEqual([...minutes(60, 'up'), null]);
    expect(timeline['jb-s01-lib-kiosk']).toEqual([...minutes(40, 'up'), ...minutes(20, 'off'), null]);
    // The availability points carry the timetable's verdict: 100 expected kiosk-minutes in jb-s01.
    const expected = await influxQL(influx.url, db, `SELECT sum(expected), sum(up_expected), count(up) FROM availability WHERE kind = 'science_kiosk' AND school = 'jb-s01'`);
    expect(expected[0]!.values[0]!.slice(1)).toEqual([100, 100, 120]);
  });

  // ── edge gateways ─────────────────────────────────────────────────────────────────────────

  it('gateways: connection state, outbox backlog and age, replay, drops', async () => {
    const dash = loadDashboard('campus-gateways');
    const districts = await options(dash, 'district', {});
    const district = all(districts);
    const vars = { district, school: all(await options(dash, 'school', { district })) };
    const state = valuesByName(await panel(dash, 'Gateway connection', vars));
    // The hub's minute reports: yz-s02 disconnected from 09:20. The 10:00 interval at the range's
    // end ($timeFilter is `time <= to`) has no report yet: blank.
    expect(state['gw-yz-s02']).toEqual([...minutes(20, 1), ...minutes(40, 0), null]);
    for (const g of ['gw-yz-s01', 'gw-jb-s01', 'gw-bs-s01']) expect(state[g], g).toEqual([...minutes(60, 1), null]);

    // bs-s01 from 09:30 + k minutes: 4 + 6k records held (2 boards × 2 samples and 2
    // availability records a minute) until the bound of 60 at k = 10; then 60.
    const held = (k: number) => Math.min(4 + 6 * k, 60);
    const backlog = valuesByName(await panel(dash, 'Outbox backlog (records held)', vars));
    expect(backlog['gw-bs-s01 records']).toEqual([...minutes(30, 0), ...Array.from({ length: 30 }, (_, k) => held(k))]);
    expect(backlog['gw-yz-s01 records']).toEqual(minutes(60, 0));
    expect(backlog['gw-yz-s02 records']).toEqual(minutes(20, 0));
    // The oldest held record came in at 09:30:00 and stays in flight: k minutes old.
    const age = valuesByName(await panel(dash, 'Age of the oldest record held', vars));
    expect(age['gw-bs-s01 oldest']).toEqual([...minutes(30, 0), ...Array.from({ length: 30 }, (_, k) => k * MIN)]);
    const replay = valuesByName(await panel(dash, 'Replay progress', vars));
    expect(replay['gw-bs-s01 remaining']).toEqual(minutes(60, 0));
    expect(replay['gw-jb-s01 sent']).toEqual(minutes(60, 0));
    // Dropped per minute: appended 4 + 6k, held 60: 4 at 09:40, then 6 a minute.
    const drops = valuesByName(await panel(dash, 'Records dropped by the outbox bound, and samples refused at the edge', vars));
    expect(drops['gw-bs-s01 dropped']).toEqual([...minutes(39, 0), 4, ...minutes(19, 6)]);
    expect(drops['gw-jb-s01 dropped']).toEqual(minutes(59, 0));
    expect(drops['gw-jb-s01 refused']).toEqual(minutes(59, 0));
  });

  // ── alert rules ───────────────────────────────────────────────────────────────────────────

  const rules = () => Object.fromEntries(loadAlerting().rules.groups[0]!.rules.map((r) => [r.uid, r]));
  const at = (fromMin: number, toMin: number) => Array.from({ length: toMin - fromMin + 1 }, (_, i) => T0 + (fromMin + i) * MIN);
  /** States per instance, keyed by the instance's most specific label. */
  async function states(rule: Rule, times: number[], key: string): Promise<Record<string, AlertState[]>> {
    const res = await simulateRule(rule, times, influx.url, db);
    return Object.fromEntries([...res.values()].map((i) => [i.labels[key]!, i.states]));
  }
  const run = (spec: Array<[number, AlertState]>) => spec.flatMap(([n, s]) => Array<AlertState>(n).fill(s));

  it('alert: a gateway offline for 5 minutes fires once, for that gateway; the others stay quiet', async () => {
    const s = await states(rules()['campus-gateway-offline']!, at(15, 30), 'gateway');
    // Offline from 09:20: pending for 5 minutes, firing at 09:25.
    expect(s['gw-yz-s02']).toEqual(run([[5, 'Normal'], [5, 'Pending'], [6, 'Alerting']]));
    for (const g of ['gw-yz-s01', 'gw-jb-s01', 'gw-bs-s01']) expect(s[g], g).toEqual(run([[16, 'Normal']]));
  });

  it('alert: the hub not reporting fires when its minute reports stop, and not before', async () => {
    const s = await simulateRule(rules()['campus-hub-silent']!, at(58, 68), influx.url, db);
    // Reports every minute up to 09:59; from 10:05 the 5-minute window holds none: no data,
    // which this rule turns into an alert (pending 2 minutes).
    // The hub's series (no labels of its own) is Normal while it reports, then stale and resolved.
    expect([...s.values()].map((i) => [i.labels['alertname'] ?? '(series)', i.labels['scope'], i.states])).toEqual([
      ['(series)', 'hub', run([[11, 'Normal']])],
      ['DatasourceNoData', 'hub', run([[7, 'Normal'], [2, 'Pending'], [2, 'Alerting']])],
    ]);
    const quiet = await simulateRule(rules()['campus-hub-silent']!, at(1, 59), influx.url, db);
    expect([...quiet.values()].every((i) => i.states.every((x) => x === 'Normal'))).toBe(true);
    expect(quiet.size).toBe(1); // the hub's one series, never firing
  });

  it('alert: a district uplink above 80 % (5-minute mean) for 10 minutes fires; the district at 2.5 % stays quiet', async () => {
    const s = await states(rules()['campus-district-uplink-saturated']!, at(1, 12), 'district');
    // 江北区 at 85.5 % from the first rates (09:00:30): pending from 09:01, firing at 09:11.
    expect(s['江北区']).toEqual(run([[10, 'Pending'], [2, 'Alerting']]));
    expect(s['渝中区']).toEqual(run([[12, 'Normal']]));
  });

  it('alert: school availability below 95 % in school hours fires for the school with the dead board only', async () => {
    const s = await states(rules()['campus-school-availability-low']!, at(40, 59), 'school');
    // yz-s01 at 09:mm, timetabled devices (4 boards, 2 AV): expected 6 (m + 1), down m − 30.
    // Below 95 % from m = 44 (1 − 14/270 = 94.8 %; m = 43 gives 95.08 %); firing 10 minutes later.
    expect(s['yz-s01']).toEqual(run([[4, 'Normal'], [10, 'Pending'], [6, 'Alerting']]));
    // yz-s02's minutes after its gateway died are unknown, not down: it stays quiet.
    for (const k of ['yz-s02', 'jb-s01', 'bs-s01']) expect(s[k], k).toEqual(run([[20, 'Normal']]));
  });

  it('alert: a stalled outbox fires "growing", and "dropped" once records are lost; healthy gateways stay quiet', async () => {
    const growing = await states(rules()['campus-outbox-backlog-growing']!, at(30, 59), 'gateway');
    // Growth over 15 min > 0 and oldest > 5 min: true from 09:36 (6 min old) to 09:54; at 09:55
    // the outbox has sat at its bound for 15 minutes (no growth): the drop alert covers that.
    expect(growing['gw-bs-s01']).toEqual(run([[6, 'Normal'], [10, 'Pending'], [9, 'Alerting'], [5, 'Normal']]));
    for (const g of ['gw-yz-s01', 'gw-jb-s01']) expect(growing[g], g).toEqual(run([[30, 'Normal']]));
    const dropped = await states(rules()['campus-outbox-dropped']!, at(35, 45), 'gateway');
    // The first 4 records were dropped at 09:40: pending, firing a minute later.
    expect(dropped['gw-bs-s01']).toEqual(run([[5, 'Normal'], [1, 'Pending'], [5, 'Alerting']]));
    for (const g of ['gw-yz-s01', 'gw-jb-s01']) expect(dropped[g], g).toEqual(run([[11, 'Normal']]));
  });

  it('notifications: grouped by district and school, one per school (one for the dead gateway), critical ones also by e-mail', async () => {
    const firing: Array<Record<string, string>> = [];
    for (const rule of Object.values(rules())) {
      // Pending periods are long past for every rule firing at 09:54 (see the tests above).
      const res = await simulateRule(rule, at(0, 54), influx.url, db);
      for (const i of res.values()) if (i.states.at(-1) === 'Alerting') firing.push({ ...i.labels, alertname: rule.title });
    }
    expect(firing.map((l) => `${l['alertname']} ${l['district']} ${l['school'] ?? ''}`).sort()).toEqual([
      'District uplink saturated 江北区 ',
      'Gateway offline 渝中区 yz-s02',
      'Gateway outbox backlog growing 北碚区 bs-s01',
      'Gateway outbox dropped records 北碚区 bs-s01',
      'School availability below 95 % 渝中区 yz-s01',
    ]);
    const notifications = route(loadAlerting().policies, firing);
    // Webhook: one group per (district, school): bs-s01's two alerts share one notification.
    expect(notifications.filter((n) => n.receiver === 'campus-nodered').map((n) => [n.group, n.alerts.length]).sort()).toEqual([
      ['district=北碚区,school=bs-s01', 2],
      ['district=江北区,school=', 1],
      ['district=渝中区,school=yz-s01', 1],
      ['district=渝中区,school=yz-s02', 1],
    ]);
    // E-mail: the critical ones (gateway offline, records dropped).
    expect(notifications.filter((n) => n.receiver === 'campus-email').map((n) => [n.group, n.alerts.map((a) => a['alertname'])]).sort()).toEqual([
      ['district=北碚区,school=bs-s01', ['Gateway outbox dropped records']],
      ['district=渝中区,school=yz-s02', ['Gateway offline']],
    ]);
  });
});
