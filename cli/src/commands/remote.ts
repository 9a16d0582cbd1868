import { randomUUID } from 'node:crypto';
import { setTimeout as sleep } from 'node:timers/promises';
import { defineCommands, seg, show, showList } from '../command.ts';
import { CLI_ERR, CliError, EXIT } from '../errors.ts';
import { fields, iso, parseDuration, table } from '../output.ts';
import type { CommandRecord, StatusReport } from '../types.ts';

/** A network failure is retried this many times, with the same Idempotency-Key. */
const SEND_RETRIES = 3;
const POLL_MS = 250;

const recordLines = (c: CommandRecord): string[] =>
  fields([
    ['command', c.id],
    ['device', `${c.device} (${c.school}, ${c.district})`],
    ['action', c.action],
    ...(c.input === null ? [] : ([['input', c.input]] as const)),
    ['status', c.status],
    ['detail', c.detail],
    ['gateway', c.gateway],
    ['actor', c.actor],
    ['issued', iso(c.issuedAt)],
    ['updated', iso(c.updatedAt)],
  ]);

/** `sent` is the one status that is not final. */
const isFinal = (c: CommandRecord) => c.status !== 'sent';

/** Commands to devices, and the status of the fleet. */
export const remoteCommands = defineCommands(
  {
    words: ['command', 'send'],
    args: ['<device>', '<action>'],
    summary: 'send a command to a device (exit 8 when it ends other than done)',
    options: {
      input: { type: 'string', value: '<input>', help: 'with switch_input (boards and classroom AV): the source, hdmi1, hdmi2, ops, usb-c or vga' },
      ttl: { type: 'string', value: '<duration>', help: 'how long it may wait to be carried out (default 60s)' },
      wait: { type: 'boolean', help: 'wait for its outcome and print it' },
      timeout: { type: 'string', value: '<duration>', help: 'with --wait: how long to wait (default 30s)' },
    },
    async run(ctx, a) {
      const ttl = a.str('ttl');
      const input = a.str('input');
      const timeoutMs = parseDuration('timeout', a.str('timeout') ?? '30s');
      // One key per invocation: a retry after a lost reply finds the first request's command.
      const key = randomUUID();
      let c = await ctx.api.json<CommandRecord>('POST', `/devices/${seg(a.pos[0]!)}/commands`, {
        // The hub checks the input against the action and the device's kind (400: exit 6).
        json: { action: a.pos[1], ...(input === undefined ? {} : { input }), ...(ttl === undefined ? {} : { ttlMs: parseDuration('ttl', ttl) }) },
        headers: { 'idempotency-key': key },
        retries: SEND_RETRIES,
      });
      if (a.bool('wait')) {
        const deadline = Date.now() + timeoutMs;
        while (!isFinal(c) && Date.now() < deadline) {
          await sleep(POLL_MS);
          c = await ctx.api.json<CommandRecord>('GET', `/commands/${seg(c.id)}`);
        }
      }
      show(ctx, c, () => recordLines(c));
      if (c.status === 'done' || (c.status === 'sent' && !a.bool('wait'))) return;
      throw new CliError(EXIT.NOT_DONE, CLI_ERR.NOT_DONE, c.status === 'sent' ? `command ${c.id} is still sent after ${a.str('timeout') ?? '30s'}` : `command ${c.id} ended ${c.status}${c.detail ? `: ${c.detail}` : ''}`);
    },
  },
  {
    words: ['command', 'show'],
    args: ['<id>'],
    summary: 'one command and its status',
    async run(ctx, a) {
      const c = await ctx.api.json<CommandRecord>('GET', `/commands/${seg(a.pos[0]!)}`);
      show(ctx, c, () => recordLines(c));
    },
  },
  {
    words: ['command', 'list'],
    summary: 'commands, newest first',
    options: {
      district: { type: 'string', value: '<district>', help: "only this district's" },
      school: { type: 'string', value: '<school>', help: "only this school's" },
      device: { type: 'string', value: '<device>', help: "only this device's" },
    },
    async run(ctx, a) {
      const items = await ctx.api.all<CommandRecord>('/commands', { district: a.str('district'), school: a.str('school'), device: a.str('device') });
      showList(ctx, items, (cs) => table(['ID', 'DEVICE', 'ACTION', 'STATUS', 'ISSUED', 'ACTOR'], cs.map((c) => [c.id, c.device, c.input === null ? c.action : `${c.action} ${c.input}`, c.status, iso(c.issuedAt), c.actor])));
    },
  },
  {
    words: ['status'],
    summary: 'devices by state and kind; schools with their gateways online',
    options: {
      district: { type: 'string', value: '<district>', help: 'only this district' },
      school: { type: 'string', value: '<school>', help: 'only this school' },
    },
    async run(ctx, a) {
      const s = await ctx.api.json<StatusReport>('GET', '/status', { query: { district: a.str('district'), school: a.str('school') } });
      const b = s.devices.byState;
      show(ctx, s, () => [
        `devices: ${s.devices.total} (up ${b.up}, down ${b.down}, off ${b.off}, unknown ${b.unknown})`,
        `by kind: ${Object.entries(s.devices.byKind).map(([k, n]) => `${k} ${n}`).join(', ') || '-'}`,
        '',
        ...table(
          ['SCHOOL', 'DISTRICT', 'NAME', 'UP', 'DOWN', 'OFF', 'UNKNOWN', 'GATEWAYS_ONLINE'],
          s.schools.map((x) => [x.school, x.district, x.nameZh, x.devices.up, x.devices.down, x.devices.off, x.devices.unknown, `${x.gatewaysOnline}/${x.gateways}`]),
        ),
      ]);
    },
  },
);
