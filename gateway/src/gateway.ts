import type { Logger } from 'pino';
import type { GatewayHealth } from '../../protocol/src/gatewayHealth.ts';
import type { DeviceKind } from '../../protocol/src/kinds.ts';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { metricsText } from '../../runtime/src/counters.ts';
import { join } from 'node:path';
import type { GatewayInventory } from '../../protocol/src/inventory.ts';
import { AvailabilitySampler, samplingPhaseMs } from './availabilitySampler.ts';
import type { ClockWindow } from './clockWindow.ts';
import { CommandRelay } from './commandRelay.ts';
import { DeviceFaults } from './deviceFaults.ts';
import { gatewayLifecycle } from './errors.ts';
import type { FileOutboxConfig } from './fileOutbox.ts';
import { GatewayOutbox } from './gatewayOutbox.ts';
import { HealthReporter } from './healthReporter.ts';
import { devicesHealth, gatewayHealth, localHealth } from './healthModel.ts';
import { HealthServer } from './healthServer.ts';
import { DEFAULT_SNMP_REQUEST, Intake } from './intake.ts';
import { InventoryStore } from './inventoryStore.ts';
import { LanListener } from './lanListener.ts';
import { LivenessStore } from './livenessStore.ts';
import { TicketStore } from './ticketStore.ts';
import { createGatewayCounters, registerGatewayGauges, type GatewayCounters } from './metrics.ts';
import type { Outbox } from './outbox.ts';
import { CounterRates } from './rates.ts';
import { polledNodes, SnmpPoller, type PolledNode, type SnmpPollerConfig } from './snmpPoller.ts';

export { polledNodes, type PolledNode } from './snmpPoller.ts';
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
  /** When in each minute the timer samples (ms after its start); absent: `samplingPhaseMs(gateway)`. */
  availabilityPhaseMs?: number | undefined;
  heartbeatTimeouts: Readonly<Record<DeviceKind, number>>;
  /** Devices tracked for liveness at most; a new one beyond is refused (`too_many_devices`). */
  maxTrackedDevices: number;
  /** Device timestamps accepted around the gateway's clock (the hub's rule); the hub's defaults when absent. */
  clockWindow?: ClockWindow;
  /** At most one refusal per device on lan/v1/err in this interval (default 10 s). */
  lanErrorIntervalMs?: number;
  /** SNMP polling: request timeout and retries, and the `GW_SNMP_SECRET_*` variables an `env:NAME` secret may name. */
  snmp?: SnmpPollerConfig & { secrets: Readonly<Record<string, string>> };
}

/** Files kept beside the durable outbox (none with a memory outbox). */
export const INVENTORY_FILE = 'inventory.json';
export const LIVENESS_FILE = 'liveness.json';
export const TICKET_FILE = 'ticket.json';

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
  /** The network nodes this gateway polls over SNMP (from its inventory); any time, before or after start. */
  setPolledNodes(nodes: readonly PolledNode[]): void;
  /** Polls every SNMP node now (the poll timers do this; tests call it by hand). */
  pollSnmp(): Promise<void>;
}

/**
 * One school's edge gateway: campus LAN listener → intake → outbox (durable by default) →
 * uplink to the hub, with commands relayed back to the LAN, availability every minute, and a
 * local health endpoint. This root only builds the parts, wires them and sequences start/stop.
 */
