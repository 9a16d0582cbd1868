import type { DeviceKind, LinkRole } from '../../protocol/src/kinds.ts';
import { Rng, seedFrom } from './random.ts';
import { topicIdSchema } from '../../protocol/src/ids.ts';
import { SIM_ERR, SimError } from './errors.ts';
import { parseInventory } from '../../broker/src/inventoryCsv.ts';

export interface DistrictSpec {
  /** Registry id, also the InfluxDB tag value and topic level: the district's Chinese name. */
  id: string;
  nameEn: string;
  /** Short ASCII code used in school, gateway and device ids. */
  code: string;
}

/** Districts of the city the fleet simulates (docs/design.md). */
export const SEED_DISTRICTS: readonly DistrictSpec[] = [
  { id: '渝中区', nameEn: 'Yuzhong', code: 'yz' },
  { id: '江北区', nameEn: 'Jiangbei', code: 'jb' },
  { id: '两江新区', nameEn: 'Liangjiang', code: 'lj' },
  { id: '铜梁区', nameEn: 'Tongliang', code: 'tl' },
  { id: '璧山区', nameEn: 'Bishan', code: 'bs' },
  { id: '沙坪坝区', nameEn: 'Shapingba', code: 'spb' },
];

export interface FleetSpec {
  seed: number;
  districts: readonly DistrictSpec[];
  schoolsPerDistrict: number;
  roomsPerSchool: number;
  vrKitsPerSchool: number;
  /** Access switches per school, besides the school uplink. */
  accessSwitchesPerSchool: number;
  /** Share of schools (0–1) with a science kiosk in the lobby; none when unset. */
  kioskSchoolShare?: number;
}

export interface SimDevice {
  id: string;
  kind: DeviceKind;
  room: string;
  /** For network nodes. */
  link?: { role: LinkRole; capacityBps: number };
  /** For classroom AV: this room hosts a synchronous classroom. */
  synchronous?: boolean;
}

export interface SimSchool {
  id: string;
  /** The school's Chinese name. */
  name: string;
  nameEn?: string;
  district: string;
  gateway: string;
  devices: SimDevice[];
}

export interface Fleet {
  districts: readonly DistrictSpec[];
  schools: SimSchool[];
}

export function deviceCount(f: Fleet): number {
  return f.schools.reduce((n, s) => n + s.devices.length, 0);
}

/** The same spec always yields the same fleet. */
export function generateFleet(spec: FleetSpec): Fleet {
  const rng = new Rng(spec.seed);
  // Their own stream, so adding kiosks leaves every other device of a seed's fleet as it was.
  const kioskRng = new Rng(seedFrom(spec.seed, 'science_kiosk'));
  const schools: SimSchool[] = [];
  for (const d of spec.districts) {
    for (let s = 1; s <= spec.schoolsPerDistrict; s++) {
      const id = `${d.code}-s${String(s).padStart(2, '0')}`;
      const devices: SimDevice[] = [];
      for (let r = 1; r <= spec.roomsPerSchool; r++) {
        const room = `r${String(r).padStart(2, '0')}`;
        devices.push({ id: `${id}-${room}-av`, kind: 'classroom_av', room, synchronous: rng.chance(0.2) });
        devices.push({ id: `${id}-${room}-board`, kind: 'interactive_board', room });
      }
      for (let v = 1; v <= spec.vrKitsPerSchool; v++) {
        devices.push({ id: `${id}-vr${String(v).padStart(2, '0')}`, kind: 'vr_kit', room: 'vr-lab' });
      }
      devices.push({
        id: `${id}-uplink`,
        kind: 'network_node',
        room: 'server-room',
        link: { role: 'school_uplink', capacityBps: rng.pick([100e6, 300e6, 500e6, 1e9]) },
      });
      for (let a = 1; a <= spec.accessSwitchesPerSchool; a++) {
        devices.push({
          id: `${id}-sw${String(a).padStart(2, '0')}`,
          kind: 'network_node',
          room: 'server-room',
          link: { role: 'access', capacityBps: 1e9 },
        });
      }
      if (kioskRng.chance(spec.kioskSchoolShare ?? 0)) devices.push({ id: `${id}-kiosk`, kind: 'science_kiosk', room: 'lobby' });
      schools.push({ id, name: `${d.id}第${s}中学`, nameEn: `${d.nameEn} No. ${s} Middle School`, district: d.id, gateway: `gw-${id}`, devices });
    }
  }
  return { districts: spec.districts, schools };
}

/** `id:nameEn:code,...` from configuration, e.g. `万州区:Wanzhou:wz`. */
export function parseDistrictList(s: string): DistrictSpec[] {
  return s
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean)
    .map((item) => {
      const parts = item.split(':');
      const [id, nameEn, code] = parts;
      if (parts.length !== 3 || !id || !nameEn || !code || !/^[a-z0-9]+$/.test(code) || !topicIdSchema.safeParse(id).success) {
        throw new SimError(SIM_ERR.BAD_DISTRICT, `district "${item}" must be id:nameEn:code, the id a valid topic level, the code lower-case ASCII`);
      }
      return { id, nameEn, code };
    });
}

/** The fleet with only the schools named (ids); an empty list keeps every school. */
export function onlySchools(fleet: Fleet, ids: readonly string[]): Fleet {
  if (ids.length === 0) return fleet;
  const known = new Set(fleet.schools.map((s) => s.id));
  const unknown = ids.filter((id) => !known.has(id));
  if (unknown.length > 0) throw new SimError(SIM_ERR.UNKNOWN_SCHOOL, `no such school in the fleet: ${unknown.join(', ')}`);
  const wanted = new Set(ids);
  return { ...fleet, schools: fleet.schools.filter((s) => wanted.has(s.id)) };
}

/**
 * The devices of a school's inventory file (the hub's CSV format, broker/README.md, Inventory
 * CSV), to simulate exactly what a school registered. Devices alone connect to their school's
 * gateway, so the gateway id is the conventional `gw-<school>` (for SIM_LAN_URL's `{gateway}`)
 * and the district is not needed (left empty). SIM_ERR.BAD_INVENTORY names every bad row.
 */
export function fleetFromInventory(bytes: Uint8Array): Fleet {
  const { rows, errors } = parseInventory(bytes);
  if (errors.length > 0) {
    throw new SimError(SIM_ERR.BAD_INVENTORY, `the inventory has ${errors.length} problem(s): ${errors.map((e) => `line ${e.line}: ${e.code}: ${e.reason}`).join('; ')}`);
  }
  const schools = new Map<string, SimSchool>();
  for (const r of rows) {
    let s = schools.get(r.school);
    if (!s) schools.set(r.school, (s = { id: r.school, name: r.school, district: '', gateway: `gw-${r.school}`, devices: [] }));
    s.devices.push({ id: r.id, kind: r.kind, room: r.room, ...(r.linkRole !== null && r.capacityBps !== null ? { link: { role: r.linkRole, capacityBps: r.capacityBps } } : {}) });
  }
  return { districts: [], schools: [...schools.values()] };
}
