import type { Histogram, Registry } from 'prom-client';
import { Counters, histogram } from '../../runtime/src/counters.ts';

/**
 * Every counter the hub exposes on /metrics (as `hub_<name>_total`), with its HELP text and
 * labels. The README's metrics table follows this list.
 */
export const HUB_COUNTERS = {
  connections_accepted: { help: 'MQTT connections accepted, by identity kind.', labels: ['kind'] },
  connections_refused: { help: 'MQTT connections refused, by error code.', labels: ['code'] },
  gateway_logins: { help: 'Gateway logins accepted, by method: password (one scrypt check) or ticket (a login ticket, no hash checked).', labels: ['method'] },
  password_checks: { help: 'Password hashes checked for MQTT logins (scrypt; a dummy hash for unknown gateways included).' },
  tickets_issued: { help: 'Login tickets handed to gateways, by the login of the session they were handed in (password; ticket: renewed near its expiry).', labels: ['on'] },
  tickets_refused: { help: 'Login tickets refused, by reason (malformed, bad_mac, other_gateway, expired, not_yet_valid, unknown_gateway, revoked, credential_changed).', labels: ['reason'] },
  ticket_issue_failures: { help: 'Login tickets that could not be published to their gateway.' },
  publishes_denied: { help: 'Publishes refused by the ACL, by error code.', labels: ['code'] },
  subscriptions_denied: { help: 'Subscriptions refused (SUBACK 0x80), by reason: acl, or a filter refused by configuration.', labels: ['reason'] },
  connections_cut: { help: 'MQTT connections closed by a limit, by reason (packet_too_large, malformed_length, invalid_topic, connect_timeout, pending_cap, queue_limit, inflight_limit).', labels: ['reason'] },
  publishes_throttled: { help: 'Publishes delayed by the per-client publish rate limit.' },
  retained_refused: { help: "Retained publishes over a retained quota, delivered but not stored, by quota: client (the client id's) or anonymous_pool (all anonymous clients').", labels: ['quota'] },
  messages_received: { help: 'Gateway messages received, by channel.', labels: ['channel'] },
  messages_rejected: { help: 'Whole gateway messages refused, by reason.', labels: ['reason'] },
  records_rejected: { help: 'Telemetry records refused one by one, by reason.', labels: ['reason'] },
  records_written: { help: 'Telemetry records written to InfluxDB.' },
  sessions_dropped_by_registry: { help: 'Live gateway sessions closed because another process revoked, rotated or removed the gateway, by reason.', labels: ['reason'] },
  session_takeovers: { help: "Gateway sessions taken over by a new connection of the same gateway (two devices sharing credentials when frequent), by gateway.", labels: ['gateway'] },
  sessions_damped: { help: 'Times a gateway was held after repeated takeovers (two devices sharing its credentials), by gateway.', labels: ['gateway'] },
  stale_deaths_ignored: { help: 'Gateway deaths older than the birth in force, ignored.' },
  presence_events: { help: 'Presence events published, by type.', labels: ['type'] },
  minute_reports: { help: "Minute reports (inventory, gateway_up) by outcome: written by this hub, or other_node (in a cluster, another node took the minute's lock).", labels: ['outcome'] },
  minute_report_failures: { help: 'Minute reports (inventory, gateway_up) that could not be written.' },
  command_point_failures: { help: 'Command points (sent, outcome) that could not be written to InfluxDB.' },
  presence_publish_failures: { help: 'Presence events and documents that could not be published.' },
  inventories_published: { help: 'Gateway inventories published (retained), by kind: inventory, or cleared for a gateway gone.', labels: ['kind'] },
  inventory_publish_failures: { help: 'Gateway inventories not published (invalid, the revision not recorded in the registry, or the broker refused); tried again.', labels: ['reason'] },
  bus_listener_errors: { help: 'Event-bus listeners that threw (the event still reached the others), by event.', labels: ['event'] },
  commands: { help: 'Commands by outcome (sent, rejected, done, failed, expired, no_result).', labels: ['status'] },
  api_requests: { help: 'Management API requests answered, by route and status.', labels: ['method', 'route', 'status'] },
  api_auth_failures: { help: 'Management API requests refused before any route ran, by reason (missing, malformed, unknown, expired, revoked, disabled), for tokens and session cookies alike.', labels: ['reason'] },
  api_csrf_refused: { help: 'Management API changes with a session cookie but without its X-CSRF-Token, refused (403).' },
  console_sign_ins: { help: 'Console sign-ins, by outcome (ok; failed: unknown user, wrong or no password, disabled; backoff: refused before any check).', labels: ['outcome'] },
  api_stream_clients: { help: 'Event-stream clients connected (SSE), ever.' },
  api_stream_closed: { help: 'Event streams the hub closed, by reason (token: its token or session revoked or expired, or its user disabled; backpressure: the client read too slowly).', labels: ['reason'] },
  tls_refused: { help: 'TLS connections cut before MQTT, by reason (handshake: failed; missing: no client certificate where one is required; untrusted: not signed by the client CA).', labels: ['reason'] },
  tls_reloads: { help: 'Certificate reloads after their files changed, by result (ok, failed: the previous certificates stay).', labels: ['result'] },
} as const;

export type HubCounters = Counters<typeof HUB_COUNTERS>;

export function createHubCounters(registry?: Registry): HubCounters {
  return new Counters('hub', HUB_COUNTERS, registry);
}

/** The hub's histograms (seconds), beside the counters in the same registry. */
export interface HubHistograms {
  /** Duration of each InfluxDB /write request, failed ones included. */
  influxWrite: Histogram;
  /** From a gateway's telemetry publish arriving to its acknowledgement (the write it waits for included). */
  pubackLatency: Histogram;
}

const HUB_HISTOGRAMS = {
  influx_write_seconds: 'Duration of each InfluxDB /write request, in seconds (failed requests included).',
  puback_latency_seconds: "From a gateway's telemetry publish arriving to its PUBACK, in seconds.",
} as const;

export function createHubHistograms(registry: Registry): HubHistograms {
  const buckets = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60];
  return {
    influxWrite: histogram(registry, 'hub', 'influx_write_seconds', HUB_HISTOGRAMS.influx_write_seconds, buckets),
    pubackLatency: histogram(registry, 'hub', 'puback_latency_seconds', HUB_HISTOGRAMS.puback_latency_seconds, buckets),
  };
}
