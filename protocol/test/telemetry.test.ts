import { describe, expect, it } from 'vitest';
import { deviceSampleSchema, MIN_TIMESTAMP_MS, reportsPowerOff, telemetryBatchEnvelopeSchema, telemetryRecordSchema } from '../src/telemetry.ts';
import { DEVICE_KINDS, exampleData } from '../src/kinds.ts';

const TS = 1_750_000_000_000;
const avRecord = {
  device: 'AV-101',
  seq: 7,
  ts: TS,
  kind: 'classroom_av',
  data: { power: 'on', lampHours: 1200.5, temperatureC: 41.25, inSession: true },
  rx: TS + 20,
};
const ok = (r: unknown) => telemetryRecordSchema.safeParse(r).success;

describe('MIN_TIMESTAMP_MS', () => {
  it('is 2020-01-01T00:00:00Z', () => {
    // 50 years (1970..2019) with 12 leap days: (50 * 365 + 12) * 86400 s = 1577836800 s
    expect(MIN_TIMESTAMP_MS).toBe(1_577_836_800_000);
  });
});

describe('telemetryRecordSchema', () => {
  it('accepts a classroom_av record with and without stream fields, hist optional', () => {
    expect(telemetryRecordSchema.parse(avRecord)).toEqual(avRecord);
    const streamed = { ...avRecord, hist: true, data: { ...avRecord.data, streamKbps: 2500, streamLossPct: 0.5 } };
    expect(telemetryRecordSchema.parse(streamed)).toEqual(streamed);
  });

  it('accepts the timestamp bounds 2020-01-01 and 2100-01-01 exactly', () => {
    expect(ok({ ...avRecord, ts: 1_577_836_800_000 })).toBe(true);
    expect(ok({ ...avRecord, ts: 1_577_836_799_999 })).toBe(false);
    // Date.UTC(2100, 0, 1) = 4102444800000
    expect(ok({ ...avRecord, ts: 4_102_444_800_000 })).toBe(true);
    expect(ok({ ...avRecord, ts: 4_102_444_800_001 })).toBe(false);
  });

  it.each([
    ['missing rx', (({ rx: _rx, ...r }) => r)(avRecord)],
    ['string seq', { ...avRecord, seq: '7' }],
    ['negative seq', { ...avRecord, seq: -1 }],
    ['fractional seq', { ...avRecord, seq: 1.5 }],
    ['fractional ts', { ...avRecord, ts: TS + 0.5 }],
    ['unknown kind', { ...avRecord, kind: 'projector' }],
    ['extra top-level key', { ...avRecord, district: '渝中区' }],
    ['extra data key', { ...avRecord, data: { ...avRecord.data, brightness: 3 } }],
    ['data of another kind', { ...avRecord, kind: 'vr_kit' }],
    ['stream loss above 100', { ...avRecord, data: { ...avRecord.data, streamLossPct: 100.5 } }],
    ['device id with newline', { ...avRecord, device: 'AV\n101' }],
    ['non-boolean hist', { ...avRecord, hist: 'yes' }],
  ])('refuses %s', (_what, r) => {
    expect(ok(r)).toBe(false);
  });

  it('refuses non-printable firmware on an interactive board', () => {
    const board = {
      device: 'B-1',
      seq: 0,
      ts: TS,
      kind: 'interactive_board',
      data: { power: 'standby', touchOk: true, activeInput: 'hdmi1', firmware: 'v2.1' },
      rx: TS,
    };
    expect(ok(board)).toBe(true);
    expect(ok({ ...board, data: { ...board.data, firmware: '固件2.1' } })).toBe(false);
  });
});

describe('telemetryBatchEnvelopeSchema', () => {
  const env = { v: 1, gateway: 'G01', batch: '1700000000000-1', records: [] as unknown[] };

  it('accepts an envelope without judging the records', () => {
    expect(telemetryBatchEnvelopeSchema.parse({ ...env, records: [42, null, 'x'] }).records).toEqual([42, null, 'x']);
  });

  it('allows 10000 records and refuses 10001', () => {
    expect(telemetryBatchEnvelopeSchema.safeParse({ ...env, records: new Array(10_000).fill(0) }).success).toBe(true);
    expect(telemetryBatchEnvelopeSchema.safeParse({ ...env, records: new Array(10_001).fill(0) }).success).toBe(false);
  });

  it.each([
    ['v 2', { ...env, v: 2 }],
    ['gateway with slash', { ...env, gateway: 'G/01' }],
    ['empty batch', { ...env, batch: '' }],
    ['65-char batch', { ...env, batch: 'b'.repeat(65) }],
    ['records not an array', { ...env, records: {} }],
    ['extra key', { ...env, school: 'S01' }],
  ])('refuses %s', (_what, e) => {
    expect(telemetryBatchEnvelopeSchema.safeParse(e).success).toBe(false);
  });
});

describe('reportsPowerOff', () => {
  const base = { device: 'd', seq: 1, ts: TS };
  it('is true for power off of every kind that reports power, false for standby and for kinds without power', () => {
    expect(reportsPowerOff({ ...base, kind: 'science_kiosk', data: { power: 'off', screenOn: false, contentSyncAgeS: 0, freeDiskMiB: 1 } })).toBe(true);
    expect(reportsPowerOff({ ...base, kind: 'interactive_board', data: { power: 'off', touchOk: true, activeInput: 'none', firmware: 'v1' } })).toBe(true);
    expect(reportsPowerOff({ ...base, kind: 'classroom_av', data: { power: 'off', lampHours: 1, temperatureC: 20, inSession: false } })).toBe(true);
    expect(reportsPowerOff({ ...base, kind: 'science_kiosk', data: { power: 'standby', screenOn: false, contentSyncAgeS: 0, freeDiskMiB: 1 } })).toBe(false);
    expect(reportsPowerOff({ ...base, kind: 'vr_kit', data: { batteryPct: 0, charging: false, inSession: false } })).toBe(false);
  });

  it('accepts a science_kiosk record and refuses one carrying another kind\'s data', () => {
    const kiosk = { ...base, kind: 'science_kiosk', rx: TS + 5, data: { power: 'on', screenOn: true, contentSyncAgeS: 60, freeDiskMiB: 1024 } };
    expect(telemetryRecordSchema.parse(kiosk)).toEqual(kiosk);
    expect(ok({ ...kiosk, data: avRecord.data })).toBe(false);
  });
});

describe('every kind of DEVICE_KINDS', () => {
  it('has its line in deviceSampleSchema and telemetryRecordSchema: its example parses as a sample and as a record', () => {
    for (const kind of DEVICE_KINDS) {
      const sample = { device: `d-${kind}`, kind, seq: 0, ts: TS, data: exampleData(kind) };
      expect(deviceSampleSchema.parse(sample), kind).toEqual(sample);
      expect(telemetryRecordSchema.parse({ ...sample, rx: TS }), kind).toEqual({ ...sample, rx: TS });
    }
  });
});
