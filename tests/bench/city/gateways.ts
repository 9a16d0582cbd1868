import type { Fleet } from '../../../device-sim/src/fleet.ts';
import type { PublisherGateway } from './publisherWorker.ts';

/** The publishers' gateways of a fleet: each school's gateway with its password and devices. */
export function publisherGateways(fleet: Fleet, passwordOf: (gateway: string) => string): PublisherGateway[] {
  return fleet.schools.map((s) => ({
    district: s.district,
    school: s.id,
    gateway: s.gateway,
    password: passwordOf(s.gateway),
    devices: s.devices.map((d) => ({ id: d.id, kind: d.kind, ...(d.link ? { link: d.link } : {}) })),
  }));
}
