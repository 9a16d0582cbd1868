import type { Logger } from 'pino';
import { Counters } from '../../protocol/src/counters.ts';
import type { DeviceSample, TelemetryRecord } from '../../protocol/src/telemetry.ts';
import { LanListener } from './lanListener.ts';
import { MemoryOutbox, type Outbox } from './outbox.ts';
import { Uplink, type UplinkConfig } from './uplink.ts';

export interface GatewayConfig extends UplinkConfig {
  lanHost: string;
  /** 0 picks a free port. */
  lanPort: number;
  maxSampleBytes: number;
  outboxMaxRecords: number;
}

export interface GatewayDeps {
  log: Logger;
  outbox?: Outbox;
  now?: () => number;
  /** Called with records the hub acknowledged (benchmarks measure latency with it). */
  onDelivered?: (records: TelemetryRecord[], at: number) => void;
}

export interface Gateway {
  start(): Promise<void>;
  stop(): Promise<void>;
  readonly lanPort: number;
  readonly counters: Counters;
  readonly outbox: Outbox;
  readonly uplinkConnected: boolean;
}

/** One school's edge gateway: campus LAN listener → validation → outbox → uplink to the hub. */
export function createGateway(config: GatewayConfig, deps: GatewayDeps): Gateway {
  const log = deps.log.child({ module: 'gateway', gateway: config.gateway });
  const now = deps.now ?? Date.now;
  const counters = new Counters();
  const outbox = deps.outbox ?? new MemoryOutbox(config.outboxMaxRecords);
  const uplink = new Uplink(config, {
    log: log.child({ module: 'uplink' }),
    outbox,
    counters,
    ...(deps.onDelivered ? { onDelivered: deps.onDelivered } : {}),
  });
  const accept = async (sample: DeviceSample): Promise<void> => {
    const before = outbox.dropped;
    await outbox.append([{ ...sample, rx: now() }]);
    if (outbox.dropped > before) counters.inc('outbox_dropped', {}, outbox.dropped - before);
    uplink.pump();
  };
  const lan = new LanListener(
    { host: config.lanHost, port: config.lanPort, maxSampleBytes: config.maxSampleBytes },
    { log: log.child({ module: 'lan' }), counters, accept },
  );
  let started = false;
  let stopped = false;
  return {
    get lanPort() {
      return lan.port;
    },
    counters,
    outbox,
    get uplinkConnected() {
      return uplink.connected;
    },
    async start() {
      started = true;
      await lan.start();
      uplink.start();
      log.info({ lanPort: lan.port, hub: config.hubUrl }, 'gateway started');
    },
    async stop() {
      if (stopped || !started) return;
      stopped = true;
      await lan.stop();
      await uplink.stop();
      await outbox.close();
      log.info({ waiting: outbox.size() }, 'gateway stopped');
    },
  };
}
