import { createServer, type Server } from 'node:http';
import type { Logger } from 'pino';
import { createGatewayCounters, type GatewayCounters } from './metrics.ts';
import type { GatewayHealth } from '../../protocol/src/gatewayHealth.ts';
import { COMMAND_CLOCK_TOLERANCE_MS, commandRequestSchema, type CommandRequest, type CommandResult, type CommandStatus, type LanCommandResult } from '../../protocol/src/commands.ts';
import type { DeviceKind } from '../../protocol/src/kinds.ts';
import type { DeviceSample, OutboxRecord } from '../../protocol/src/telemetry.ts';
import { HEARTBEAT_TIMEOUT_MS, Liveness, MINUTE_MS } from './liveness.ts';
import { CounterRates } from './rates.ts';
import { GatewayError, GatewayErrorCode } from './errors.ts';
import { FileOutbox, type FileOutboxConfig } from './fileOutbox.ts';
import { LanListener } from './lanListener.ts';
import { MemoryOutbox, type Outbox } from './outbox.ts';
import { Uplink, type UplinkConfig } from './uplink.ts';

export interface GatewayConfig extends UplinkConfig {
  lanHost: string;
  /** 0 picks a free port. */
  lanPort: number;
  maxSampleBytes: number;
  /** The durable outbox; undefined keeps records in memory (bounded by outboxMaxRecords). */
  outbox?: FileOutboxConfig | undefined;
  outboxMaxRecords: number;
  healthHost: string;
  /** 0 picks a free port; -1 disables the local health endpoint. */
  healthPort: number;
  /** How often health is sent to the hub as telemetry. */
  healthIntervalMs: number;
  /** Record every device's availability each minute (tests drive it by hand instead). */
  availabilitySampling: boolean;
  heartbeatTimeouts: Readonly<Record<DeviceKind, number>>;
}

export interface GatewayDeps {
  log: Logger;
  /** An outbox to use instead of the configured one (tests). */
  outbox?: Outbox;
  now?: () => number;
  random?: () => number;
  /** Called with records the hub acknowledged (benchmarks measure latency with it). */
  onDelivered?: (records: OutboxRecord[], at: number) => void;
}

export interface Gateway {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly lanPort: number;
  readonly healthPort: number;
  readonly counters: GatewayCounters;
  readonly outbox: Outbox;
  readonly uplinkConnected: boolean;
  health(): GatewayHealth;
  /** Records every tracked device's state for the minute starting at `minute` (the minute timer does this). */
  sampleAvailability(minute: number): Promise<number>;
  /** Sends the health report to the hub now (the health timer does this); false while the uplink is down. */
  reportHealth(): boolean;
}

/**
 * One school's edge gateway: campus LAN listener → validation → outbox (durable by default) →
 * uplink to the hub, with a local health endpoint for campus IT and health sent as telemetry.
 */
