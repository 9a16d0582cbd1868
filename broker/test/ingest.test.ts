import { describe, expect, it } from 'vitest';
import type { GatewayAddress } from '../../protocol/src/topics.ts';
import { ingestTelemetry, type IngestDeps, type IngestLimits } from '../src/ingest.ts';
import type { DeviceRow } from '../src/registry.ts';

const GW: GatewayAddress = { district: '渝中区', school: 'S01', gateway: 'G01' };
const NOW = 1_750_000_000_000;
const T = NOW - 1000; // 1749999999000
const LIMITS: IngestLimits = { maxPayloadBytes: 4096, maxFutureMs: 300_000, maxAgeMs: 86_400_000 };

const DEVICES = new Map<string, DeviceRow>(
  [
    { id: 'av-101', school: 'S01', room: '101', kind: 'classroom_av' },
    { id: 'AV 102,east', school: 'S01', room: '102', kind: 'classroom_av' },
    { id: 'board-101', school: 'S01', room: '101', kind: 'interactive_board' },
    { id: 'vr-1', school: 'S01', room: 'lab', kind: 'vr_kit' },
    { id: 'sw-up', school: 'S01', room: 'net', kind: 'network_node' },
    { id: 'kiosk-1', school: 'S01', room: 'lobby', kind: 'science_kiosk' },
    { id: 'av-other', school: 'S02', room: '201', kind: 'classroom_av' },
  ].map((d) => [d.id, d as DeviceRow]),
);
const DEPS: IngestDeps = { lookupDevice: (id) => DEVICES.get(id), now: () => NOW };

const av = (device: string, extra: Record<string, unknown> = {}) => ({
  device,
  seq: 7,
  ts: T,
  kind: 'classroom_av',
  data: { power: 'on', lampHours: 1200.5, temperatureC: 41.25, inSession: true },
  rx: T + 20,
  ...extra,
});
const vr = (device: string, extra: Record<string, unknown> = {}) => ({
  device,
  seq: 3,
  ts: T,
  kind: 'vr_kit',
  data: { batteryPct: 80, charging: false, inSession: true },
  rx: T + 20,
  ...extra,
});
const board = (device: string) => ({
  device,
  seq: 9,
  ts: T,
  kind: 'interactive_board',
  data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v2.1 "beta"' },
  rx: T + 20,
});
const sw = (device: string) => ({
  device,
  seq: 42,
  ts: T,
  kind: 'network_node',
  data: { role: 'school_uplink', capacityBps: 1_000_000_000, octetsIn: '18446744073709551615', octetsOut: '123456789012', operUp: true },
  rx: T + 5,
});

const envelope = (records: unknown[], extra: Record<string, unknown> = {}) => ({ v: 1, gateway: 'G01', batch: 'b-1', records, ...extra });
const buf = (o: unknown) => Buffer.from(JSON.stringify(o), 'utf8');
const ingest = (records: unknown[], deps: IngestDeps = DEPS, gw: GatewayAddress = GW) => ingestTelemetry(gw, buf(envelope(records)), LIMITS, deps);

describe('ingestTelemetry: whole-message rejections', () => {
  it('refuses a payload above maxPayloadBytes', () => {
    const r = ingestTelemetry(GW, Buffer.alloc(4097, 'x'), LIMITS, DEPS);
    expect(r).toEqual({ lines: [], liveAvailability: [], rejections: [{ reason: 'oversize_payload', detail: '4097 bytes > 4096' }], messageRejected: true });
  });

  it('measures the limit in bytes, not characters, and the limit itself is allowed', () => {
    // 4096 bytes exactly is not oversize: it fails later, as JSON.
    expect(ingestTelemetry(GW, Buffer.alloc(4096, 'x'), LIMITS, DEPS).rejections[0]?.reason).toBe('malformed_json');
    // 1366 × '渝' (3 bytes each in UTF-8) = 4098 bytes, although only 1366 characters.
    const r = ingestTelemetry(GW, Buffer.from('渝'.repeat(1366), 'utf8'), LIMITS, DEPS);
    expect(r.rejections).toEqual([{ reason: 'oversize_payload', detail: '4098 bytes > 4096' }]);
  });

  it('refuses malformed JSON', () => {
    const r = ingestTelemetry(GW, Buffer.from('{"v":1,', 'utf8'), LIMITS, DEPS);
    expect(r.lines).toEqual([]);
    expect(r.messageRejected).toBe(true);
    expect(r.rejections).toHaveLength(1);
    expect(r.rejections[0]?.reason).toBe('malformed_json');
  });

  it.each([
    ['wrong version', envelope([av('av-101')], { v: 2 }), 'v: '],
    ['extra key', envelope([av('av-101')], { school: 'S01' }), '(root): '],
    ['records not an array', envelope([], { records: 'none' }), 'records: '],
    ['JSON null', null, '(root): '],
  ])('refuses a bad envelope (%s)', (_what, body, detailStart) => {
    const r = ingestTelemetry(GW, buf(body), LIMITS, DEPS);
    expect(r.lines).toEqual([]);
    expect(r.messageRejected).toBe(true);
    expect(r.rejections).toHaveLength(1);
    expect(r.rejections[0]?.reason).toBe('bad_envelope');
    expect(r.rejections[0]?.detail.startsWith(detailStart)).toBe(true);
  });

  it('refuses an envelope naming another gateway, even with valid records', () => {
    const r = ingestTelemetry(GW, buf(envelope([av('av-101')], { gateway: 'G02' })), LIMITS, DEPS);
    expect(r).toEqual({
      lines: [],
      liveAvailability: [],
      rejections: [{ reason: 'gateway_mismatch', detail: 'envelope names G02, connection is G01' }],
      messageRejected: true,
    });
  });
});

