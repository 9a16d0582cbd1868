import { describe, expect, it } from 'vitest';
import { parseGatewayTopic } from '../../protocol/src/topics.ts';
import { dispatch, type ChannelHandler, type DispatchTable, type GatewayMessage, type PublishChannel } from '../src/dispatch.ts';

const identity = { kind: 'gateway' as const, district: '渝中区', school: 'yz-s01', gateway: 'gw-yz-s01' };
const msg = (channel: string): GatewayMessage => ({
  identity,
  topic: parseGatewayTopic(`campus/v1/渝中区/yz-s01/gw-yz-s01/${channel}`) ?? { district: '渝中区', school: 'yz-s01', gateway: 'gw-yz-s01', channel: channel as PublishChannel, rest: [] },
  payload: Buffer.from('{}'),
});

/** A table whose handlers record which one ran. */
function table(over: Partial<Record<PublishChannel, ChannelHandler>> = {}): { table: DispatchTable; ran: string[] } {
  const ran: string[] = [];
  const h = (name: string): ChannelHandler => () => (ran.push(name), 'accept');
  return { table: { telemetry: h('telemetry'), state: h('state'), health: h('health'), cmdres: h('cmdres'), ...over }, ran };
}

describe('dispatch table', () => {
  it('runs the handler of the message channel, and only that one', async () => {
    for (const channel of ['telemetry', 'state', 'health', 'cmdres/result'] as const) {
      const t = table();
      expect(await dispatch(t.table, msg(channel))).toEqual({ ok: true, verdict: 'accept' });
      expect(t.ran).toEqual([channel.split('/')[0]]);
    }
  });

  it('passes each verdict through, from a sync or an async handler', async () => {
    const t1 = table({ health: () => 'refuse' });
    expect(await dispatch(t1.table, msg('health'))).toEqual({ ok: true, verdict: 'refuse' });
    const t2 = table({ state: async () => 'refuse_unretained' as const });
    expect(await dispatch(t2.table, msg('state'))).toEqual({ ok: true, verdict: 'refuse_unretained' });
    const t3 = table({ telemetry: async () => 'accept' as const });
    expect(await dispatch(t3.table, msg('telemetry'))).toEqual({ ok: true, verdict: 'accept' });
  });

  it('refuses a channel without a handler (cmd, or one not in the table), running none', async () => {
    const t = table();
    expect(await dispatch(t.table, msg('cmd/reboot'))).toEqual({ ok: true, verdict: 'refuse' });
    expect(await dispatch(t.table, { ...msg('health'), topic: { ...msg('health').topic, channel: 'toString' as PublishChannel } })).toEqual({ ok: true, verdict: 'refuse' });
    expect(t.ran).toEqual([]);
  });

  it('turns a handler that throws or rejects into an error outcome', async () => {
    const boom = new Error('registry closed');
    const sync = await dispatch(table({ telemetry: () => { throw boom; } }).table, msg('telemetry'));
    expect(sync).toEqual({ ok: false, error: boom });
    const rejected = await dispatch(table({ cmdres: () => Promise.reject('not an Error') }).table, msg('cmdres/result'));
    expect(rejected.ok).toBe(false);
    expect(!rejected.ok && rejected.error).toBeInstanceOf(Error);
    expect(!rejected.ok && rejected.error.message).toBe('not an Error');
  });
});
