import type { GatewayInventory } from '../../protocol/src/inventory.ts';
import { reportsPowerOff, type DeviceSample, type LanRefusalReason, type OutboxRecord } from '../../protocol/src/telemetry.ts';
import type { DeviceKind } from '../../protocol/src/kinds.ts';
import { checkClock, type ClockWindow } from './clockWindow.ts';
import type { Refusal } from './deviceFaults.ts';
import { LanSessions, type LanSessionsView } from './lanSessions.ts';
import { HEARTBEAT_TIMEOUT_MS, Liveness, polledTimeoutMs, type LivenessSnapshot, type LivenessView } from './liveness.ts';
import type { GatewayCounters } from './metrics.ts';
import type { CounterRates, PolledCounter } from './rates.ts';
import type { PolledNode, SnmpPollerConfig } from './snmpPoller.ts';

/** Why a valid sample is still refused (counted in samples_rejected{reason}, and told the device on lan/v1/err). */
export type IntakeRefusal = Extract<LanRefusalReason, 'too_many_devices' | 'too_many_sessions' | 'unregistered' | 'kind_mismatch' | 'clock_ahead' | 'clock_behind'>;

/** The hub's default window (HUB_MAX_FUTURE_MS, HUB_MAX_AGE_MS): 5 minutes ahead, 400 days behind. */
export const DEFAULT_CLOCK_WINDOW: ClockWindow = Object.freeze({ maxFutureMs: 300_000, maxAgeMs: 400 * 86_400_000 });

/** The gateway's SNMP request defaults (GW_SNMP_TIMEOUT_MS, GW_SNMP_RETRIES). */
export const DEFAULT_SNMP_REQUEST: SnmpPollerConfig = Object.freeze({ timeoutMs: 3000, retries: 1 });

export interface IntakeConfig {
  /** Devices tracked at most, and LAN sessions tracked at most. */
  maxTrackedDevices: number;
  heartbeatTimeouts?: Readonly<Record<DeviceKind, number>>;
  /** Device timestamps accepted around the gateway's clock (DEFAULT_CLOCK_WINDOW when absent). */
  clockWindow?: ClockWindow;
  /** The SNMP poller's request timeout and retries: a polled node's liveness timeout counts them (`setPolled`). */
  snmp?: SnmpPollerConfig;
}

export interface IntakeDeps {
  counters: GatewayCounters;
  now: () => number;
  rates: CounterRates;
  /** The outbox append (GatewayOutbox.append). */
  append: (records: OutboxRecord[]) => Promise<void>;
  /** Told of every refusal and every accepted sample (DeviceFaults). */
  faults?: { refused(r: Refusal): void; accepted(device: string): void };
}