describe('ingestTelemetry: per-record judgement', () => {
  it('keeps the 3 good records of a batch of 5 and rejects the 2 bad ones with their indexes', () => {
    const bad = av('av-101', { seq: 8, data: { power: 'on', lampHours: 1, temperatureC: 20, inSession: 'yes' } });
    const r = ingest([av('av-101'), bad, vr('vr-1'), av('ghost-9'), board('board-101')]);
    expect(r.messageRejected).toBe(false);
    expect(r.lines).toHaveLength(3);
    expect(r.lines.map((l) => /,device=([^,]+),/.exec(l)?.[1])).toEqual(['av-101', 'vr-1', 'board-101']);
    expect(r.rejections).toEqual([
      { reason: 'invalid_record', detail: 'data.inSession: Invalid input: expected boolean, received string', index: 1, device: 'av-101' },
      { reason: 'unknown_device', detail: 'device is not in the registry', device: 'ghost-9', index: 3 },
    ]);
  });

  // Fails against the current src: u64StringSchema's refine calls BigInt('1.5'), which throws a
  // SyntaxError out of safeParse, so the whole call throws instead of refusing one record.
  it('refuses a network_node record with a non-integer octet counter and keeps the rest', () => {
    const bad = sw('sw-up');
    bad.data = { ...bad.data, octetsIn: '1.5' };
    let r: ReturnType<typeof ingest> | undefined;
    expect(() => {
      r = ingest([av('av-101'), bad]);
    }).not.toThrow();
    expect(r?.lines).toHaveLength(1);
    expect(r?.rejections.map((x) => [x.reason, x.index, x.device])).toEqual([['invalid_record', 1, 'sw-up']]);
  });

  it('rejects a record that is not an object without naming a device', () => {
    const r = ingest([42, null, av('av-101')]);
    expect(r.lines).toHaveLength(1);
    expect(r.rejections.map((x) => [x.reason, x.index, 'device' in x])).toEqual([
      ['invalid_record', 0, false],
      ['invalid_record', 1, false],
    ]);
  });

  it('accepts an empty batch with nothing to write', () => {
    expect(ingest([])).toEqual({ lines: [], liveAvailability: [], rejections: [], messageRejected: false });
  });

  it('accepts ts up to maxFutureMs ahead and refuses 1 ms more (ts_in_future)', () => {
    const r = ingest([av('av-101', { ts: NOW + 300_000 }), av('av-101', { ts: NOW + 300_001 })]);
    expect(r.lines).toHaveLength(1);
    expect(r.rejections).toEqual([{ reason: 'ts_in_future', detail: `ts ${NOW + 300_001} is 300001 ms ahead`, device: 'av-101', index: 1 }]);
  });

  it('accepts ts up to maxAgeMs old and refuses 1 ms older (ts_too_old)', () => {
    const r = ingest([av('av-101', { ts: NOW - 86_400_000 }), av('av-101', { ts: NOW - 86_400_001 })]);
    expect(r.lines).toHaveLength(1);
    expect(r.rejections).toEqual([
      { reason: 'ts_too_old', detail: `ts ${NOW - 86_400_001} is older than 86400000 ms`, device: 'av-101', index: 1 },
    ]);
  });

  it('judges the timestamp against the injected clock', () => {
    // T is 1 s old at NOW, but 1 day + 1 s old (> maxAgeMs) one day later.
    const later: IngestDeps = { ...DEPS, now: () => NOW + 86_400_000 };
    expect(ingest([av('av-101')], later).rejections.map((x) => x.reason)).toEqual(['ts_too_old']);
    const earlier: IngestDeps = { ...DEPS, now: () => NOW - 400_000 };
    // T - (NOW - 400000) = 399000 ms ahead > 300000
    expect(ingest([av('av-101')], earlier).rejections).toEqual([
      { reason: 'ts_in_future', detail: `ts ${T} is 399000 ms ahead`, device: 'av-101', index: 0 },
    ]);
  });

  it("refuses a device registered to another school (foreign_device)", () => {
    expect(ingest([av('av-other')])).toEqual({
      lines: [],
      liveAvailability: [],
      rejections: [{ reason: 'foreign_device', detail: 'device belongs to school S02', device: 'av-other', index: 0 }],
      messageRejected: false,
    });
  });

  it('refuses a device sent as another kind than registered (kind_mismatch)', () => {
    expect(ingest([av('vr-1')]).rejections).toEqual([
      { reason: 'kind_mismatch', detail: 'registered as vr_kit, sent as classroom_av', device: 'vr-1', index: 0 },
    ]);
  });

  it('rejects records as unencodable when the gateway address cannot be a tag', () => {
    const r = ingest([av('av-101'), vr('vr-1')], DEPS, { ...GW, district: 'bad\\' });
    expect(r.lines).toEqual([]);
    expect(r.messageRejected).toBe(false);
    expect(r.rejections.map((x) => [x.reason, x.index])).toEqual([
      ['unencodable', 0],
      ['unencodable', 1],
    ]);
  });
});

