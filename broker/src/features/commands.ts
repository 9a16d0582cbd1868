import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { actionKindProblem, COMMAND_ACTIONS, COMMAND_INPUTS, commandInputProblem, commandRequestSchema, commandResultSchema, type CommandAction, type CommandInput, type CommandRequest } from '../../../protocol/src/commands.ts';
import { commandRequestTopic, type GatewayAddress } from '../../../protocol/src/topics.ts';
import { toError } from '../../../runtime/src/errors.ts';
import { assertActor, type Actor } from '../actor.ts';
import type { Cluster } from '../cluster.ts';
import type { ChannelHandler } from '../dispatch.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import type { CommandOutcome, EventBus } from '../eventBus.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point as schemaPoint, type FieldsOf } from '../../../storage/src/point.ts';
import type { InfluxWriter } from '../influx/writer.ts';
import { parseJsonPayload } from '../jsonPayload.ts';
import type { HubCounters } from '../metrics.ts';
import type { CommandRecord, Registry } from '../registry.ts';
import type { Feature } from './feature.ts';
import type { HubPublisher } from './presencePublisher.ts';

/** A result may come this long after the TTL (the gateway's own expiry, then the way back). */
const COMMAND_RESULT_GRACE_MS = 2000;

export interface CommandRequestInput {
  device: string;
  action: CommandAction;
  /** switch_input's source; none for every other action. */
  input?: CommandInput | undefined;
  ttlMs?: number | undefined;
}
/** Options of a send: an idempotency key (per actor) and a hash of the request it stands for. */
export interface SendOptions {
  idempotencyKey?: string | undefined;
  requestHash?: string | undefined;
}

export interface CommandsDeps {
  registry: () => Registry;
  writer: InfluxWriter;
  publisher: HubPublisher;
  isCommandReady: (gateway: string) => boolean;
  bus: EventBus;
  counters: HubCounters;
  log: Logger;
  now: () => number;
  /**
   * A node of a cluster: a result may come through any node (the gateway's), the registry's
   * first final status decides, and the node that issued the command hears of it.
   */
  cluster?: Cluster | undefined;
}

interface PendingCommand {
  gw: GatewayAddress;
  req: CommandRequest;
  timer: NodeJS.Timeout;
}


/**
 * Commands to devices through their school's gateway (docs/design.md#protocol): a request with
 * an id and a TTL; the gateway answers done, failed, expired or rejected. Every command and its
 * outcome are one `command` point at its issue time; `no_result` when no answer came within the
 * TTL and a grace.
 */
export class Commands implements Feature {
  readonly #d: CommandsDeps;
  /** Sent and not answered yet, by id. */
  readonly #pending = new Map<string, PendingCommand>();
  /** The last point write of each command whose writes are not all done: the next one waits for it. */
  readonly #writes = new Map<string, Promise<unknown>>();

  constructor(deps: CommandsDeps) {
    this.#d = deps;
  }

