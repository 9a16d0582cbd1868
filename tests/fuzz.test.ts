import { stringify } from 'csv-stringify/sync';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { ingestTelemetry, type IngestDeps } from '../broker/src/ingest.ts';
import { parseInventory, type InventoryErrorCode } from '../broker/src/inventoryCsv.ts';
import { parseJsonPayload } from '../broker/src/jsonPayload.ts';
import type { DeviceRow } from '../broker/src/registry.ts';
import { validateCommandResult, validateSample } from '../gateway/src/lanValidation.ts';
import { topicIdSchema } from '../protocol/src/ids.ts';
import { deviceSampleSchema, telemetryBatchEnvelopeSchema } from '../protocol/src/telemetry.ts';
import { parseGatewayTopic, telemetryTopic, type GatewayAddress } from '../protocol/src/topics.ts';
import { escapeStringField, escapeTag, LineProtocolError } from '../storage/src/lineProtocol.ts';

/**
 * Every parser that takes outside input, fuzzed with fast-check: topics, LAN payloads, the
 * gateway's telemetry envelope at the hub, JSON payloads, line-protocol escaping and inventory
 * CSV. Tens of thousands of cases in all. The properties: never throw on anything; what is
 * accepted is what the schema says; escaping is undone exactly by InfluxDB's own unescaping
 * rule (written out below from its documentation, independently of the encoder).
 */
const RUNS = 20_000;

/** Text that leans towards the characters parsers care about. */
const oneChar = (unit: 'binary' | 'grapheme-ascii') => fc.string({ unit, minLength: 1, maxLength: 1 });
const nasty = fc.string({ unit: fc.oneof(fc.constantFrom('/', '+', '#', ' ', ',', '=', '"', '\\', '\n', '\r', '\u0000', '渝', '中', '{', '}', ':', '$'), oneChar('grapheme-ascii'), oneChar('binary')), maxLength: 60 });

describe('fuzz: topics', () => {
  it('parseGatewayTopic never throws, and what it accepts is a hub topic made of its own parts', () => {
    const topic = fc.oneof(nasty, fc.array(fc.oneof(nasty, fc.constantFrom('campus', 'v1', 'telemetry', 'state', 'health', 'cmd', 'cmdres')), { maxLength: 9 }).map((l) => l.join('/')));
    fc.assert(
      fc.property(topic, (t) => {
        const p = parseGatewayTopic(t);
        if (p === null) return;
        expect(['campus', 'v1', p.district, p.school, p.gateway, p.channel, ...p.rest].join('/')).toBe(t);
        expect([p.district, p.school, p.gateway].some((l) => l === '' || l === '+' || l === '#')).toBe(false);
      }),
      { numRuns: RUNS },
    );
  });

  it('a telemetry topic of any valid address parses back to that address', () => {
    const id = nasty.filter((s) => topicIdSchema.safeParse(s).success);
    fc.assert(
      fc.property(id, id, id, (district, school, gateway) => {
        const a: GatewayAddress = { district, school, gateway };
        expect(parseGatewayTopic(telemetryTopic(a))).toEqual({ ...a, channel: 'telemetry', rest: [] });
      }),
      { numRuns: RUNS / 4 },
    );
  });
});

