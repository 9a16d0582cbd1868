import { z } from 'zod';
import { COMMAND_INPUTS } from './commands.ts';

export const DEVICE_KINDS = ['classroom_av', 'interactive_board', 'vr_kit', 'network_node', 'science_kiosk'] as const;
export const deviceKindSchema = z.enum(DEVICE_KINDS);
export type DeviceKind = z.infer<typeof deviceKindSchema>;

export const LINK_ROLES = ['school_uplink', 'district_uplink', 'backbone', 'access'] as const;
export const linkRoleSchema = z.enum(LINK_ROLES);
export type LinkRole = z.infer<typeof linkRoleSchema>;

/** 64-bit octet counters travel as decimal strings: JSON numbers lose precision above 2^53. */
export const MAX_U64 = (1n << 64n) - 1n;
const U64_DIGITS = /^(0|[1-9][0-9]{0,19})$/;

/**
 * A regular expression for the decimal integers 0 … max, for the JSON Schema files (which cannot
 * run the refinement): fewer digits than max, or as many and, at the first digit that differs,
 * a smaller one.
 */
export function decimalAtMostPattern(max: bigint): string {
  const d = max.toString();
  const alts = ['0', `[1-9][0-9]{0,${d.length - 2}}`];
  for (let i = 0; i < d.length; i++) {
    const digit = Number(d[i]);
    const low = i === 0 ? 1 : 0;
    if (digit > low) alts.push(`${d.slice(0, i)}[${low}-${digit - 1}]${i < d.length - 1 ? `[0-9]{${d.length - 1 - i}}` : ''}`);
  }
  alts.push(d);
  return `^(${alts.join('|')})$`;
}
export const u64StringSchema = z
  .string()
  // One check, so BigInt() never sees a string that is not plain digits (zod runs every
  // refinement even after a failed regex, and BigInt('1e3') throws).
  .refine((s) => U64_DIGITS.test(s) && BigInt(s) <= MAX_U64, {
    message: 'must be an unsigned decimal integer string below 2^64',
  })
  .meta({ pattern: decimalAtMostPattern(MAX_U64) });

const power = z.enum(['on', 'standby', 'off']);
const finite = z.number().finite();

export const classroomAvDataSchema = z.strictObject({
  power,
  lampHours: finite.min(0).max(200_000),
  temperatureC: finite.min(-40).max(150),
  inSession: z.boolean(),
  /** Synchronous-classroom stream, present only while a lesson is streamed. */
  streamKbps: finite.min(0).max(1_000_000).optional(),
  streamLossPct: finite.min(0).max(100).optional(),
}).meta({ examples: [{ power: 'on', lampHours: 1200.5, temperatureC: 41.5, inSession: true, streamKbps: 2500, streamLossPct: 0.2 }] });

export const interactiveBoardDataSchema = z.strictObject({
  power,
  touchOk: z.boolean(),
  /** The inputs switch_input selects, or none. */
  activeInput: z.enum([...COMMAND_INPUTS, 'none']),
  firmware: z.string().min(1).max(64).regex(/^[\x20-\x7e]+$/, 'must be printable ASCII'),
}).meta({ examples: [{ power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v3.2.11' }] });

export const vrKitDataSchema = z.strictObject({
  batteryPct: finite.min(0).max(100),
  charging: z.boolean(),
  inSession: z.boolean(),
}).meta({ examples: [{ batteryPct: 80, charging: false, inSession: true }] });

export const networkNodeDataSchema = z.strictObject({
  role: linkRoleSchema,
  capacityBps: z.number().int().positive().max(400e9),
  octetsIn: u64StringSchema,
  octetsOut: u64StringSchema,
  operUp: z.boolean(),
}).meta({ examples: [{ role: 'school_uplink', capacityBps: 1_000_000_000, octetsIn: '18446744073709551615', octetsOut: '912345678901', operUp: true }] });

/**
 * Science kiosks (科普 terminals): a screen showing the science platform's content, synced from it.
 * Whole seconds and whole MiB: a sync runs hourly or daily and disks are counted in MiB by `df -m`,
 * so finer figures would be noise, and integers are stored exactly.
 */
export const scienceKioskDataSchema = z.strictObject({
  power,
  screenOn: z.boolean(),
  /** Seconds since the last complete content sync; at most 10 years, longer than a kiosk's service life. */
  contentSyncAgeS: z.number().int().min(0).max(315_360_000),
  /** Free disk for content, MiB; at most 16 TiB (2^24 MiB), above any kiosk's disk. */
  freeDiskMiB: z.number().int().min(0).max(16_777_216),
}).meta({ examples: [{ power: 'on', screenOn: true, contentSyncAgeS: 1800, freeDiskMiB: 51_200 }] });

export type ClassroomAvData = z.infer<typeof classroomAvDataSchema>;
export type InteractiveBoardData = z.infer<typeof interactiveBoardDataSchema>;
export type VrKitData = z.infer<typeof vrKitDataSchema>;
export type NetworkNodeData = z.infer<typeof networkNodeDataSchema>;
export type ScienceKioskData = z.infer<typeof scienceKioskDataSchema>;

/**
 * Each kind's `data` schema: the one per-kind table of the wire contract (telemetry.ts builds the
 * sample unions from it, the JSON Schema files and the device kit's example samples come from it).
 */
export const KIND_DATA_SCHEMAS = {
  classroom_av: classroomAvDataSchema,
  interactive_board: interactiveBoardDataSchema,
  vr_kit: vrKitDataSchema,
  network_node: networkNodeDataSchema,
  science_kiosk: scienceKioskDataSchema,
} as const satisfies Record<DeviceKind, z.ZodType>;

/** A valid `data` of a kind, from its schema's examples. */
export function exampleData<K extends DeviceKind>(kind: K): z.infer<(typeof KIND_DATA_SCHEMAS)[K]> {
  const examples = z.globalRegistry.get(KIND_DATA_SCHEMAS[kind])?.examples as unknown[] | undefined;
  return structuredClone(examples![0]) as z.infer<(typeof KIND_DATA_SCHEMAS)[K]>;
}

/** Link capacities by role (docs/design.md#bandwidth): school uplinks are 100M–1G. */
export const ROLE_CAPACITY_BPS: Record<LinkRole, { min: number; max: number }> = {
  school_uplink: { min: 100e6, max: 1e9 },
  district_uplink: { min: 10e9, max: 10e9 },
  backbone: { min: 100e9, max: 100e9 },
  access: { min: 100e6, max: 10e9 },
};
