import type { DeviceSample, OutboxRecord } from '../../protocol/src/telemetry.ts';
import type { LanSessions } from './lanSessions.ts';
import type { Liveness } from './liveness.ts';
import type { GatewayCounters } from './metrics.ts';
import type { CounterRates } from './rates.ts';

/** Why a valid sample is still refused (counted in samples_rejected{reason}). */
export type IntakeRefusal = 'too_many_devices';

export interface IntakeDeps {
  counters: GatewayCounters;
  now: () => number;
  liveness: Liveness;
  rates: CounterRates;
  sessions: LanSessions;
  /** The outbox append (GatewayOutbox.append). */
  append: (records: OutboxRecord[]) => Promise<void>;
}

/**
 * A valid LAN sample on its way into the outbox: stamped with the gateway's receive time, given
 * its rate (network nodes), appended, and only then counted in liveness, the rate baselines and
 * the session's devices, so a sample the outbox refused leaves no trace and is sent again by
 * the device. A device's samples go one at a time (a socket read can carry several), so each
 * rate is taken against the sample before it. At most `maxTrackedDevices` are tracked: a new
 * device beyond that is refused, so a LAN client inventing ids cannot crowd out real records.
 */
export class Intake {
  readonly #cfg: { maxTrackedDevices: number };
  readonly #deps: IntakeDeps;
  /** The tail of each device's queue of samples being taken in. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** New devices whose first sample is being appended: they hold a place under the cap. */
  readonly #admitting = new Set<string>();

  constructor(cfg: { maxTrackedDevices: number }, deps: IntakeDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
  }

  /** Resolves once the sample is in the outbox, or to the reason it was refused; rejects when the append failed. */
  accept(sample: DeviceSample, clientId: string): Promise<IntakeRefusal | undefined> {
    const rx = this.#deps.now();
    const device = sample.device;
    const run = (this.#queues.get(device) ?? Promise.resolve()).then(() => this.#takeIn(sample, clientId, rx));
    const tail = run.catch(() => {});
    this.#queues.set(device, tail);
    void tail.then(() => {
      if (this.#queues.get(device) === tail) this.#queues.delete(device);
    });
    return run;
  }

  async #takeIn(sample: DeviceSample, clientId: string, rx: number): Promise<IntakeRefusal | undefined> {
    const { liveness, rates, counters } = this.#deps;
    const isNew = !liveness.knows(sample.device);
    if (isNew) {
      if (liveness.size + this.#admitting.size >= this.#cfg.maxTrackedDevices) return 'too_many_devices';
      this.#admitting.add(sample.device);
    }
    try {
      const record: OutboxRecord = { ...sample, rx };
      const rate = sample.kind === 'network_node' ? rates.assess(sample.device, sample.ts, sample.data.octetsIn, sample.data.octetsOut, sample.data.capacityBps) : undefined;
      if (rate?.result.ok) record.rate = { rxBps: rate.result.rxBps, txBps: rate.result.txBps };
      await this.#deps.append([record]);
      if (rate) {
        rate.commit();
        if (!rate.result.ok && rate.result.reason !== 'first_sample') counters.inc('rate_intervals_dropped', { reason: rate.result.reason });
      }
      const poweredOff = (sample.kind === 'classroom_av' || sample.kind === 'interactive_board') && sample.data.power === 'off';
      liveness.heard(sample.device, sample.kind, rx, poweredOff);
      this.#deps.sessions.reported(clientId, sample.device);
      return undefined;
    } finally {
      if (isNew) this.#admitting.delete(sample.device);
    }
  }

  /** A LAN session ended; after a clean DISCONNECT its devices are off, not down. */
  sessionEnded(clientId: string, clean: boolean): void {
    if (!clean) return;
    const at = this.#deps.now();
    for (const d of this.#deps.sessions.devicesOf(clientId)) this.#deps.liveness.saidGoodbye(d, at);
  }
}
