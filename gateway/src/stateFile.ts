import { mkdir, open, readFile, rename } from 'node:fs/promises';
import { dirname } from 'node:path';
import { formatIssues } from '../../runtime/src/errors.ts';
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

/** The file's value, undefined when there is none; throws (with the reason) when it is unreadable or fails the schema. */
export async function readStateFile<T>(path: string, schema: PayloadSchema<T>): Promise<T | undefined> {
  let raw: string;
  try {
    raw = await readFile(path, 'utf8');
  } catch (e) {
    if ((e as { code?: unknown }).code === 'ENOENT') return undefined;
    throw e;
  }
  const parsed = schema.safeParse(JSON.parse(raw));
  if (!parsed.success) throw new Error(`${path}: ${formatIssues(parsed.error.issues)}`);
  return parsed.data;
}
