import { z } from 'zod';
import { deviceIdSchema, topicIdSchema } from './ids.ts';
import { deviceKindSchema, linkRoleSchema } from './kinds.ts';
import { timetableSchema } from './schedule.ts';
import { snmpTargetSchema } from './snmp.ts';

/**
 * A gateway's inventory: its school's registered devices, as the hub gives them to it
 * (docs/design.md#availability). Hub → gateway on the gateway's own retained topic
 * (`inventoryTopic`), QoS 1, published again whenever the registry changes what it holds;
 * `revision` only grows, so a gateway keeps the newest it has seen (also beside its outbox,
 * across restarts).
 */
export const inventoryDeviceSchema = z.strictObject({
  id: deviceIdSchema,
  kind: deviceKindSchema,
  room: deviceIdSchema,
  /** Network nodes: the link's role and capacity. */
  link: z.strictObject({ role: linkRoleSchema, capacityBps: z.number().int().positive().max(400e9) }).optional(),
  /** Network nodes the gateway polls over SNMP (gateway/src/snmpPoller.ts). */
  snmp: snmpTargetSchema.optional(),
});
export type InventoryDevice = z.infer<typeof inventoryDeviceSchema>;

export const gatewayInventorySchema = z.strictObject({
  v: z.literal(1),
  gateway: topicIdSchema,
  /** Grows with every change (the hub's clock, ms, or a counter): an older one is ignored. */
  revision: z.number().int().nonnegative(),
  /** When the school's classroom devices are expected up; network nodes always are. */
  timetable: timetableSchema,
  devices: z.array(inventoryDeviceSchema).max(100_000),
});
export type GatewayInventory = z.infer<typeof gatewayInventorySchema>;
