import { gatewayHealthSchema } from '../../../protocol/src/gatewayHealth.ts';
import type { ChannelHandler } from '../dispatch.ts';
import { encodePoint } from '../influx/lineProtocol.ts';
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
    const int = (v: number) => ({ t: 'int' as const, v });
    const line = encodePoint({
      measurement: 'gateway_health',
      tags: { district: identity.district, school: identity.school, gateway: identity.gateway },
      fields: {
        outbox_records: int(h.outbox.records),
        outbox_waiting_live: int(h.outbox.waitingLive),
        outbox_waiting_backlog: int(h.outbox.waitingBacklog),
        outbox_bytes: int(h.outbox.bytes),
        outbox_oldest_age_ms: int(h.outbox.oldestAgeMs),
        outbox_dropped: int(h.outbox.dropped),
        replay_active: { t: 'bool', v: h.replay.active },
        replay_remaining: int(h.replay.remaining),
        replay_sent: int(h.replay.sent),
        last_uplink_ok_at: int(h.lastUplinkOkAt),
        samples_accepted: int(h.samplesAccepted),
        samples_rejected: int(h.samplesRejected),
        bd_seq: int(h.bdSeq),
      },
      tsMs: this.#d.now(),
    });
    await this.#d.writer.write([line]);
    return 'accept';
  };
}
