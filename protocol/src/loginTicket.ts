import { z } from 'zod';

/**
 * Hub → gateway on the gateway's `ticketTopic`, QoS 1: a login ticket (docs/design.md#security).
 * The gateway keeps it beside its outbox (mode 600) and presents it as its MQTT password on its
 * next connection instead of its password; to the gateway the ticket is opaque. `expiresAt`
 * (ms since the epoch, the hub's clock) lets it stop presenting one the hub would refuse.
 */
export const loginTicketSchema = z.strictObject({
  v: z.literal(1),
  ticket: z.string().startsWith('t1.').max(512),
  expiresAt: z.number().int().positive(),
});
export type LoginTicket = z.infer<typeof loginTicketSchema>;
