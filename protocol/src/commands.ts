import { z } from 'zod';
import { deviceIdSchema } from './ids.ts';
// Types only: kinds.ts builds the board's input enum from COMMAND_INPUTS at load.
import type { DeviceKind } from './kinds.ts';

/**
 * Commands (docs/design.md#protocol): a request and a response with a correlation id and a TTL. The hub sends
 * a request to the device's gateway; the gateway passes it to the device on the campus LAN, or
 * answers itself when it cannot (expired, unknown device); the result goes back to the hub.
 * An expired command is never executed late: the gateway checks the TTL before passing it on,
 * and a device answer that comes after the TTL is not reported as done.
 */
export const COMMAND_ACTIONS = ['reboot', 'power_on', 'power_off', 'standby', 'switch_input'] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

/**
 * What `switch_input` selects: an interactive board's signal sources (its telemetry's
 * `activeInput` is one of these, or `none`), and a classroom AV set's, which has no such field.
 */
export const COMMAND_INPUTS = ['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga'] as const;
export type CommandInput = (typeof COMMAND_INPUTS)[number];

/**
 * Which kinds carry out each action: a kind not listed for an action is refused it (the hub
 * before sending, the simulator if one comes anyway). The one table; docs/devices.md shows it.
 */
const ACTION_KINDS: Record<CommandAction, readonly DeviceKind[] | 'all'> = {
  reboot: 'all',
  power_on: 'all',
  power_off: 'all',
  standby: 'all',
  switch_input: ['interactive_board', 'classroom_av'],
};

export function actionAppliesTo(action: CommandAction, kind: DeviceKind): boolean {
  return actionKindProblem(action, kind) === undefined;
}

/** Why `action` is refused for a device of `kind`, naming the kinds that carry it out; undefined when it applies. */
export function actionKindProblem(action: CommandAction, kind: DeviceKind): string | undefined {
  const kinds = ACTION_KINDS[action];
  if (kinds === 'all' || kinds.includes(kind)) return undefined;
  return `${action} is not for a ${kind} (only ${kinds.join(', ')})`;
}

/**
 * Why a command's `input` does not fit its action, or undefined when it does: `switch_input`
 * needs one, every other action has none.
 */
export function commandInputProblem(c: { action: CommandAction; input?: CommandInput | undefined }): string | undefined {
  if (c.action === 'switch_input' && c.input === undefined) return 'switch_input needs an input';
  if (c.action !== 'switch_input' && c.input !== undefined) return `${c.action} takes no input (only switch_input has one)`;
  return undefined;
}

const commandInput = z.enum(COMMAND_INPUTS);
/** The refinement of every command payload: `input` present iff the action is switch_input. */
const inputFitsAction = (c: { action: CommandAction; input?: CommandInput | undefined }, ctx: z.RefinementCtx): void => {
  const problem = commandInputProblem(c);
  if (problem !== undefined) ctx.addIssue({ code: 'custom', path: ['input'], message: problem });
};
/**
 * The same rule for the JSON Schema files (which cannot run the refinement), given as their
 * `if`/`then`/`else` by the schema's metadata.
 */
const INPUT_RULE_JSON = {
  if: { properties: { action: { const: 'switch_input' } }, required: ['action'] },
  then: { properties: { input: true }, required: ['input'] },
  else: { properties: { input: false } },
};

/**
 * `done`/`failed`: the device's answer; `expired`: not executed in time; `rejected`: not passed on.
 * The hub records `no_result` itself when no result came within the TTL and a grace period (the
 * request or its result was lost with a connection: whether the device acted is not known).
 */
export const COMMAND_STATUSES = ['done', 'failed', 'expired', 'rejected'] as const;
export type CommandStatus = (typeof COMMAND_STATUSES)[number];

const commandId = z.string().regex(/^[A-Za-z0-9_-]{8,64}$/, 'must be 8–64 letters, digits, _ or -');

/** Hub → gateway, on `campus/v1/{district}/{school}/{gateway}/cmd/request`. */
export const commandRequestSchema = z.strictObject({
  v: z.literal(1),
  id: commandId,
  device: deviceIdSchema,
  action: z.enum(COMMAND_ACTIONS),
  /** switch_input's source; absent for every other action. */
  input: commandInput.optional(),
  /** ms since the epoch, by the hub's clock. */
  issuedAt: z.number().int().positive(),
  ttlMs: z.number().int().min(1000).max(3_600_000),
}).superRefine(inputFitsAction);
export type CommandRequest = z.infer<typeof commandRequestSchema>;

/** A gateway whose clock is behind the hub's by more than this refuses commands (TTLs would run late). */
export const COMMAND_CLOCK_TOLERANCE_MS = 30_000;

/** Gateway → hub, on `campus/v1/{district}/{school}/{gateway}/cmdres/result`. */
export const commandResultSchema = z.strictObject({
  v: z.literal(1),
  id: commandId,
  device: deviceIdSchema,
  action: z.enum(COMMAND_ACTIONS),
  /** The request's input, as it came (the hub matches it). */
  input: commandInput.optional(),
  issuedAt: z.number().int().positive(),
  status: z.enum(COMMAND_STATUSES),
  detail: z.string().max(500).optional(),
  /** When the gateway decided, ms since the epoch, by its clock. */
  at: z.number().int().positive(),
}).superRefine(inputFitsAction);
export type CommandResult = z.infer<typeof commandResultSchema>;

/** Gateway → devices on the campus LAN (every device sees it; the one named acts). */
export const LAN_COMMAND_TOPIC = 'lan/v1/cmd';
/** Device → gateway on the campus LAN. */
export const LAN_COMMAND_RESULT_TOPIC = 'lan/v1/cmdres';

/** `ttlMs`: what is left of the TTL when the gateway sends it (devices need not share its clock). */
export const lanCommandSchema = z
  .strictObject({ v: z.literal(1), id: commandId, device: deviceIdSchema, action: z.enum(COMMAND_ACTIONS), input: commandInput.optional(), ttlMs: z.number().int().positive() })
  .superRefine(inputFitsAction)
  .meta(INPUT_RULE_JSON);
export type LanCommand = z.infer<typeof lanCommandSchema>;

export const lanCommandResultSchema = z.strictObject({
  v: z.literal(1),
  id: commandId,
  /** The device answering: it must be the command's device, on the session that reports it. */
  device: deviceIdSchema,
  status: z.enum(['done', 'failed']),
  detail: z.string().max(500).optional(),
});
export type LanCommandResult = z.infer<typeof lanCommandResultSchema>;
