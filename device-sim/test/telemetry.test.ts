import { describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS, type SimDevice } from '../src/fleet.ts';
import { CADENCE_MS, DeviceStream } from '../src/telemetry.ts';
import { deviceSampleSchema, type DeviceSample } from '../../protocol/src/telemetry.ts';

const SEED = 7;
const T0 = Date.UTC(2025, 8, 1, 8, 0, 0);
const TWO_64 = 1n << 64n;

const fleet = generateFleet({
  seed: SEED,
  districts: SEED_DISTRICTS,
  schoolsPerDistrict: 2,
  roomsPerSchool: 6,
  vrKitsPerSchool: 2,
  accessSwitchesPerSchool: 2,
});
const devices = fleet.schools.flatMap((s) => s.devices);

function run(device: SimDevice, n: number, stepMs = CADENCE_MS[device.kind], seed = SEED): DeviceSample[] {
  const s = new DeviceStream(device, seed);
  return Array.from({ length: n }, (_, i) => s.next(T0 + i * stepMs));
}

type DataOf<K extends DeviceSample['kind']> = Extract<DeviceSample, { kind: K }>['data'];

/** The sample's data, after checking its kind. */
function dataOf<K extends DeviceSample['kind']>(s: DeviceSample, kind: K): DataOf<K> {
  if (s.kind !== kind) throw new Error(`expected ${kind}, got ${s.kind}`);
  return s.data as unknown as DataOf<K>;
}

