import { describe, expect, it } from 'vitest';
import { Presence, type PresenceEntry } from '../src/presence.ts';

const entry = (gateway: string, state: 'online' | 'offline', bdSeq: number, ts = 1000): PresenceEntry => ({
  district: '渝中区',
  school: 'S01',
  gateway,
  state,
  bdSeq,
  ts,
});

describe('Presence', () => {
  it('knows nothing at first', () => {
    const p = new Presence();
    expect(p.get('G01')).toBeUndefined();
    expect(p.list()).toEqual([]);
  });

  it('refuses a death older than the birth in force and stays online', () => {
    const p = new Presence();
    expect(p.apply(entry('G01', 'online', 10, 1000))).toBe(true);
    expect(p.apply(entry('G01', 'offline', 9, 2000))).toBe(false);
    expect(p.get('G01')).toEqual(entry('G01', 'online', 10, 1000));
  });

  it('applies the death of the same connection (equal bdSeq)', () => {
    const p = new Presence();
    p.apply(entry('G01', 'online', 10));
    expect(p.apply(entry('G01', 'offline', 10, 2000))).toBe(true);
    expect(p.get('G01')).toEqual(entry('G01', 'offline', 10, 2000));
  });

  it('applies a newer death', () => {
    const p = new Presence();
    p.apply(entry('G01', 'online', 10));
    expect(p.apply(entry('G01', 'offline', 11, 3000))).toBe(true);
    expect(p.get('G01')?.state).toBe('offline');
    expect(p.get('G01')?.bdSeq).toBe(11);
  });

  it('applies a death for a gateway never seen', () => {
    const p = new Presence();
    expect(p.apply(entry('G01', 'offline', 5))).toBe(true);
    expect(p.get('G01')?.state).toBe('offline');
  });

  it('refuses an old death after a newer death too', () => {
    const p = new Presence();
    p.apply(entry('G01', 'offline', 12));
    expect(p.apply(entry('G01', 'offline', 11))).toBe(false);
    expect(p.get('G01')?.bdSeq).toBe(12);
  });

  it('a new birth after a death brings the gateway back online', () => {
    const p = new Presence();
    p.apply(entry('G01', 'online', 10));
    p.apply(entry('G01', 'offline', 10));
    expect(p.apply(entry('G01', 'online', 11))).toBe(true);
    expect(p.get('G01')?.state).toBe('online');
  });

  it('keeps gateways apart', () => {
    const p = new Presence();
    p.apply(entry('G01', 'online', 10));
    p.apply(entry('G02', 'online', 3));
    // G02's current bdSeq is 3, so a death with 5 applies although G01 is at 10.
    expect(p.apply(entry('G02', 'offline', 5))).toBe(true);
    expect(p.list().map((e) => [e.gateway, e.state, e.bdSeq])).toEqual([
      ['G01', 'online', 10],
      ['G02', 'offline', 5],
    ]);
  });

  it('stores a copy of the entry', () => {
    const p = new Presence();
    const e = entry('G01', 'online', 10);
    p.apply(e);
    e.state = 'offline';
    expect(p.get('G01')?.state).toBe('online');
  });
});

describe('Presence: devices behind gateways', () => {
  const gw = { district: 'D1', school: 'S1', gateway: 'G1' };
  it('turns a gateway outage into one event and its devices into unknown, keeping what was last observed', () => {
    const p = new Presence();
    expect(p.applyGateway({ ...gw, state: 'online', bdSeq: 5, ts: 100 })).toEqual([{ type: 'gateway_online', ...gw, bdSeq: 5, ts: 100 }]);
    expect(p.applyDevice(gw, 'd1', 'interactive_board', 'up', 1000)).toEqual([{ type: 'device_state', ...gw, device: 'd1', kind: 'interactive_board', from: null, to: 'up', ts: 1000 }]);
    expect(p.applyDevice(gw, 'd2', 'vr_kit', 'up', 1000)).toHaveLength(1);
    expect(p.applyDevice(gw, 'd1', 'interactive_board', 'up', 2000)).toEqual([]); // no change, no event
    expect(p.applyGateway({ ...gw, state: 'offline', bdSeq: 5, ts: 3000 })).toEqual([{ type: 'gateway_offline', ...gw, bdSeq: 5, ts: 3000, devicesUnknown: 2 }]);
    expect(p.devicesOf('G1')).toEqual([
      { device: 'd1', kind: 'interactive_board', state: 'unknown', lastObserved: 'up', since: 1000 },
      { device: 'd2', kind: 'vr_kit', state: 'unknown', lastObserved: 'up', since: 1000 },
    ]);
    expect(p.applyGateway({ ...gw, state: 'offline', bdSeq: 4, ts: 3500 })).toBeNull(); // stale death
  });

  it('never moves a device back in time', () => {
    const p = new Presence();
    p.applyDevice(gw, 'd1', 'network_node', 'down', 5000);
    expect(p.applyDevice(gw, 'd1', 'network_node', 'up', 4000)).toEqual([]);
    expect(p.applyDevice(gw, 'd1', 'network_node', 'up', 6000)).toEqual([{ type: 'device_state', ...gw, device: 'd1', kind: 'network_node', from: 'down', to: 'up', ts: 6000 }]);
  });
});

describe('Presence: late observations', () => {
  it('ignores an observation older than the last one, even when the state did not change in between', () => {
    const p = new Presence();
    const gw = { district: 'D1', school: 'S1', gateway: 'G1' };
    p.applyDevice(gw, 'd', 'interactive_board', 'up', 1000);
    p.applyDevice(gw, 'd', 'interactive_board', 'up', 5000); // same state, later
    expect(p.applyDevice(gw, 'd', 'interactive_board', 'down', 3000)).toEqual([]);
    expect(p.devicesOf('G1')[0]).toMatchObject({ lastObserved: 'up', since: 1000 });
  });
});
