import { z } from 'zod';

const count = z.number().int().min(0);

/**
 * A gateway's health as it reports it to the hub (and serves it on its local endpoint): the
 * outbox backlog, drops, replay progress and the last successful uplink, so Grafana can alert
 * on a backlog that grows or records that are dropped.
 */
export const gatewayHealthSchema = z.strictObject({
  ts: z.number().int().min(0),
  bdSeq: count,
  outbox: z.strictObject({
    records: count,
    waitingLive: count,
    waitingBacklog: count,
    bytes: count,
    /** Age of the oldest record held, by gateway receive time; 0 when empty. */
    oldestAgeMs: count,
    /** Records dropped by the outbox bound since the gateway started. */
    dropped: count,
  }),
  replay: z.strictObject({ active: z.boolean(), remaining: count, sent: count }),
  /** When the hub last acknowledged a batch (0: never since start). */
  lastUplinkOkAt: count,
  samplesAccepted: count,
  samplesRejected: count,
});
export type GatewayHealth = z.infer<typeof gatewayHealthSchema>;
