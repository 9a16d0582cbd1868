import { toError } from '../../../runtime/src/errors.ts';
import { defineCommands, seg, show, showList, type Io } from '../command.ts';
import { CLI_ERR, CliError, EXIT, usageError } from '../errors.ts';
import { fields, iso, mbps, mbpsToBps, table } from '../output.ts';
import type { Device, DeviceStatus, ImportResult, SnmpTargetView } from '../types.ts';

const STATES = ['up', 'down', 'off', 'unknown'];

const snmpLine = (t: SnmpTargetView): string =>
  `v${t.version} ${t.address}:${t.port} ${t.ifName === undefined ? `ifIndex ${t.ifIndex}` : `ifName ${t.ifName}`}, every ${t.pollIntervalMs / 1000} s${t.user ? `, user ${t.user.name} (${t.user.level})` : ''}`;

/** A JSON file given to an option (the hub validates what it holds). */
function readJson(io: Io, file: string): unknown {
  let text: string;
  try {
    text = new TextDecoder().decode(io.readFile(file));
  } catch (e) {
    throw new CliError(EXIT.OTHER, CLI_ERR.FILE, `cannot read ${file}: ${toError(e).message}`, { cause: e });
  }
  try {
    return JSON.parse(text) as unknown;
  } catch (e) {
    throw usageError(`${file} is not JSON: ${toError(e).message}`);
  }
}

const deviceLines = (d: Device | DeviceStatus): string[] => {
  const st = 'state' in d ? d : undefined;
  return fields([
    ['device', d.id],
    ['school', `${d.school} (${d.district})`],
    ['room', d.room],
    ['kind', d.kind],
    ['model', d.model],
    ['vendor', d.vendor],
    ['serial', d.serial],
    ['link', d.linkRole === null ? undefined : `${d.linkRole}, ${mbps(d.capacityBps) ?? '-'}`],
    // The hub never returns a secret: a community or key shows only as set.
    ...(d.snmp ? ([['snmp', snmpLine(d.snmp)]] as const) : []),
    ...(st ? ([['state', `${st.state}${st.since === null ? '' : ` since ${iso(st.since)}`}`], ['gateway', st.gateway]] as const) : []),
    ...(st && st.lastTelemetry !== undefined ? ([['last telemetry', st.lastTelemetry ? `${iso(st.lastTelemetry.ts)} ${JSON.stringify(st.lastTelemetry.data)}` : undefined]] as const) : []),
    ['created', iso(d.createdAt)],
    ...(d.retiredAt === null ? [] : ([['retired', iso(d.retiredAt)]] as const)),
  ]);
};

