import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatIssues } from '../../runtime/src/errors.ts';
import { StateFileError } from './errors.ts';
import type { PayloadSchema } from './lanValidation.ts';

/**
 * A small JSON file beside the outbox (the inventory, liveness), replaced atomically: written to
 * a temporary name, flushed, then renamed over the old one, so a crash leaves the old file or
 * the new one, never half of either.
 */
export async function writeStateFile(path: string, value: unknown): Promise<void> {
  await mkdir(dirname(path), { recursive: true, mode: 0o700 });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    await fh.writeFile(JSON.stringify(value));
    await fh.datasync();
  } finally {
    await fh.close();
  }
  await rename(tmp, path);
}

/**
 * The file's value, undefined when there is none; throws StateFileError (GW_ERR_STATE_FILE) when
 * it is unreadable, not JSON or fails the schema. The error names the file and what is wrong,
 * never what it holds.
 */
export async function readStateFile<T>(path: string, schema: PayloadSchema<T>): Promise<T | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (e) {
    const code = (e as { code?: unknown }).code;
    if (code === 'ENOENT') return undefined;
    throw new StateFileError('unreadable', `${path} cannot be read${typeof code === 'string' ? ` (${code})` : ''}`);
  }
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // Not the parser's message: it quotes the text around the fault.
    throw new StateFileError('not_json', `${path} is not JSON (${Buffer.byteLength(raw)} bytes)`);
  }
  const parsed = schema.safeParse(json);
  // Issue paths and messages name fields and types, not values.
  if (!parsed.success) throw new StateFileError('invalid', `${path} fails its schema: ${formatIssues(parsed.error.issues)}`);
  return parsed.data;
}
