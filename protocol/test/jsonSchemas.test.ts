import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { driftedJsonSchemas, JSON_SCHEMA_DIR, renderJsonSchemas } from '../src/jsonSchemas.ts';
import { decimalAtMostPattern, DEVICE_KINDS, exampleData, KIND_DATA_SCHEMAS, MAX_U64, u64StringSchema } from '../src/kinds.ts';

/** protocol/schemas/*.json against the zod schemas (the verdicts of both: device-kit/test). */
describe('the JSON Schema files', () => {
  it('are exactly what the zod schemas generate (no drift)', () => {
    expect(driftedJsonSchemas()).toEqual([]);
  });

  it('notice drift: a changed, a missing and a left-over file are reported', () => {
    const dir = mkdtempSync(join(tmpdir(), 'schemas-'));
    try {
      const files = renderJsonSchemas();
      for (const [f, text] of Object.entries(files)) writeFileSync(join(dir, f), text);
      expect(driftedJsonSchemas(dir)).toEqual([]);
      writeFileSync(join(dir, 'lan-cmd.json'), files['lan-cmd.json']!.replace('"ttlMs"', '"ttl"'));
      rmSync(join(dir, 'lan-err.json'));
      writeFileSync(join(dir, 'old.json'), '{}');
      expect(driftedJsonSchemas(dir)).toEqual(['lan-cmd.json', 'lan-err.json', 'old.json']);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('carry each kind, with its example, in the telemetry schema', () => {
    const text = readFileSync(join(JSON_SCHEMA_DIR, 'lan-telemetry.json'), 'utf8');
    for (const k of DEVICE_KINDS) expect(text).toContain(`"const": "${k}"`);
    for (const k of DEVICE_KINDS) expect(KIND_DATA_SCHEMAS[k].parse(exampleData(k))).toEqual(exampleData(k));
  });
});

describe('decimalAtMostPattern', () => {
  it('matches exactly 0 … max, for every max below 1200, checked against every number to 1300', () => {
    for (let max = 0n; max < 1200n; max++) {
      const re = new RegExp(decimalAtMostPattern(max));
      for (let n = 0n; n <= 1300n; n++) if (re.test(n.toString()) !== n <= max) throw new Error(`max ${max}: ${n}`);
      expect(re.test('01')).toBe(false);
    }
  });

  it('agrees with u64StringSchema around 2^64 and at each power of ten', () => {
    const re = new RegExp(decimalAtMostPattern(MAX_U64));
    const cases = ['0', '18446744073709551615', '18446744073709551616', '18446744073709551610', '18446744073709551609', '99999999999999999999', '9999999999999999999', '100000000000000000000', '17999999999999999999'];
    for (let e = 0; e <= 21; e++) cases.push((10n ** BigInt(e)).toString(), (10n ** BigInt(e) - 1n).toString());
    for (const c of cases) expect(re.test(c), c).toBe(u64StringSchema.safeParse(c).success);
  });
});