describe('DeviceStream', () => {
  it('the fleet under test has every kind, and both synchronous and ordinary AVs', () => {
    expect(new Set(devices.map((d) => d.kind))).toEqual(new Set(['classroom_av', 'interactive_board', 'vr_kit', 'network_node']));
    const avs = devices.filter((d) => d.kind === 'classroom_av');
    expect(avs.some((d) => d.synchronous)).toBe(true);
    expect(avs.some((d) => !d.synchronous)).toBe(true);
  });

  it('every sample of every device parses with deviceSampleSchema, unchanged', () => {
    for (const d of devices) {
      for (const sample of run(d, 50)) {
        const r = deviceSampleSchema.safeParse(sample);
        expect(r.success, `${d.id} seq ${sample.seq}: ${r.error?.message}`).toBe(true);
        expect(r.data).toEqual(sample);
        expect(sample.device).toBe(d.id);
        expect(sample.kind).toBe(d.kind);
      }
    }
  });

  it('seq goes 0, 1, 2, … and `produced` counts the samples', () => {
    const d = devices[0]!;
    const s = new DeviceStream(d, SEED);
    expect(s.produced).toBe(0);
    const got = Array.from({ length: 6 }, (_, i) => s.next(T0 + i * 30_000).seq);
    expect(got).toEqual([0, 1, 2, 3, 4, 5]);
    expect(s.produced).toBe(6);
  });

  it('timestamps follow the wall clock when it advances', () => {
    const s = new DeviceStream(devices[0]!, SEED);
    expect([T0, T0 + 30_000, T0 + 60_001].map((t) => s.next(t).ts)).toEqual([T0, T0 + 30_000, T0 + 60_001]);
  });

  it('timestamps strictly increase even for a repeated or backwards wall time', () => {
    for (const d of devices.slice(0, 8)) {
      const s = new DeviceStream(d, SEED);
      const ts = [T0, T0, T0, T0, T0 - 5000, T0 + 2, T0 + 10_000].map((t) => s.next(t).ts);
      expect(ts).toEqual([T0, T0 + 1, T0 + 2, T0 + 3, T0 + 4, T0 + 5, T0 + 10_000]);
    }
  });

  it('the same seed and device give the identical sample sequence for identical ts inputs', () => {
    for (const d of devices) {
      const inputs = Array.from({ length: 40 }, (_, i) => T0 + i * 17_000 - (i % 3) * 20_000);
      const a = new DeviceStream(d, SEED);
      const b = new DeviceStream(d, SEED);
      expect(inputs.map((t) => a.next(t))).toEqual(inputs.map((t) => b.next(t)));
    }
  });

  it('a different seed gives a different sequence for the same device', () => {
    for (const d of devices.slice(0, 20)) {
      expect(run(d, 20, undefined, SEED + 1)).not.toEqual(run(d, 20));
    }
  });

  it('two devices with the same seed get different streams', () => {
    const uplinks = devices.filter((d) => d.link?.role === 'access');
    const a = run(uplinks[0]!, 5).map((s) => dataOf(s, 'network_node').octetsIn);
    const b = run(uplinks[1]!, 5).map((s) => dataOf(s, 'network_node').octetsIn);
    expect(a).not.toEqual(b);
  });

  describe('network nodes', () => {
    const nodes = devices.filter((d) => d.kind === 'network_node');

    it('covers every school uplink capacity and the access switches', () => {
      expect(new Set(nodes.map((d) => d.link!.capacityBps))).toEqual(new Set([100e6, 300e6, 500e6, 1e9]));
      expect(nodes.filter((d) => d.link!.role === 'access').length).toBe(24);
    });

    it('reports its role and capacity, operationally up', () => {
      for (const d of nodes) {
        const data = dataOf(run(d, 1)[0]!, 'network_node');
        expect(data.role).toBe(d.link!.role);
        expect(data.capacityBps).toBe(d.link!.capacityBps);
        expect(data.operUp).toBe(true);
      }
    });

    it('octet counters are decimal strings that never decrease (mod 2^64) and grow at most at line rate', () => {
      for (const d of nodes) {
        const cap = BigInt(d.link!.capacityBps);
        const maxPer30s = (cap * 30n) / 8n;
        const samples = run(d, 300, 30_000);
        let prev: { in: bigint; out: bigint; ts: number } | undefined;
        for (const sample of samples) {
          const data = dataOf(sample, 'network_node');
          expect(data.octetsIn).toMatch(/^(0|[1-9][0-9]*)$/);
          expect(data.octetsOut).toMatch(/^(0|[1-9][0-9]*)$/);
          const cur = { in: BigInt(data.octetsIn), out: BigInt(data.octetsOut), ts: sample.ts };
          expect(cur.in < TWO_64 && cur.out < TWO_64).toBe(true);
          if (prev) {
            expect(cur.ts - prev.ts).toBe(30_000);
            // A decrease is only a wrap: the modular increase must still be within line rate.
            const dIn = (cur.in - prev.in + TWO_64) % TWO_64;
            const dOut = (cur.out - prev.out + TWO_64) % TWO_64;
            expect(dIn > 0n && dIn <= maxPer30s, `${d.id} in +${dIn} > ${maxPer30s}`).toBe(true);
            expect(dOut > 0n && dOut <= maxPer30s, `${d.id} out +${dOut} > ${maxPer30s}`).toBe(true);
          }
          prev = cur;
        }
      }
    });

    it('the counter increase scales with the elapsed time between samples', () => {
      const d = nodes.find((n) => n.link!.role === 'school_uplink')!;
      const lineRate = BigInt(d.link!.capacityBps) / 8n; // bytes per second
      const s = new DeviceStream(d, SEED);
      const first = BigInt(dataOf(s.next(T0), 'network_node').octetsIn);
      const after1s = BigInt(dataOf(s.next(T0 + 1000), 'network_node').octetsIn);
      const after1ms = BigInt(dataOf(s.next(T0 + 1001), 'network_node').octetsIn);
      expect(after1s - first).toBeGreaterThan(0n);
      expect(after1s - first).toBeLessThanOrEqual(lineRate);
      expect(after1ms - after1s).toBeLessThanOrEqual(lineRate / 1000n);
    });
  });

  describe('classroom AV', () => {
    const avs = devices.filter((d) => d.kind === 'classroom_av');

    it('streamKbps and streamLossPct appear exactly when in session on a synchronous classroom', () => {
      let streamed = 0;
      let syncIdle = 0;
      let plainInSession = 0;
      for (const d of avs) {
        for (const sample of run(d, 200)) {
          const data = dataOf(sample, 'classroom_av');
          const expectStream = data.inSession && d.synchronous === true;
          expect('streamKbps' in data, `${d.id} seq ${sample.seq}`).toBe(expectStream);
          expect('streamLossPct' in data, `${d.id} seq ${sample.seq}`).toBe(expectStream);
          if (expectStream) streamed++;
          if (d.synchronous && !data.inSession) syncIdle++;
          if (!d.synchronous && data.inSession) plainInSession++;
          if (data.inSession) expect(data.power).toBe('on');
        }
      }
      // All three situations really occurred.
      expect(streamed).toBeGreaterThan(0);
      expect(syncIdle).toBeGreaterThan(0);
      expect(plainInSession).toBeGreaterThan(0);
    });

    it('an AV without a synchronous flag never streams', () => {
      const d: SimDevice = { id: 'x-s01-r01-av', kind: 'classroom_av', room: 'r01' };
      const samples = run(d, 300);
      expect(samples.some((s) => dataOf(s, 'classroom_av').inSession)).toBe(true);
      for (const s of samples) expect('streamKbps' in dataOf(s, 'classroom_av')).toBe(false);
    });

    it('lamp hours never decrease', () => {
      for (const d of avs.slice(0, 10)) {
        const hours = run(d, 300).map((s) => dataOf(s, 'classroom_av').lampHours);
        for (let i = 1; i < hours.length; i++) expect(hours[i]!).toBeGreaterThanOrEqual(hours[i - 1]!);
      }
    });
  });

  describe('VR kits', () => {
    const kits = devices.filter((d) => d.kind === 'vr_kit');

    it('battery stays within 0..100 over 1000 samples, and the kit goes through charging', () => {
      for (const d of kits) {
        const samples = run(d, 1000).map((s) => dataOf(s, 'vr_kit'));
        const pct = samples.map((s) => s.batteryPct);
        expect(Math.min(...pct)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...pct)).toBeLessThanOrEqual(100);
        expect(samples.some((s) => s.charging)).toBe(true);
        expect(samples.some((s) => !s.charging)).toBe(true);
        for (const s of samples) if (s.charging) expect(s.inSession).toBe(false);
      }
    });

    it('battery stays within 0..100 with long gaps between samples (hours apart)', () => {
      for (const d of kits) {
        const pct = run(d, 1000, 3 * 3_600_000).map((s) => dataOf(s, 'vr_kit').batteryPct);
        expect(Math.min(...pct)).toBeGreaterThanOrEqual(0);
        expect(Math.max(...pct)).toBeLessThanOrEqual(100);
      }
    });
  });

  it('interactive boards report one firmware version for their whole life', () => {
    for (const d of devices.filter((x) => x.kind === 'interactive_board').slice(0, 10)) {
      const fw = new Set(run(d, 50).map((s) => dataOf(s, 'interactive_board').firmware));
      expect(fw.size).toBe(1);
      expect([...fw][0]).toMatch(/^v[2-4]\.\d\.\d{1,2}$/);
    }
  });
});

