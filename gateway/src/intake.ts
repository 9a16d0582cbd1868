import { reportsPowerOff, type DeviceSample, type OutboxRecord } from '../../protocol/src/telemetry.ts';
import type { DeviceKind } from '../../protocol/src/kinds.ts';
import { LanSessions, type LanSessionsView } from './lanSessions.ts';
import { Liveness, type LivenessView } from './liveness.ts';
import type { GatewayCounters } from './metrics.ts';
import type { CounterRates } from './rates.ts';

/** Why a valid sample is still refused (counted in samples_rejected{reason}). */
export type IntakeRefusal = 'too_many_devices' | 'too_many_sessions';

export interface IntakeConfig {
  /** Devices tracked at most, and LAN sessions tracked at most. */
  maxTrackedDevices: number;
  heartbeatTimeouts?: Readonly<Record<DeviceKind, number>>;
}

export interface IntakeDeps {
  counters: GatewayCounters;
  now: () => number;
  rates: CounterRates;
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
 * Intake alone writes liveness and the LAN sessions; the others get read-only views.
 */
export class Intake {
  readonly #cfg: IntakeConfig;
  readonly #deps: IntakeDeps;
  readonly #liveness: Liveness;
  readonly #sessions: LanSessions;
  /** The tail of each device's queue of samples being taken in. */
  readonly #queues = new Map<string, Promise<unknown>>();
  /** New devices whose first samples are being appended (how many each): they hold a place under the cap. */
  readonly #admitting = new Map<string, number>();

  constructor(cfg: IntakeConfig, deps: IntakeDeps) {
    this.#cfg = cfg;
    this.#deps = deps;
    this.#liveness = new Liveness(cfg.heartbeatTimeouts);
    this.#sessions = new LanSessions(cfg.maxTrackedDevices);
  }

  get liveness(): LivenessView {
    return this.#liveness;
  }

  get sessions(): LanSessionsView {
    return this.#sessions;
  }

  /** Resolves once the sample is in the outbox, or to the reason it was refused; rejects when the append failed. */
  accept(sample: DeviceSample, clientId: string): Promise<IntakeRefusal | undefined> {
    const rx = this.#deps.now();
    const device = sample.device;
    const session = clientId ? this.#sessions.entry(clientId) : undefined;
    if (clientId && !session) return Promise.resolve('too_many_sessions');
    // Only a link's samples wait for the one before them: its rate is taken against that one.
    // Every other sample goes straight to the outbox, so a device's samples share its group
    // commit (liveness keeps the latest arrival whatever order the appends finish in).
    if (sample.kind !== 'network_node') return this.#takeIn(sample, session, rx);
    const run = (this.#queues.get(device) ?? Promise.resolve()).then(() => this.#takeIn(sample, session, rx));
    const tail = run.catch(() => {});
    this.#queues.set(device, tail);
    void tail.then(() => {
      if (this.#queues.get(device) === tail) this.#queues.delete(device);
    });
    return run;
  }

  async #takeIn(sample: DeviceSample, session: Set<string> | undefined, rx: number): Promise<IntakeRefusal | undefined> {
    const { rates, counters } = this.#deps;
    const liveness = this.#liveness;
    const isNew = !liveness.knows(sample.device);
    const admitting = this.#admitting.get(sample.device) ?? 0;
    if (isNew) {
      if (admitting === 0 && liveness.size + this.#admitting.size >= this.#cfg.maxTrackedDevices) return 'too_many_devices';
      this.#admitting.set(sample.device, admitting + 1);
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
      const poweredOff = reportsPowerOff(sample);
      liveness.heard(sample.device, sample.kind, rx, poweredOff);
      session?.add(sample.device);
      return undefined;
    } finally {
      if (isNew) {
        const left = (this.#admitting.get(sample.device) ?? 1) - 1;
        if (left > 0) this.#admitting.set(sample.device, left);
        else this.#admitting.delete(sample.device);
      }
    }
  }

  /** A LAN session ended; after a clean DISCONNECT its devices are off, not down. Its entry is forgotten. */
  sessionEnded(clientId: string, clean: boolean): void {
    const devices = this.#sessions.ended(clientId);
    if (!clean) return;
    const at = this.#deps.now();
    for (const d of devices) this.#liveness.saidGoodbye(d, at);
  }
}