export function createGateway(config: GatewayConfig, deps: GatewayDeps): Gateway {
  const log = deps.log.child({ module: 'gateway', gateway: config.gateway });
  const now = deps.now ?? Date.now;
  const counters = createGatewayCounters();
  let outbox: Outbox | undefined = deps.outbox;
  let uplink: Uplink | undefined;
  let lan: LanListener | undefined;
  let http: Server | undefined;
  let healthTimer: NodeJS.Timeout | undefined;
  let minuteTimer: NodeJS.Timeout | undefined;
  let healthPort = -1;
  let started = false;
  let stopped = false;

  const box = (): Outbox => {
    if (!outbox) throw new Error('gateway not started');
    return outbox;
  };

  const liveness = new Liveness(config.heartbeatTimeouts);
  const rates = new CounterRates();
  /** Devices seen on each LAN session, so a clean goodbye marks them off. */
  const devicesOfClient = new Map<string, Set<string>>();

  // ── commands (protocol/src/commands.ts) ──
  /** Commands passed to a device and not answered yet, by id. */
  const pendingCommands = new Map<string, { req: CommandRequest; timer: NodeJS.Timeout }>();
  /** Ids already answered, until their TTL ends: a redelivered request is not executed twice. */
  const answeredCommands = new Map<string, number>();

  function sendCommandResult(req: CommandRequest, status: CommandStatus, detail?: string): void {
    const t = now();
    answeredCommands.set(req.id, req.issuedAt + req.ttlMs);
    for (const [id, until] of answeredCommands) if (until < t) answeredCommands.delete(id);
    const result: CommandResult = { v: 1, id: req.id, device: req.device, action: req.action, issuedAt: req.issuedAt, status, ...(detail ? { detail } : {}), at: t };
    counters.inc('command_results', { status });
    if (!uplink?.publishCommandResult(result)) {
      counters.inc('command_results_unsent');
      log.warn({ id: req.id, device: req.device, status }, 'command result not sent: uplink down');
    }
  }

  function onCommand(payload: Buffer): void {
    counters.inc('commands_received');
    let req: CommandRequest | undefined;
    try {
      const p = commandRequestSchema.safeParse(JSON.parse(payload.toString('utf8')));
      if (p.success) req = p.data;
    } catch {
      req = undefined;
    }
    if (!req) {
      counters.inc('commands_refused', { reason: 'invalid' });
      log.warn('command refused: not a valid request');
      return;
    }
    if (pendingCommands.has(req.id) || answeredCommands.has(req.id)) return; // a QoS 1 redelivery
    const expiresAt = req.issuedAt + req.ttlMs;
    const t = now();
    // Never executed late: an expired request is answered here and never reaches the device.
    if (t >= expiresAt) return sendCommandResult(req, 'expired', 'arrived after its TTL; not passed to the device');
    // A gateway clock far behind the hub's would run the TTL late: refuse rather than act late.
    if (req.issuedAt > t + COMMAND_CLOCK_TOLERANCE_MS) return sendCommandResult(req, 'rejected', `gateway clock ${req.issuedAt - t} ms behind the hub's`);
    if (!liveness.knows(req.device)) return sendCommandResult(req, 'rejected', 'device not heard on this campus LAN');
    lan!.sendCommand({ v: 1, id: req.id, device: req.device, action: req.action, ttlMs: expiresAt - t });
    counters.inc('commands_forwarded');
    const r = req;
    const timer = setTimeout(() => {
      pendingCommands.delete(r.id);
      sendCommandResult(r, 'expired', 'no answer from the device within its TTL');
    }, expiresAt - t);
    timer.unref();
    pendingCommands.set(req.id, { req, timer });
  }

  function onCommandResult(res: LanCommandResult, clientId: string): void {
    const p = pendingCommands.get(res.id);
    if (!p) {
      counters.inc('command_results_refused', { reason: 'unknown_or_late' });
      return;
    }
    // Only the command's device answers, on the session that reports it: another LAN client
    // that saw the command (every device sees every command) cannot answer for it.
    if (res.device !== p.req.device || !devicesOfClient.get(clientId)?.has(p.req.device)) {
      counters.inc('command_results_refused', { reason: 'not_the_device' });
      log.warn({ id: res.id, device: p.req.device, clientId }, 'command answer from another client refused');
      return;
    }
    clearTimeout(p.timer);
    pendingCommands.delete(res.id);
    if (now() >= p.req.issuedAt + p.req.ttlMs) return sendCommandResult(p.req, 'expired', 'the device answered after its TTL');
    sendCommandResult(p.req, res.status, res.detail);
  }

  const accept = async (sample: DeviceSample, clientId: string): Promise<void> => {
    const o = box();
    const rx = now();
    const record: OutboxRecord = { ...sample, rx };
    if (sample.kind === 'network_node') {
      const r = rates.observe(sample.device, sample.ts, sample.data.octetsIn, sample.data.octetsOut, sample.data.capacityBps);
      if (r.ok) record.rate = { rxBps: r.rxBps, txBps: r.txBps };
      else if (r.reason !== 'first_sample') counters.inc('rate_intervals_dropped', { reason: r.reason });
    }
    const poweredOff = (sample.kind === 'classroom_av' || sample.kind === 'interactive_board') && sample.data.power === 'off';
    liveness.heard(sample.device, sample.kind, rx, poweredOff);
    if (clientId) {
      let set = devicesOfClient.get(clientId);
      if (!set) devicesOfClient.set(clientId, (set = new Set()));
      set.add(sample.device);
    }
    try {
      await o.append([record]);
    } catch (e) {
      counters.inc('outbox_errors');
      throw new GatewayError(GatewayErrorCode.OUTBOX_IO, 'outbox append failed', { cause: e });
    }
    reportDrops();
    uplink?.pump();
  };

  /** Adds the outbox's new drops to the counter once each, however appends interleave. */
  let reportedDrops = 0;
  function reportDrops(): void {
    const d = box().dropped - reportedDrops;
    if (d <= 0) return;
    reportedDrops += d;
    counters.inc('outbox_dropped', {}, d);
    log.warn({ dropped: d, total: reportedDrops }, 'outbox bound reached: oldest records dropped');
  }

  /** Appends one availability record per tracked device for the minute starting at `minute`. */
  async function sampleAvailability(minute: number): Promise<number> {
    const records = liveness.minuteRecords(minute, now());
    if (records.length === 0) return 0;
    await box().append(records);
    reportDrops();
    uplink?.pump();
    return records.length;
  }

  function scheduleMinute(): void {
    const t = now();
    const next = t - (t % MINUTE_MS) + MINUTE_MS;
    minuteTimer = setTimeout(() => {
      void sampleAvailability(next).catch((err: unknown) => log.error({ err }, 'availability sampling failed'));
      scheduleMinute();
    }, next - t);
    minuteTimer.unref();
  }

  function health(): GatewayHealth {
    const o = box();
    const oldest = o.oldestRx();
    const replay = uplink!.replayStatus();
    return {
      ts: now(),
      bdSeq: uplink!.bdSeq,
      outbox: {
        records: o.size(),
        waitingLive: o.waiting('live'),
        waitingBacklog: o.waiting('backlog'),
        bytes: o.bytes(),
        oldestAgeMs: oldest === undefined ? 0 : Math.max(0, now() - oldest),
        dropped: o.dropped,
      },
      replay: { active: replay.active, remaining: replay.remaining, sent: replay.sent },
      lastUplinkOkAt: uplink!.lastUplinkOkAt,
      samplesAccepted: counters.get('samples_accepted'),
      samplesRejected: counters.total('samples_rejected'),
    };
  }

  return {
    get lanPort() {
      return lan?.port ?? -1;
    },
    get healthPort() {
      return healthPort;
    },
    counters,
    get outbox() {
      return box();
    },
    get uplinkConnected() {
      return uplink?.connected ?? false;
    },
    health,
    sampleAvailability,
    reportHealth() {
      if (!uplink?.connected) return false;
      uplink.publishHealth(health());
      return true;
    },
    async start() {
      started = true;
      if (!outbox) {
        outbox = config.outbox ? await FileOutbox.open(config.outbox, now) : new MemoryOutbox(config.outboxMaxRecords);
        if (outbox instanceof FileOutbox && outbox.repairedBytes > 0) {
          log.warn({ bytes: outbox.repairedBytes }, 'outbox: a torn last record was cut (crash mid-write)');
        }
        log.info({ durable: Boolean(config.outbox), backlog: outbox.size() }, 'outbox opened');
        reportDrops();
      }
      uplink = new Uplink(config, {
        log: log.child({ module: 'uplink' }),
        outbox,
        counters,
        ...(deps.onDelivered ? { onDelivered: deps.onDelivered } : {}),
        ...(deps.random ? { random: deps.random } : {}),
        onCommand,
      });
      lan = new LanListener(
        { host: config.lanHost, port: config.lanPort, maxSampleBytes: config.maxSampleBytes },
        {
          log: log.child({ module: 'lan' }),
          counters,
          accept,
          onDisconnect: (clientId, clean) => {
            const devices = devicesOfClient.get(clientId);
            if (clean && devices) for (const d of devices) liveness.saidGoodbye(d, now());
          },
          onCommandResult,
        },
      );
      await lan.start();
      uplink.start();
      if (config.healthPort >= 0) {
        http = createServer((req, res) => {
          if (req.method === 'GET' && req.url === '/health') {
            const h = health();
            res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ gateway: config.gateway, connected: uplink!.connected, ...h }));
          } else {
            res.writeHead(404).end();
          }
        });
        await new Promise<void>((resolve, reject) => {
          http!.once('error', reject);
          http!.listen(config.healthPort, config.healthHost, () => resolve());
        });
        healthPort = (http.address() as { port: number }).port;
      }
      if (config.availabilitySampling) scheduleMinute();
      healthTimer = setInterval(() => uplink!.publishHealth(health()), config.healthIntervalMs);
      healthTimer.unref();
      log.info({ lanPort: lan.port, healthPort, hub: config.hubUrl }, 'gateway started');
    },
    async stop() {
      if (stopped || !started) return;
      stopped = true;
      clearInterval(healthTimer);
      clearTimeout(minuteTimer);
      for (const p of pendingCommands.values()) clearTimeout(p.timer);
      if (http) {
        const h = http;
        await new Promise<void>((r) => {
          h.close(() => r());
          h.closeAllConnections();
        });
      }
      await lan?.stop();
      await uplink?.stop();
      await outbox?.close();
      log.info({ waiting: outbox?.size() }, 'gateway stopped');
    },
  };
}
