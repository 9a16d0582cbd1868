import mqtt, { type MqttClient } from 'mqtt';
import { afterEach, describe, expect, it } from 'vitest';
import type { OutboxRecord } from '../../protocol/src/telemetry.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { LanListener } from '../src/lanListener.ts';
import { createGatewayCounters } from '../src/metrics.ts';
import { boardSample, lanOnlyConfig, publish, startLanOnly } from './lanRig.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

async function listener(): Promise<{ port: number; ends: Array<[string, boolean]>; ended(id: string): Promise<boolean> }> {
  const ends: Array<[string, boolean]> = [];
  const waiters = new Map<string, (clean: boolean) => void>();
  const lan = new LanListener(
    { host: '127.0.0.1', port: 0, maxSampleBytes: 65_536 },
    {
      log: silentLogger(),
      counters: createGatewayCounters(),
      accept: async () => undefined,
      onDisconnect: (id, clean) => {
        ends.push([id, clean]);
        waiters.get(id)?.(clean);
      },
    },
  );
  await lan.start();
  cleanups.push(() => lan.stop());
  return {
    port: lan.port,
    ends,
    ended: (id) => new Promise<boolean>((r) => waiters.set(id, r)),
  };
}

async function connect(port: number, clientId: string, opts: mqtt.IClientOptions = {}): Promise<MqttClient> {
  const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${port}`, { clientId, protocolVersion: 4, reconnectPeriod: 0, ...opts });
  cleanups.push(() => c.endAsync(true).catch(() => {}));
  return c;
}

describe('LAN listener: a clean DISCONNECT told from a dropped connection', () => {
  it('reports a DISCONNECT as clean and a dropped socket as not, with or without a will of the device', async () => {
    const l = await listener();
    const watcher = await connect(l.port, 'watcher');
    const seen: string[] = [];
    watcher.on('message', (t) => seen.push(t));
    await watcher.subscribeAsync('#', { qos: 0 });
    await watcher.subscribeAsync('devices/+/gone', { qos: 0 });

    const polite = await connect(l.port, 'polite');
    let ended = l.ended('polite');
    await polite.endAsync(); // DISCONNECT
    expect(await ended).toBe(true);

    const dropped = await connect(l.port, 'dropped');
    ended = l.ended('dropped');
    dropped.stream.destroy(); // no DISCONNECT
    expect(await ended).toBe(false);

    const willed = await connect(l.port, 'willed', { will: { topic: 'devices/willed/gone', payload: Buffer.from('x'), qos: 0, retain: false } });
    ended = l.ended('willed');
    willed.stream.destroy();
    expect(await ended).toBe(false);

    const willedPolite = await connect(l.port, 'willed-polite', { will: { topic: 'devices/willed-polite/gone', payload: Buffer.from('x'), qos: 0, retain: false } });
    ended = l.ended('willed-polite');
    await willedPolite.endAsync();
    expect(await ended).toBe(true);

    // The device's own will still reaches subscribers when due, and only then; the listener's
    // own marker is never seen. Delivery keeps order, so the echo comes after every will.
    const echo = new Promise<void>((r) => watcher.on('message', (t) => t === 'echo' && r()));
    await watcher.publishAsync('echo', 'x', { qos: 1 });
    await echo;
    expect(seen.filter((t) => t !== 'echo' && !t.startsWith('$SYS'))).toEqual(['devices/willed/gone']);
    expect(l.ends).toEqual([
      ['polite', true],
      ['dropped', false],
      ['willed', false],
      ['willed-polite', true],
    ]);
  });
});

describe('liveness from the LAN session end', () => {
  it('a clean goodbye is not a power-off: like a dropped one, the device stays up until its timeout, then down', async () => {
    const T0 = Date.UTC(2026, 2, 3, 1, 0);
    let now = T0;
    const rig = await startLanOnly(await lanOnlyConfig(), { now: () => now });
    cleanups.push(rig.stop);
    const polite = await rig.device('polite');
    const dropped = await rig.device('dropped');
    await publish(polite, boardSample('b-polite', 1, T0));
    await publish(dropped, boardSample('b-dropped', 1, T0));
    // Aedes announces each session's end on $SYS once it has reported it.
    const watcher = await rig.device('watcher');
    const left = new Set<string>();
    const bothGone = new Promise<void>((r) =>
      watcher.on('message', (_t, p) => {
        left.add(p.toString());
        if (left.has('polite') && left.has('dropped')) r();
      }),
    );
    await watcher.subscribeAsync('$SYS/+/disconnect/clients', { qos: 0 });
    await polite.endAsync();
    dropped.stream.destroy();
    await bothGone;
    const states = async (minute: number): Promise<Record<string, string>> => {
      now = minute;
      await rig.gw.sampleAvailability(minute);
      const out: OutboxRecord[] = [];
      for (let b = rig.gw.outbox.take(1000); b; b = rig.gw.outbox.take(1000)) out.push(...b.records);
      return Object.fromEntries(out.filter((r) => r.kind === 'availability').map((r) => [r.device, r.kind === 'availability' ? r.state : '']));
    };
    // Boards time out after 75 s: up at +1 min, down at +2 min.
    expect(await states(T0 + 60_000)).toEqual({ 'b-polite': 'up', 'b-dropped': 'up' });
    expect(await states(T0 + 120_000)).toEqual({ 'b-polite': 'down', 'b-dropped': 'down' });
  });
});
