import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Ajv2020 } from 'ajv/dist/2020.js';
import addFormatsModule from 'ajv-formats';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { CADENCE_MS, DeviceStream } from '../../device-sim/src/telemetry.ts';
import { JSON_SCHEMA_DIR, LAN_JSON_SCHEMAS } from '../../protocol/src/jsonSchemas.ts';
import { DEVICE_KINDS, exampleData } from '../../protocol/src/kinds.ts';

/**
 * The JSON Schema files a vendor validates against (protocol/schemas/) give the same verdict as
 * the zod schemas the gateway runs: on the simulator's samples of every kind, on the hostile
 * payloads of tests/e2e/hostileInput.test.ts and tests/fuzz.test.ts, and on generated ones.
 */
const addFormats = addFormatsModule as unknown as typeof addFormatsModule.default;
const ajv = new Ajv2020({ strict: true, allErrors: true });
addFormats(ajv);
type File = keyof typeof LAN_JSON_SCHEMAS;
const validators = Object.fromEntries(
  (Object.keys(LAN_JSON_SCHEMAS) as File[]).map((f) => [f, ajv.compile(JSON.parse(readFileSync(join(JSON_SCHEMA_DIR, f), 'utf8')))]),
) as Record<File, ReturnType<typeof ajv.compile>>;

/** Both verdicts on one payload: [JSON Schema, zod]. */
function verdicts(file: File, payload: unknown): [boolean, boolean] {
  return [validators[file](payload) as boolean, (LAN_JSON_SCHEMAS[file].schema as z.ZodType).safeParse(payload).success];
}

const TS = Date.UTC(2026, 0, 6, 2, 0);
const sample = (kind: (typeof DEVICE_KINDS)[number], patch: Record<string, unknown> = {}) => ({ device: 'd-1', kind, seq: 1, ts: TS, data: exampleData(kind), ...patch });
const board = (device: string, patch: Record<string, unknown> = {}) => ({ ...sample('interactive_board'), device, ...patch });

