import type { DeviceKind, LinkRole } from '../../protocol/src/kinds.ts';
import { toError } from '../../runtime/src/errors.ts';
import { assertActor, type Actor } from './actor.ts';
import { hashPassword, type ScryptParams } from './passwords.ts';
import type { Registry } from './registry.ts';

/** A fleet as the registry needs it (the simulator's Fleet has this shape). */
export interface FleetInventory {
  districts: ReadonlyArray<{ id: string; nameEn: string; nameZh?: string | undefined; code?: string | undefined }>;
  schools: ReadonlyArray<{
    id: string;
    /** The Chinese name. */
    name: string;
    nameEn?: string | undefined;
    district: string;
    gateway: string;
    /** `link`: a network node's role and capacity. */
    devices: ReadonlyArray<{ id: string; kind: DeviceKind; room: string; link?: { role: LinkRole; capacityBps: number } | undefined }>;
  }>;
}

/** Passwords hashed at once while provisioning. */
const HASH_CONCURRENCY = 4;

/**
 * Loads districts, schools, gateways (hashed credentials), devices and the rooms they name into
 * the registry, in one transaction (a device id another school holds fails it all), and writes one audit entry for the run (`fleet.provision`, its actor, `ok` or `error`).
 */
export async function provisionFleet(
  registry: Registry,
  fleet: FleetInventory,
  passwordOf: (gateway: string) => string,
  actor: Actor,
  scrypt?: ScryptParams,
): Promise<void> {
  assertActor(actor);
  const gateways = new Set(fleet.schools.map((s) => s.gateway)).size;
  const audit = (outcome: string, detail?: string): void =>
    registry.appendAudit({ at: Date.now(), actor, action: 'fleet.provision', target: `fleet:${fleet.schools.length} schools, ${gateways} gateways`, outcome, detail });
  try {
    await load(registry, fleet, passwordOf, scrypt);
  } catch (e) {
    audit('error', toError(e).message);
    throw e;
  }
  audit('ok');
}

async function load(registry: Registry, fleet: FleetInventory, passwordOf: (gateway: string) => string, scrypt: ScryptParams | undefined): Promise<void> {
  const hashes = new Map<string, string>();
  // scrypt runs on libuv's thread pool (4 threads by default): a few at once use it, more only queue.
  const gateways = [...new Set(fleet.schools.map((s) => s.gateway))];
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(HASH_CONCURRENCY, gateways.length) }, async () => {
      while (next < gateways.length) {
        const g = gateways[next++]!;
        hashes.set(g, await hashPassword(passwordOf(g), scrypt));
      }
    }),
  );
  const at = Date.now();
  registry.transaction(() => {
    for (const d of fleet.districts) registry.upsertDistrict({ id: d.id, nameEn: d.nameEn, nameZh: d.nameZh, code: d.code });
    for (const s of fleet.schools) {
      registry.upsertSchool({ id: s.id, district: s.district, name: s.name, nameEn: s.nameEn }, at);
      registry.setGateway(s.gateway, s.id, hashes.get(s.gateway)!, at);
      for (const dev of s.devices) registry.upsertDevice({ id: dev.id, school: s.id, room: dev.room, kind: dev.kind, link: dev.link }, at);
    }
  });
}
