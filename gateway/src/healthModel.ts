import type { GatewayHealth } from '../../protocol/src/gatewayHealth.ts';
import type { DeviceFault } from './deviceFaults.ts';
import type { GatewayCounters } from './metrics.ts';
import type { Outbox } from './outbox.ts';
import type { ReplayStatus } from './uplink.ts';
import type { UplinkStatus } from './reconnectBackoff.ts';

export interface HealthSources {
  now: () => number;
  outbox: () => Outbox;
  uplink: () => { readonly bdSeq: number; readonly lastUplinkOkAt: number; replayStatus(): ReplayStatus };
  counters: GatewayCounters;
}

/** The gateway's health (protocol/src/gatewayHealth.ts) as of now: outbox, replay, uplink, intake. */
export function gatewayHealth(src: HealthSources): GatewayHealth {
  const o = src.outbox();
  const uplink = src.uplink();
  const now = src.now();
  const oldest = o.oldestRx();
  const replay = uplink.replayStatus();
  return {
    ts: now,
    bdSeq: uplink.bdSeq,
    outbox: {
      records: o.size(),
      waitingLive: o.waiting('live'),
      waitingBacklog: o.waiting('backlog'),
      bytes: o.bytes(),
      oldestAgeMs: oldest === undefined ? 0 : Math.max(0, now - oldest),
      dropped: o.dropped,
    },
    replay: { active: replay.active, remaining: replay.remaining, sent: replay.sent },
    lastUplinkOkAt: uplink.lastUplinkOkAt,
    samplesAccepted: src.counters.get('samples_accepted'),
    samplesRejected: src.counters.total('samples_rejected'),
  };
}

/**
 * The local `/health` body: the report above with the gateway's id and the uplink's state — when
 * it is down, why (`refused: CONNACK 5 not authorized`, `unreachable: ECONNREFUSED`) and when it
 * tries again, so campus IT can tell a wrong password from a hub that is down.
 */
export function localHealth(gateway: string, uplink: UplinkStatus, h: GatewayHealth): { gateway: string; connected: boolean; uplink: UplinkStatus } & GatewayHealth {
  return { gateway, connected: uplink.connected, uplink, ...h };
}

/** The `/health` body's `devices`: the inventory in force (or why none), devices tracked, faulty devices. */
export interface DevicesHealth {
  inventory: { revision: number; devices: number; receivedAt: number | null } | null;
  /** `registered`: exactly the inventory's devices; `heard`: no inventory yet, the devices heard up to the cap. */
  tracking: 'registered' | 'heard';
  note?: string;
  tracked: number;
  /** Tracked devices whose latest sample was refused, with the reason (at most 1000 listed). */
  faulty: DeviceFault[];
}

export function devicesHealth(src: { inventory: DevicesHealth['inventory']; tracked: number; faulty: DeviceFault[] }): DevicesHealth {
  return {
    inventory: src.inventory,
    tracking: src.inventory ? 'registered' : 'heard',
    ...(src.inventory ? {} : { note: 'no inventory from the hub yet: tracking the devices heard, up to GW_MAX_TRACKED_DEVICES' }),
    tracked: src.tracked,
    faulty: src.faulty.slice(0, 1000),
  };
}
