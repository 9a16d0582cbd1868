import type { ApiRig } from '../../../tests/harness/api.ts';
import type { AvailabilityState } from '../../../protocol/src/telemetry.ts';
import type { DeviceKind } from '../../../protocol/src/kinds.ts';
import type { Registry } from '../../src/registry.ts';
import { all, snapshot } from './orgHelpers.ts';

/** The org snapshot plus gateways and commands: everything a fleet call could change. */
export function fleetSnapshot(reg: Registry): string {
  return JSON.stringify({
    org: snapshot(reg),
    gateways: all((p) => reg.listGateways(p)),
    commands: all((p) => reg.listCommands(p)),
  });
}

const ADDR: Record<string, { district: string; school: string; gateway: string }> = {
  'gw-yz-bashu': { district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu' },
  'gw-yz-s02': { district: '渝中区', school: 'yz-s02', gateway: 'gw-yz-s02' },
  'gw-jb-s01': { district: '江北区', school: 'jb-s01', gateway: 'gw-jb-s01' },
};

/** Presence as the hub's tracker takes it from the bus: a gateway's accepted state, then live observations. */
export function gatewayState(rig: ApiRig, gw: string, state: 'online' | 'offline', bdSeq: number, ts: number): void {
  const a = ADDR[gw]!;
  rig.hub.bus.emitGatewayStateAccepted({ gateway: a, state: { ...a, state, bdSeq, ts }, written: Promise.resolve() });
}

export function observe(rig: ApiRig, gw: string, device: string, deviceKind: DeviceKind, state: AvailabilityState, ts: number): void {
  rig.hub.bus.emitAvailabilityObserved({ gateway: ADDR[gw]!, observations: [{ kind: 'availability', device, deviceKind, seq: Math.floor(ts / 60_000), ts, state, rx: ts }] });
}
