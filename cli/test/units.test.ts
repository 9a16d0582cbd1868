import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { detailLines, exitCodeOf, resolveToken } from '../src/client.ts';
import type { Io } from '../src/command.ts';
import { loadCliConfig } from '../src/config.ts';
import { CliError } from '../src/errors.ts';
import { parseDays, parseDuration, table } from '../src/output.ts';

function io(): Io & { outs: string[]; errs: string[] } {
  const outs: string[] = [];
  const errs: string[] = [];
  return {
    outs,
    errs,
    out: (l) => void outs.push(l),
    err: (l) => void errs.push(l),
    outBytes: (b) => void outs.push(new TextDecoder().decode(b)),
    readFile: () => {
      throw new Error('no files here');
    },
    writeFile: () => {},
  };
}

describe('output helpers', () => {
  it('weekdays: ranges and lists, sorted and without repeats', () => {
    expect(parseDays('1-5')).toEqual([1, 2, 3, 4, 5]);
    expect(parseDays('6,1-2,2')).toEqual([1, 2, 6]);
    expect(() => parseDays('0-4')).toThrow(CliError);
    expect(() => parseDays('5-1')).toThrow(/backwards/);
  });

  it('durations: ms, s, m, h; a bare number is seconds', () => {
    expect(parseDuration('ttl', '1500ms')).toBe(1500);
    expect(parseDuration('ttl', '60s')).toBe(60_000);
    expect(parseDuration('ttl', '5m')).toBe(300_000);
    expect(parseDuration('ttl', '1h')).toBe(3_600_000);
    expect(parseDuration('ttl', '90')).toBe(90_000);
    expect(() => parseDuration('ttl', '5x')).toThrow(/--ttl: "5x" is not a duration/);
  });

  it('tables pad by terminal columns: a Chinese character takes two', () => {
    // 渝中区 is 6 columns wide, so the ID column is 6 wide plus the 2-space gap.
    expect(table(['ID', 'CODE'], [['渝中区', 'yz'], ['x', null]])).toEqual(['ID      CODE', '渝中区  yz', 'x       -']);
    expect(table(['ID'], [])).toEqual(['(none)']);
  });
});

