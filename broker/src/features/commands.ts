import { randomBytes } from 'node:crypto';
import type { Logger } from 'pino';
import { COMMAND_ACTIONS, commandRequestSchema, commandResultSchema, type CommandAction, type CommandRequest } from '../../../protocol/src/commands.ts';
import { commandRequestTopic, type GatewayAddress } from '../../../protocol/src/topics.ts';
import { toError } from '../../../runtime/src/errors.ts';
import { assertActor, type Actor } from '../actor.ts';
import type { ChannelHandler } from '../dispatch.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import type { CommandOutcome, EventBus } from '../eventBus.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point as schemaPoint, type FieldsOf } from '../../../storage/src/point.ts';
import type { InfluxWriter } from '../influx/writer.ts';
import { parseJsonPayload } from '../jsonPayload.ts';
import type { HubCounters } from '../metrics.ts';
import type { Registry } from '../registry.ts';
import type { Feature } from './feature.ts';
import type { HubPublisher } from './presencePublisher.ts';

/** A result may come this long after the TTL (the gateway's own expiry, then the way back). */
const COMMAND_RESULT_GRACE_MS = 2000;

export interface CommandRequestInput {
  device: string;
  action: CommandAction;
  ttlMs?: number;
}
export interface CommandSent {
  id: string;
  status: 'sent' | 'rejected';
  detail?: string;
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

  start(): void {}

