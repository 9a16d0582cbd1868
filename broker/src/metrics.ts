import type { Registry } from 'prom-client';
import { Counters } from '../../runtime/src/counters.ts';

/**
 * Every counter the hub exposes on /metrics (as `hub_<name>_total`), with its HELP text and
 * labels. The README's metrics table follows this list.
 */
export const HUB_COUNTERS = {
  connections_accepted: { help: 'MQTT connections accepted, by identity kind.', labels: ['kind'] },
  connections_refused: { help: 'MQTT connections refused, by error code.', labels: ['code'] },
  publishes_denied: { help: 'Publishes refused by the ACL, by error code.', labels: ['code'] },
  subscriptions_denied: { help: 'Subscriptions refused by the ACL (SUBACK 0x80).' },
  messages_received: { help: 'Gateway messages received, by channel.', labels: ['channel'] },
  messages_rejected: { help: 'Whole gateway messages refused, by reason.', labels: ['reason'] },
  records_rejected: { help: 'Telemetry records refused one by one, by reason.', labels: ['reason'] },
  records_written: { help: 'Telemetry records written to InfluxDB.' },
  stale_deaths_ignored: { help: 'Gateway deaths older than the birth in force, ignored.' },
  presence_events: { help: 'Presence events published, by type.', labels: ['type'] },
  minute_report_failures: { help: 'Minute reports (inventory, gateway_up) that could not be written.' },
  commands: { help: 'Commands by outcome (sent, rejected, done, failed, expired, no_result).', labels: ['status'] },
} as const;

export type HubCounters = Counters<typeof HUB_COUNTERS>;

export function createHubCounters(registry?: Registry): HubCounters {
  return new Counters('hub', HUB_COUNTERS, registry);
}
