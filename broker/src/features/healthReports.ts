import { gatewayHealthSchema } from '../../../protocol/src/gatewayHealth.ts';
import type { ChannelHandler } from '../dispatch.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point } from '../../../storage/src/point.ts';
import type { InfluxWriter } from '../influx/writer.ts';
import { parseJsonPayload } from '../jsonPayload.ts';
import type { HubCounters } from '../metrics.ts';
import type { Feature } from './feature.ts';

/** Gateways' health reports, each written as one `gateway_health` point. */
export class HealthReports implements Feature {
  readonly #d: { writer: InfluxWriter; counters: HubCounters; now: () => number };

  constructor(deps: { writer: InfluxWriter; counters: HubCounters; now: () => number }) {
    this.#d = deps;
  }

  start(): void {}
  stop(): void {}

  /** A report that is not JSON or fails the schema is refused (not written, not forwarded). */
  readonly handle: ChannelHandler = async ({ identity, payload }) => {
    const { counters } = this.#d;
    counters.inc('messages_received', { channel: 'health' });
    const h = parseJsonPayload(gatewayHealthSchema, payload);
    if (!h) {
      counters.inc('messages_rejected', { reason: 'bad_health' });
      return 'refuse';
    }
    const line = encodePoint(
      point(
        'gateway_health',
        { district: identity.district, school: identity.school, gateway: identity.gateway },
        {
          outbox_records: h.outbox.records,
          outbox_waiting_live: h.outbox.waitingLive,
          outbox_waiting_backlog: h.outbox.waitingBacklog,
          outbox_bytes: h.outbox.bytes,
          outbox_oldest_age_ms: h.outbox.oldestAgeMs,
          outbox_dropped: h.outbox.dropped,
          replay_active: h.replay.active,
          replay_remaining: h.replay.remaining,
          replay_sent: h.replay.sent,
          last_uplink_ok_at: h.lastUplinkOkAt,
          samples_accepted: h.samplesAccepted,
          samples_rejected: h.samplesRejected,
          bd_seq: h.bdSeq,
        },
        this.#d.now(),
      ),
    );
    await this.#d.writer.write([line]);
    return 'accept';
  };
}
