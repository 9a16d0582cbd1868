import type { ApiClient } from './client.ts';
import type { ExitCode } from './errors.ts';

/** What a command reaches outside itself (the process, or a test). */
export interface Io {
  out(line: string): void;
  err(line: string): void;
  /** Raw bytes (stdout for exports). */
  outBytes(b: Uint8Array): void;
  readFile(path: string): Uint8Array;
  /** All of stdin (a password piped in); absent where there is none to read. */
  readStdin?(): Uint8Array;
  writeFile(path: string, data: Uint8Array): void;
}

export interface Ctx {
  api: ApiClient;
  /** --json: print the API's JSON instead of text. */
  json: boolean;
  io: Io;
}

export interface OptionSpec {
  type: 'string' | 'boolean';
  short?: string;
  /** The value's placeholder in the usage line, e.g. `<school>`. */
  value?: string;
  help: string;
  required?: boolean;
}

export interface Args {
  pos: readonly string[];
  str(name: string): string | undefined;
  /** A required option's value (the dispatcher has checked it is there). */
  req(name: string): string;
  bool(name: string): boolean;
}

export interface CommandSpec {
  /** The words that name it: `['device', 'add']`, `['status']`. */
  words: readonly string[];
  /** Positional arguments in order: `<id>` required, `[name]` optional. */
  args?: readonly string[];
  options?: Readonly<Record<string, OptionSpec>>;
  summary: string;
  /** Returns the exit code when it is not 0 (or throws a CliError). */
  run(ctx: Ctx, a: Args): Promise<ExitCode | void>;
}

export const defineCommands = (...specs: CommandSpec[]): CommandSpec[] => specs;

/** Prints a value as --json does: the API's JSON, indented. */
export function printJson(ctx: Ctx, v: unknown): void {
  ctx.io.out(JSON.stringify(v, null, 2));
}

/** Prints `lines`, or the API's JSON `body` with --json. */
export function show(ctx: Ctx, body: unknown, lines: () => readonly string[]): void {
  if (ctx.json) printJson(ctx, body);
  else for (const l of lines()) ctx.io.out(l);
}

/** A list: its items as `{ items, nextCursor: null }` with --json (every page fetched), else a table. */
export function showList<T>(ctx: Ctx, items: readonly T[], lines: (items: readonly T[]) => readonly string[]): void {
  show(ctx, { items, nextCursor: null }, () => lines(items));
}

/** `school:yz-bashu` style scope flags. */
export function splitScope(v: string): { kind: string; id: string } {
  const i = v.indexOf(':');
  return i < 0 ? { kind: v, id: '' } : { kind: v.slice(0, i), id: v.slice(i + 1) };
}

/** A path segment (ids may hold any character the protocol allows, 中文 included). */
export const seg = (s: string): string => encodeURIComponent(s);
