import { describe, expect, it } from 'vitest';
import { deviceCount, generateFleet, parseDistrictList, SEED_DISTRICTS, type FleetSpec } from '../src/fleet.ts';
import { deviceIdSchema, topicIdSchema } from '../../protocol/src/ids.ts';

const SPEC: FleetSpec = {
  seed: 42,
  districts: SEED_DISTRICTS,
  schoolsPerDistrict: 3,
  roomsPerSchool: 4,
  vrKitsPerSchool: 2,
  accessSwitchesPerSchool: 3,
};

const CAPACITIES = [100e6, 300e6, 500e6, 1e9];

/** A fingerprint of every random choice in a fleet: uplink capacities and synchronous flags. */
function randomChoices(spec: FleetSpec): string[] {
  return generateFleet(spec).schools.flatMap((s) =>
    s.devices.map((d) => `${d.id}=${d.link?.capacityBps ?? ''}/${d.synchronous ?? ''}`),
  );
}

describe('generateFleet', () => {
  it('is deterministic: the same spec yields deep-equal fleets', () => {
    expect(generateFleet(SPEC)).toEqual(generateFleet({ ...SPEC }));
  });

  it('a different seed changes at least one uplink capacity or synchronous flag', () => {
    const big = { ...SPEC, schoolsPerDistrict: 10, roomsPerSchool: 10 };
    const a = randomChoices({ ...big, seed: 1 });
    const b = randomChoices({ ...big, seed: 2 });
    expect(a.length).toBe(b.length);
    expect(a.filter((x, i) => x !== b[i]).length).toBeGreaterThan(0);
  });

  it('counts: 6 districts × 3 schools × (4 rooms × 2 + 2 VR + 1 uplink + 3 access) = 252 devices', () => {
    const f = generateFleet(SPEC);
    expect(f.schools.length).toBe(18);
    for (const s of f.schools) expect(s.devices.length).toBe(14);
    expect(deviceCount(f)).toBe(252);
    const byKind = new Map<string, number>();
    for (const s of f.schools) for (const d of s.devices) byKind.set(d.kind, (byKind.get(d.kind) ?? 0) + 1);
    expect(Object.fromEntries(byKind)).toEqual({
      classroom_av: 18 * 4,
      interactive_board: 18 * 4,
      vr_kit: 18 * 2,
      network_node: 18 * (1 + 3),
    });
  });

  it('a school with no rooms, VR kits or access switches still has its uplink', () => {
    const f = generateFleet({ ...SPEC, districts: SEED_DISTRICTS.slice(0, 2), schoolsPerDistrict: 2, roomsPerSchool: 0, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
    expect(deviceCount(f)).toBe(4);
    expect(f.schools.map((s) => s.devices.map((d) => d.id))).toEqual([
      ['yz-s01-uplink'],
      ['yz-s02-uplink'],
      ['jb-s01-uplink'],
      ['jb-s02-uplink'],
    ]);
  });

  it('an empty district list gives an empty fleet', () => {
    const f = generateFleet({ ...SPEC, districts: [] });
    expect(f.schools).toEqual([]);
    expect(deviceCount(f)).toBe(0);
  });

  it('names schools, gateways and devices by the documented formats', () => {
    const f = generateFleet({ ...SPEC, roomsPerSchool: 2, vrKitsPerSchool: 1, accessSwitchesPerSchool: 2 });
    expect(f.schools.map((s) => s.id)).toEqual([
      'yz-s01', 'yz-s02', 'yz-s03',
      'jb-s01', 'jb-s02', 'jb-s03',
      'lj-s01', 'lj-s02', 'lj-s03',
      'tl-s01', 'tl-s02', 'tl-s03',
      'bs-s01', 'bs-s02', 'bs-s03',
      'spb-s01', 'spb-s02', 'spb-s03',
    ]);
    const first = f.schools[0]!;
    expect(first.gateway).toBe('gw-yz-s01');
    expect(first.name).toBe('渝中区第1中学');
    expect(first.district).toBe('渝中区');
    expect(first.devices.map((d) => [d.id, d.kind, d.room])).toEqual([
      ['yz-s01-r01-av', 'classroom_av', 'r01'],
      ['yz-s01-r01-board', 'interactive_board', 'r01'],
      ['yz-s01-r02-av', 'classroom_av', 'r02'],
      ['yz-s01-r02-board', 'interactive_board', 'r02'],
      ['yz-s01-vr01', 'vr_kit', 'vr-lab'],
      ['yz-s01-uplink', 'network_node', 'server-room'],
      ['yz-s01-sw01', 'network_node', 'server-room'],
      ['yz-s01-sw02', 'network_node', 'server-room'],
    ]);
    expect(f.schools[17]!.gateway).toBe('gw-spb-s03');
    expect(f.schools[17]!.name).toBe('沙坪坝区第3中学');
  });

  it('pads numbers to two digits and keeps three-digit ones whole', () => {
    const f = generateFleet({ ...SPEC, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 100, roomsPerSchool: 10, vrKitsPerSchool: 10, accessSwitchesPerSchool: 0 });
    expect(f.schools[9]!.id).toBe('yz-s10');
    expect(f.schools[99]!.id).toBe('yz-s100');
    const ids = f.schools[0]!.devices.map((d) => d.id);
    expect(ids).toContain('yz-s01-r10-av');
    expect(ids).toContain('yz-s01-vr10');
  });

  it('district ids are the Chinese names, and every school points at one of them', () => {
    const f = generateFleet(SPEC);
    expect(f.districts.map((d) => d.id)).toEqual(['渝中区', '江北区', '两江新区', '铜梁区', '璧山区', '沙坪坝区']);
    expect([...new Set(f.schools.map((s) => s.district))]).toEqual(['渝中区', '江北区', '两江新区', '铜梁区', '璧山区', '沙坪坝区']);
    expect(f.schools.filter((s) => s.district === '两江新区').map((s) => s.id)).toEqual(['lj-s01', 'lj-s02', 'lj-s03']);
  });

  it('every school has exactly one school_uplink, with a capacity in {100M, 300M, 500M, 1G}', () => {
    const f = generateFleet({ ...SPEC, schoolsPerDistrict: 20 });
    const seen = new Set<number>();
    for (const s of f.schools) {
      const uplinks = s.devices.filter((d) => d.link?.role === 'school_uplink');
      expect(uplinks.length, s.id).toBe(1);
      const u = uplinks[0]!;
      expect(u.id).toBe(`${s.id}-uplink`);
      expect(u.kind).toBe('network_node');
      expect(CAPACITIES).toContain(u.link!.capacityBps);
      seen.add(u.link!.capacityBps);
    }
    // 120 schools: every capacity is used somewhere.
    expect([...seen].sort((a, b) => a - b)).toEqual(CAPACITIES);
  });

  it('access switches are 1 Gbit/s access links; only network nodes have links, only AVs a synchronous flag', () => {
    const f = generateFleet(SPEC);
    let synchronous = 0;
    let av = 0;
    for (const d of f.schools.flatMap((s) => s.devices)) {
      if (d.kind === 'network_node') expect(d.link).toBeDefined();
      else expect(d.link).toBeUndefined();
      if (/-sw\d\d$/.test(d.id)) expect(d.link).toEqual({ role: 'access', capacityBps: 1e9 });
      if (d.kind === 'classroom_av') {
        av++;
        expect(typeof d.synchronous).toBe('boolean');
        if (d.synchronous) synchronous++;
      } else {
        expect(d.synchronous).toBeUndefined();
      }
    }
    // Some but not all of the 72 classrooms are synchronous.
    expect(av).toBe(72);
    expect(synchronous).toBeGreaterThan(0);
    expect(synchronous).toBeLessThan(72);
  });

  it('all ids are unique and valid protocol ids', () => {
    const f = generateFleet(SPEC);
    const devices = f.schools.flatMap((s) => s.devices.map((d) => d.id));
    expect(new Set(devices).size).toBe(devices.length);
    for (const id of devices) expect(deviceIdSchema.safeParse(id).success, id).toBe(true);
    for (const s of f.schools) {
      for (const id of [s.id, s.gateway, s.district]) expect(topicIdSchema.safeParse(id).success, id).toBe(true);
    }
  });
});

describe('parseDistrictList', () => {
  it('parses one district', () => {
    expect(parseDistrictList('万州区:Wanzhou:wz')).toEqual([{ id: '万州区', nameEn: 'Wanzhou', code: 'wz' }]);
  });

  it('parses several, trimming whitespace and skipping empty items', () => {
    expect(parseDistrictList(' 万州区:Wanzhou:wz , 渝北区:Yubei:yb2,,')).toEqual([
      { id: '万州区', nameEn: 'Wanzhou', code: 'wz' },
      { id: '渝北区', nameEn: 'Yubei', code: 'yb2' },
    ]);
  });

  it('an empty string gives no districts', () => {
    expect(parseDistrictList('')).toEqual([]);
    expect(parseDistrictList(' , ')).toEqual([]);
  });

  it('round-trips the seed districts', () => {
    const s = SEED_DISTRICTS.map((d) => `${d.id}:${d.nameEn}:${d.code}`).join(',');
    expect(parseDistrictList(s)).toEqual(SEED_DISTRICTS);
  });

  it.each([
    ['万州区:Wanzhou', 'missing code'],
    ['万州区', 'id only'],
    [':Wanzhou:wz', 'empty id'],
    ['万州区::wz', 'empty English name'],
    ['万州区:Wanzhou:', 'empty code'],
    ['万州区:Wanzhou:WZ', 'upper-case code'],
    ['万州区:Wanzhou:w-z', 'code with a dash'],
    ['万州区:Wanzhou:万州', 'non-ASCII code'],
  ])('refuses %j (%s), quoting the item', (item) => {
    expect(() => parseDistrictList(`渝中区:Yuzhong:yz,${item}`)).toThrow(`district "${item}"`);
  });
});

describe('generateFleet: science kiosks', () => {
  const big = { ...SPEC, schoolsPerDistrict: 50 };
  it('none unless asked; with a share, one in the lobby of about that share of schools', () => {
    expect(generateFleet(big).schools.flatMap((s) => s.devices).some((d) => d.kind === 'science_kiosk')).toBe(false);
    const f = generateFleet({ ...big, kioskSchoolShare: 0.25 });
    const withKiosk = f.schools.filter((s) => s.devices.some((d) => d.kind === 'science_kiosk'));
    // 300 schools at 25 %: 75 expected; a binomial's 4 standard deviations (7.5 each) either side.
    expect(withKiosk.length).toBeGreaterThan(45);
    expect(withKiosk.length).toBeLessThan(105);
    for (const s of withKiosk) expect(s.devices.filter((d) => d.kind === 'science_kiosk')).toEqual([{ id: `${s.id}-kiosk`, kind: 'science_kiosk', room: 'lobby' }]);
    expect(generateFleet({ ...big, kioskSchoolShare: 1 }).schools.every((s) => s.devices.at(-1)!.kind === 'science_kiosk')).toBe(true);
  });

  it('adding kiosks leaves every other device of the seed as it was', () => {
    const without = generateFleet(big);
    const withK = generateFleet({ ...big, kioskSchoolShare: 0.5 });
    expect(withK.schools.map((s) => s.devices.filter((d) => d.kind !== 'science_kiosk'))).toEqual(without.schools.map((s) => s.devices));
  });
});
