import { describe, expect, it } from 'vitest';
import { EventBus, type PresenceChanged } from '../src/eventBus.ts';

const change = (gateway: string): PresenceChanged => ({
  gateway: { district: '渝中区', school: 'yz-s01', gateway },
  events: [{ type: 'gateway_online', district: '渝中区', school: 'yz-s01', gateway, bdSeq: 1, ts: 1000 }],
});
const session = { id: 'gw-1', close: () => {} };
const gw = { district: '渝中区', school: 'yz-s01', gateway: 'gw-1' };

describe('EventBus', () => {
  it('delivers each event to its listeners in the order they were added', () => {
    const bus = new EventBus();
    const got: string[] = [];
    bus.onPresenceChanged({}, (c) => got.push(`a:${c.gateway.gateway}`));
    bus.onPresenceChanged({}, (c) => got.push(`b:${c.gateway.gateway}`));
    bus.onCommandOutcome({}, (o) => got.push(`cmd:${o.status}`));
    bus.emitPresenceChanged(change('gw-1'));
    bus.emitCommandOutcome({ id: 'x', district: 'd1', school: 's1', gateway: 'gw-1', device: 'd', action: 'reboot', status: 'no_result' });
    expect(got).toEqual(['a:gw-1', 'b:gw-1', 'cmd:no_result']);
  });

  it('removes every listener of one owner, on every event, and no other', () => {
    const bus = new EventBus();
    const feature = {};
    const other = {};
    const got: string[] = [];
    bus.onPresenceChanged(feature, () => got.push('feature presence'));
    bus.onGatewayConnected(feature, () => got.push('feature connected'));
    bus.onGatewayDisconnected(feature, () => got.push('feature disconnected'));
    bus.onGatewaySubscribed(feature, () => got.push('feature subscribed'));
    bus.onGatewayConnected(other, () => got.push('other connected'));
    bus.removeListeners(feature);
    bus.emitPresenceChanged(change('gw-1'));
    bus.emitGatewayConnected({ gateway: gw, session });
    bus.emitGatewayDisconnected({ gateway: gw, session });
    bus.emitGatewaySubscribed({ gateway: gw, session, filters: [] });
    expect(got).toEqual(['other connected']);
    expect(bus.listenerCount('presenceChanged')).toBe(0);
    expect(bus.listenerCount('gatewayConnected')).toBe(1);
    bus.removeListeners(other);
    expect(bus.listenerCount('gatewayConnected')).toBe(0);
  });

  it('lets a listener remove its owner during an emit without skipping the others', () => {
    const bus = new EventBus();
    const first = {};
    const got: string[] = [];
    bus.onPresenceChanged(first, () => (got.push('first'), bus.removeListeners(first)));
    bus.onPresenceChanged({}, () => got.push('second'));
    bus.emitPresenceChanged(change('gw-1'));
    bus.emitPresenceChanged(change('gw-1'));
    expect(got).toEqual(['first', 'second', 'second']);
  });

  it('reports a listener that throws and still runs the others; the emitter never sees the throw', () => {
    const errors: Array<[string, string]> = [];
    const bus = new EventBus((event, err) => errors.push([event, (err as Error).message]));
    const got: string[] = [];
    bus.onCommandOutcome({}, () => {
      throw new Error('broken consumer');
    });
    bus.onCommandOutcome({}, (o) => got.push(o.status));
    expect(() => bus.emitCommandOutcome({ id: 'x', district: 'd1', school: 's1', gateway: 'gw-1', device: 'd', action: 'reboot', status: 'done' })).not.toThrow();
    expect(got).toEqual(['done']);
    expect(errors).toEqual([['commandOutcome', 'broken consumer']]);
  });
});