describe('fuzz: payloads', () => {
  const json = fc.oneof(fc.jsonValue(), fc.record({ device: nasty, seq: fc.integer(), ts: fc.double(), kind: fc.constantFrom('classroom_av', 'interactive_board', 'vr_kit', 'network_node', 'x'), data: fc.jsonValue() }));
  const bytes = fc.oneof(
    json.map((v) => Buffer.from(JSON.stringify(v) ?? 'null')),
    fc.uint8Array({ maxLength: 200 }).map((b) => Buffer.from(b)),
    nasty.map((s) => Buffer.from(s)),
  );

  it('the gateway\'s LAN validation never throws, and accepts only what the schema accepts', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const s = validateSample(b, 4096);
        if (s.ok) expect(deviceSampleSchema.safeParse(JSON.parse(b.toString('utf8'))).success).toBe(true);
        else expect(['oversize_payload', 'malformed_json', 'invalid_sample']).toContain(s.reason);
        validateCommandResult(b, 4096);
      }),
      { numRuns: RUNS },
    );
  });

  it('the hub\'s JSON payload parse never throws', () => {
    fc.assert(
      fc.property(bytes, (b) => {
        const v = parseJsonPayload(telemetryBatchEnvelopeSchema, b);
        if (v !== undefined) expect(telemetryBatchEnvelopeSchema.safeParse(JSON.parse(b.toString('utf8'))).success).toBe(true);
      }),
      { numRuns: RUNS },
    );
  });

  it('ingest never throws on any envelope or record, never writes a line with a raw line break, and writes nothing for a refused message', () => {
    const gw: GatewayAddress = { district: '渝中区', school: 'S01', gateway: 'G01' };
    const now = 1_750_000_000_000;
    const devices = new Map<string, DeviceRow>([
      ['b1', { id: 'b1', school: 'S01', room: 'r 1,=', kind: 'interactive_board' } as DeviceRow],
      ['n1', { id: 'n1', school: 'S01', room: 'server-room', kind: 'network_node' } as DeviceRow],
    ]);
    const deps: IngestDeps = { lookupDevice: (id) => devices.get(id), now: () => now };
    const record = fc.record(
      {
        device: fc.oneof(fc.constantFrom('b1', 'n1', 'unknown'), nasty),
        seq: fc.oneof(fc.integer({ min: 0 }), fc.double()),
        ts: fc.oneof(fc.integer({ min: now - 100_000, max: now + 1000 }), fc.double()),
        rx: fc.integer({ min: now - 100_000, max: now }),
        kind: fc.constantFrom('interactive_board', 'network_node', 'availability', 'vr_kit', 'zzz'),
        data: fc.oneof(fc.jsonValue(), fc.constant({ power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v1' })),
        state: fc.constantFrom('up', 'down', 'off', 'x'),
        hist: fc.boolean(),
      },
      { requiredKeys: ['device', 'kind'] },
    );
    // Well-formed boards with hostile text in their fields, so that the writing path is fuzzed too.
    const board = fc.record({
      device: fc.constant('b1'),
      seq: fc.nat(),
      ts: fc.integer({ min: now - 100_000, max: now }),
      rx: fc.integer({ min: now - 100_000, max: now }),
      kind: fc.constant('interactive_board'),
      // Printable ASCII, quotes, backslashes, commas and equals signs included: the string field's escaping.
      data: fc.record({ power: fc.constantFrom('on', 'standby', 'off'), touchOk: fc.boolean(), activeInput: fc.constantFrom('hdmi1', 'ops', 'none'), firmware: fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', ',', '=', ' '), oneChar('grapheme-ascii')), minLength: 1, maxLength: 64 }) }),
    });
    const envelope = fc.oneof(
      fc.record({ v: fc.constant(1), gateway: fc.constant('G01'), batch: fc.oneof(fc.constant('b-1'), nasty), records: fc.array(fc.oneof(record, board), { maxLength: 6 }) }).map((e) => Buffer.from(JSON.stringify(e))),
      bytes,
    );
    let written = 0;
    fc.assert(
      fc.property(envelope, (b) => {
        const r = ingestTelemetry(gw, b, { maxPayloadBytes: 65_536, maxFutureMs: 300_000, maxAgeMs: 86_400_000 }, deps);
        for (const l of r.lines) expect(l).not.toMatch(/[\n\r]/);
        if (r.messageRejected) expect(r.lines).toEqual([]);
        written += r.lines.length;
      }),
      { numRuns: RUNS / 2 },
    );
    // The cases reach the writing path, not only the refusals.
    expect(written).toBeGreaterThan(100);
  });
});

/** InfluxDB 1.x's reading of an escaped tag: only `\,`, `\=` and `\ ` are unescaped; every other backslash stays. */
const influxUnescapeTag = (s: string): string => s.replace(/\\([,= ])/g, '$1');
/** And of a string field: `\"` and `\\` are unescaped. */
const influxUnescapeString = (s: string): string => s.slice(1, -1).replace(/\\(["\\])/g, '$1');

describe('fuzz: line protocol', () => {
  it('an escaped tag has no bare space, comma or equals sign, and InfluxDB reads back the original; what cannot be carried is refused', () => {
    fc.assert(
      fc.property(nasty, (s) => {
        let e: string;
        try {
          e = escapeTag(s);
        } catch (err) {
          expect(err).toBeInstanceOf(LineProtocolError);
          return;
        }
        expect(e.replace(/\\[,= ]/g, '')).not.toMatch(/[ ,=\n]/);
        expect(influxUnescapeTag(e)).toBe(s);
      }),
      { numRuns: RUNS },
    );
  });

  it('an escaped string field is read back as the original', () => {
    fc.assert(
      fc.property(fc.string({ unit: fc.oneof(fc.constantFrom('"', '\\', ' ', ',', '='), oneChar('grapheme-ascii'), oneChar('binary')), maxLength: 80 }), (s) => {
        expect(influxUnescapeString(escapeStringField(s))).toBe(s);
      }),
      { numRuns: RUNS },
    );
  });
});

describe('fuzz: inventory CSV', () => {
  const CODES: readonly InventoryErrorCode[] = ['encoding', 'columns', 'malformed', 'unknown_kind', 'bad_id', 'bad_room', 'bad_link', 'bad_capacity', 'duplicate_id', 'unknown_school', 'unknown_room', 'held_by_other_school', 'retired', 'empty'];
  const header = 'school,room,id,kind,model,vendor,serial,link_role,capacity_bps\n';
  const cell = fc.oneof(nasty, fc.constantFrom('yz-bashu', '301', 'interactive_board', 'network_node', 'school_uplink', '1000000000', '"', '""', ''));
  // Rows quoted by csv-stringify (an independent writer), mostly valid, with hostile text in their fields.
  const validRow = fc.tuple(fc.constantFrom('yz-bashu', '巴蜀小学'), fc.oneof(fc.constantFrom('301', '三年级二班'), nasty), nasty, fc.constantFrom('classroom_av', 'interactive_board', 'vr_kit'), nasty, nasty, nasty, fc.constant(''), fc.constant(''));
  const file = fc.oneof(
    fc.uint8Array({ maxLength: 300 }),
    fc.array(fc.array(cell, { minLength: 0, maxLength: 10 }).map((r) => r.join(',')), { maxLength: 8 }).map((rows) => new TextEncoder().encode(header + rows.join('\n'))),
    fc.array(fc.oneof(validRow, fc.array(cell, { minLength: 9, maxLength: 9 })), { maxLength: 8 }).map((rows) => new TextEncoder().encode(header + stringify(rows))),
  );
  it('parseInventory never throws; every problem has a line and a known code; the rows kept are valid and in file order', () => {
    let kept = 0;
    fc.assert(
      fc.property(file, (bytes) => {
        const { rows, errors } = parseInventory(bytes);
        kept += rows.length;
        for (const e of errors) {
          expect(e.line).toBeGreaterThanOrEqual(1);
          expect(CODES).toContain(e.code);
        }
        const lines = rows.map((r) => r.line);
        expect(lines).toEqual([...lines].sort((a, b) => a - b));
        expect(new Set(rows.map((r) => r.id)).size).toBe(rows.length);
      }),
      { numRuns: RUNS / 4 },
    );
    expect(kept).toBeGreaterThan(0);
  });
});
