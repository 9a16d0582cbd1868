import { z } from 'zod';
import { CodedError, formatIssues, RUNTIME_ERR } from './errors.ts';

/** `true`/`false`/`1`/`0`/`yes`/`no` from an environment variable. */
/** An empty or blank variable counts as unset (shells and compose files leave `VAR=` around). */
const blankIsUnset = (v: unknown) => (typeof v === 'string' && v.trim() === '' ? undefined : v);

export const envBool = (dflt: boolean) =>
  z.preprocess(
    blankIsUnset,
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'])
      .default(dflt ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  );

export const envInt = (dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
  z.preprocess(blankIsUnset, z.coerce.number().int().min(min).max(max).default(dflt));

/**
 * A URL with one of `schemes` and a host. A bare z.url() is not enough: `localhost:8086` parses
 * as scheme `localhost:` and fails only when first used. Unparseable text keeps z.url()'s message.
 */
export const urlWithScheme = (...schemes: [string, ...string[]]) =>
  z.url().refine(
    (v) => {
      if (!URL.canParse(v)) return true;
      const u = new URL(v);
      return schemes.includes(u.protocol.slice(0, -1)) && u.hostname !== '';
    },
    `must be a URL with a scheme and a host: ${schemes.map((s) => `${s}://`).join(' or ')}`,
  );

export class ConfigError extends CodedError {
  readonly problems: string;
  constructor(problems: string) {
    super(RUNTIME_ERR.CONFIG, `invalid configuration:\n${problems}`);
    this.problems = problems;
    this.name = 'ConfigError';
  }
}

/** Parses the environment once; every problem is reported as `VARIABLE: message`. Frozen. */
export function parseEnvConfig<S extends z.ZodType>(schema: S, env: Record<string, string | undefined>): Readonly<z.infer<S>> {
  // A blank variable counts as unset, so its default applies (never "listen on every interface").
  const set = Object.fromEntries(Object.entries(env).filter(([, v]) => v !== undefined && v.trim() !== ''));
  const r = schema.safeParse(set);
  if (!r.success) throw new ConfigError(formatIssues(r.error.issues));
  return deepFreeze(r.data);
}

export function deepFreeze<T>(o: T): T {
  if (o && typeof o === 'object') {
    for (const v of Object.values(o)) deepFreeze(v);
    Object.freeze(o);
  }
  return o;
}

/** For a `main`: prints the problems and exits 1. */
export function loadConfigOrExit<T>(load: () => T): T {
  try {
    return load();
  } catch (e) {
    if (e instanceof ConfigError) {
      process.stderr.write(`${e.message}\n`);
      process.exit(1);
    }
    throw e;
  }
}