describe('JSON Schema files and zod: the same verdict', () => {
  it('accept every sample the simulator makes, of every kind', () => {
    const fleet = generateFleet({ seed: 5, districts: SEED_DISTRICTS.slice(0, 2), schoolsPerDistrict: 2, roomsPerSchool: 2, vrKitsPerSchool: 1, accessSwitchesPerSchool: 1, kioskSchoolShare: 1 });
    const devices = fleet.schools.flatMap((s) => s.devices);
    expect(new Set(devices.map((d) => d.kind))).toEqual(new Set(DEVICE_KINDS));
    let n = 0;
    for (const d of devices) {
      const stream = new DeviceStream(d, 5);
      for (let i = 0; i < 40; i++, n++) expect(verdicts('lan-telemetry.json', stream.next(TS + i * CADENCE_MS[d.kind])), d.id).toEqual([true, true]);
    }
    expect(n).toBe(devices.length * 40);
  });

  it('accept the ids of tests/e2e/hostileInput.test.ts that are valid, and refuse its hostile samples', () => {
    for (const id of ['board 3, room=2', 'a b,c=d"e 渝中区', "o'brien's \"VR\" kit", 'back\\slash in the middle', '🎓 emoji=ok,', '=leading equals', ' leading space']) {
      expect(verdicts('lan-telemetry.json', board(id)), id).toEqual([true, true]);
    }
    const hostile: unknown[] = [
      board('b', { data: { power: 'on', touchOk: 'yes', activeInput: 'hdmi1', firmware: 'v1' } }),
      board('b', { seq: '102' }),
      board('line\nbreak'),
      board('trailing\\'),
      board('b', { rx: TS }), // a hub record is not a LAN sample
      { device: 'x', kind: 'toaster', seq: 1, ts: TS, data: {} },
      { device: 'x', kind: 'vr_kit', seq: 1, ts: TS, data: { batteryPct: 140, charging: false, inSession: false } },
      sample('network_node', { data: { ...exampleData('network_node'), octetsIn: '1e3', octetsOut: 'abc' } }),
      sample('network_node', { data: { ...exampleData('network_node'), octetsIn: '1.5' } }),
      sample('network_node', { data: { ...exampleData('network_node'), octetsIn: '18446744073709551616' } }),
      null,
      'a string',
      sample('science_kiosk', { data: { ...exampleData('science_kiosk'), contentSyncAgeS: 1.5 } }),
      sample('science_kiosk', { data: { ...exampleData('science_kiosk'), freeDiskMiB: -1 } }),
    ];
    for (const h of hostile) expect(verdicts('lan-telemetry.json', h), JSON.stringify(h)).toEqual([false, false]);
  });

  // tests/fuzz.test.ts's hostile text, and near-valid samples: a valid one with one field replaced.
  const oneChar = (unit: 'binary' | 'grapheme-ascii') => fc.string({ unit, minLength: 1, maxLength: 1 });
  const nasty = fc.string({ unit: fc.oneof(fc.constantFrom('/', '+', '#', ' ', ',', '=', '"', '\\', '\n', '\r', '\u0000', '\u0085', '渝', '中', '{', '}', ':', '$'), oneChar('grapheme-ascii'), oneChar('binary')), maxLength: 60 });
  const value = fc.oneof(nasty, fc.jsonValue(), fc.integer(), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.bigInt({ min: 0n, max: 1n << 65n }).map(String), fc.constantFrom(-1, 0, 1.5, 2 ** 53, 315_360_001, 16_777_217, '', 'on', 'off'));
  const nearSample = fc
    .tuple(fc.constantFrom(...DEVICE_KINDS), fc.constantFrom('device', 'seq', 'ts', 'kind', 'extra', 'data.'), nasty, value)
    .map(([kind, where, key, v]) => {
      const s: Record<string, unknown> = sample(kind);
      if (where === 'data.') {
        const data = s['data'] as Record<string, unknown>;
        const keys = Object.keys(data);
        data[keys[key.length % keys.length]!] = v;
      } else s[where] = v;
      return s;
    });

  it('agree on generated samples: hostile text and near-valid samples with one field replaced', () => {
    const fuzzJson = fc.record({ device: nasty, seq: fc.integer(), ts: fc.double(), kind: fc.constantFrom(...DEVICE_KINDS, 'x'), data: fc.jsonValue() });
    const seen = { accepted: 0, refused: 0 };
    fc.assert(
      fc.property(fc.oneof(fuzzJson, nearSample, fc.jsonValue()), (p) => {
        const [json, zod] = verdicts('lan-telemetry.json', p);
        expect(json).toBe(zod);
        seen[zod ? 'accepted' : 'refused']++;
      }),
      { numRuns: 20_000, seed: 13 },
    );
    // Both verdicts were exercised, not only refusals.
    expect(seen.accepted).toBeGreaterThan(500);
    expect(seen.refused).toBeGreaterThan(500);
  });

  it('agree on command answers, commands and refusals', () => {
    const answer = fc.record({ v: fc.oneof(fc.constant(1), value), id: fc.oneof(fc.constant('cmd-12345678'), nasty), device: fc.oneof(fc.constant('d-1'), nasty), status: fc.oneof(fc.constantFrom('done', 'failed'), nasty), detail: fc.oneof(nasty, fc.string({ maxLength: 600 })) }, { requiredKeys: ['v', 'id', 'device', 'status'] });
    // `input` present or not on every action: the files' if/then/else and the refinement agree.
    const command = fc.record(
      { v: fc.constant(1), id: fc.constant('cmd-12345678'), device: fc.oneof(fc.constant('d-1'), nasty), action: fc.oneof(fc.constantFrom('reboot', 'power_on', 'power_off', 'standby', 'switch_input'), nasty), input: fc.oneof(fc.constantFrom('hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga', 'none'), nasty), ttlMs: fc.oneof(fc.integer({ min: 1 }), value) },
      { requiredKeys: ['v', 'id', 'device', 'action', 'ttlMs'] },
    );
    const seen = { switchAccepted: 0, switchRefused: 0, otherAccepted: 0, otherRefused: 0 };
    const refusal = fc.record({ v: fc.constant(1), device: fc.oneof(fc.constant('d-1'), nasty), reason: fc.oneof(fc.constantFrom('invalid_sample', 'clock_ahead', ''), nasty), detail: fc.string({ maxLength: 600 }), seq: fc.oneof(fc.nat(), value), at: fc.oneof(fc.constant(TS), value) }, { requiredKeys: ['v', 'device', 'reason', 'detail', 'at'] });
    fc.assert(
      fc.property(answer, command, refusal, (a, c, r) => {
        const [aj, az] = verdicts('lan-cmdres.json', a);
        expect(aj).toBe(az);
        const [cj, cz] = verdicts('lan-cmd.json', c);
        expect(cj).toBe(cz);
        seen[`${c.action === 'switch_input' ? 'switch' : 'other'}${cz ? 'Accepted' : 'Refused'}` as keyof typeof seen]++;
        const [rj, rz] = verdicts('lan-err.json', r);
        expect(rj).toBe(rz);
      }),
      { numRuns: 5000, seed: 7 },
    );
    // Both verdicts on switch_input and on the other actions, not only refusals.
    for (const n of Object.values(seen)) expect(n).toBeGreaterThan(50);
  });

  it('agree on switch_input written out: with an input, without, and an input on another action', () => {
    const cmd = (patch: Record<string, unknown>) => ({ v: 1, id: 'cmd-12345678', device: 'd-1', action: 'switch_input', ttlMs: 5000, ...patch });
    expect(verdicts('lan-cmd.json', cmd({ input: 'hdmi2' }))).toEqual([true, true]);
    expect(verdicts('lan-cmd.json', cmd({}))).toEqual([false, false]);
    expect(verdicts('lan-cmd.json', cmd({ input: 'none' }))).toEqual([false, false]);
    expect(verdicts('lan-cmd.json', cmd({ action: 'reboot', input: 'hdmi2' }))).toEqual([false, false]);
    expect(verdicts('lan-cmd.json', cmd({ action: 'reboot' }))).toEqual([true, true]);
  });
});
