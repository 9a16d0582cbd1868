/** Converts anything thrown into an Error, never `as any`. */
export function toError(e: unknown): Error {
  if (e instanceof Error) return e;
  return new Error(typeof e === 'string' ? e : JSON.stringify(e));
}

/** Base of every coded error in the product; each part catalogues its codes in its README. */
export class CodedError extends Error {
  readonly code: string;
  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
    this.name = new.target.name;
  }
}

/** Formats zod issues as `path: message`, one per line. */
export function formatIssues(issues: ReadonlyArray<{ path: ReadonlyArray<PropertyKey>; message: string }>): string {
  return issues.map((i) => `${i.path.map(String).join('.') || '(root)'}: ${i.message}`).join('\n');
}

/** Failures of what this part owns: config parsing, ports, child processes, a local influxd. */
export const RUNTIME_ERR = {
  /** The environment does not pass a service's config schema (every problem listed). */
  CONFIG: 'RUNTIME_ERR_CONFIG',
  /** `waitFor` ran out of time before its probe answered. */
  TIMEOUT: 'RUNTIME_ERR_TIMEOUT',
  /** A child process (a part's main, Node-RED) exited while it was starting. */
  CHILD_EXITED: 'RUNTIME_ERR_CHILD_EXITED',
  /** No `influxd` on the PATH, and no INFLUX_URL. */
  INFLUXD_MISSING: 'RUNTIME_ERR_INFLUXD_MISSING',
  /** The local influxd exited before it answered `/ping`. */
  INFLUXD_EXITED: 'RUNTIME_ERR_INFLUXD_EXITED',
  /** InfluxDB answered an InfluxQL query with an error. */
  INFLUXQL: 'RUNTIME_ERR_INFLUXQL',
} as const;

export class RuntimeError extends CodedError {}