/**
 * A valid LAN sample on its way into the outbox: stamped with the gateway's receive time, given
 * its rate (network nodes), appended, and only then counted in liveness, the rate baselines and
 * the session's devices, so a sample the outbox refused leaves no trace and is sent again by
 * the device. A device's samples go one at a time (a socket read can carry several), so each
 * rate is taken against the sample before it. At most `maxTrackedDevices` are tracked: a new
 * device beyond that is refused, so a LAN client inventing ids cannot crowd out real records.
 * With an inventory, only registered devices are taken in, as the kind registered; and a sample
 * whose timestamp the hub would drop is refused here, so a device with a wrong clock is not heard.
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
    const refused = this.#check(sample, rx);
    if (refused) return Promise.resolve(this.#refuse(sample, refused.reason, refused.detail));
    const session = clientId ? this.#sessions.entry(clientId) : undefined;
    if (clientId && !session) return Promise.resolve(this.#refuse(sample, 'too_many_sessions', 'too many LAN sessions tracked'));
    // Only a link's samples wait for the one before them: its rate is taken against that one.
    // Every other sample goes straight to the outbox, so a device's samples share its group
    // commit (liveness keeps the latest arrival whatever order the appends finish in).
    if (sample.kind !== 'network_node') return this.#takeIn(sample, session, rx);
    return this.#inTurn(device, () => this.#takeIn(sample, session, rx));
  }

  async #takeIn(sample: DeviceSample, session: Set<string> | undefined, rx: number, polled?: PolledCounter): Promise<IntakeRefusal | undefined> {
    const { rates, counters } = this.#deps;
    const liveness = this.#liveness;
    const isNew = !liveness.tracks(sample.device);
    const admitting = this.#admitting.get(sample.device) ?? 0;
    if (isNew) {
      if (admitting === 0 && liveness.size + this.#admitting.size >= this.#cfg.maxTrackedDevices) return this.#refuse(sample, 'too_many_devices', 'too many devices tracked');
      this.#admitting.set(sample.device, admitting + 1);
    }
    try {
      const record: OutboxRecord = { ...sample, rx };
      const rate = sample.kind === 'network_node' ? rates.assess(sample.device, sample.ts, sample.data.octetsIn, sample.data.octetsOut, sample.data.capacityBps, polled) : undefined;
      if (rate?.result.ok) record.rate = { rxBps: rate.result.rxBps, txBps: rate.result.txBps };
      await this.#deps.append([record]);
      if (rate) {
        rate.commit();
        if (!rate.result.ok && rate.result.reason !== 'first_sample') counters.inc('rate_intervals_dropped', { reason: rate.result.reason });
      }
      const poweredOff = reportsPowerOff(sample);
      liveness.heard(sample.device, sample.kind, rx, poweredOff);
      session?.add(sample.device);
      this.#deps.faults?.accepted(sample.device);
      return undefined;
    } finally {
      if (isNew) {
        const left = (this.#admitting.get(sample.device) ?? 1) - 1;
        if (left > 0) this.#admitting.set(sample.device, left);
        else this.#admitting.delete(sample.device);
      }
    }
  }

  /**
   * A LAN session ended: its entry is forgotten. A clean DISCONNECT alone is not a power-off
   * (devices reconnect, roam, restart their client): a device is `off` only when it said so.
   */
  sessionEnded(clientId: string): void {
    this.#sessions.ended(clientId);
  }

  /** The inventory in force at gateway time `at`: liveness and the rate baselines hold exactly its devices from now on. */
  setInventory(inv: GatewayInventory, at: number): void {
    const ids = new Map(inv.devices.map((d) => [d.id, d.kind]));
    this.#liveness.register(ids, at);
    // A device no longer registered keeps no rate baseline (it could only be refused now).
    this.#deps.rates.retain((d) => ids.has(d));
  }

  /**
   * The nodes the gateway polls from now on: each is down after its own timeout
   * (`polledTimeoutMs`: its poll interval, the poller's waits, never less than its kind's).
   */
  setPolled(nodes: readonly PolledNode[]): void {
    const kind = (this.#cfg.heartbeatTimeouts ?? HEARTBEAT_TIMEOUT_MS).network_node;
    const request = this.#cfg.snmp ?? DEFAULT_SNMP_REQUEST;
    this.#liveness.setOwnTimeouts(new Map(nodes.map((n) => [n.device, polledTimeoutMs(kind, n.snmp.pollIntervalMs, request)])));
  }

  /** Liveness saved before a restart (livenessStore.ts), at the new start `startedAt`. */
  restore(s: LivenessSnapshot, startedAt: number): void {
    this.#liveness.restore(s, startedAt, this.#cfg.maxTrackedDevices);
  }

  /** Refusals that need nothing but the sample and the clock: registration, kind, timestamp. */
  #check(sample: DeviceSample, rx: number): { reason: IntakeRefusal; detail: string } | undefined {
    const kind = this.#liveness.registeredKind(sample.device);
    if (kind === null) return { reason: 'unregistered', detail: 'device not registered at this gateway' };
    if (kind !== undefined && kind !== sample.kind) return { reason: 'kind_mismatch', detail: `registered as ${kind}, sample says ${sample.kind}` };
    const clock = checkClock(sample.ts, rx, this.#cfg.clockWindow ?? DEFAULT_CLOCK_WINDOW);
    return clock && { reason: clock.reason, detail: clock.detail };
  }

  #refuse(sample: DeviceSample, reason: IntakeRefusal, detail: string): IntakeRefusal {
    this.#deps.faults?.refused({ device: sample.device, reason, detail, seq: sample.seq });
    return reason;
  }

  /**
   * A sample the gateway polled itself (SNMP): the same path as a LAN sample (rate, outbox,
   * liveness), with no LAN session, and the counter's width and the agent's reboot passed to
   * the rates.
   */
  acceptPolled(sample: DeviceSample, counter: PolledCounter): Promise<IntakeRefusal | undefined> {
    const rx = this.#deps.now();
    // Registration and kind as for a LAN sample (the clock is the gateway's own, so it passes).
    const refused = this.#check(sample, rx);
    if (refused) return Promise.resolve(this.#refuse(sample, refused.reason, refused.detail));
    return this.#inTurn(sample.device, () => this.#takeIn(sample, undefined, rx, counter));
  }

  /** Runs `take` after the device's samples before it: a rate is taken against the one before. */
  #inTurn(device: string, take: () => Promise<IntakeRefusal | undefined>): Promise<IntakeRefusal | undefined> {
    const run = (this.#queues.get(device) ?? Promise.resolve()).then(take);
    const tail = run.catch(() => {});
    this.#queues.set(device, tail);
    void tail.then(() => {
      if (this.#queues.get(device) === tail) this.#queues.delete(device);
    });
    return run;
  }
}