  /**
   * Commands a previous run left `sent`: past their TTL and grace they are `no_result` (no
   * answer can be taken any more); the others wait again for their result or their deadline.
   */
  start(): void {
    const { registry, now } = this.#d;
    this.#d.cluster?.onMessage((m) => {
      if (m.t === 'cmdres') this.#settledElsewhere(m.id, m.status as CommandOutcome['status'], m.detail, m.at);
    });
    for (const r of registry().sentCommands()) {
      const gw = { district: r.district, school: r.school, gateway: r.gateway };
      const req: CommandRequest = { v: 1, id: r.id, device: r.device, action: r.action as CommandAction, ...(r.input === null ? {} : { input: r.input as CommandInput }), issuedAt: r.issuedAt, ttlMs: r.ttlMs };
      const left = r.issuedAt + r.ttlMs + COMMAND_RESULT_GRACE_MS - now();
      if (left <= 0) this.#noResult(gw, req, 'hub restarted');
      else this.#await(gw, req, left);
    }
  }

  /**
   * What still waits cannot be answered here any more: `no_result`, unless another run recorded
   * an outcome meanwhile; its point is queued before the writer stops (which flushes it, or
   * gives up if InfluxDB is gone: the registry record stands either way).
   */
  stop(): void {
    for (const p of this.#pending.values()) {
      clearTimeout(p.timer);
      this.#noResult(p.gw, p.req, 'hub stopped before a result came');
    }
    this.#pending.clear();
  }

  /**
   * Refused (HUB_ERR_COMMAND_REFUSED) for an unknown device or action, an input that does not
   * fit the action (switch_input needs one, the others take none), and an action the device's
   * kind does not carry out (`actionAppliesTo`); `rejected` at once when
   * the gateway does not take commands. Every command that gets as far as its gateway is a
   * registry record (`sent` as returned, then its outcomes). With an idempotency key the actor
   * has used before, the stored record is returned and nothing is sent (a different request
   * hash: HUB_ERR_IDEMPOTENCY_MISMATCH). The key is looked up and the record inserted before
   * the first await, so two concurrent sends with one key command the device once.
   */
  async send(c: CommandRequestInput, actor: Actor, opts: SendOptions = {}): Promise<CommandRecord> {
    assertActor(actor);
    const key = opts.idempotencyKey;
    if (key !== undefined) {
      const held = this.#d.registry().commandByKey(actor, key);
      if (held) {
        if ((opts.requestHash ?? null) !== held.requestHash) throw new HubError(HubErrorCode.IDEMPOTENCY_MISMATCH, `idempotency key ${JSON.stringify(key)} was used for another request (command ${held.id})`);
        return held;
      }
    }
    const audit = (outcome: string, detail: string, where?: { district: string; school: string }): void =>
      this.#d.registry().appendAudit({ at: this.#d.now(), actor, action: `command.${String(c.action)}`, target: `device:${c.device}`, outcome, detail, district: where?.district, school: where?.school });
    let sent: { record: CommandRecord; published: Promise<void> };
    try {
      sent = this.#send(c, actor, opts);
    } catch (e) {
      const err = toError(e);
      const dev = this.#d.registry().getDevice(c.device);
      const where = dev ? this.#d.registry().getSchool(dev.school) : undefined;
      audit(err instanceof HubError && err.code === HubErrorCode.COMMAND_REFUSED ? 'refused' : 'error', err.message, where && { district: where.district, school: where.id });
      throw e;
    }
    const r = sent.record;
    try {
      await sent.published;
    } catch (e) {
      audit('error', `id ${r.id}: ${toError(e).message}`, r);
      throw e;
    }
    const named = r.input === null ? `id ${r.id}` : `id ${r.id}, input ${r.input}`;
    audit(r.status, r.detail === null ? named : `${named}: ${r.detail}`, r);
    return r;
  }

  /** Synchronous up to the publish (see send). */
  #send(c: CommandRequestInput, actor: Actor, opts: SendOptions): { record: CommandRecord; published: Promise<void> } {
    const { registry, counters, now } = this.#d;
    if (!(COMMAND_ACTIONS as readonly string[]).includes(c.action)) throw new HubError(HubErrorCode.COMMAND_REFUSED, `unknown action ${String(c.action)}`);
    if (c.input !== undefined && !(COMMAND_INPUTS as readonly string[]).includes(c.input)) throw new HubError(HubErrorCode.COMMAND_REFUSED, `unknown input ${String(c.input)} (one of ${COMMAND_INPUTS.join(', ')})`);
    const inputProblem = commandInputProblem(c);
    if (inputProblem !== undefined) throw new HubError(HubErrorCode.COMMAND_REFUSED, inputProblem);
    const dev = registry().getDevice(c.device);
    if (!dev) throw new HubError(HubErrorCode.COMMAND_REFUSED, `device ${c.device} is not in the registry`);
    const kindProblem = actionKindProblem(c.action, dev.kind);
    if (kindProblem !== undefined) throw new HubError(HubErrorCode.COMMAND_REFUSED, `device ${c.device}: ${kindProblem}`);
    // A school may have several gateways (a spare, a replacement): the one connected takes it.
    const candidates = registry().activeGateways().filter((g) => g.school === dev.school);
    const gw = candidates.find((g) => this.#d.isCommandReady(g.gateway)) ?? candidates[0];
    if (!gw) throw new HubError(HubErrorCode.COMMAND_REFUSED, `school ${dev.school} has no active gateway`);
    // Hex, not base64url: an id is typed into shells and CLIs, where a leading `-` reads as an option.
    const parsed = commandRequestSchema.safeParse({ v: 1, id: randomBytes(12).toString('hex'), device: c.device, action: c.action, ...(c.input === undefined ? {} : { input: c.input }), issuedAt: now(), ttlMs: c.ttlMs ?? 60_000 });
    if (!parsed.success) throw new HubError(HubErrorCode.COMMAND_REFUSED, `invalid command: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const req = parsed.data;
    const point = (fields: FieldsOf<'command'>): string => commandPoint(gw, req, fields);
    const ready = this.#d.isCommandReady(gw.gateway);
    const record: CommandRecord = {
      id: req.id,
      device: req.device,
      district: gw.district,
      school: gw.school,
      gateway: gw.gateway,
      action: req.action,
      input: req.input ?? null,
      ttlMs: req.ttlMs,
      actor,
      idempotencyKey: opts.idempotencyKey ?? null,
      requestHash: opts.requestHash ?? null,
      status: ready ? 'sent' : 'rejected',
      detail: ready ? null : 'gateway not connected',
      issuedAt: req.issuedAt,
      updatedAt: req.issuedAt,
    };
    registry().insertCommand(record);
    if (!ready) {
      counters.inc('commands', { status: 'rejected' });
      this.#writeLater(req.id, point({ id: req.id, status: 'rejected', detail: 'gateway not connected', ttl_ms: req.ttlMs }));
      this.#outcome(gw, req, 'rejected', 'gateway not connected');
      return { record, published: Promise.resolve() };
    }
    // The command goes out without waiting for its point (InfluxDB may be down for long).
    this.#writeLater(req.id, point({ id: req.id, status: 'sent', ttl_ms: req.ttlMs }));
    // Pending before it is published, so that a quick answer finds it.
    const timer = this.#await(gw, req, req.ttlMs + COMMAND_RESULT_GRACE_MS);
    const published = this.#d.publisher.publish(commandRequestTopic(gw), Buffer.from(JSON.stringify(req)), { qos: 1, retain: false }).then(
      () => {
        counters.inc('commands', { status: 'sent' });
        // Announced only while still waiting: a result (or no_result) that came before the publish
        // settled has already been announced, and `sent` must not follow it.
        if (this.#pending.has(req.id)) this.#outcome(gw, req, 'sent');
        this.#d.log.info({ id: req.id, device: req.device, action: req.action, gateway: gw.gateway }, 'command sent');
      },
      (e: unknown) => {
        clearTimeout(timer);
        this.#pending.delete(req.id);
        this.#writeLater(req.id, point({ id: req.id, status: 'rejected', detail: 'not published' }));
        this.#outcome(gw, req, 'rejected', 'not published');
        throw e;
      },
    );
    return { record, published };
  }

  /**
   * A gateway's command result, written over its command's point. Only for a command this hub
   * sent to that gateway and still waits for, and for its device, action and input: anything else
   * (unknown or already final, another gateway's, altered) is refused and counted.
   */
  readonly handleResult: ChannelHandler = async ({ identity, payload }) => {
    const { counters, log } = this.#d;
    counters.inc('messages_received', { channel: 'cmdres' });
    const r = parseJsonPayload(commandResultSchema, payload);
    // In a cluster, a command issued through another node is waited for in the shared registry.
    const p = r ? (this.#pending.get(r.id) ?? this.#issuedElsewhere(r.id)) : undefined;
    // The gateway's whole identity: one deleted and re-created in another school is not the one asked.
    if (!r || !p || p.gw.gateway !== identity.gateway || p.gw.school !== identity.school || p.gw.district !== identity.district || p.req.device !== r.device || p.req.action !== r.action || p.req.input !== r.input || p.req.issuedAt !== r.issuedAt) {
      counters.inc('messages_rejected', { reason: 'bad_command_result' });
      log.warn({ gateway: identity.gateway, id: r?.id }, 'command result refused: not a command this hub waits for from this gateway');
      return 'refuse';
    }
    if (p.timer) clearTimeout(p.timer);
    this.#pending.delete(r.id);
    // The registry's first final status stands (another node, or a no_result, may have been first).
    if (this.#record(r.id, r.status, r.detail) === false) {
      counters.inc('messages_rejected', { reason: 'late_command_result' });
      log.warn({ gateway: identity.gateway, id: r.id }, 'command result refused: an outcome was already recorded');
      return 'refuse';
    }
    // Recorded and announced at once, whether InfluxDB is up or not.
    counters.inc('commands', { status: r.status });
    this.#announce(p.gw, p.req, r.status, r.detail);
    log.info({ id: r.id, device: r.device, status: r.status }, 'command result');
    const detail = r.detail ?? '';
    this.#d.cluster?.broadcast({ t: 'cmdres', id: r.id, status: r.status, detail, at: r.at });
    // The gateway's publish waits for its point, as telemetry does; after the `sent` one.
    await this.#write(r.id, commandPoint(p.gw, p.req, { id: r.id, status: r.status, detail, finished_at: r.at }));
    return 'accept';
  };

  /** A command still `sent` in the shared registry, issued through another node of the cluster. */
  #issuedElsewhere(id: string): (Omit<PendingCommand, 'timer'> & { timer?: undefined }) | undefined {
    if (!this.#d.cluster) return undefined;
    const c = this.#d.registry().getCommand(id);
    if (!c || c.status !== 'sent') return undefined;
    const req: CommandRequest = { v: 1, id: c.id, device: c.device, action: c.action as CommandAction, ...(c.input === null ? {} : { input: c.input as CommandInput }), issuedAt: c.issuedAt, ttlMs: c.ttlMs };
    return { gw: { district: c.district, school: c.school, gateway: c.gateway }, req };
  }

  /**
   * Another node recorded this command's result: the no_result timer here stops, the outcome is
   * announced on this node's bus (API waiters, the event stream), and its point is written again
   * after this node's own `sent` one, so that a late `sent` never overwrites it.
   */
  #settledElsewhere(id: string, status: CommandOutcome['status'], detail: string, at: number): void {
    const p = this.#pending.get(id);
    if (!p) return;
    clearTimeout(p.timer);
    this.#pending.delete(id);
    if (status === 'sent' || status === 'no_result') return;
    this.#announce(p.gw, p.req, status, detail === '' ? undefined : detail);
    this.#writeLater(id, commandPoint(p.gw, p.req, { id, status, detail, finished_at: at }));
  }

  /**
   * Writes one of a command's points after its earlier ones, so that its outcome is never
   * overwritten by a late `sent`. Resolves when written; a failure is counted and logged here.
   */
  #write(id: string, line: string): Promise<void> {
    const prev = this.#writes.get(id) ?? Promise.resolve();
    const p = prev.then(() => this.#d.writer.write([line])).then(
      () => {},
      (e: unknown) => {
        this.#d.counters.inc('command_point_failures');
        this.#d.log.warn({ err: toError(e), id }, 'command point not written');
        throw e;
      },
    );
    const tail = p.catch(() => {});
    this.#writes.set(id, tail);
    void tail.then(() => {
      if (this.#writes.get(id) === tail) this.#writes.delete(id);
    });
    return p;
  }

  /**
   * Waits `ms` for the command's result. If neither the request nor its result comes through
   * in time, whether the device acted is not known: no_result.
   */
  #await(gw: GatewayAddress, req: CommandRequest, ms: number): NodeJS.Timeout {
    const timer = setTimeout(() => {
      this.#pending.delete(req.id);
      this.#noResult(gw, req, 'no result from the gateway within the TTL');
    }, ms);
    timer.unref();
    this.#pending.set(req.id, { gw, req, timer });
    return timer;
  }

  #noResult(gw: GatewayAddress, req: CommandRequest, detail: string): void {
    // An outcome recorded meanwhile by another run (or node) of the hub stands.
    if (this.#d.registry().getCommand(req.id)?.status !== 'sent') return;
    // Recorded first: of two nodes whose timers fire together, only the one that changed the record goes on.
    if (this.#record(req.id, 'no_result', detail) === false) return;
    this.#d.counters.inc('commands', { status: 'no_result' });
    this.#announce(gw, req, 'no_result', detail);
    this.#writeLater(req.id, commandPoint(gw, req, { id: req.id, status: 'no_result', detail }));
  }

  #writeLater(id: string, line: string): void {
    this.#write(id, line).catch(() => {});
  }

  /** Recorded (the registry never lets `sent` overwrite a final status), then announced. */
  #outcome(gw: GatewayAddress, req: CommandRequest, status: CommandOutcome['status'], detail?: string): void {
    if (status !== 'sent') this.#record(req.id, status, detail);
    this.#announce(gw, req, status, detail);
  }

  #announce(gw: GatewayAddress, req: CommandRequest, status: CommandOutcome['status'], detail?: string): void {
    this.#d.bus.emitCommandOutcome({ id: req.id, district: gw.district, school: gw.school, gateway: gw.gateway, device: req.device, action: req.action, status, ...(detail === undefined ? {} : { detail }) });
  }

  /** True when recorded, false when a final status was already there (it stands), undefined when the registry failed (logged). */
  #record(id: string, status: Exclude<CommandOutcome['status'], 'sent'>, detail: string | undefined): boolean | undefined {
    try {
      return this.#d.registry().updateCommand(id, status, detail ?? null, this.#d.now());
    } catch (e) {
      this.#d.log.warn({ err: toError(e), id }, 'command outcome not recorded in the registry');
      return undefined;
    }
  }
}

/**
 * One point per command, at its issue time: the result rewrites its status in place. Every one
 * of a switch_input's points carries its input, so that a rewrite never loses it.
 */
function commandPoint(g: GatewayAddress, req: CommandRequest, fields: FieldsOf<'command'>): string {
  return encodePoint(schemaPoint('command', { district: g.district, school: g.school, gateway: g.gateway, device: req.device, action: req.action }, { ...fields, ...(req.input === undefined ? {} : { input: req.input }) }, req.issuedAt));
}
