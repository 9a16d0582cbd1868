import type { Registry } from 'prom-client';
import { Counters } from '../../runtime/src/counters.ts';

/**
 * Every counter the gateway exposes on /metrics (as `gateway_<name>_total`), with its HELP text
 * and labels. The README's metrics table follows this list.
 */
export const GATEWAY_COUNTERS = {
  samples_accepted: { help: 'Device samples accepted into the outbox.' },
  samples_rejected: { help: 'Device samples refused at the edge, by reason.', labels: ['reason'] },
  lan_publishes_denied: { help: 'LAN publishes refused (devices may not send commands), by topic.', labels: ['topic'] },
  rate_intervals_dropped: { help: 'Counter intervals dropped (wrap, reset, above capacity), by reason.', labels: ['reason'] },
  outbox_dropped: { help: 'Records dropped by the outbox bound (drop-oldest).' },
  outbox_errors: { help: 'Outbox appends that failed (disk full, I/O error).' },
  uplink_connects: { help: 'Uplink connections to the hub.' },
  uplink_errors: { help: 'Uplink errors reported by the MQTT client.' },
  batches_delivered: { help: 'Telemetry batches acknowledged by the hub, by lane.', labels: ['lane'] },
  batches_failed: { help: 'Telemetry batches not acknowledged (sent again), by lane.', labels: ['lane'] },
  records_delivered: { help: 'Records acknowledged by the hub, by lane.', labels: ['lane'] },
  commands_received: { help: 'Command requests received from the hub.' },
  commands_refused: { help: 'Command requests refused before reaching a device, by reason.', labels: ['reason'] },
  commands_forwarded: { help: 'Command requests passed to a device on the campus LAN.' },
  command_results: { help: 'Command results reported to the hub, by status.', labels: ['status'] },
  command_results_refused: { help: 'Device answers to commands refused, by reason.', labels: ['reason'] },
  command_results_unsent: { help: 'Command results not sent because the uplink was down.' },
} as const;

export type GatewayCounters = Counters<typeof GATEWAY_COUNTERS>;

export function createGatewayCounters(registry?: Registry): GatewayCounters {
  return new Counters('gateway', GATEWAY_COUNTERS, registry);
}