/** Devices, one by one and by the inventory CSV. */
export const deviceCommands = defineCommands(
  {
    words: ['device', 'add'],
    args: ['<id>'],
    summary: 'register a device in a room of a school',
    options: {
      school: { type: 'string', value: '<school>', help: 'its school', required: true },
      room: { type: 'string', value: '<room>', help: 'its room (a room of that school)', required: true },
      kind: { type: 'string', value: '<kind>', help: 'classroom_av, interactive_board, vr_kit, network_node or science_kiosk', required: true },
      model: { type: 'string', value: '<model>', help: 'model name' },
      vendor: { type: 'string', value: '<vendor>', help: 'vendor' },
      serial: { type: 'string', value: '<serial>', help: 'serial number' },
      'link-role': { type: 'string', value: '<role>', help: 'a network node: school_uplink, district_uplink, backbone or access' },
      'capacity-mbps': { type: 'string', value: '<mbps>', help: "a network node: its link's capacity in Mbit/s" },
      'snmp-json': { type: 'string', value: '<file>', help: 'a network node its gateway polls: the SNMP target as JSON (address, version, community or user, ifIndex or ifName; secrets may be env:NAME)' },
    },
    async run(ctx, a) {
      const cap = a.str('capacity-mbps');
      const snmpFile = a.str('snmp-json');
      const opt = (k: string, name: string) => (a.str(k) === undefined ? {} : { [name]: a.str(k) });
      const d = await ctx.api.json<Device>('POST', '/devices', {
        json: {
          id: a.pos[0],
          school: a.req('school'),
          room: a.req('room'),
          kind: a.req('kind'),
          ...opt('model', 'model'),
          ...opt('vendor', 'vendor'),
          ...opt('serial', 'serial'),
          ...opt('link-role', 'linkRole'),
          ...(cap === undefined ? {} : { capacityBps: mbpsToBps('capacity-mbps', cap) }),
          ...(snmpFile === undefined ? {} : { snmp: readJson(ctx.io, snmpFile) }),
        },
      });
      show(ctx, d, () => [`device ${d.id} registered in ${d.school} room ${d.room}`]);
    },
  },
  {
    words: ['device', 'list'],
    summary: 'list devices with their state',
    options: {
      district: { type: 'string', value: '<district>', help: "only this district's" },
      school: { type: 'string', value: '<school>', help: "only this school's" },
      room: { type: 'string', value: '<room>', help: 'only this room' },
      kind: { type: 'string', value: '<kind>', help: 'only this kind' },
      state: { type: 'string', value: STATES.join('|'), help: 'only those in this state' },
      q: { type: 'string', value: '<text>', help: 'id, model, vendor or serial holds this' },
      'include-retired': { type: 'boolean', help: 'retired devices too' },
    },
    async run(ctx, a) {
      const state = a.str('state');
      if (state !== undefined && !STATES.includes(state)) throw usageError(`--state: "${state}" is not one of ${STATES.join(', ')}`);
      const items = await ctx.api.all<DeviceStatus>('/devices', {
        district: a.str('district'),
        school: a.str('school'),
        room: a.str('room'),
        kind: a.str('kind'),
        state,
        q: a.str('q'),
        includeRetired: a.bool('include-retired') || undefined,
      });
      showList(ctx, items, (ds) => table(['ID', 'SCHOOL', 'ROOM', 'KIND', 'STATE', 'SINCE', 'GATEWAY'], ds.map((d) => [d.id, d.school, d.room, d.kind, d.retiredAt === null ? d.state : 'retired', iso(d.since), d.gateway])));
    },
  },
  {
    words: ['device', 'show'],
    args: ['<id>'],
    summary: 'one device: record, state, last telemetry',
    async run(ctx, a) {
      const d = await ctx.api.json<DeviceStatus>('GET', `/devices/${seg(a.pos[0]!)}`);
      show(ctx, d, () => deviceLines(d));
    },
  },
  {
    words: ['device', 'move'],
    args: ['<id>'],
    summary: 'move a device to another room or school',
    options: {
      school: { type: 'string', value: '<school>', help: 'the school it goes to', required: true },
      room: { type: 'string', value: '<room>', help: 'the room it goes to', required: true },
    },
    async run(ctx, a) {
      const d = await ctx.api.json<Device>('POST', `/devices/${seg(a.pos[0]!)}/move`, { json: { school: a.req('school'), room: a.req('room') } });
      show(ctx, d, () => [`device ${d.id} moved to ${d.school} room ${d.room}`]);
    },
  },
  {
    words: ['device', 'retire'],
    args: ['<id>'],
    summary: 'retire a device (erased when it has no history)',
    async run(ctx, a) {
      const r = await ctx.api.request('DELETE', `/devices/${seg(a.pos[0]!)}`);
      const retired = r.status === 200;
      show(ctx, r.body ?? { retired: false, erased: true, device: a.pos[0] }, () => [retired ? `device ${a.pos[0]} retired (its history is kept)` : `device ${a.pos[0]} erased (it had no history)`]);
    },
  },
  {
    words: ['device', 'import'],
    args: ['<file.csv>'],
    summary: 'create or update devices from an inventory CSV (all rows or none)',
    options: { 'dry-run': { type: 'boolean', help: 'check and count, change nothing' } },
    async run(ctx, a) {
      const file = a.pos[0]!;
      let bytes: Uint8Array;
      try {
        bytes = ctx.io.readFile(file);
      } catch (e) {
        throw new CliError(EXIT.OTHER, CLI_ERR.FILE, `cannot read ${file}: ${toError(e).message}`, { cause: e });
      }
      // The bytes go as they are: the hub detects the encoding (UTF-8, GB18030…).
      const r = await ctx.api.json<ImportResult>('POST', '/inventory/import', { query: { dryRun: a.bool('dry-run') }, raw: { body: bytes, contentType: 'text/csv' } });
      show(ctx, r, () => [`${r.dryRun ? 'dry run, nothing changed: would create' : 'imported: created'} ${r.created}, ${r.dryRun ? 'update' : 'updated'} ${r.updated}, unchanged ${r.unchanged} (${r.rows} rows, ${r.encoding})`]);
    },
  },
  {
    words: ['device', 'export'],
    summary: 'the inventory CSV of your scope (or of one district or school)',
    options: {
      district: { type: 'string', value: '<district>', help: "only this district's" },
      school: { type: 'string', value: '<school>', help: "only this school's" },
      output: { type: 'string', short: 'o', value: '<file>', help: 'write it here instead of stdout' },
    },
    async run(ctx, a) {
      if (a.str('district') !== undefined && a.str('school') !== undefined) throw usageError('give --district or --school, not both');
      const r = await ctx.api.request('GET', '/inventory/export', { query: { district: a.str('district'), school: a.str('school') }, headers: { accept: 'text/csv' } });
      const out = a.str('output');
      if (out === undefined) return void ctx.io.outBytes(r.bytes);
      try {
        ctx.io.writeFile(out, r.bytes);
      } catch (e) {
        throw new CliError(EXIT.OTHER, CLI_ERR.FILE, `cannot write ${out}: ${toError(e).message}`, { cause: e });
      }
      ctx.io.err(`inventory written to ${out}`);
    },
  },
);