describe('ingestTelemetry: exact lines', () => {
  it('writes a network_node record with the role tag, octets as strings and capacity as an integer', () => {
    expect(ingest([sw('sw-up')]).lines).toEqual([
      'network_node,device=sw-up,district=渝中区,gateway=G01,kind=network_node,role=school_uplink,room=net,school=S01 ' +
        'seq=42i,capacity_bps=1000000000i,octets_in="18446744073709551615",octets_out="123456789012",oper_up=true 1749999999000',
    ]);
  });

  it('writes a classroom_av record with stream fields and an escaped device tag', () => {
    const rec = av('AV 102,east', { data: { power: 'on', lampHours: 1200.5, temperatureC: 41.25, inSession: true, streamKbps: 2500, streamLossPct: 0.5 } });
    expect(ingest([rec]).lines).toEqual([
      'classroom_av,device=AV\\ 102\\,east,district=渝中区,gateway=G01,kind=classroom_av,room=102,school=S01 ' +
        'seq=7i,power="on",lamp_hours=1200.5,temperature_c=41.25,in_session=true,stream_kbps=2500,stream_loss_pct=0.5 1749999999000',
    ]);
  });

  it('writes an interactive_board record with quoted string fields', () => {
    expect(ingest([board('board-101')]).lines).toEqual([
      'interactive_board,device=board-101,district=渝中区,gateway=G01,kind=interactive_board,room=101,school=S01 ' +
        'seq=9i,power="on",touch_ok=true,active_input="hdmi1",firmware="v2.1 \\"beta\\"" 1749999999000',
    ]);
  });

  it('adds hist=true for a replayed record and nothing for hist:false', () => {
    expect(ingest([vr('vr-1', { hist: true }), vr('vr-1', { hist: false, seq: 4 })]).lines).toEqual([
      'vr_kit,device=vr-1,district=渝中区,gateway=G01,kind=vr_kit,room=lab,school=S01 seq=3i,battery_pct=80,charging=false,in_session=true,hist=true 1749999999000',
      'vr_kit,device=vr-1,district=渝中区,gateway=G01,kind=vr_kit,room=lab,school=S01 seq=4i,battery_pct=80,charging=false,in_session=true 1749999999000',
    ]);
  });
});

