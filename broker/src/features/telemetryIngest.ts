import type { Logger } from 'pino';
import type { ChannelHandler } from '../dispatch.ts';
import type { EventBus } from '../eventBus.ts';
import type { InfluxWriter } from '../influx/writer.ts';
import { ingestTelemetry, type IngestLimits } from '../ingest.ts';
import { WarnThrottle } from '../../../runtime/src/logThrottle.ts';
import type { HubCounters } from '../metrics.ts';
import type { Registry } from '../registry.ts';
import type { Feature } from './feature.ts';

export interface TelemetryIngestDeps {
  limits: IngestLimits;
  registry: () => Registry;
  writer: InfluxWriter;
  bus: EventBus;
  counters: HubCounters;
  log: Logger;
  now: () => number;
}

/**
 * Telemetry batches: checked record by record (ingest.ts), written to InfluxDB, and only then
 * acknowledged; live availability records go on the bus, for the presence tracker.
 */
export class TelemetryIngest implements Feature {
  readonly #d: TelemetryIngestDeps;
  readonly #warn: WarnThrottle;

  constructor(deps: TelemetryIngestDeps) {
    this.#d = deps;
    this.#warn = new WarnThrottle(deps.log);
  }

  start(): void {}
  stop(): void {}

  /** A message refused whole is acknowledged (a resend cannot fix it) but not forwarded. */
  readonly handle: ChannelHandler = async ({ identity, payload }) => {
    const { counters } = this.#d;
    const reg = this.#d.registry();
    const result = ingestTelemetry(identity, payload, this.#d.limits, {
      lookupDevice: (id) => reg.getDevice(id),
      timetableOf: (school) => reg.timetableOf(school),
      now: this.#d.now,
    });
    counters.inc('messages_received', { channel: 'telemetry' });
    if (result.messageRejected) counters.inc('messages_rejected', { reason: result.rejections[0]!.reason });
    else for (const r of result.rejections) counters.inc('records_rejected', { reason: r.reason });
    if (result.rejections.length > 0) {
      this.#warn.warn(identity.gateway, { gateway: identity.gateway, rejected: result.rejections.length, accepted: result.lines.length, first: result.rejections[0] }, 'telemetry refused');
    }
    if (result.lines.length === 0) return result.messageRejected ? 'refuse' : 'accept';
    const w = await this.#d.writer.write(result.lines);
    counters.inc('records_written', {}, result.lines.length - w.refused);
    if (w.refused > 0) counters.inc('records_rejected', { reason: 'influx_refused' }, w.refused);
    if (result.liveAvailability.length > 0) this.#d.bus.emitAvailabilityObserved({ gateway: identity, observations: result.liveAvailability });
    return 'accept';
  };
}
