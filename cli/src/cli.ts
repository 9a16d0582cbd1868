import { parseArgs, type ParseArgsConfig } from 'node:util';
import { ConfigError } from '../../runtime/src/envConfig.ts';
import { toError } from '../../runtime/src/errors.ts';
import { ApiClient, resolveToken } from './client.ts';
import type { Args, CommandSpec, Io } from './command.ts';
import { COMMANDS } from './commands/index.ts';
import { loadCliConfig } from './config.ts';
import { CLI_ERR, CliError, EXIT, usageError } from './errors.ts';

/** Flags every command takes. */
const COMMON: NonNullable<ParseArgsConfig['options']> = {
  json: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
};

const words = (c: CommandSpec) => c.words.join(' ');

function usageLine(c: CommandSpec): string {
  const opts = Object.entries(c.options ?? {}).map(([name, o]) => {
    const flag = `--${name}${o.type === 'string' ? ` ${o.value ?? '<value>'}` : ''}`;
    return o.required ? flag : `[${flag}]`;
  });
  return ['campus', words(c), ...(c.args ?? []), ...opts, '[--json]'].join(' ');
}

export function commandHelp(c: CommandSpec): string[] {
  const lines = [`usage: ${usageLine(c)}`, '', `  ${c.summary}`];
  const opts: Array<[string, string]> = Object.entries(c.options ?? {}).map(([n, o]) => [`${o.short ? `-${o.short}, ` : ''}--${n}`, `${o.help}${o.required ? ' (required)' : ''}`]);
  opts.push(['--json', "print the API's JSON instead of text"]);
  const w = Math.max(...opts.map(([f]) => f.length));
  lines.push('', ...opts.map(([f, h]) => `  ${f.padEnd(w + 2)}${h}`));
  return lines;
}

export function generalHelp(only?: string): string[] {
  const shown = COMMANDS.filter((c) => only === undefined || c.words[0] === only);
  const w = Math.max(...shown.map((c) => words(c).length));
  return [
    'usage: campus <command> [arguments] [--json] [--help]',
    '',
    ...shown.map((c) => `  ${words(c).padEnd(w + 2)}${c.summary}`),
    '',
    'environment: CAMPUS_URL (default http://127.0.0.1:8080), CAMPUS_TOKEN, CAMPUS_TOKEN_FILE (default .data/admin-token)',
    'exit codes: 0 ok, 1 other, 2 usage, 3 not authenticated, 4 not found or forbidden, 5 conflict, 6 invalid, 7 hub unreachable, 8 command not done',
  ];
}

/** The command the words name, and the arguments after them. */
function find(argv: readonly string[]): { cmd: CommandSpec; rest: string[] } | undefined {
  for (const c of COMMANDS) if (c.words.every((w, i) => argv[i] === w)) return { cmd: c, rest: argv.slice(c.words.length) };
  return undefined;
}

function argsOf(cmd: CommandSpec, rest: string[]): { a: Args; json: boolean; help: boolean } {
  const options: NonNullable<ParseArgsConfig['options']> = { ...COMMON };
  for (const [n, o] of Object.entries(cmd.options ?? {})) options[n] = { type: o.type, ...(o.short ? { short: o.short } : {}) };
  let parsed: ReturnType<typeof parseArgs>;
  try {
    parsed = parseArgs({ args: rest, options, allowPositionals: true, strict: true });
  } catch (e) {
    throw usageError(toError(e).message);
  }
  const v = parsed.values as Record<string, string | boolean | undefined>;
  const help = v['help'] === true;
  const a: Args = {
    pos: parsed.positionals,
    str: (n) => (typeof v[n] === 'string' ? (v[n] as string) : undefined),
    req: (n) => v[n] as string,
    bool: (n) => v[n] === true,
  };
  if (!help) {
    const want = cmd.args ?? [];
    const min = want.filter((x) => x.startsWith('<')).length;
    if (a.pos.length < min) throw usageError(`missing ${want.slice(a.pos.length, min).join(' ')}`);
    if (a.pos.length > want.length) throw usageError(`unexpected argument ${JSON.stringify(a.pos[want.length])}`);
    const missing = Object.entries(cmd.options ?? {}).filter(([n, o]) => o.required && a.str(n) === undefined);
    if (missing.length) throw usageError(`missing ${missing.map(([n]) => `--${n}`).join(', ')}`);
  }
  return { a, json: v['json'] === true, help };
}

function report(io: Io, e: CliError): number {
  io.err(`${e.code}: ${e.message}`);
  for (const l of e.lines) io.err(`  ${l}`);
  return e.exitCode;
}

/** One invocation: the exit code. Nothing here exits the process (main does). */
export async function runCli(argv: readonly string[], env: Record<string, string | undefined>, io: Io): Promise<number> {
  if (argv.length === 0 || ((argv[0] === '--help' || argv[0] === '-h' || argv[0] === 'help') && argv.length === 1)) {
    for (const l of generalHelp()) (argv.length === 0 ? io.err : io.out)(l);
    return argv.length === 0 ? EXIT.USAGE : EXIT.OK;
  }
  const found = find(argv);
  if (!found) {
    const group = COMMANDS.some((c) => c.words[0] === argv[0]) ? argv[0] : undefined;
    if (group !== undefined && (argv[1] === '--help' || argv[1] === '-h')) {
      for (const l of generalHelp(group)) io.out(l);
      return EXIT.OK;
    }
    report(io, usageError(group === undefined ? `unknown command "${argv[0]}"` : `unknown command "${argv.slice(0, 2).join(' ')}"`));
    for (const l of generalHelp(group)) io.err(l);
    return EXIT.USAGE;
  }
  const { cmd, rest } = found;
  try {
    const { a, json, help } = argsOf(cmd, rest);
    if (help) {
      for (const l of commandHelp(cmd)) io.out(l);
      return EXIT.OK;
    }
    let cfg;
    try {
      cfg = loadCliConfig(env);
    } catch (e) {
      if (e instanceof ConfigError) return report(io, new CliError(EXIT.USAGE, CLI_ERR.USAGE, 'the environment is not valid', { lines: e.problems.split('\n') }));
      throw e;
    }
    const config = cfg;
    let token: string | undefined;
    const api = new ApiClient(cfg.url, () => (token ??= resolveToken(config)));
    return (await cmd.run({ api, json, io }, a)) ?? EXIT.OK;
  } catch (e) {
    if (e instanceof CliError) {
      const code = report(io, e);
      if (e.exitCode === EXIT.USAGE) for (const l of commandHelp(cmd)) io.err(l);
      return code;
    }
    io.err(`error: ${toError(e).stack ?? toError(e).message}`);
    return EXIT.OTHER;
  }
}
