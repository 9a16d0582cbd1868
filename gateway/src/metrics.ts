import { Gauge, type Registry } from 'prom-client';
import { Counters } from '../../runtime/src/counters.ts';
import type { Outbox } from './outbox.ts';

/**
 * Every counter the gateway exposes on /metrics (as `gateway_<name>_total`), with its HELP text
 * and labels. The README's metrics table follows this list.
 */
export const GATEWAY_COUNTERS = {
  samples_accepted: { help: 'Device samples accepted into the outbox.' },
  samples_rejected: { help: 'Device samples refused at the edge, by reason.', labels: ['reason'] },
  lan_publishes_denied: { help: 'LAN publishes refused (devices may not send commands or refusals), by topic.', labels: ['topic'] },
  device_samples_refused: { help: 'Samples refused at the edge per device (tracked devices by id, at most 100 other ids, the rest as _other), by reason.', labels: ['device', 'reason'] },
  lan_errors_sent: { help: 'Refusals told to devices on lan/v1/err, by reason.', labels: ['reason'] },
  lan_errors_suppressed: { help: 'Refusals not told on lan/v1/err (one per device per GW_LAN_ERROR_INTERVAL_MS, 100 a second in all).' },
  inventories_received: { help: 'Inventories from the hub (or the saved one at start), by outcome: applied, restored, retained_older, stale, invalid, cleared.', labels: ['outcome'] },
  state_files_ignored: { help: 'State files beside the outbox ignored at start (GW_ERR_STATE_FILE), by file (inventory, liveness, ticket) and reason: unreadable, not_json, invalid, other_gateway.', labels: ['file', 'reason'] },
  rate_intervals_dropped: { help: 'Counter intervals dropped (wrap, reset, above capacity), by reason.', labels: ['reason'] },
  snmp_polls: { help: 'SNMP polls of a network node that became a sample, by device.', labels: ['device'] },
  snmp_poll_failures: { help: 'SNMP polls that gave no sample (timeout, auth, ...), by device and reason.', labels: ['device', 'reason'] },
  outbox_dropped: { help: 'Records dropped by the outbox bound (drop-oldest).' },
  outbox_errors: { help: 'Outbox appends that failed (disk full, I/O error).' },
  outbox_ack_errors: { help: 'Acknowledgements the outbox could not record on disk (the batch may be resent after a restart).' },
  uplink_connects: { help: 'Uplink connections to the hub.' },
  uplink_errors: { help: 'Uplink errors reported by the MQTT client.' },
  uplink_refused: { help: 'Uplink connection attempts the hub refused, by CONNACK return code.', labels: ['code'] },
  uplink_logins: { help: 'Uplink connections by the credential presented: password, or ticket (the login ticket the hub handed out).', labels: ['method'] },
  tickets_received: { help: 'Login tickets from the hub, by outcome: kept, invalid.', labels: ['outcome'] },
  ticket_logins_refused: { help: 'Connections with a login ticket the hub refused (the ticket is dropped and the password used at once).' },
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

/** What the gauges read when /metrics is scraped; undefined while the gateway is not running. */
export interface GaugeSources {
  /** The outbox itself: each gauge reads only what it shows (the oldest record once). */
  outbox(): Pick<Outbox, 'size' | 'bytes' | 'oldestRx'> | undefined;
  now(): number;
  trackedDevices(): number;
  uplinkConnected(): boolean;
}

/**
 * The gateway's gauges, read at scrape time: `gateway_outbox_records`, `gateway_outbox_bytes`,
 * `gateway_outbox_oldest_age_seconds`, `gateway_tracked_devices`, `gateway_uplink_connected`.
 */
export function registerGatewayGauges(registry: Registry, src: GaugeSources): void {
  const gauge = (name: string, help: string, read: () => number | undefined) =>
    new Gauge({
      name: `gateway_${name}`,
      help,
      registers: [registry],
      collect() {
        const v = read();
        if (v !== undefined) this.set(v);
      },
    });
  gauge('outbox_records', 'Records held in the outbox (waiting and in flight).', () => src.outbox()?.size());
  gauge('outbox_bytes', 'Bytes the outbox occupies (on disk, or an estimate in memory).', () => src.outbox()?.bytes());
  gauge('outbox_oldest_age_seconds', 'Age of the oldest record held, by gateway receive time (0 when empty).', () => {
    const o = src.outbox();
    if (!o) return undefined;
    const oldest = o.oldestRx();
    return oldest === undefined ? 0 : Math.max(0, src.now() - oldest) / 1000;
  });
  gauge('tracked_devices', 'Devices tracked for liveness and availability (bounded by GW_MAX_TRACKED_DEVICES).', () => src.trackedDevices());
  gauge('uplink_connected', '1 while the session with the hub is up.', () => (src.uplinkConnected() ? 1 : 0));
}
