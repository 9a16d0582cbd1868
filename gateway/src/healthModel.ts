import type { GatewayHealth } from '../../protocol/src/gatewayHealth.ts';
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
