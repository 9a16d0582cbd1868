import { z } from 'zod';
import { deviceIdSchema } from './ids.ts';

/**
 * Commands (docs/design.md#protocol): a request and a response with a correlation id and a TTL. The hub sends
 * a request to the device's gateway; the gateway passes it to the device on the campus LAN, or
 * answers itself when it cannot (expired, unknown device); the result goes back to the hub.
 * An expired command is never executed late: the gateway checks the TTL before passing it on,
 * and a device answer that comes after the TTL is not reported as done.
 */
export const COMMAND_ACTIONS = ['reboot', 'power_on', 'power_off', 'standby'] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

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
  /** ms since the epoch, by the hub's clock. */
  issuedAt: z.number().int().positive(),
  ttlMs: z.number().int().min(1000).max(3_600_000),
});
export type CommandRequest = z.infer<typeof commandRequestSchema>;

/** A gateway whose clock is behind the hub's by more than this refuses commands (TTLs would run late). */
export const COMMAND_CLOCK_TOLERANCE_MS = 30_000;

/** Gateway → hub, on `campus/v1/{district}/{school}/{gateway}/cmdres/result`. */
export const commandResultSchema = z.strictObject({
  v: z.literal(1),
  id: commandId,
  device: deviceIdSchema,
  action: z.enum(COMMAND_ACTIONS),
  issuedAt: z.number().int().positive(),
  status: z.enum(COMMAND_STATUSES),
  detail: z.string().max(500).optional(),
  /** When the gateway decided, ms since the epoch, by its clock. */
  at: z.number().int().positive(),
});
export type CommandResult = z.infer<typeof commandResultSchema>;

/** Gateway → devices on the campus LAN (every device sees it; the one named acts). */
export const LAN_COMMAND_TOPIC = 'lan/v1/cmd';
/** Device → gateway on the campus LAN. */
export const LAN_COMMAND_RESULT_TOPIC = 'lan/v1/cmdres';

/** `ttlMs`: what is left of the TTL when the gateway sends it (devices need not share its clock). */
export const lanCommandSchema = z.strictObject({ v: z.literal(1), id: commandId, device: deviceIdSchema, action: z.enum(COMMAND_ACTIONS), ttlMs: z.number().int().positive() });
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
