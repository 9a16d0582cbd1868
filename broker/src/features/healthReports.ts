import { gatewayHealthSchema } from '../../../protocol/src/gatewayHealth.ts';
import type { Cluster } from '../cluster.ts';
import type { ChannelHandler } from '../dispatch.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point } from '../../../storage/src/point.ts';
import type { InfluxWriter } from '../influx/writer.ts';
import { parseJsonPayload } from '../jsonPayload.ts';
import type { HubCounters } from '../metrics.ts';
import type { Feature } from './feature.ts';

/** A gateway's last health report as the API shows it (`at`: when the hub received it). */
export interface HealthSummary {
  at: number;
  outboxRecords: number;
  outboxBytes: number;
  outboxOldestAgeMs: number;
  outboxDropped: number;
  replayActive: boolean;
  replayRemaining: number;
  lastUplinkOkAt: number;
}

export interface HealthReportsDeps {
  writer: InfluxWriter;
  counters: HubCounters;
  now: () => number;
  /** A node of a cluster: the last report of each gateway is shared with the other nodes. */
  cluster?: Cluster | undefined;
}

/** Gateways' health reports, each written as one `gateway_health` point; the last of each gateway kept for the API (in a cluster, every node's). */
export class HealthReports implements Feature {
  readonly #d: HealthReportsDeps;
  readonly #last = new Map<string, HealthSummary>();
  #stopped = false;

  constructor(deps: HealthReportsDeps) {
    this.#d = deps;
  }

  start(): void {
    this.#stopped = false;
    this.#d.cluster?.onMessage((m) => {
      if (m.t === 'health' && !this.#stopped) this.#last.set(m.gateway, m.summary);
    });
  }
  stop(): void {
    this.#stopped = true;
    this.#last.clear();
  }

  /** The last valid report of a gateway since this hub started; undefined if none came. */
  last(gateway: string): HealthSummary | undefined {
    return this.#last.get(gateway);
  }

  /** A report that is not JSON or fails the schema is refused (not written, not forwarded). */
  readonly handle: ChannelHandler = async ({ identity, payload }) => {
    const { counters } = this.#d;
    counters.inc('messages_received', { channel: 'health' });
    const h = parseJsonPayload(gatewayHealthSchema, payload);
    if (!h) {
      counters.inc('messages_rejected', { reason: 'bad_health' });
      return 'refuse';
    }
    const at = this.#d.now();
    const summary: HealthSummary = {
      at,
      outboxRecords: h.outbox.records,
      outboxBytes: h.outbox.bytes,
      outboxOldestAgeMs: h.outbox.oldestAgeMs,
      outboxDropped: h.outbox.dropped,
      replayActive: h.replay.active,
      replayRemaining: h.replay.remaining,
      lastUplinkOkAt: h.lastUplinkOkAt,
    };
    this.#last.set(identity.gateway, summary);
    this.#d.cluster?.broadcast({ t: 'health', gateway: identity.gateway, summary });
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
        at,
      ),
    );
    await this.#d.writer.write([line]);
    return 'accept';
  };
}
