import { defineCommands, seg, show, showList, type Ctx } from '../command.ts';
import { iso, table } from '../output.ts';
import type { GatewayCredentials, GatewayStatus } from '../types.ts';

/** The env block on stdout (a shell or an env file takes it as is); the warning on stderr. */
function printCredentials(ctx: Ctx, c: GatewayCredentials, what: string): void {
  if (ctx.json) show(ctx, c, () => []);
  else for (const line of c.envBlock.trimEnd().split('\n')) ctx.io.out(line);
  ctx.io.err(`gateway ${c.gateway.id} ${what}: GW_PASSWORD is shown once; put this block in the gateway's environment now`);
}

const statusLine = (g: GatewayStatus, what: string) => `gateway ${g.id} ${what} (${g.revoked ? 'revoked' : 'active'}, ${g.connection})`;

/** Gateways: credentials and their revocation. */
export const gatewayCommands = defineCommands(
  {
    words: ['gateway', 'add'],
    args: ['<id>'],
    summary: "create a school's gateway and print its env block (shown once)",
    options: { school: { type: 'string', value: '<school>', help: 'the school it serves', required: true } },
    async run(ctx, a) {
      printCredentials(ctx, await ctx.api.json<GatewayCredentials>('POST', '/gateways', { json: { id: a.pos[0], school: a.req('school') } }), 'created');
    },
  },
  {
    words: ['gateway', 'rotate'],
    args: ['<id>'],
    summary: 'a new password (the live session is dropped); prints the new env block',
    async run(ctx, a) {
      printCredentials(ctx, await ctx.api.json<GatewayCredentials>('POST', `/gateways/${seg(a.pos[0]!)}/rotate`), 'rotated');
    },
  },
  {
    words: ['gateway', 'revoke'],
    args: ['<id>'],
    summary: 'refuse the gateway (its live session is dropped; it cannot reconnect)',
    async run(ctx, a) {
      const g = await ctx.api.json<GatewayStatus>('POST', `/gateways/${seg(a.pos[0]!)}/revoke`);
      show(ctx, g, () => [statusLine(g, 'revoked')]);
    },
  },
  {
    words: ['gateway', 'reinstate'],
    args: ['<id>'],
    summary: 'let a revoked gateway connect again (with its current password)',
    async run(ctx, a) {
      const g = await ctx.api.json<GatewayStatus>('POST', `/gateways/${seg(a.pos[0]!)}/reinstate`);
      show(ctx, g, () => [statusLine(g, 'reinstated')]);
    },
  },
  {
    words: ['gateway', 'list'],
    summary: 'gateways with their connection and health',
    options: {
      district: { type: 'string', value: '<district>', help: "only this district's" },
      school: { type: 'string', value: '<school>', help: "only this school's" },
    },
    async run(ctx, a) {
      const items = await ctx.api.all<GatewayStatus>('/gateways', { district: a.str('district'), school: a.str('school') });
      showList(ctx, items, (gs) =>
        table(
          ['ID', 'SCHOOL', 'DISTRICT', 'CONNECTION', 'REVOKED', 'OUTBOX', 'LAST_HEALTH'],
          gs.map((g) => [g.id, g.school, g.district, g.connection, g.revoked ? 'yes' : 'no', g.health?.outboxRecords, iso(g.health?.at)]),
        ),
      );
    },
  },
);
