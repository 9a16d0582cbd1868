import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { SCHEMA, type MeasurementDef } from '../src/schema.ts';
import { SCHEMA_DOC, withReference } from '../src/schemaDoc.ts';

/**
 * docs/influx-schema.md against storage/src/schema.ts: the generated reference table is current,
 * and the hand-written tables name exactly the measurements, tags, fields and types of the code.
 */
const doc = readFileSync(SCHEMA_DOC, 'utf8');
const defs = Object.entries(SCHEMA) as Array<[string, MeasurementDef]>;
const isDevice = (d: MeasurementDef) => d.tags.includes('device') && d.tags.includes('kind');
const written = defs.filter(([, d]) => !d.rp);
const rollups = defs.filter(([, d]) => d.rp);

/** The rows of the first table after `heading`, as cells without their outer pipes. */
function table(heading: string, header: string): string[][] {
  const from = doc.indexOf(heading);
  expect(from, heading).toBeGreaterThanOrEqual(0);
  const lines = doc.slice(from).split('\n');
  const start = lines.findIndex((l) => l.startsWith(header));
  expect(start, header).toBeGreaterThan(0);
  const rows: string[][] = [];
  for (const l of lines.slice(start + 2)) {
    if (!l.startsWith('|')) break;
    rows.push(l.slice(1, -1).split(' | ').map((c) => c.trim()));
  }
  return rows;
}
const names = (cell: string) => [...cell.matchAll(/`([a-z_0-9]+)`/g)].map((m) => m[1]!);

describe('docs/influx-schema.md and storage/src/schema.ts', () => {
  it('has the reference table generated from the current schema', () => {
    expect(withReference(doc)).toBe(doc);
  });

  it('lists every device measurement tag in the tags table, and no other', () => {
    const rows = table('## Tags (every device measurement)', '| tag |');
    const codeTags = new Set(defs.filter(([, d]) => isDevice(d)).flatMap(([, d]) => d.tags));
    expect(rows.map((r) => names(r[0]!)[0]).sort()).toEqual([...codeTags].sort());
  });

  it('gives every field of every written measurement with its type, and nothing the code lacks', () => {
    const rows = table('## Measurements and fields', '| measurement | field | type |');
    const inDoc = new Map<string, Map<string, string>>();
    let current = '';
    for (const [m, f, type] of rows) {
      if (m) current = names(m)[0]!;
      if (!inDoc.has(current)) inDoc.set(current, new Map());
      inDoc.get(current)!.set(names(f!)[0]!, type!);
    }
    expect([...inDoc.keys()].sort()).toEqual(written.map(([m]) => m).sort());
    for (const [m, d] of written) {
      // seq and hist are described once, above the table, for every device measurement.
      const expected = Object.entries(d.fields).filter(([f]) => f !== 'seq' && f !== 'hist');
      expect([...inDoc.get(m)!.entries()].sort(), m).toEqual(expected.sort());
    }
  });

  it('says which measurements carry seq and hist, as the code has them', () => {
    expect(doc).toContain('Every device measurement except `availability` has `seq` (integer');
    expect(doc).toContain('Every device measurement, `availability` included, has `hist = true` (boolean)');
    for (const [m, d] of defs) {
      expect('seq' in d.fields, m).toBe(isDevice(d) && m !== 'availability');
      expect(d.fields['seq'] ?? 'integer', m).toBe('integer');
      expect('hist' in d.fields, m).toBe(isDevice(d));
      expect(d.fields['hist'] ?? 'boolean', m).toBe('boolean');
    }
  });

  it('names the tags of every measurement that is not a device measurement', () => {
    const rows = table('## Measurements and fields', '| measurement | field | type |');
    for (const [m, d] of written.filter(([, d]) => !isDevice(d))) {
      const first = rows.find((r) => names(r[0]!)[0] === m)!;
      const listed = /tags ((?:`[a-z_]+`(?:, )?)+)/.exec(first[3]!)?.[1];
      expect(names(listed ?? ''), m).toEqual([...d.tags]);
    }
  });

  it('gives every rollup with its retention policy, tags and fields', () => {
    const rows = table('## Retention and rollups', '| measurement | retention policy |');
    const fields = new Map<string, Set<string>>();
    let current = '';
    for (const [m, rp, , tags, f] of rows) {
      if (!m!.startsWith('(')) current = names(m!)[0]!;
      const d = SCHEMA[current as keyof typeof SCHEMA] as MeasurementDef;
      expect(names(rp!)[0], current).toBe(d.rp);
      expect(names(tags!), current).toEqual([...d.tags]);
      for (const [, name] of f!.matchAll(/`([a-z_0-9]+)` =/g)) {
        if (!fields.has(current)) fields.set(current, new Set());
        fields.get(current)!.add(name!);
      }
    }
    expect([...fields.keys()].sort()).toEqual(rollups.map(([m]) => m).sort());
    for (const [m, d] of rollups) expect([...fields.get(m)!].sort(), m).toEqual(Object.keys(d.fields).sort());
  });
});
