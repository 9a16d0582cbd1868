import { formatIssues } from '../../runtime/src/errors.ts';
import { ROLE_CAPACITY_BPS } from '../../protocol/src/kinds.ts';
import { DEFAULT_TIMETABLE, expectedUp, type Timetable } from '../../protocol/src/schedule.ts';
import { telemetryBatchEnvelopeSchema, telemetryRecordSchema, type AvailabilityRecord, type TelemetryRecord } from '../../protocol/src/telemetry.ts';
import type { GatewayAddress } from '../../protocol/src/topics.ts';
import { encodePoint, LineProtocolError, type FieldValue, type Point } from './influx/lineProtocol.ts';
import type { DeviceRow } from './registry.ts';

/** Why a record or a whole message was refused; each is a counter label. */
export type RejectReason =
  | 'oversize_payload'
  | 'malformed_json'
  | 'bad_envelope'
  | 'gateway_mismatch'
  | 'invalid_record'
  | 'ts_in_future'
  | 'ts_too_old'
  | 'unknown_device'
  | 'foreign_device'
  | 'kind_mismatch'
  | 'capacity_out_of_range'
  | 'unencodable';

export interface Rejection {
  reason: RejectReason;
  detail: string;
  device?: string;
  index?: number;
}

export interface IngestLimits {
  maxPayloadBytes: number;
  /** How far ahead of the hub's clock a device timestamp may be. */
  maxFutureMs: number;
  /** How old a device timestamp may be (a long outage replayed late is still accepted). */
  maxAgeMs: number;
}

export interface IngestDeps {
  lookupDevice(id: string): DeviceRow | undefined;
  /** The school's timetable, for whether a device was expected up (defaults apply if absent). */
  timetableOf?(school: string): Timetable;
  now(): number;
}

export interface IngestResult {
  lines: string[];
  rejections: Rejection[];
  /** Accepted live (not replayed) availability observations, for the hub's presence. */
  liveAvailability: AvailabilityRecord[];
  /** The whole message was refused (bad JSON, bad envelope, oversize). */
  messageRejected: boolean;
}

/**
 * Turns one telemetry message of an authenticated gateway into line-protocol lines. Every record
 * is judged on its own: a bad one is refused with a reason and the rest still land. District,
 * school and gateway come from the gateway's registry identity, never from the payload.
 */
