import { z } from 'zod';

/**
 * Retained gateway state. `bdSeq` is the per-connection session sequence number (as Sparkplug B's
 * bdSeq): the birth and the Last Will of one connection carry the same value, so a consumer can
 * ignore a death whose bdSeq is older than the current birth.
 */
export const gatewayStateSchema = z.strictObject({
  state: z.enum(['online', 'offline']),
  bdSeq: z.number().int().min(0),
  ts: z.number().int().min(0),
});
export type GatewayState = z.infer<typeof gatewayStateSchema>;
