import { CodedError } from '../../runtime/src/errors.ts';

/** The exit codes scripts rely on (README, Exit codes). */
export const EXIT = {
  OK: 0,
  OTHER: 1,
  USAGE: 2,
  UNAUTHENTICATED: 3,
  NOT_FOUND: 4,
  CONFLICT: 5,
  INVALID: 6,
  UNREACHABLE: 7,
  NOT_DONE: 8,
} as const;
export type ExitCode = (typeof EXIT)[keyof typeof EXIT];

/** The CLI's own codes; failures the hub reports keep the hub's code (`HUB_ERR_…`). */
export const CLI_ERR = {
  /** An unknown command or flag, a missing argument, a value the CLI cannot read. */
  USAGE: 'CLI_ERR_USAGE',
  /** No CAMPUS_TOKEN, and no token file to read. */
  NO_TOKEN: 'CLI_ERR_NO_TOKEN',
  /** The hub at CAMPUS_URL did not answer (refused, reset, timed out). */
  UNREACHABLE: 'CLI_ERR_UNREACHABLE',
  /** The hub answered with something that is not the API's JSON. */
  BAD_REPLY: 'CLI_ERR_BAD_REPLY',
  /** A command that ended (or was still waiting at --timeout) other than `done`. */
  NOT_DONE: 'CLI_ERR_COMMAND_NOT_DONE',
  /** A file named on the command line could not be read or written. */
  FILE: 'CLI_ERR_FILE',
} as const;

/**
 * A failure that ends the invocation: printed as `code: message` on stderr, then each of
 * `lines` (the hub's issues or bad rows), and the process exits with `exitCode`.
 */
export class CliError extends CodedError {
  readonly exitCode: ExitCode;
  readonly lines: readonly string[];
  constructor(exitCode: ExitCode, code: string, message: string, opts: { lines?: readonly string[]; cause?: unknown } = {}) {
    super(code, message, { cause: opts.cause });
    this.exitCode = exitCode;
    this.lines = opts.lines ?? [];
  }
}

export const usageError = (message: string): CliError => new CliError(EXIT.USAGE, CLI_ERR.USAGE, message);
