import { toError } from '../../../runtime/src/errors.ts';
import { defineCommands, seg, show, showList, splitScope, type Args, type CommandSpec, type Ctx, type OptionSpec } from '../command.ts';
import { CLI_ERR, CliError, EXIT, usageError } from '../errors.ts';
import { fields, iso, mbps, mbpsToBps, parseDays, parseNonNegativeInt, table } from '../output.ts';
import type { District, NewUser, Room, School, User } from '../types.ts';

const ROLES = ['city_admin', 'district_operator', 'school_it', 'viewer'] as const;

const timetableText = (s: School): string => (s.timetable ? `days ${s.timetable.days.join(',')} ${s.timetable.start}-${s.timetable.end} ${s.timetable.timeZone}` : 'default');

const schoolLines = (s: School): string[] =>
  fields([
    ['school', s.id],
    ['district', s.district],
    ['name', `${s.nameZh} / ${s.nameEn}`],
    ['uplink', mbps(s.uplinkCapacityBps)],
    ['timetable', timetableText(s)],
  ]);

/** The hub's bounds on a console password (PUT /users/{user}/password), checked before anything is sent. */
const PASSWORD_MIN = 12;
const PASSWORD_MAX = 256;

const PASSWORD_OPTIONS: Record<string, OptionSpec> = {
  'password-file': { type: 'string', value: '<file>', help: 'a console password: the first line of this file' },
  'password-stdin': { type: 'boolean', help: 'a console password: the first line of stdin' },
};

/**
 * The password of --password-file or --password-stdin (never an argument: it would show in the
 * process list and the shell's history); undefined when neither is given.
 */
function passwordOf(ctx: Ctx, a: Args): string | undefined {
  const file = a.str('password-file');
  const stdin = a.bool('password-stdin');
  if (file !== undefined && stdin) throw usageError('give --password-file or --password-stdin, not both');
  if (file === undefined && !stdin) return undefined;
  let text: string;
  try {
    const bytes = file !== undefined ? ctx.io.readFile(file) : ctx.io.readStdin?.();
    if (bytes === undefined) throw new Error('there is no stdin here');
    text = new TextDecoder('utf-8', { fatal: true }).decode(bytes);
  } catch (e) {
    throw new CliError(EXIT.OTHER, CLI_ERR.FILE, `cannot read the password from ${file ?? 'stdin'}: ${toError(e).message}`, { cause: e });
  }
  const password = text.split(/\r?\n/)[0]!;
  const n = [...password].length;
  if (n < PASSWORD_MIN || n > PASSWORD_MAX) throw usageError(`the password must be ${PASSWORD_MIN} to ${PASSWORD_MAX} characters (it is ${n})`);
  return password;
}

const setPassword = (ctx: Ctx, user: string, password: string) => ctx.api.request('PUT', `/users/${seg(user)}/password`, { json: { password } });

const userAdd = (words: readonly string[], summary: string): CommandSpec => ({
  words,
  args: ['<id>'],
  summary,
  options: {
    role: { type: 'string', value: ROLES.join('|'), help: 'what it may do', required: true },
    scope: { type: 'string', value: 'city|district:<id>|school:<id>', help: 'where it may do it (default city)' },
    'ttl-days': { type: 'string', value: '<days>', help: "the token's lifetime in days (default 90; 0 = never expires)" },
    name: { type: 'string', value: '<display name>', help: 'a name for people' },
    ...PASSWORD_OPTIONS,
  },
  async run(ctx, a) {
    const role = a.req('role');
    if (!(ROLES as readonly string[]).includes(role)) throw usageError(`--role: "${role}" is not one of ${ROLES.join(', ')}`);
    // Read first: a password that cannot be read leaves no user behind.
    const password = passwordOf(ctx, a);
    const scope = splitScope(a.str('scope') ?? 'city');
    let where: { district?: string; school?: string };
    if (scope.kind === 'city' && !scope.id) where = {};
    else if (scope.kind === 'district' && scope.id) where = { district: scope.id };
    else if (scope.kind === 'school' && scope.id) {
      // A school's user belongs to its district as well; the API takes both.
      const s = await ctx.api.json<School>('GET', `/schools/${seg(scope.id)}`);
      where = { district: s.district, school: s.id };
    } else throw usageError(`--scope: "${a.str('scope')}" is not city, district:<id> or school:<id>`);
    const ttl = a.str('ttl-days');
    const name = a.str('name');
    const made = await ctx.api.json<NewUser>('POST', '/users', {
      json: { id: a.pos[0], role, ...where, ...(ttl === undefined ? {} : { tokenTtlDays: parseNonNegativeInt('ttl-days', ttl) }), ...(name === undefined ? {} : { displayName: name }) },
    });
    if (password !== undefined) await setPassword(ctx, made.user.id, password);
    if (ctx.json) show(ctx, password === undefined ? made : { ...made, user: { ...made.user, hasPassword: true } }, () => []);
    else ctx.io.out(made.token);
    ctx.io.err(`user ${made.user.id} created (${made.user.role})${password === undefined ? '' : ' with a console password'}; its token (${made.tokenId}, ${made.expiresAt === null ? 'never expires' : `expires ${iso(made.expiresAt)}`}) is shown once: store it now`);
  },
});

