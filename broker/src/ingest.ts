import { formatIssues } from '../../runtime/src/errors.ts';
import { ROLE_CAPACITY_BPS, type DeviceKind } from '../../protocol/src/kinds.ts';
import { DEFAULT_TIMETABLE, expectedUp, type Timetable } from '../../protocol/src/schedule.ts';
import { telemetryBatchEnvelopeSchema, telemetryRecordSchema, type AvailabilityRecord, type TelemetryRecord } from '../../protocol/src/telemetry.ts';
import type { GatewayAddress } from '../../protocol/src/topics.ts';
import { encodePoint, LineProtocolError, type Point } from '../../storage/src/lineProtocol.ts';
import { point } from '../../storage/src/point.ts';
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

/**
 * The InfluxDB point of a record (storage/src/schema.ts). The series key is measurement + tags
 * and the timestamp is the device's, so a replayed duplicate writes the same point and collapses.
 * District, school and gateway come from the gateway's registry identity; the room from the
 * registry too (one device, one room, so the tag adds no series).
 */
const deviceTags = (gw: GatewayAddress, device: string, kind: DeviceKind, room: string | undefined) => ({
  district: gw.district,
  school: gw.school,
  gateway: gw.gateway,
  device,
  kind,
  room: room || undefined,
});

/**
 * One minute of one device's availability. `expected` is whether the device should have been up
 * (its kind and its school's timetable, and not cleanly powered off); `up_expected` is up while
 * expected. Availability over any range = sum(up_expected) / sum(expected); minutes without a
 * record are unknown and count on neither side.
 */
export function availabilityToPoint(gw: GatewayAddress, r: AvailabilityRecord, timetable: Timetable, room?: string): Point {
  const expected = r.state !== 'off' && expectedUp(r.deviceKind, r.ts, timetable);
  const up = r.state === 'up';
  const bit = (v: boolean) => (v ? 1 : 0);
  return point(
    'availability',
    deviceTags(gw, r.device, r.deviceKind, room),
    { state: r.state, up: bit(up), expected: bit(expected), up_expected: bit(up && expected), hist: r.hist || undefined },
    r.ts,
  );
}

export function recordToPoint(gw: GatewayAddress, r: TelemetryRecord, room?: string): Point {
  const tags = deviceTags(gw, r.device, r.kind, room);
  const hist = r.hist || undefined;
  switch (r.kind) {
    case 'classroom_av':
      return point(
        'classroom_av',
        tags,
        {
          seq: r.seq,
          power: r.data.power,
          lamp_hours: r.data.lampHours,
          temperature_c: r.data.temperatureC,
          in_session: r.data.inSession,
          stream_kbps: r.data.streamKbps,
          stream_loss_pct: r.data.streamLossPct,
          hist,
        },
        r.ts,
      );
    case 'interactive_board':
      return point(
        'interactive_board',
        tags,
        { seq: r.seq, power: r.data.power, touch_ok: r.data.touchOk, active_input: r.data.activeInput, firmware: r.data.firmware, hist },
        r.ts,
      );
    case 'vr_kit':
      return point('vr_kit', tags, { seq: r.seq, battery_pct: r.data.batteryPct, charging: r.data.charging, in_session: r.data.inSession, hist }, r.ts);
    case 'science_kiosk':
      return point(
        'science_kiosk',
        tags,
        { seq: r.seq, power: r.data.power, screen_on: r.data.screenOn, content_sync_age_s: r.data.contentSyncAgeS, free_disk_mib: r.data.freeDiskMiB, hist },
        r.ts,
      );
    case 'network_node':
      return point(
        'network_node',
        { ...tags, role: r.data.role },
        {
          seq: r.seq,
          capacity_bps: r.data.capacityBps,
          // Exact 64-bit counters: InfluxDB 1.x integers are signed 64-bit, so the decimal string is kept.
          octets_in: r.data.octetsIn,
          octets_out: r.data.octetsOut,
          oper_up: r.data.operUp,
          rx_bps: r.rate?.rxBps,
          tx_bps: r.rate?.txBps,
          utilisation: r.rate ? Math.max(r.rate.rxBps, r.rate.txBps) / r.data.capacityBps : undefined,
          hist,
        },
        r.ts,
      );
  }
}