describe('ingestTelemetry: link capacities, rates and availability', () => {
  it('refuses a capacity outside its role\'s range (school uplinks are 100M–1G)', () => {
    const bad = { ...sw('sw-up'), data: { ...sw('sw-up').data, capacityBps: 10_000_000_000 } };
    const r = ingest([bad]);
    expect(r.rejections).toEqual([
      { reason: 'capacity_out_of_range', detail: 'school_uplink links are 100000000–1000000000 bit/s, not 10000000000', device: 'sw-up', index: 0 },
    ]);
  });

  it('writes the edge-computed rate with utilisation = max(rx, tx) ÷ capacity', () => {
    const r = ingest([{ ...sw('sw-up'), rate: { rxBps: 250_000_000, txBps: 50_000_000 } }]);
    expect(r.lines).toEqual([
      'network_node,device=sw-up,district=渝中区,gateway=G01,kind=network_node,role=school_uplink,room=net,school=S01 seq=42i,capacity_bps=1000000000i,octets_in="18446744073709551615",octets_out="123456789012",oper_up=true,rx_bps=250000000,tx_bps=50000000,utilisation=0.25 1749999999000',
    ]);
  });

  it('writes availability with expected-up from the timetable: 0 outside school hours and when off', () => {
    // NOW − 1 s = 2025-06-15T15:06:39Z, a Sunday in Shanghai: a board is not expected up.
    const rec = (state: string, deviceKind: string, device: string) => ({ kind: 'availability', device, deviceKind, seq: Math.floor(T / 60_000), ts: T, state, rx: T });
    const r = ingest([rec('up', 'interactive_board', 'board-101'), rec('down', 'network_node', 'sw-up'), rec('off', 'classroom_av', 'av-101')]);
    expect(r.rejections).toEqual([]);
    expect(r.lines).toEqual([
      'availability,device=board-101,district=渝中区,gateway=G01,kind=interactive_board,room=101,school=S01 state="up",up=1i,expected=0i,up_expected=0i 1749999999000',
      'availability,device=sw-up,district=渝中区,gateway=G01,kind=network_node,room=net,school=S01 state="down",up=0i,expected=1i,up_expected=0i 1749999999000',
      'availability,device=av-101,district=渝中区,gateway=G01,kind=classroom_av,room=101,school=S01 state="off",up=0i,expected=0i,up_expected=0i 1749999999000',
    ]);
  });

  it('refuses availability for a device registered as another kind', () => {
    const r = ingest([{ kind: 'availability', device: 'vr-1', deviceKind: 'classroom_av', seq: 1, ts: T, state: 'up', rx: T }]);
    expect(r.rejections[0]).toMatchObject({ reason: 'kind_mismatch', detail: 'registered as vr_kit, sent as classroom_av' });
  });
});

describe('ingestTelemetry: science kiosks', () => {
  const kiosk = (ts: number, power = 'on') => ({
    device: 'kiosk-1',
    seq: 11,
    ts,
    kind: 'science_kiosk',
    data: { power, screenOn: power === 'on', contentSyncAgeS: 93_600, freeDiskMiB: 2048 },
    rx: ts + 30,
  });

  it('writes a kiosk record with its sync age and free disk as integers', () => {
    expect(ingest([kiosk(T)]).lines).toEqual([
      'science_kiosk,device=kiosk-1,district=渝中区,gateway=G01,kind=science_kiosk,room=lobby,school=S01 ' +
        'seq=11i,power="on",screen_on=true,content_sync_age_s=93600i,free_disk_mib=2048i 1749999999000',
    ]);
  });

  it('expects a kiosk up in school hours only (the school timetable), and not when it is off', () => {
    // 2025-06-17T02:00Z is Tuesday 10:00 in Shanghai, inside the default timetable; T is a Sunday night.
    const tue = Date.UTC(2025, 5, 17, 2, 0);
    const rec = (ts: number, state: string) => ({ kind: 'availability', device: 'kiosk-1', deviceKind: 'science_kiosk', seq: Math.floor(ts / 60_000), ts, state, rx: ts });
    const r = ingestTelemetry(GW, buf(envelope([rec(tue, 'up'), rec(tue + 60_000, 'off')])), LIMITS, { ...DEPS, now: () => tue + 120_000 });
    expect(r.lines).toEqual([
      `availability,device=kiosk-1,district=渝中区,gateway=G01,kind=science_kiosk,room=lobby,school=S01 state="up",up=1i,expected=1i,up_expected=1i ${tue}`,
      `availability,device=kiosk-1,district=渝中区,gateway=G01,kind=science_kiosk,room=lobby,school=S01 state="off",up=0i,expected=0i,up_expected=0i ${tue + 60_000}`,
    ]);
    expect(ingest([rec(T, 'up')]).lines[0]).toContain('expected=0i');
  });

  it('refuses a kiosk sample with a fractional sync age (invalid_record) and keeps the rest', () => {
    const bad = { ...kiosk(T), data: { power: 'on', screenOn: true, contentSyncAgeS: 1.5, freeDiskMiB: 2048 } };
    const r = ingest([bad, kiosk(T)]);
    expect(r.rejections.map((x) => [x.reason, x.index])).toEqual([['invalid_record', 0]]);
    expect(r.lines).toHaveLength(1);
  });
});