/** Districts, schools, rooms, timetables and users. */
export const orgCommands = defineCommands(
  {
    words: ['district', 'add'],
    args: ['<id>'],
    summary: 'create a district',
    options: {
      code: { type: 'string', value: '<code>', help: 'short code, e.g. yz', required: true },
      'name-zh': { type: 'string', value: '<name>', help: 'Chinese name, e.g. 渝中区', required: true },
      'name-en': { type: 'string', value: '<name>', help: 'English name, e.g. Yuzhong', required: true },
    },
    async run(ctx, a) {
      const d = await ctx.api.json<District>('POST', '/districts', { json: { id: a.pos[0], code: a.req('code'), nameZh: a.req('name-zh'), nameEn: a.req('name-en') } });
      show(ctx, d, () => [`district ${d.id} created (code ${d.code ?? '-'}, ${d.nameZh} / ${d.nameEn})`]);
    },
  },
  {
    words: ['district', 'list'],
    summary: 'list the districts you can see',
    options: { q: { type: 'string', value: '<text>', help: 'only those whose id or name holds this' } },
    async run(ctx, a) {
      const items = await ctx.api.all<District>('/districts', { q: a.str('q') });
      showList(ctx, items, (ds) => table(['ID', 'CODE', 'NAME_ZH', 'NAME_EN'], ds.map((d) => [d.id, d.code, d.nameZh, d.nameEn])));
    },
  },
  {
    words: ['school', 'add'],
    args: ['<id>'],
    summary: 'create a school, with its rooms',
    options: {
      district: { type: 'string', value: '<district>', help: 'the district it is in', required: true },
      'name-zh': { type: 'string', value: '<name>', help: 'Chinese name', required: true },
      'name-en': { type: 'string', value: '<name>', help: 'English name', required: true },
      'uplink-mbps': { type: 'string', value: '<mbps>', help: "capacity of the school's uplink in Mbit/s" },
      rooms: { type: 'string', value: '<a,b,…>', help: 'rooms to create with it, comma separated' },
    },
    async run(ctx, a) {
      const up = a.str('uplink-mbps');
      const rooms = a.str('rooms')?.split(',').map((r) => r.trim()).filter((r) => r !== '');
      const s = await ctx.api.json<School>('POST', '/schools', {
        json: { id: a.pos[0], district: a.req('district'), nameZh: a.req('name-zh'), nameEn: a.req('name-en'), ...(up === undefined ? {} : { uplinkCapacityBps: mbpsToBps('uplink-mbps', up) }), ...(rooms ? { rooms: rooms.map((id) => ({ id })) } : {}) },
      });
      show(ctx, s, () => [`school ${s.id} created${rooms ? ` with ${rooms.length} room(s)` : ''}`, ...schoolLines(s)]);
    },
  },
  {
    words: ['school', 'list'],
    summary: 'list the schools you can see',
    options: {
      district: { type: 'string', value: '<district>', help: "only this district's" },
      q: { type: 'string', value: '<text>', help: 'only those whose id or name holds this' },
    },
    async run(ctx, a) {
      const items = await ctx.api.all<School>('/schools', { district: a.str('district'), q: a.str('q') });
      showList(ctx, items, (ss) => table(['ID', 'DISTRICT', 'NAME_ZH', 'NAME_EN', 'UPLINK', 'TIMETABLE'], ss.map((s) => [s.id, s.district, s.nameZh, s.nameEn, mbps(s.uplinkCapacityBps), timetableText(s)])));
    },
  },
  {
    words: ['room', 'add'],
    args: ['<school>', '<room>'],
    summary: 'create a room in a school',
    options: { name: { type: 'string', value: '<name>', help: 'what people call it' } },
    async run(ctx, a) {
      const name = a.str('name');
      const r = await ctx.api.json<Room>('POST', `/schools/${seg(a.pos[0]!)}/rooms`, { json: { id: a.pos[1], ...(name === undefined ? {} : { name }) } });
      show(ctx, r, () => [`room ${r.id} created in ${r.school}${r.name ? ` (${r.name})` : ''}`]);
    },
  },
  {
    words: ['room', 'list'],
    args: ['<school>'],
    summary: "list a school's rooms",
    async run(ctx, a) {
      const body = await ctx.api.json<{ items: Room[] }>('GET', `/schools/${seg(a.pos[0]!)}/rooms`);
      show(ctx, body, () => table(['ROOM', 'NAME'], body.items.map((r) => [r.id, r.name])));
    },
  },
  {
    words: ['timetable', 'set'],
    args: ['<school>'],
    summary: "set a school's timetable (when its devices are expected up)",
    options: {
      days: { type: 'string', value: '<days>', help: 'ISO weekdays, e.g. 1-5 or 1,3,5 (1 = Monday)', required: true },
      start: { type: 'string', value: '<HH:MM>', help: 'local start time', required: true },
      end: { type: 'string', value: '<HH:MM>', help: 'local end time (exclusive; 24:00 allowed)', required: true },
      tz: { type: 'string', value: '<zone>', help: 'IANA time zone (default Asia/Shanghai)' },
    },
    async run(ctx, a) {
      const s = await ctx.api.json<School>('PUT', `/schools/${seg(a.pos[0]!)}/timetable`, {
        json: { days: parseDays(a.req('days')), start: a.req('start'), end: a.req('end'), timeZone: a.str('tz') ?? 'Asia/Shanghai' },
      });
      show(ctx, s, () => [`timetable of ${s.id} set: ${timetableText(s)}`]);
    },
  },
  {
    words: ['timetable', 'clear'],
    args: ['<school>'],
    summary: "put a school back on the default timetable",
    async run(ctx, a) {
      const s = await ctx.api.json<School>('DELETE', `/schools/${seg(a.pos[0]!)}/timetable`);
      show(ctx, s, () => [`timetable of ${s.id} cleared: ${timetableText(s)}`]);
    },
  },
  userAdd(['user', 'add'], 'create a user and print its first API token (shown once)'),
  userAdd(['user', 'create'], 'the same as user add'),
  {
    words: ['user', 'password'],
    args: ['<id>'],
    summary: "set a user's console password (its other console sessions end)",
    options: PASSWORD_OPTIONS,
    async run(ctx, a) {
      const password = passwordOf(ctx, a);
      if (password === undefined) throw usageError('give --password-file <file> or --password-stdin');
      await setPassword(ctx, a.pos[0]!, password);
      show(ctx, { user: a.pos[0], hasPassword: true }, () => [`password of user ${a.pos[0]} set; its other console sessions have ended`]);
    },
  },
  {
    words: ['user', 'list'],
    summary: 'list the users you can see',
    options: {
      district: { type: 'string', value: '<district>', help: "only this district's" },
      school: { type: 'string', value: '<school>', help: "only this school's" },
    },
    async run(ctx, a) {
      const items = await ctx.api.all<User>('/users', { district: a.str('district'), school: a.str('school') });
      showList(ctx, items, (us) => table(['ID', 'ROLE', 'DISTRICT', 'SCHOOL', 'NAME', 'DISABLED'], us.map((u) => [u.id, u.role, u.district, u.school, u.displayName, iso(u.disabledAt)])));
    },
  },
  {
    words: ['user', 'disable'],
    args: ['<id>'],
    summary: 'disable a user and revoke its tokens',
    async run(ctx, a) {
      await ctx.api.request('DELETE', `/users/${seg(a.pos[0]!)}`);
      show(ctx, { user: a.pos[0], disabled: true }, () => [`user ${a.pos[0]} disabled; its tokens are revoked`]);
    },
  },
);
