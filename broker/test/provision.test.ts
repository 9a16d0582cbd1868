import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { provisionFleet, type FleetInventory } from '../src/provision.ts';
import { Registry } from '../src/registry.ts';

const fleet: FleetInventory = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong' }],
  schools: [{ id: 'S01', name: '巴蜀小学', district: '渝中区', gateway: 'G01', devices: [{ id: 'D1', kind: 'interactive_board', room: 'r1' }] }],
};
const scrypt = { N: 1024, r: 8, p: 1 };
let reg: Registry;
beforeEach(() => (reg = new Registry(':memory:')));
afterEach(() => reg.close());

describe('provisionFleet', () => {
  it('keeps a revoked gateway revoked when the fleet is provisioned again, with the new hash', async () => {
    await provisionFleet(reg, fleet, () => 'first', 'system:test', scrypt);
    const first = reg.getGateway('G01')!;
    expect(reg.revokeGateway('G01')).toBe(true);
    await provisionFleet(reg, fleet, () => 'second', 'system:test', scrypt);
    const again = reg.getGateway('G01')!;
    expect(again.revoked).toBe(true);
    expect(again.passwordHash).not.toBe(first.passwordHash);
    expect(reg.activeGateways()).toEqual([]);
  });

  it('writes one audit entry per run, with its actor, the fleet\'s size and the outcome', async () => {
    await provisionFleet(reg, fleet, () => 'first', 'system:sim', scrypt);
    // A school in a district the fleet does not have: the transaction fails, nothing is loaded.
    const broken: FleetInventory = { districts: [], schools: [{ ...fleet.schools[0]!, id: 'S02', district: 'nowhere', gateway: 'G02', devices: [] }] };
    await expect(provisionFleet(reg, broken, () => 'x', 'user:alice', scrypt)).rejects.toThrow();
    expect(reg.getGateway('G02')).toBeUndefined();
    expect(reg.listAudit({ order: 'asc' }).items).toMatchObject([
      { actor: 'system:sim', action: 'fleet.provision', target: 'fleet:1 schools, 1 gateways', outcome: 'ok' },
      { actor: 'user:alice', action: 'fleet.provision', target: 'fleet:1 schools, 1 gateways', outcome: 'error' },
    ]);
    expect(reg.listAudit({ order: 'asc' }).items[0]!.detail).toBeUndefined();
    await expect(provisionFleet(reg, fleet, () => 'x', 'nobody' as never, scrypt)).rejects.toMatchObject({ code: 'HUB_ERR_BAD_ACTOR' });
    expect(reg.listAudit().items).toHaveLength(2);
  });

  it('loads nothing of a fleet with one value the registry refuses, and audits the error', async () => {
    const bad: FleetInventory = {
      ...fleet,
      schools: [{ ...fleet.schools[0]!, devices: [...fleet.schools[0]!.devices, { id: 'D2', kind: 'nonsense' as never, room: 'r2' }] }],
    };
    await expect(provisionFleet(reg, bad, () => 'x', 'system:test', scrypt)).rejects.toMatchObject({ code: 'HUB_ERR_REGISTRY_INVALID', field: 'kind' });
    expect(reg.getGateway('G01')).toBeUndefined();
    expect(reg.deviceCount()).toBe(0);
    expect(reg.listAudit().items).toMatchObject([{ actor: 'system:test', action: 'fleet.provision', outcome: 'error' }]);
  });
});
