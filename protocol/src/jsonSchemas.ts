import { mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';
import { lanCommandResultSchema, lanCommandSchema } from './commands.ts';
import { deviceSampleSchema, lanErrorSchema } from './telemetry.ts';

/**
 * JSON Schema files of the LAN payloads, for vendors who validate without our code
 * (docs/devices.md), generated from the zod schemas with `z.toJSONSchema` (draft 2020-12). What
 * a refinement checks in code is given to the files as a `pattern` by the schema's metadata
 * (device ids, 64-bit counters), so both say the same. `node protocol/src/jsonSchemas.ts`
 * rewrites protocol/schemas/, `--check` exits 1 when a file has drifted.
 */
export const JSON_SCHEMA_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'schemas');

/** File name → schema and the topic its payload travels on. */
export const LAN_JSON_SCHEMAS = {
  'lan-telemetry.json': { schema: deviceSampleSchema, topic: 'lan/v1/telemetry', title: 'Device sample (device → gateway)' },
  'lan-cmd.json': { schema: lanCommandSchema, topic: 'lan/v1/cmd', title: 'LAN command (gateway → devices)' },
  'lan-cmdres.json': { schema: lanCommandResultSchema, topic: 'lan/v1/cmdres', title: 'Command answer (device → gateway)' },
  'lan-err.json': { schema: lanErrorSchema, topic: 'lan/v1/err', title: 'Refusal (gateway → devices)' },
} as const;

/** Every file's text, by file name. */
export function renderJsonSchemas(): Record<string, string> {
  return Object.fromEntries(
    Object.entries(LAN_JSON_SCHEMAS).map(([file, { schema, topic, title }]) => {
      const { $schema, ...rest } = z.toJSONSchema(schema);
      const json = { $schema, $id: `urn:campus-iot:lan:v1:${file.replace(/\.json$/, '')}`, title, description: `The payload on ${topic}.`, ...rest };
      return [file, `${JSON.stringify(json, null, 2)}\n`];
    }),
  );
}

/** Files that differ from what the schemas give (missing, changed or left over). */
export function driftedJsonSchemas(dir = JSON_SCHEMA_DIR): string[] {
  const want = renderJsonSchemas();
  let present: string[] = [];
  try {
    present = readdirSync(dir).filter((f) => f.endsWith('.json'));
  } catch {
    // No folder yet: every file is missing.
  }
  const changed = Object.entries(want).filter(([f, text]) => !present.includes(f) || readFileSync(join(dir, f), 'utf8') !== text).map(([f]) => f);
  return [...changed, ...present.filter((f) => !(f in want))].sort();
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  const drifted = driftedJsonSchemas();
  if (process.argv.includes('--check')) {
    if (drifted.length > 0) {
      console.error(`protocol/schemas: ${drifted.join(', ')} differ from the zod schemas; run node protocol/src/jsonSchemas.ts`);
      process.exit(1);
    }
    console.log('protocol/schemas matches the zod schemas');
  } else {
    mkdirSync(JSON_SCHEMA_DIR, { recursive: true });
    for (const [f, text] of Object.entries(renderJsonSchemas())) writeFileSync(join(JSON_SCHEMA_DIR, f), text);
    console.log(`protocol/schemas: ${drifted.length > 0 ? `rewrote ${drifted.join(', ')}` : 'up to date'}`);
  }
}