describe('science kiosks', () => {
  const kiosks = generateFleet({ seed: SEED, districts: SEED_DISTRICTS, schoolsPerDistrict: 10, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0, kioskSchoolShare: 1 })
    .schools.flatMap((s) => s.devices)
    .filter((d) => d.kind === 'science_kiosk');
  // A day of samples at the kiosks' 60 s cadence.
  const day = (d: SimDevice) => run(d, 1440).map((s) => dataOf(s, 'science_kiosk'));

  it('report every 60 s, and every sample parses', () => {
    expect(CADENCE_MS.science_kiosk).toBe(60_000);
    expect(kiosks).toHaveLength(60);
    for (const d of kiosks.slice(0, 5)) for (const s of run(d, 100)) expect(deviceSampleSchema.parse(s)).toEqual(s);
  });

  it('a working kiosk syncs at least hourly: its sync age never passes 3600 + 60 s, and drops back after a sync', () => {
    const working = kiosks.map(day).filter((xs) => xs.every((x) => x.contentSyncAgeS < 86_400));
    expect(working.length).toBeGreaterThan(50);
    for (const xs of working) {
      expect(Math.max(...xs.slice(60).map((x) => x.contentSyncAgeS))).toBeLessThanOrEqual(3660);
      expect(xs.some((x, i) => i > 0 && x.contentSyncAgeS < xs[i - 1]!.contentSyncAgeS)).toBe(true);
    }
  });

  it('a kiosk whose sync is broken grows stale by 60 s a sample, and some of the fleet is', () => {
    const stale = kiosks.map(day).filter((xs) => xs[0]!.contentSyncAgeS >= 86_400);
    expect(stale.length).toBeGreaterThan(0);
    for (const xs of stale) expect(xs.every((x, i) => i === 0 || x.contentSyncAgeS === xs[i - 1]!.contentSyncAgeS + 60)).toBe(true);
  });

  it('free disk stays within the 256 GiB disk, shrinks with syncs and is freed below 4 GiB', () => {
    for (const xs of kiosks.map(day)) {
      expect(xs.every((x) => x.freeDiskMiB >= 0 && x.freeDiskMiB <= 256 * 1024)).toBe(true);
      for (let i = 1; i < xs.length; i++) {
        const delta = xs[i]!.freeDiskMiB - xs[i - 1]!.freeDiskMiB;
        if (delta > 0) expect(xs[i - 1]!.freeDiskMiB - 400).toBeLessThan(4096); // freed only after a sync took it below 4 GiB
      }
    }
  });

  it('the screen is dark whenever the kiosk is in standby', () => {
    for (const xs of kiosks.slice(0, 10).map(day)) for (const x of xs) if (x.power !== 'on') expect(x.screenOn).toBe(false);
  });
});

