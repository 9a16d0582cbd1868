import { z } from 'zod';
import { deviceIdSchema } from './ids.ts';

/**
 * Commands (DESIGN §4): a request and a response with a correlation id and a TTL. The hub sends
 * a request to the device's gateway; the gateway passes it to the device on the campus LAN, or
 * answers itself when it cannot (expired, unknown device); the result goes back to the hub.
 * An expired command is never executed late: the gateway checks the TTL before passing it on,
 * and a device answer that comes after the TTL is not reported as done.
 */
export const COMMAND_ACTIONS = ['reboot', 'power_on', 'power_off', 'standby'] as const;
export type CommandAction = (typeof COMMAND_ACTIONS)[number];

/** `done`/`failed`: the device's answer; `expired`: not executed in time; `rejected`: not passed on. */
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

export const lanCommandSchema = z.strictObject({ v: z.literal(1), id: commandId, device: deviceIdSchema, action: z.enum(COMMAND_ACTIONS), expiresAt: z.number().int() });
export type LanCommand = z.infer<typeof lanCommandSchema>;

export const lanCommandResultSchema = z.strictObject({
  v: z.literal(1),
  id: commandId,
  status: z.enum(['done', 'failed']),
  detail: z.string().max(500).optional(),
});
export type LanCommandResult = z.infer<typeof lanCommandResultSchema>;
