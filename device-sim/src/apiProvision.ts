import { formatInventory } from '../../broker/src/inventoryCsv.ts';
import { ApiClient } from '../../cli/src/client.ts';
import { CliError } from '../../cli/src/errors.ts';
import type { Fleet } from './fleet.ts';

const CONFLICT = 'HUB_ERR_REGISTRY_CONFLICT';

/** Runs a create; a conflict (it exists already) is fine: provisioning is run again on every start. */
async function created(p: Promise<unknown>): Promise<boolean> {
  try {
    await p;
    return true;
  } catch (e) {
    if (e instanceof CliError && e.code === CONFLICT) return false;
    throw e;
  }
}

/**
 * The simulated fleet registered through the hub's management API, the way a school's IT staff
 * would with the `campus` CLI: districts, schools with their rooms, the devices as one inventory
 * CSV import (less the devices someone retired), and a gateway per school whose password the
 * hub makes and shows once (a gateway that exists already gets a new one by rotation). Returns
 * each gateway's password.
 */
export async function provisionThroughApi(api: ApiClient, fleet: Fleet): Promise<Map<string, string>> {
  for (const d of fleet.districts) {
    await created(api.json('POST', '/districts', { json: { id: d.id, code: d.code, nameZh: d.id, nameEn: d.nameEn } }));
  }
  for (const s of fleet.schools) {
    const rooms = [...new Set(s.devices.map((d) => d.room))];
    const made = await created(api.json('POST', '/schools', { json: { id: s.id, district: s.district, nameZh: s.name, nameEn: s.nameEn ?? s.id, rooms: rooms.map((id) => ({ id })) } }));
    if (!made) for (const id of rooms) await created(api.json('POST', `/schools/${encodeURIComponent(s.id)}/rooms`, { json: { id } }));
  }
  // A device someone retired stays retired (its id cannot be used again): it is left out, not
  // a reason for the whole import, and so the start, to fail.
  const retired = new Set((await api.all<{ id: string; retiredAt: number | null }>('/devices', { includeRetired: true })).filter((d) => d.retiredAt !== null).map((d) => d.id));
  const csv = formatInventory(
    fleet.schools.flatMap((s) =>
      s.devices
        .filter((d) => !retired.has(d.id))
        .map((d) => ({ school: s.id, room: d.room, id: d.id, kind: d.kind, model: '', vendor: '', serial: '', linkRole: d.link?.role ?? null, capacityBps: d.link?.capacityBps ?? null })),
    ),
  );
  await api.json('POST', '/inventory/import', { raw: { body: Buffer.from(csv), contentType: 'text/csv' } });
  const passwords = new Map<string, string>();
  for (const s of fleet.schools) {
    const gw = encodeURIComponent(s.gateway);
    let reply: { password: string };
    try {
      reply = await api.json<{ password: string }>('POST', '/gateways', { json: { id: s.gateway, school: s.id } });
    } catch (e) {
      if (!(e instanceof CliError && e.code === CONFLICT)) throw e;
      reply = await api.json<{ password: string }>('POST', `/gateways/${gw}/rotate`);
    }
    passwords.set(s.gateway, reply.password);
  }
  return passwords;
}
