import { createHash } from 'node:crypto';
import { z } from 'zod';
import { actionKindProblem, COMMAND_ACTIONS, COMMAND_INPUTS, commandInputProblem, commandRequestSchema } from '../../../../protocol/src/commands.ts';
import { HubError, HubErrorCode } from '../../errors.ts';
import { ApiError, badRequest, notFound } from '../apiError.ts';
import { auditOf } from '../audit.ts';
import type { ApiDeps } from '../deps.ts';
import { commandRecordSchema, deviceIdParam } from '../fleetSchemas.ts';
import { deviceIn, refusalAudited } from '../fleetState.ts';
import { pageOf, pageQuery, route, type RouteTable } from '../route.ts';
import { districtIdSchema, schoolIdSchema } from '../schemas.ts';
import { scopedFilter } from '../scope.ts';

const ttlSchema = commandRequestSchema.shape.ttlMs;

/** Commands to devices through the hub's command path, with idempotency keys; their records. */
export function commandRoutes(table: RouteTable, deps: ApiDeps): void {
  route(table, {
    method: 'post',
    path: '/devices/{device}/commands',
    summary: 'Send a command to a device (through its school\'s gateway)',
    tag: 'commands',
    params: z.object({ device: deviceIdParam }),
    headers: z.object({
      'idempotency-key': z
        .string()
        .regex(/^[\x20-\x7e]{1,128}$/, '1–128 printable ASCII characters')
        .optional()
        .meta({ description: 'The same key from the same user with the same body answers the first command\'s record; the device is commanded once' }),
    }),
    body: z.strictObject({
      action: z.enum(COMMAND_ACTIONS).meta({ description: 'switch_input only for interactive boards and classroom AV (400 for another kind)' }),
      input: z.enum(COMMAND_INPUTS).optional().meta({ description: 'switch_input\'s source: required for switch_input, refused (400) with any other action' }),
      ttlMs: ttlSchema.optional().meta({ description: 'ms, 1000–3600000; 60000 unless given' }),
    }),
    responses: {
      202: { description: 'Sent (or rejected at once: the gateway is not connected)', schema: commandRecordSchema },
      200: { description: 'A retried request: the record of the command its key was first used for', schema: commandRecordSchema },
    },
    handler: async (ctx) => {
      const reg = deps.registry();
      const id = ctx.params.device;
      const actor = `user:${ctx.principal.user}` as const;
      const auditor = auditOf(deps, ctx.principal);
      const change = { action: `command.${ctx.body.action}`, target: `device:${id}`, school: reg.getDeviceRecord(id)?.school };
      const key = ctx.headers['idempotency-key'];
      const input = ctx.body.input;
      // The input joins the hash only when given, so keys of commands without one keep their hash.
      const requestHash = createHash('sha256').update(JSON.stringify({ device: id, action: ctx.body.action, ttlMs: ctx.body.ttlMs ?? null, ...(input === undefined ? {} : { input }) })).digest('hex');
      // Everything up to the command's insertion is synchronous (Commands.send): a concurrent
      // request with the same key finds the record.
      const held = refusalAudited(auditor, change, () => {
        // Audited 400s, not body issues: the refusal of a command is in the device's audit.
        const problem = commandInputProblem(ctx.body);
        if (problem !== undefined) throw badRequest(problem, { issues: [{ in: 'body', path: 'input', message: problem }] });
        const d = deviceIn(ctx, reg, id);
        ctx.allow('command.send', { district: d.district, school: d.school }, `device ${id}`);
        const kindProblem = actionKindProblem(ctx.body.action, d.kind);
        if (kindProblem !== undefined) throw badRequest(`device ${id}: ${kindProblem}`, { issues: [{ in: 'body', path: 'action', message: kindProblem }] });
        const h = key === undefined ? undefined : reg.commandByKey(actor, key);
        if (h && h.requestHash !== requestHash) throw mismatch(key!, h.id);
        return h;
      });
      if (held) return { status: 200, body: held };
      try {
        const r = await deps.commands.send({ device: id, action: ctx.body.action, input, ttlMs: ctx.body.ttlMs }, actor, { idempotencyKey: key, requestHash });
        return { status: 202, body: r };
      } catch (e) {
        if (e instanceof HubError && e.code === HubErrorCode.COMMAND_REFUSED) throw new ApiError(409, HubErrorCode.COMMAND_REFUSED, e.message);
        if (e instanceof HubError && e.code === HubErrorCode.IDEMPOTENCY_MISMATCH) throw new ApiError(409, HubErrorCode.IDEMPOTENCY_MISMATCH, e.message);
        throw e;
      }
    },
  });

  route(table, {
    method: 'get',
    path: '/commands/{command}',
    summary: 'One command: its status follows its outcomes (sent → done, failed, expired, rejected or no_result)',
    tag: 'commands',
    params: z.object({ command: z.string().min(1).max(64) }),
    responses: { 200: { description: 'The command', schema: commandRecordSchema } },
    handler: (ctx) => {
      const what = `command ${ctx.params.command}`;
      const c = deps.registry().getCommand(ctx.params.command);
      if (!c) throw notFound(what);
      ctx.allow('read', { district: c.district, school: c.school }, what);
      return { status: 200, body: c };
    },
  });

  route(table, {
    method: 'get',
    path: '/commands',
    summary: 'Commands in the caller\'s scope, newest first',
    tag: 'commands',
    query: pageQuery.extend({ district: districtIdSchema.optional(), school: schoolIdSchema.optional(), device: deviceIdParam.optional() }),
    responses: { 200: { description: 'A page of commands', schema: pageOf(commandRecordSchema, 'CommandPage') } },
    handler: (ctx) => {
      const reg = deps.registry();
      const f = scopedFilter(ctx, reg, ctx.query);
      return { status: 200, body: reg.listCommands({ ...f, device: ctx.query.device, limit: ctx.query.limit, cursor: ctx.query.cursor }) };
    },
  });
}

function mismatch(key: string, id: string): ApiError {
  return new ApiError(409, HubErrorCode.IDEMPOTENCY_MISMATCH, `idempotency key ${JSON.stringify(key)} was used for another request (command ${id})`);
}