  stop(): void {
    for (const p of this.#pending.values()) clearTimeout(p.timer);
    this.#pending.clear();
  }

  /** Refused (HUB_ERR_COMMAND_REFUSED) for an unknown device or action; `rejected` at once when the gateway does not take commands. */
  async send(c: CommandRequestInput, actor: Actor): Promise<CommandSent> {
    assertActor(actor);
    const audit = (outcome: string, target: string, detail?: string): void =>
      this.#d.registry().appendAudit({ at: this.#d.now(), actor, action: `command.${String(c.action)}`, target, outcome, detail });
    let sent: CommandSent;
    try {
      sent = await this.#send(c);
    } catch (e) {
      const err = toError(e);
      audit(err instanceof HubError && err.code === HubErrorCode.COMMAND_REFUSED ? 'refused' : 'error', `device:${c.device}`, err.message);
      throw e;
    }
    audit(sent.status, `device:${c.device}`, sent.detail === undefined ? `id ${sent.id}` : `id ${sent.id}: ${sent.detail}`);
    return sent;
  }

  async #send(c: CommandRequestInput): Promise<CommandSent> {
    const { registry, counters, now } = this.#d;
    if (!(COMMAND_ACTIONS as readonly string[]).includes(c.action)) throw new HubError(HubErrorCode.COMMAND_REFUSED, `unknown action ${String(c.action)}`);
    const dev = registry().getDevice(c.device);
    if (!dev) throw new HubError(HubErrorCode.COMMAND_REFUSED, `device ${c.device} is not in the registry`);
    const gw = registry().activeGateways().find((g) => g.school === dev.school);
    if (!gw) throw new HubError(HubErrorCode.COMMAND_REFUSED, `school ${dev.school} has no active gateway`);
    const parsed = commandRequestSchema.safeParse({ v: 1, id: randomBytes(12).toString('base64url'), device: c.device, action: c.action, issuedAt: now(), ttlMs: c.ttlMs ?? 60_000 });
    if (!parsed.success) throw new HubError(HubErrorCode.COMMAND_REFUSED, `invalid command: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
    const req = parsed.data;
    const point = (fields: FieldsOf<'command'>): string => commandPoint(gw, req, fields);
    if (!this.#d.isCommandReady(gw.gateway)) {
      counters.inc('commands', { status: 'rejected' });
      this.#writeLater(req.id, point({ id: req.id, status: 'rejected', detail: 'gateway not connected', ttl_ms: req.ttlMs }));
      this.#outcome(gw, req, 'rejected', 'gateway not connected');
      return { id: req.id, status: 'rejected', detail: 'gateway not connected' };
    }
    // The command goes out without waiting for its point (InfluxDB may be down for long).
    this.#writeLater(req.id, point({ id: req.id, status: 'sent', ttl_ms: req.ttlMs }));
    // Pending before it is published, so that a quick answer finds it. If neither the request
    // nor its result comes through in time, whether the device acted is not known: no_result.
    const timer = setTimeout(() => {
      this.#pending.delete(req.id);
      counters.inc('commands', { status: 'no_result' });
      const detail = 'no result from the gateway within the TTL';
      this.#outcome(gw, req, 'no_result', detail);
      this.#writeLater(req.id, point({ id: req.id, status: 'no_result', detail }));
    }, req.ttlMs + COMMAND_RESULT_GRACE_MS);
    timer.unref();
    this.#pending.set(req.id, { gw, req, timer });
    try {
      await this.#d.publisher.publish(commandRequestTopic(gw), Buffer.from(JSON.stringify(req)), { qos: 1, retain: false });
    } catch (e) {
      clearTimeout(timer);
      this.#pending.delete(req.id);
      this.#writeLater(req.id, point({ id: req.id, status: 'rejected', detail: 'not published' }));
      this.#outcome(gw, req, 'rejected', 'not published');
      throw e;
    }
    counters.inc('commands', { status: 'sent' });
    // Announced only while still waiting: a result (or no_result) that came before the publish
    // settled has already been announced, and `sent` must not follow it.
    if (this.#pending.has(req.id)) this.#outcome(gw, req, 'sent');
    this.#d.log.info({ id: req.id, device: req.device, action: req.action, gateway: gw.gateway }, 'command sent');
    return { id: req.id, status: 'sent' };
  }

  /**
   * A gateway's command result, written over its command's point. Only for a command this hub
   * sent to that gateway and still waits for, and for its device and action: anything else
   * (unknown or already final, another gateway's, altered) is refused and counted.
   */
  readonly handleResult: ChannelHandler = async ({ identity, payload }) => {
    const { counters, log } = this.#d;
    counters.inc('messages_received', { channel: 'cmdres' });
    const r = parseJsonPayload(commandResultSchema, payload);
    const p = r ? this.#pending.get(r.id) : undefined;
    if (!r || !p || p.gw.gateway !== identity.gateway || p.req.device !== r.device || p.req.action !== r.action || p.req.issuedAt !== r.issuedAt) {
      counters.inc('messages_rejected', { reason: 'bad_command_result' });
      log.warn({ gateway: identity.gateway, id: r?.id }, 'command result refused: not a command this hub waits for from this gateway');
      return 'refuse';
    }
    clearTimeout(p.timer);
    this.#pending.delete(r.id);
    // The gateway's publish waits for its point, as telemetry does; after the `sent` one.
    await this.#write(r.id, commandPoint(p.gw, p.req, { id: r.id, status: r.status, detail: r.detail ?? '', finished_at: r.at }));
    counters.inc('commands', { status: r.status });
    this.#outcome(p.gw, p.req, r.status, r.detail);
    log.info({ id: r.id, device: r.device, status: r.status }, 'command result');
    return 'accept';
  };

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

  #writeLater(id: string, line: string): void {
    this.#write(id, line).catch(() => {});
  }

  #outcome(gw: GatewayAddress, req: CommandRequest, status: CommandOutcome['status'], detail?: string): void {
    this.#d.bus.emitCommandOutcome({ id: req.id, gateway: gw.gateway, device: req.device, action: req.action, status, ...(detail === undefined ? {} : { detail }) });
  }
}

/** One point per command, at its issue time: the result rewrites its status in place. */
function commandPoint(g: GatewayAddress, req: CommandRequest, fields: FieldsOf<'command'>): string {
  return encodePoint(schemaPoint('command', { district: g.district, school: g.school, gateway: g.gateway, device: req.device, action: req.action }, fields, req.issuedAt));
}
