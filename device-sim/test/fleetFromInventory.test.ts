import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { fleetFromInventory } from '../src/fleet.ts';
import { SIM_ERR } from '../src/errors.ts';

describe('fleetFromInventory: simulating exactly what a school registered', () => {
  it('turns the onboarding example (巴蜀小学, 40 devices) into one school of 40 simulated devices', () => {
    const fleet = fleetFromInventory(readFileSync(new URL('../../docs/examples/bashu-inventory.csv', import.meta.url)));
    expect(fleet.schools.map((s) => [s.id, s.gateway])).toEqual([['yz-bashu', 'gw-yz-bashu']]);
    const devices = fleet.schools[0]!.devices;
    expect(devices).toHaveLength(40);
    const byKind = Object.fromEntries(['classroom_av', 'interactive_board', 'vr_kit', 'network_node'].map((k) => [k, devices.filter((d) => d.kind === k).length]));
    expect(byKind).toEqual({ classroom_av: 12, interactive_board: 12, vr_kit: 12, network_node: 4 });
    expect(devices.find((d) => d.id === 'yz-bashu-uplink')).toEqual({ id: 'yz-bashu-uplink', kind: 'network_node', room: 'server-room', link: { role: 'school_uplink', capacityBps: 1e9 } });
    expect(devices.find((d) => d.id === 'yz-bashu-301-board')).toEqual({ id: 'yz-bashu-301-board', kind: 'interactive_board', room: '301' });
  });

  it('refuses a file with bad rows, naming each by line', () => {
    const csv = 'school,room,id,kind,model,vendor,serial,link_role,capacity_bps\nyz-bashu,301,a,toaster,,,,,\nyz-bashu,301,b,network_node,,,,,\n';
    expect(() => fleetFromInventory(Buffer.from(csv))).toThrow(expect.objectContaining({ code: SIM_ERR.BAD_INVENTORY, message: expect.stringMatching(/3 problem\(s\): line 2: unknown_kind: .*; line 3: bad_link: .*; line 3: bad_capacity/) }));
  });
});