export function ingestTelemetry(
  gw: GatewayAddress,
  payload: Buffer,
  limits: IngestLimits,
  deps: IngestDeps,
): IngestResult {
  const whole = (reason: RejectReason, detail: string): IngestResult => ({
    lines: [],
    liveAvailability: [],
    rejections: [{ reason, detail }],
    messageRejected: true,
  });
  if (payload.length > limits.maxPayloadBytes) {
    return whole('oversize_payload', `${payload.length} bytes > ${limits.maxPayloadBytes}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(payload.toString('utf8'));
  } catch (e) {
    return whole('malformed_json', e instanceof Error ? e.message : 'not JSON');
  }
  const env = telemetryBatchEnvelopeSchema.safeParse(json);
  if (!env.success) return whole('bad_envelope', formatIssues(env.error.issues));
  if (env.data.gateway !== gw.gateway) {
    return whole('gateway_mismatch', `envelope names ${env.data.gateway}, connection is ${gw.gateway}`);
  }

  const lines: string[] = [];
  const rejections: Rejection[] = [];
  const liveAvailability: AvailabilityRecord[] = [];
  const now = deps.now();
  env.data.records.forEach((raw, index) => {
    let parsed;
    try {
      parsed = telemetryRecordSchema.safeParse(raw);
    } catch (e) {
      // A validator that throws must cost one record, never the batch or the process.
      rejections.push({ reason: 'invalid_record', detail: e instanceof Error ? e.message : 'validation failed', index });
      return;
    }
    if (!parsed.success) {
      const device = typeof (raw as { device?: unknown })?.device === 'string' ? (raw as { device: string }).device : undefined;
      rejections.push({ reason: 'invalid_record', detail: formatIssues(parsed.error.issues), index, ...(device ? { device } : {}) });
      return;
    }
    const r = parsed.data;
    const reject = (reason: RejectReason, detail: string) => rejections.push({ reason, detail, device: r.device, index });
    if (r.ts > now + limits.maxFutureMs) return reject('ts_in_future', `ts ${r.ts} is ${r.ts - now} ms ahead`);
    if (r.ts < now - limits.maxAgeMs) return reject('ts_too_old', `ts ${r.ts} is older than ${limits.maxAgeMs} ms`);
    const dev = deps.lookupDevice(r.device);
    if (!dev) return reject('unknown_device', 'device is not in the registry');
    if (dev.school !== gw.school) return reject('foreign_device', `device belongs to school ${dev.school}`);
    const deviceKind = r.kind === 'availability' ? r.deviceKind : r.kind;
    if (dev.kind !== deviceKind) return reject('kind_mismatch', `registered as ${dev.kind}, sent as ${deviceKind}`);
    if (r.kind === 'network_node') {
      const range = ROLE_CAPACITY_BPS[r.data.role];
      if (r.data.capacityBps < range.min || r.data.capacityBps > range.max) {
        return reject('capacity_out_of_range', `${r.data.role} links are ${range.min}–${range.max} bit/s, not ${r.data.capacityBps}`);
      }
    }
    try {
      const point =
        r.kind === 'availability'
          ? availabilityToPoint(gw, r, deps.timetableOf?.(gw.school) ?? DEFAULT_TIMETABLE, dev.room)
          : recordToPoint(gw, r, dev.room);
      lines.push(encodePoint(point));
      if (r.kind === 'availability' && !r.hist) liveAvailability.push(r);
    } catch (e) {
      if (e instanceof LineProtocolError) return reject('unencodable', e.message);
      throw e;
    }
  });
  return { lines, rejections, liveAvailability, messageRejected: false };
}

const f = (v: number): FieldValue => ({ t: 'float', v });
const i = (v: number | bigint): FieldValue => ({ t: 'int', v });
const b = (v: boolean): FieldValue => ({ t: 'bool', v });
const s = (v: string): FieldValue => ({ t: 'string', v });

/**
 * The InfluxDB point of a record (schema in docs/influx-schema.md). The series key is
 * measurement + tags and the timestamp is the device's, so a replayed duplicate writes the same
 * point and collapses.
 */
/**
 * One minute of one device's availability. `expected` is whether the device should have been up
 * (its kind and its school's timetable, and not cleanly powered off); `up_expected` is up while
 * expected. Availability over any range = sum(up_expected) / sum(expected); minutes without a
 * record are unknown and count on neither side.
 */
export function availabilityToPoint(gw: GatewayAddress, r: AvailabilityRecord, timetable: Timetable, room?: string): Point {
  const expected = r.state !== 'off' && expectedUp(r.deviceKind, r.ts, timetable);
  const up = r.state === 'up';
  const i = (v: boolean): FieldValue => ({ t: 'int', v: v ? 1 : 0 });
  const fields: Record<string, FieldValue> = {
    state: { t: 'string', v: r.state },
    up: i(up),
    expected: i(expected),
    up_expected: i(up && expected),
  };
  if (r.hist) fields['hist'] = { t: 'bool', v: true };
  return {
    measurement: 'availability',
    tags: { district: gw.district, school: gw.school, gateway: gw.gateway, device: r.device, kind: r.deviceKind, ...(room ? { room } : {}) },
    fields,
    tsMs: r.ts,
  };
}

export function recordToPoint(gw: GatewayAddress, r: TelemetryRecord, room?: string): Point {
  const tags: Record<string, string> = {
    district: gw.district,
    school: gw.school,
    gateway: gw.gateway,
    device: r.device,
    kind: r.kind,
  };
  // The room comes from the registry, like district and school: one device, one room, so the tag
  // adds no series.
  if (room) tags['room'] = room;
  const fields: Record<string, FieldValue> = { seq: i(r.seq) };
  switch (r.kind) {
    case 'classroom_av':
      fields['power'] = s(r.data.power);
      fields['lamp_hours'] = f(r.data.lampHours);
      fields['temperature_c'] = f(r.data.temperatureC);
      fields['in_session'] = b(r.data.inSession);
      if (r.data.streamKbps !== undefined) fields['stream_kbps'] = f(r.data.streamKbps);
      if (r.data.streamLossPct !== undefined) fields['stream_loss_pct'] = f(r.data.streamLossPct);
      break;
    case 'interactive_board':
      fields['power'] = s(r.data.power);
      fields['touch_ok'] = b(r.data.touchOk);
      fields['active_input'] = s(r.data.activeInput);
      fields['firmware'] = s(r.data.firmware);
      break;
    case 'vr_kit':
      fields['battery_pct'] = f(r.data.batteryPct);
      fields['charging'] = b(r.data.charging);
      fields['in_session'] = b(r.data.inSession);
      break;
    case 'network_node':
      tags['role'] = r.data.role;
      fields['capacity_bps'] = i(r.data.capacityBps);
      // Exact 64-bit counters: InfluxDB 1.x integers are signed 64-bit, so the decimal string is kept.
      fields['octets_in'] = s(r.data.octetsIn);
      fields['octets_out'] = s(r.data.octetsOut);
      fields['oper_up'] = b(r.data.operUp);
      if (r.rate) {
        fields['rx_bps'] = f(r.rate.rxBps);
        fields['tx_bps'] = f(r.rate.txBps);
        fields['utilisation'] = f(Math.max(r.rate.rxBps, r.rate.txBps) / r.data.capacityBps);
      }
      break;
  }
  if (r.hist) fields['hist'] = b(true);
  return { measurement: r.kind, tags, fields, tsMs: r.ts };
}