describe('client helpers', () => {
  it('maps HTTP refusals to exit codes', () => {
    expect([401, 403, 404, 409, 400, 422, 500, 503].map(exitCodeOf)).toEqual([3, 4, 4, 5, 6, 6, 1, 1]);
  });

  it('prints every zod issue and every bad row', () => {
    expect(detailLines({ issues: [{ in: 'body', path: 'kind', message: 'Invalid option' }, { in: 'query', path: '', message: 'bad' }] })).toEqual(['body kind: Invalid option', 'query: bad']);
    expect(detailLines({ errors: [{ line: 3, column: 'kind', code: 'unknown_kind', reason: 'toaster is not a kind' }, { line: 7, code: 'empty', reason: 'no rows' }] })).toEqual([
      'line 3: unknown_kind: toaster is not a kind',
      'line 7: empty: no rows',
    ]);
    expect(detailLines({ reason: 'exists' })).toEqual([]);
    expect(detailLines(undefined)).toEqual([]);
  });

  it('the token: CAMPUS_TOKEN, else the file (trimmed); none is exit 3', () => {
    expect(resolveToken(loadCliConfig({ CAMPUS_TOKEN: 'cit_a' }), () => 'unused')).toBe('cit_a');
    expect(resolveToken(loadCliConfig({ CAMPUS_TOKEN_FILE: '/t' }), (p) => (p === '/t' ? 'cit_b\n' : ''))).toBe('cit_b');
    expect(resolveToken(loadCliConfig({}), (p) => (p === '.data/admin-token' ? 'cit_c\n' : ''))).toBe('cit_c');
    const none = () => resolveToken(loadCliConfig({}), () => '  \n');
    expect(none).toThrow(expect.objectContaining({ exitCode: 3, code: 'CLI_ERR_NO_TOKEN' }));
    // The first line that is not blank; a comment after it is not part of the token.
    expect(resolveToken(loadCliConfig({}), () => '\ncit_d\n# the Bashu IT token\n')).toBe('cit_d');
    // What cannot be a token is refused without being echoed (it may be a secret pasted wrong).
    for (const [env, file] of [[{ CAMPUS_TOKEN: 'cit_e secret' }, ''], [{ CAMPUS_TOKEN: 'cit_f\nsecret' }, ''], [{}, 'cit_g 秘密\n']] as const) {
      let err: unknown;
      try {
        resolveToken(loadCliConfig(env), () => file);
      } catch (e) {
        err = e;
      }
      expect(err).toMatchObject({ exitCode: 3, code: 'CLI_ERR_NO_TOKEN' });
      expect((err as Error).message).not.toMatch(/secret|秘密/);
    }
  });

  it('config: the default URL, a trailing slash dropped', () => {
    expect(loadCliConfig({}).url).toBe('http://127.0.0.1:8080');
    expect(loadCliConfig({ CAMPUS_URL: 'http://hub.example:9000/' }).url).toBe('http://hub.example:9000');
  });

  it('config: a URL without its scheme is refused at start, by name (it would parse as scheme `localhost:`)', () => {
    for (const url of ['localhost:8080', 'hub.example:9000', 'mqtt://hub.example']) {
      expect(() => loadCliConfig({ CAMPUS_URL: url }), url).toThrow(/CAMPUS_URL: must be a URL with a scheme and a host: http:\/\/ or https:\/\//);
    }
  });
});

describe('runCli without a hub', () => {
  it('no arguments: usage on stderr, exit 2; --help: on stdout, exit 0', async () => {
    let t = io();
    expect(await runCli([], {}, t)).toBe(2);
    expect(t.errs[0]).toMatch(/^usage: campus/);
    t = io();
    expect(await runCli(['--help'], {}, t)).toBe(0);
    expect(t.outs.some((l) => l.startsWith('  device import '))).toBe(true);
  });

  it('an unknown command, verb or flag, a missing argument: exit 2 with the reason', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frob'], /^CLI_ERR_USAGE: unknown command "frob"$/],
      [['device', 'frob'], /^CLI_ERR_USAGE: unknown command "device frob"$/],
      [['district', 'list', '--nope'], /^CLI_ERR_USAGE: Unknown option '--nope'/],
      [['room', 'add', 'yz-bashu'], /^CLI_ERR_USAGE: missing <room>$/],
      [['room', 'list', 'a', 'b'], /^CLI_ERR_USAGE: unexpected argument "b"$/],
      [['gateway', 'add', 'gw'], /^CLI_ERR_USAGE: missing --school$/],
      [['command', 'send', 'd', 'reboot', '--ttl', 'soon'], /^CLI_ERR_USAGE: --ttl: "soon" is not a duration/],
      [['user', 'add', 'u', '--role', 'king'], /^CLI_ERR_USAGE: --role: "king" is not one of/],
    ];
    for (const [argv, want] of cases) {
      const t = io();
      expect(await runCli(argv, { CAMPUS_TOKEN: 'cit_x', CAMPUS_URL: 'http://127.0.0.1:9' }, t), argv.join(' ')).toBe(2);
      expect(t.errs[0], argv.join(' ')).toMatch(want);
    }
  });

  it('a group --help lists its commands; an invalid environment is exit 2 naming the variable', async () => {
    let t = io();
    expect(await runCli(['gateway', '--help'], {}, t)).toBe(0);
    expect(t.outs.filter((l) => l.startsWith('  gateway '))).toHaveLength(5);
    t = io();
    expect(await runCli(['district', 'list'], { CAMPUS_URL: 'not a url' }, t)).toBe(2);
    expect(t.errs).toEqual(['CLI_ERR_USAGE: the environment is not valid', '  CAMPUS_URL: Invalid URL']);
  });
});
