import { chmod, mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatIssues } from '../../runtime/src/errors.ts';
import { StateFileError } from './errors.ts';
import type { PayloadSchema } from './lanValidation.ts';

/**
 * A small JSON file beside the outbox (the inventory, liveness), replaced atomically: written to
 * a temporary name, flushed, then renamed over the old one, so a crash leaves the old file or
 * the new one, never half of either. The inventory holds SNMP secrets: the file is mode 600 and
 * its directory (the gateway's own, `GW_OUTBOX_DIR/<GW_ID>`) mode 700, whatever they were.
 */
export async function writeStateFile(path: string, value: unknown): Promise<void> {
  const dir = dirname(path);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  // mkdir's mode applies only to a directory it creates; the outbox creates this one first.
  await chmod(dir, 0o700).catch((e: unknown) => {
    // A directory another user owns stays as it is; the file's own mode still holds.
    if ((e as { code?: unknown }).code !== 'EPERM') throw e;
  });
  const tmp = `${path}.tmp`;
  const fh = await open(tmp, 'w', 0o600);
  try {
    // open's mode applies only to a file it creates: a temporary file left by a crash keeps its own.
    await fh.chmod(0o600);
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
