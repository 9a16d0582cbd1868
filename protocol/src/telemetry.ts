import { z } from 'zod';
import { deviceIdSchema, topicIdSchema } from './ids.ts';
import {
  deviceKindSchema,
  type DeviceKind,
  classroomAvDataSchema,
  interactiveBoardDataSchema,
  networkNodeDataSchema,
  scienceKioskDataSchema,
  vrKitDataSchema,
} from './kinds.ts';

/** Earliest device timestamp accepted anywhere: 2020-01-01T00:00:00Z. */
export const MIN_TIMESTAMP_MS = Date.UTC(2020, 0, 1);

const common = {
  device: deviceIdSchema,
  /** Per-device sequence number, so that gaps and duplicates are detectable. */
  seq: z.number().int().min(0).max(Number.MAX_SAFE_INTEGER),
  /** Device timestamp, milliseconds since the Unix epoch. */
  ts: z.number().int().min(MIN_TIMESTAMP_MS).max(Date.UTC(2100, 0, 1)),
};

/** One sample as a device publishes it on the campus LAN. */
export const deviceSampleSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...common, kind: z.literal('classroom_av'), data: classroomAvDataSchema }),
  z.strictObject({ ...common, kind: z.literal('interactive_board'), data: interactiveBoardDataSchema }),
  z.strictObject({ ...common, kind: z.literal('vr_kit'), data: vrKitDataSchema }),
  z.strictObject({ ...common, kind: z.literal('network_node'), data: networkNodeDataSchema }),
  z.strictObject({ ...common, kind: z.literal('science_kiosk'), data: scienceKioskDataSchema }),
]);
export type DeviceSample = z.infer<typeof deviceSampleSchema>;

/** Whether a sample reports a clean power-off (`power: off`): the device is `off`, not `down`, until heard again. */
export function reportsPowerOff(sample: DeviceSample): boolean {
  return 'power' in sample.data && sample.data.power === 'off';
}

/** A sample as the gateway forwards it: stamped with its receive time, maybe historical. */
export type TelemetryRecord = DeviceSample & {
  /** Gateway receive time, ms since epoch. */
  rx: number;
  /** Replayed from the outbox after an outage: never overwrites live state. */
  hist?: boolean;
  /** Network nodes: the rate since the previous sample, computed at the edge from the counters. */
  rate?: Rate;
};

const rateSchema = z.strictObject({ rxBps: z.number().finite().min(0), txBps: z.number().finite().min(0) });
export type Rate = z.infer<typeof rateSchema>;

export const AVAILABILITY_STATES = ['up', 'down', 'off'] as const;
export type AvailabilityState = (typeof AVAILABILITY_STATES)[number];

/**
 * The gateway's observation of one device for one minute (docs/design.md#availability): `up`, `down`, or `off`
 * (a clean or scheduled power-off). Sent through the outbox like telemetry, so an outage of the
 * WAN is filled in when the gateway replays; a minute with no record is `unknown`.
 */
export interface AvailabilityRecord {
  kind: 'availability';
  device: string;
  deviceKind: DeviceKind;
  /** The minute, as an index (ts / 60 000): unique per device. */
  seq: number;
  /** The start of the minute, ms since epoch. */
  ts: number;
  state: AvailabilityState;
  rx: number;
  hist?: boolean;
}

/** What a gateway's outbox holds and sends. */
export type OutboxRecord = TelemetryRecord | AvailabilityRecord;

/**
 * The envelope a gateway sends to the hub. Records are validated one by one at the hub, so one
 * bad record never costs the rest of its batch; only the envelope is parsed here.
 */
export const telemetryBatchEnvelopeSchema = z.strictObject({
  v: z.literal(1),
  gateway: topicIdSchema,
  batch: z.string().min(1).max(64),
  records: z.array(z.unknown()).max(10_000),
});
export type TelemetryBatchEnvelope = z.infer<typeof telemetryBatchEnvelopeSchema>;

export const telemetryRecordSchema = z.discriminatedUnion('kind', [
  z.strictObject({ ...common, kind: z.literal('classroom_av'), data: classroomAvDataSchema, rx: z.number().int(), hist: z.boolean().optional() }),
  z.strictObject({ ...common, kind: z.literal('interactive_board'), data: interactiveBoardDataSchema, rx: z.number().int(), hist: z.boolean().optional() }),
  z.strictObject({ ...common, kind: z.literal('vr_kit'), data: vrKitDataSchema, rx: z.number().int(), hist: z.boolean().optional() }),
  z.strictObject({ ...common, kind: z.literal('network_node'), data: networkNodeDataSchema, rx: z.number().int(), hist: z.boolean().optional(), rate: rateSchema.optional() }),
  z.strictObject({ ...common, kind: z.literal('science_kiosk'), data: scienceKioskDataSchema, rx: z.number().int(), hist: z.boolean().optional() }),
  z.strictObject({
    ...common,
    kind: z.literal('availability'),
    deviceKind: deviceKindSchema,
    state: z.enum(AVAILABILITY_STATES),
    rx: z.number().int(),
    hist: z.boolean().optional(),
  }),
]);

export interface TelemetryBatch {
  v: 1;
  gateway: string;
  batch: string;
  records: OutboxRecord[];
}

/**
 * Every reason the gateway gives on `lan/v1/err`. docs/devices.md (Refusals) has a row for each,
 * checked by a test; a device treats a reason it does not know like `invalid_sample`.
 */
export const LAN_REFUSAL_REASONS = [
  'oversize_payload',
  'malformed_json',
  'invalid_sample',
  'too_many_devices',
  'too_many_sessions',
  'unregistered',
  'kind_mismatch',
  'clock_ahead',
  'clock_behind',
] as const;
export type LanRefusalReason = (typeof LAN_REFUSAL_REASONS)[number];

/**
 * Gateway → devices on `lan/v1/err` (LAN_ERROR_TOPIC): why a message of the named device was
 * refused at the edge, so the device (and its vendor) can see it, not only a counter.
 */
export const lanErrorSchema = z.strictObject({
  v: z.literal(1),
  device: z.string().max(128),
  /** A stable code, one of LAN_REFUSAL_REASONS (a string: more may be added). */
  reason: z.string().min(1).max(64),
  detail: z.string().max(500),
  /** The refused sample's sequence number, when it had one. */
  seq: z.number().int().nonnegative().optional(),
  /** When the gateway refused it, ms since the epoch, by its clock. */
  at: z.number().int().positive(),
});
export type LanError = z.infer<typeof lanErrorSchema>;