export function createGateway(config: GatewayConfig, deps: GatewayDeps): Gateway {
  const log = deps.log.child({ module: 'gateway', gateway: config.gateway });
  const now = deps.now ?? Date.now;
  const lifecycle = gatewayLifecycle('gateway');
  const counters = createGatewayCounters();

  const outbox = new GatewayOutbox(
    { file: config.outbox, maxRecords: config.outboxMaxRecords },
    { log, counters, now, given: deps.outbox, onAppended: () => uplink.pump() },
  );
  const relay = new CommandRelay({
    log: log.child({ module: 'commands' }),
    counters,
    now,
    knows: (device) => intake.liveness.knows(device),
    reports: (clientId, device) => intake.sessions.reports(clientId, device),
    sendToLan: (c) => lan.sendCommand(c),
    publishResult: (r) => uplink.publishCommandResult(r),
  });
  // Beside the outbox, only a durable one: a memory outbox keeps these in memory too.
  const stateDir = deps.outbox ? undefined : config.outbox?.dir;
  const faults = new DeviceFaults(
    { replyIntervalMs: config.lanErrorIntervalMs ?? 10_000 },
    { counters, now, tracks: (d): boolean => intake.liveness.tracks(d), reply: (e) => lan.sendError(e) },
  );
  const snmpConfig = config.snmp ?? { ...DEFAULT_SNMP_REQUEST, secrets: {} };
  const intake: Intake = new Intake(
    {
      maxTrackedDevices: config.maxTrackedDevices,
      heartbeatTimeouts: config.heartbeatTimeouts,
      ...(config.clockWindow ? { clockWindow: config.clockWindow } : {}),
      snmp: { timeoutMs: snmpConfig.timeoutMs, retries: snmpConfig.retries },
    },
    { counters, now, rates: new CounterRates(), append: (r) => outbox.append(r), faults },
  );
  const poller = new SnmpPoller(
    { timeoutMs: snmpConfig.timeoutMs, retries: snmpConfig.retries },
    {
      log: log.child({ module: 'snmp' }),
      counters,
      now,
      random: deps.random ?? Math.random,
      secrets: snmpConfig.secrets,
      accept: (sample, counter) => intake.acceptPolled(sample, counter),
    },
  );
  /** Liveness learns each polled node's own timeout with the poller's targets. */
  const setPolled = (nodes: readonly PolledNode[]): void => {
    intake.setPolled(nodes);
    poller.setTargets(nodes);
  };
  const onInventory = (inv: GatewayInventory): void => {
    intake.setInventory(inv, now());
    const ids = new Set(inv.devices.map((d) => d.id));
    faults.retain((d) => ids.has(d));
    // The school's network nodes polled over SNMP come with the inventory too.
    setPolled(polledNodes(inv.devices));
  };
  const inventory = new InventoryStore({
    log: log.child({ module: 'inventory' }),
    counters,
    gateway: config.gateway,
    file: stateDir === undefined ? undefined : join(stateDir, INVENTORY_FILE),
    onInventory,
  });
  const livenessStore = new LivenessStore({
    log: log.child({ module: 'liveness' }),
    counters,
    gateway: config.gateway,
    now,
    file: stateDir === undefined ? undefined : join(stateDir, LIVENESS_FILE),
    snapshot: (at) => intake.liveness.snapshot(at),
    restore: (s, at) => intake.restore(s, at),
  });
  const tickets = new TicketStore({
    log: log.child({ module: 'ticket' }),
    counters,
    gateway: config.gateway,
    // The hub's clock set the expiry: the wall clock, even under a test's clock.
    now: Date.now,
    file: stateDir === undefined ? undefined : join(stateDir, TICKET_FILE),
  });
  const uplink = new Uplink(config, {
    log: log.child({ module: 'uplink' }),
    outbox: () => outbox.current,
    counters,
    onDelivered: deps.onDelivered,
    random: deps.random,
    onCommand: (payload) => relay.onRequest(payload),
    onInventory: (payload, delivery) => inventory.offer(payload, now(), delivery),
    tickets,
  });
  const lan = new LanListener(
    { host: config.lanHost, port: config.lanPort, maxSampleBytes: config.maxSampleBytes },
    {
      log: log.child({ module: 'lan' }),
      counters,
      accept: (sample, clientId) => intake.accept(sample, clientId),
      onDisconnect: (clientId) => intake.sessionEnded(clientId),
      onCommandResult: (res, clientId) => relay.onLanResult(res, clientId),
      onRefused: (r) => faults.refused(r),
    },
  );
  const health = () => gatewayHealth({ now, outbox: () => outbox.current, uplink: () => uplink, counters });
  const healthServer = new HealthServer(
    { host: config.healthHost, port: config.healthPort },
    {
      health: () => ({
        ...localHealth(config.gateway, uplink.status(), health()),
        ...(uplink.lastError ? { uplinkError: uplink.lastError } : {}),
        devices: devicesHealth({ inventory: inventory.summary(), tracked: intake.liveness.size, faulty: faults.faulty() }),
      }),
      metrics: () => metricsText(counters.registry),
    },
  );
  const sampler = new AvailabilitySampler(
    { enabled: config.availabilitySampling, phaseMs: config.availabilityPhaseMs ?? samplingPhaseMs(config.gateway) },
    { log, now, liveness: intake.liveness, append: (r) => outbox.append(r), saved: () => livenessStore.save() },
  );
  const reporter = new HealthReporter({ intervalMs: config.healthIntervalMs }, { health, uplink });
  registerGatewayGauges(counters.registry, {
    outbox: () => (lifecycle.running ? outbox.current : undefined),
    now,
    trackedDevices: () => intake.liveness.size,
    uplinkConnected: () => uplink.connected,
  });

  /** In start order; stopped in reverse. */
  // The poller starts after the outbox and stops before it: a poll under way finishes its append.
  // Liveness is restored before the saved inventory is applied (which only adds the devices it
  // lacks), and saved at stop once the LAN is closed.
  const parts: Array<{ start?: () => Promise<void> | void; stop: () => Promise<void> | void }> = [outbox, livenessStore, inventory, tickets, uplink, relay, lan, poller, healthServer, sampler, reporter];
  let started = 0;
  // Every started part is stopped, even when one of them fails to stop.
  const stopStarted = async () => {
    while (started > 0) {
      try {
        await parts[--started]!.stop();
      } catch (err) {
        log.error({ err }, 'a part of the gateway failed to stop');
      }
    }
  };

  return {
    get lanPort() {
      return lan.port;
    },
    get healthPort() {
      return healthServer.port;
    },
    counters,
    get outbox() {
      if (lifecycle.state !== 'stopped') lifecycle.assertRunning('outbox', true);
      return outbox.current;
    },
    get uplinkConnected() {
      return uplink.connected;
    },
    health() {
      lifecycle.assertRunning('health()');
      return health();
    },
    sampleAvailability(minute) {
      lifecycle.assertRunning('sampleAvailability()');
      return sampler.sample(minute);
    },
    reportHealth() {
      lifecycle.assertRunning('reportHealth()');
      return reporter.report();
    },
    setPolledNodes(nodes) {
      setPolled(nodes);
    },
    pollSnmp() {
      lifecycle.assertRunning('pollSnmp()');
      return poller.pollNow();
    },
    async start() {
      lifecycle.beginStart();
      try {
        for (const p of parts) {
          await p.start?.();
          started++;
        }
      } catch (e) {
        await stopStarted();
        lifecycle.beginStop();
        lifecycle.stopped();
        throw e;
      }
      lifecycle.started();
      log.info({ lanPort: lan.port, healthPort: healthServer.port, hub: config.hubUrl, inventoryRevision: inventory.current?.revision }, 'gateway started');
      if (!inventory.current) log.warn({ maxTrackedDevices: config.maxTrackedDevices }, 'no inventory from the hub yet: tracking the devices heard, up to the cap');
    },
    async stop() {
      if (!lifecycle.beginStop()) return;
      await stopStarted();
      lifecycle.stopped();
      log.info({ waiting: outbox.opened?.size() }, 'gateway stopped');
    },
  };
}
