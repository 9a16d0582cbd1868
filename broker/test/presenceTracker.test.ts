import { describe, expect, it } from 'vitest';
import { EventBus, type PresenceChanged } from '../src/eventBus.ts';
import { PresenceTracker } from '../src/features/presenceTracker.ts';

const gateway = { district: '渝中区', school: 'yz-s01', gateway: 'gw-1' };
const birth = { v: 1 as const, state: 'online' as const, bdSeq: 5, ts: 1000, ...gateway };

describe('PresenceTracker', () => {
  it('applies an accepted state at once (the next death is judged against it) and announces it once its point is written', async () => {
    const bus = new EventBus();
    const tracker = new PresenceTracker({ bus });
    tracker.start();
    const got: PresenceChanged[] = [];
    bus.onPresenceChanged({}, (c) => got.push(c));
    let written!: () => void;
    bus.emitGatewayStateAccepted({ gateway, state: birth, written: new Promise<void>((r) => (written = r)) });
    expect(tracker.presence.get('gw-1')).toMatchObject({ state: 'online', bdSeq: 5 });
    expect(tracker.isStaleDeath({ ...birth, state: 'offline', bdSeq: 4 })).toBe(true);
    expect(tracker.isStaleDeath({ ...birth, state: 'offline', bdSeq: 5 })).toBe(false);
    expect(got).toEqual([]);
    written();
    await Promise.resolve();
    expect(got).toEqual([{ gateway, events: [{ type: 'gateway_online', ...gateway, bdSeq: 5, ts: 1000 }] }]);

    bus.emitAvailabilityObserved({ gateway, observations: [{ kind: 'availability', device: 'b1', deviceKind: 'interactive_board', seq: 0, state: 'up', ts: 2000, rx: 2000 }] });
    expect(got[1]).toEqual({ gateway, events: [{ type: 'device_state', ...gateway, device: 'b1', kind: 'interactive_board', from: null, to: 'up', ts: 2000 }] });

    // A write that fails announces nothing; the state stays applied, as the verdict needs.
    bus.emitGatewayStateAccepted({ gateway, state: { ...birth, state: 'offline', bdSeq: 5, ts: 3000 }, written: Promise.reject(new Error('down')) });
    await new Promise((r) => setImmediate(r));
    expect(got).toHaveLength(2);
    expect(tracker.presence.get('gw-1')?.state).toBe('offline');

    tracker.stop();
    expect([bus.listenerCount('gatewayStateAccepted'), bus.listenerCount('availabilityObserved')]).toEqual([0, 0]);
  });
});