describe('DeviceStream.carryOut: commands on the simulated state', () => {
  const of = (kind: SimDevice['kind']) => devices.find((d) => d.kind === kind)!;

  it('a board switched to vga reports vga in every later sample; all else is the stream without the switch', () => {
    const board = of('interactive_board');
    const plain = run(board, 30);
    const s = new DeviceStream(board, SEED);
    const switched = Array.from({ length: 30 }, (_, i) => {
      if (i === 10) expect(s.carryOut({ action: 'switch_input', input: 'vga' })).toEqual({ status: 'done' });
      return s.next(T0 + i * CADENCE_MS[board.kind]);
    });
    // The simulator never draws vga by itself: only the switch can make it.
    expect(plain.filter((x) => dataOf(x, 'interactive_board').activeInput === 'vga')).toEqual([]);
    expect(switched.slice(0, 10)).toEqual(plain.slice(0, 10));
    for (let i = 10; i < 30; i++) expect(switched[i]).toEqual({ ...plain[i], data: { ...dataOf(plain[i]!, 'interactive_board'), activeInput: 'vga' } });
  });

  it('classroom AV answers done with its telemetry unchanged; a VR kit fails switch_input with the reason, and takes reboot', () => {
    const av = of('classroom_av');
    const plain = run(av, 5);
    const s = new DeviceStream(av, SEED);
    expect(s.carryOut({ action: 'switch_input', input: 'hdmi2' })).toEqual({ status: 'done' });
    expect(Array.from({ length: 5 }, (_, i) => s.next(T0 + i * CADENCE_MS[av.kind]))).toEqual(plain);
    const vr = new DeviceStream(of('vr_kit'), SEED);
    expect(vr.carryOut({ action: 'switch_input', input: 'hdmi2' })).toEqual({ status: 'failed', detail: 'switch_input is not for a vr_kit (only interactive_board, classroom_av)' });
    expect(vr.carryOut({ action: 'reboot' })).toEqual({ status: 'done' });
  });
});
