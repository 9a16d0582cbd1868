import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point } from '../../../storage/src/point.ts';
import type { InfluxWriter } from '../influx/writer.ts';
import type { HubCounters } from '../metrics.ts';
import type { Registry } from '../registry.ts';
import type { Feature } from './feature.ts';

const MINUTE_MS = 60_000;

export interface MinuteReportsDeps {
  /** false: only when record() is called (tests that drive the clock). */
  timer: boolean;
  registry: () => Registry;
  writer: InfluxWriter;
  isLive: (gateway: string) => boolean;
  /**
   * In a cluster: true for the one node that writes the minute stamped `ts` (cluster.ts, a
   * per-minute Redis lock). Absent: this hub writes every minute.
   */
  claim?: ((ts: number) => Promise<boolean>) | undefined;
  counters: HubCounters;
  log: Logger;
  now: () => number;
}

/**
 * Every minute: the registered devices per district, school and kind (`inventory`, the
 * denominator of coverage) and whether each active gateway is connected to this hub (`gateway_up`;
 * in a cluster, to any live node). In a cluster every node tries each minute and the one that
 * takes the minute's lock writes it, so a minute is written once, and still written when the node
 * that usually takes it is gone.
 */
export class MinuteReports implements Feature {
  readonly #d: MinuteReportsDeps;
  #timer: NodeJS.Timeout | undefined;
  #running = false;

  constructor(deps: MinuteReportsDeps) {
    this.#d = deps;
  }

  start(): void {
    if (!this.#d.timer) return;
    this.#running = true;
    // The minute the hub starts in, at once (gateways connected so far count as up; the next
    // minute corrects any that are still reconnecting), then every minute.
    this.#tick();
    this.#schedule();
  }

  stop(): void {
    this.#running = false;
    clearTimeout(this.#timer);
  }

  /**
   * Writes one minute's points, stamped `atMs` (default: the current minute); returns how many.
   * With `deadlineMs`, waits at most that long (InfluxDB down): then HUB_ERR_INFLUX_UNAVAILABLE,
   * the points staying queued in the writer.
   */
  async record(atMs?: number, deadlineMs?: number): Promise<number> {
    const { registry, now } = this.#d;
    const ts = atMs ?? Math.floor(now() / MINUTE_MS) * MINUTE_MS;
    const reg = registry();
    const lines = [
      ...reg.deviceCounts().map((c) => encodePoint(point('inventory', { district: c.district, school: c.school, kind: c.kind }, { devices: c.n }, ts))),
      // Written every minute, not only on a birth or death: a dashboard's range always holds the
      // current state, and a gateway that never came back after a hub restart reads 0.
      ...reg
        .activeGateways()
        .map((g) => encodePoint(point('gateway_up', { district: g.district, school: g.school, gateway: g.gateway }, { up: this.#d.isLive(g.gateway) ? 1 : 0 }, ts))),
    ];
    if (lines.length > 0) await withDeadline(this.#d.writer.write(lines), deadlineMs);
    return lines.length;
  }

  #tick(): void {
    const ts = Math.floor(this.#d.now() / MINUTE_MS) * MINUTE_MS;
    const claim = this.#d.claim;
    const mine = claim ? claim(ts) : Promise.resolve(true);
    mine.then(async (won) => {
      if (!won) return void this.#d.counters.inc('minute_reports', { outcome: 'other_node' });
      await this.record(ts);
      this.#d.counters.inc('minute_reports', { outcome: 'written' });
    }).catch((e: unknown) => {
      this.#d.counters.inc('minute_report_failures');
      this.#d.log.warn({ err: toError(e) }, 'inventory and gateway states not written');
    });
  }

  #schedule(): void {
    const t = this.#d.now();
    this.#timer = setTimeout(() => {
      if (!this.#running) return;
      this.#tick();
      this.#schedule();
    }, MINUTE_MS - (t % MINUTE_MS) + 1);
    this.#timer.unref();
  }
}

function withDeadline<T>(p: Promise<T>, ms: number | undefined): Promise<T> {
  if (ms === undefined) return p;
  let timer: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new HubError(HubErrorCode.INFLUX_UNAVAILABLE, `minute points not written within ${ms} ms; still queued`)), ms);
  });
  // The write goes on: its own failure is the writer's to report.
  p.catch(() => {});
  return Promise.race([p, late]).finally(() => clearTimeout(timer));
}
