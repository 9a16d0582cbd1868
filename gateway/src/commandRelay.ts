import type { Logger } from 'pino';
import { COMMAND_CLOCK_TOLERANCE_MS, commandRequestSchema, type CommandRequest, type CommandResult, type CommandStatus, type LanCommand, type LanCommandResult } from '../../protocol/src/commands.ts';
import { validatePayload } from './lanValidation.ts';
import type { GatewayCounters } from './metrics.ts';

export interface CommandRelayDeps {
  log: Logger;
  counters: GatewayCounters;
  now: () => number;
  /** Whether the device has been heard on the campus LAN since the gateway started. */
  knows: (device: string) => boolean;
  /** Whether the LAN session `clientId` has reported `device`. */
  reports: (clientId: string, device: string) => boolean;
  sendToLan: (c: LanCommand) => void;
  /** Sends a result to the hub; false while the uplink is down. */
  publishResult: (r: CommandResult) => boolean;
}

/**
 * Command requests from the hub to a device on the campus LAN and its answer back
 * (protocol/src/commands.ts): refused when invalid, answered at once when expired, when the
 * gateway's clock is far behind, or for a device never heard; otherwise passed on with the TTL
 * left and answered `expired` if the device is silent. A QoS 1 redelivery is never passed twice.
 */
export class CommandRelay {
  readonly #d: CommandRelayDeps;
  /** Commands passed to a device and not answered yet, by id. */
  readonly #pending = new Map<string, { req: CommandRequest; timer: NodeJS.Timeout }>();
  /** Ids already answered, until their TTL ends: a redelivered request is not executed twice. */
  readonly #answered = new Map<string, number>();

  #stopped = false;

  constructor(deps: CommandRelayDeps) {
    this.#d = deps;
  }

  /** A request from the hub (the raw payload). */
  onRequest(payload: Buffer): void {
    // Stopping: the LAN may be gone already, and no TTL timer may outlive stop().
    if (this.#stopped) return;
    const { counters, log } = this.#d;
    counters.inc('commands_received');
    const v = validatePayload(payload, Number.POSITIVE_INFINITY, commandRequestSchema);
    if (!v.ok) {
      counters.inc('commands_refused', { reason: 'invalid' });
      log.warn('command refused: not a valid request');
      return;
    }
    const req = v.value;
    if (this.#pending.has(req.id) || this.#answered.has(req.id)) return; // a QoS 1 redelivery
    const expiresAt = req.issuedAt + req.ttlMs;
    const t = this.#d.now();
    // Never executed late: an expired request is answered here and never reaches the device.
    if (t >= expiresAt) return this.#answer(req, 'expired', 'arrived after its TTL; not passed to the device');
    // A gateway clock far behind the hub's would run the TTL late: refuse rather than act late.
    if (req.issuedAt > t + COMMAND_CLOCK_TOLERANCE_MS) return this.#answer(req, 'rejected', `gateway clock ${req.issuedAt - t} ms behind the hub's`);
    if (!this.#d.knows(req.device)) return this.#answer(req, 'rejected', 'device not heard on this campus LAN');
    // switch_input's source goes with it; the device's answer is checked as for any action.
    this.#d.sendToLan({ v: 1, id: req.id, device: req.device, action: req.action, ...(req.input === undefined ? {} : { input: req.input }), ttlMs: expiresAt - t });
    counters.inc('commands_forwarded');
    const r = req;
    const timer = setTimeout(() => {
      this.#pending.delete(r.id);
      this.#answer(r, 'expired', 'no answer from the device within its TTL');
    }, expiresAt - t);
    timer.unref();
    this.#pending.set(req.id, { req, timer });
  }

  /** A device's answer on the LAN, from the session `clientId`. */
  onLanResult(res: LanCommandResult, clientId: string): void {
    const { counters, log } = this.#d;
    const p = this.#pending.get(res.id);
    if (!p) {
      counters.inc('command_results_refused', { reason: 'unknown_or_late' });
      return;
    }
    // Only the command's device answers, on the session that reports it: another LAN client
    // that saw the command (every device sees every command) cannot answer for it.
    if (res.device !== p.req.device || !this.#d.reports(clientId, p.req.device)) {
      counters.inc('command_results_refused', { reason: 'not_the_device' });
      log.warn({ id: res.id, device: p.req.device, clientId }, 'command answer from another client refused');
      return;
    }
    clearTimeout(p.timer);
    this.#pending.delete(res.id);
    if (this.#d.now() >= p.req.issuedAt + p.req.ttlMs) return this.#answer(p.req, 'expired', 'the device answered after its TTL');
    this.#answer(p.req, res.status, res.detail);
  }

  stop(): void {
    this.#stopped = true;
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }

  #answer(req: CommandRequest, status: CommandStatus, detail?: string): void {
    const t = this.#d.now();
    this.#answered.set(req.id, req.issuedAt + req.ttlMs);
    for (const [id, until] of this.#answered) if (until < t) this.#answered.delete(id);
    // The request's input goes back with its result: the hub matches it.
    const result: CommandResult = { v: 1, id: req.id, device: req.device, action: req.action, ...(req.input === undefined ? {} : { input: req.input }), issuedAt: req.issuedAt, status, ...(detail ? { detail } : {}), at: t };
    this.#d.counters.inc('command_results', { status });
    if (!this.#d.publishResult(result)) {
      this.#d.counters.inc('command_results_unsent');
      this.#d.log.warn({ id: req.id, device: req.device, status }, 'command result not sent: uplink down');
    }
  }
}
