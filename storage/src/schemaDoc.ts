import { readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { SCHEMA, type MeasurementDef } from './schema.ts';

/**
 * The reference table of docs/influx-schema.md, generated from SCHEMA between two markers; the
 * page's prose stays hand-written (storage/test/schemaDoc.test.ts checks it against SCHEMA too).
 * `node storage/src/schemaDoc.ts` rewrites the table, `--check` exits 1 when it has drifted.
 */
export const SCHEMA_DOC = join(dirname(fileURLToPath(import.meta.url)), '..', '..', 'docs', 'influx-schema.md');
export const BEGIN = '<!-- schema:begin (generated from storage/src/schema.ts by `node storage/src/schemaDoc.ts`) -->';
export const END = '<!-- schema:end -->';

const code = (s: string) => `\`${s}\``;

export function renderReference(): string {
  const rows = (Object.entries(SCHEMA) as Array<[string, MeasurementDef]>).map(([m, d]) => {
    const optTags = new Set(d.optionalTags ?? []);
    const optFields = new Set(d.optionalFields ?? []);
    const tags = d.tags.map((t) => code(t) + (optTags.has(t) ? ' (optional)' : '')).join(', ');
    const fields = Object.entries(d.fields)
      .map(([f, type]) => `${code(f)} ${type}${optFields.has(f) ? ' (optional)' : ''}`)
      .join(', ');
    return `| ${code(m)} | ${d.rp ? code(d.rp) : 'default (`autogen`)'} | ${tags} | ${fields} |`;
  });
  return [BEGIN, '| measurement | retention policy | tags | fields and their InfluxDB types |', '|---|---|---|---|', ...rows, END].join('\n');
}

/** The page with its reference table replaced by the current one. */
export function withReference(doc: string): string {
  const a = doc.indexOf(BEGIN);
  const b = doc.indexOf(END);
  if (a < 0 || b < a) throw new Error(`${SCHEMA_DOC} has no ${BEGIN} … ${END} block`);
  return doc.slice(0, a) + renderReference() + doc.slice(b + END.length);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const doc = readFileSync(SCHEMA_DOC, 'utf8');
  const next = withReference(doc);
  if (process.argv.includes('--check')) {
    if (next !== doc) {
      console.error('docs/influx-schema.md: the reference table differs from storage/src/schema.ts; run node storage/src/schemaDoc.ts');
      process.exit(1);
    }
    console.log('docs/influx-schema.md matches storage/src/schema.ts');
  } else if (next !== doc) {
    writeFileSync(SCHEMA_DOC, next);
    console.log('docs/influx-schema.md: reference table rewritten');
  }
}
