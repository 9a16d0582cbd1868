import { describe, expect, it } from 'vitest';
import type { CommandResult, LanCommand } from '../../protocol/src/commands.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { CommandRelay } from '../src/commandRelay.ts';
import { createGatewayCounters } from '../src/metrics.ts';

const T = 1_800_000_000_000;

function relay() {
  const sent: LanCommand[] = [];
  const results: CommandResult[] = [];
  const counters = createGatewayCounters();
  const r = new CommandRelay({
    log: silentLogger(),
    counters,
    now: () => T,
    knows: (d) => d === 'b1',
    reports: () => true,
    sendToLan: (c) => void sent.push(c),
    publishResult: (res) => (results.push(res), true),
  });
  return { r, sent, results, counters };
}
const request = (id: string, ttlMs = 60_000, patch: Record<string, unknown> = {}) => Buffer.from(JSON.stringify({ v: 1, id, device: 'b1', action: 'reboot', issuedAt: T - 1000, ttlMs, ...patch }));

describe('CommandRelay', () => {
  it('passes a live request to the LAN with the TTL that is left, once however often it is delivered', () => {
    const { r, sent, counters } = relay();
    r.onRequest(request('cmd-0001'));
    r.onRequest(request('cmd-0001')); // a QoS 1 redelivery
    expect(sent).toEqual([{ v: 1, id: 'cmd-0001', device: 'b1', action: 'reboot', ttlMs: 59_000 }]);
    expect(counters.get('commands_forwarded')).toBe(1);
    r.stop();
  });

  it('after stop() takes no request: nothing reaches the LAN and no TTL timer is made', () => {
    const { r, sent, results, counters } = relay();
    r.stop();
    r.onRequest(request('cmd-0002'));
    expect(sent).toEqual([]);
    expect(results).toEqual([]);
    expect(counters.get('commands_received')).toBe(0);
  });

  it('passes switch_input with its input to the LAN, and sends the input back with the device\'s answer', () => {
    const { r, sent, results } = relay();
    r.onRequest(request('cmd-0003', 60_000, { action: 'switch_input', input: 'hdmi2' }));
    expect(sent).toEqual([{ v: 1, id: 'cmd-0003', device: 'b1', action: 'switch_input', input: 'hdmi2', ttlMs: 59_000 }]);
    r.onLanResult({ v: 1, id: 'cmd-0003', device: 'b1', status: 'done' }, 'b1');
    expect(results).toEqual([{ v: 1, id: 'cmd-0003', device: 'b1', action: 'switch_input', input: 'hdmi2', issuedAt: T - 1000, status: 'done', at: T }]);
    // Answered by the gateway itself (a device never heard): the input goes back too.
    r.onRequest(Buffer.from(JSON.stringify({ v: 1, id: 'cmd-0004', device: 'b9', action: 'switch_input', input: 'vga', issuedAt: T - 1000, ttlMs: 60_000 })));
    expect(results.at(-1)).toEqual({ v: 1, id: 'cmd-0004', device: 'b9', action: 'switch_input', input: 'vga', issuedAt: T - 1000, status: 'rejected', detail: 'device not heard on this campus LAN', at: T });
    r.stop();
  });

  it('refuses switch_input without an input, and an input on another action, as invalid requests: nothing reaches the LAN', () => {
    const { r, sent, results, counters } = relay();
    r.onRequest(request('cmd-0005', 60_000, { action: 'switch_input' }));
    r.onRequest(request('cmd-0006', 60_000, { input: 'hdmi1' }));
    expect(sent).toEqual([]);
    expect(results).toEqual([]);
    expect(counters.get('commands_refused', { reason: 'invalid' })).toBe(2);
    r.stop();
  });
});
