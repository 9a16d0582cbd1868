import { afterEach, describe, expect, it } from 'vitest';
import { startTestBroker } from './testBroker.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { createGatewayCounters } from '../src/metrics.ts';
import { MemoryOutbox } from '../src/outbox.ts';
import { Uplink } from '../src/uplink.ts';
import { lanOnlyConfig } from './lanRig.ts';

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

/** An in-process MQTT broker standing in for the hub (accepts every client). */
async function hub(): Promise<number> {
  return (await startTestBroker(cleanups)).port;
}

/** Records every timer set while `run` runs and whether it was cleared or fired (the clock edge). */
async function timersOf(run: () => Promise<void>): Promise<number> {
  const open = new Set<NodeJS.Timeout>();
  const realSet = globalThis.setTimeout;
  const realClear = globalThis.clearTimeout;
  globalThis.setTimeout = ((fn: (...a: unknown[]) => void, ms?: number, ...args: unknown[]) => {
    const t = realSet(() => {
      open.delete(t);
      fn(...args);
    }, ms);
    open.add(t);
    return t;
  }) as typeof setTimeout;
  globalThis.clearTimeout = ((t: NodeJS.Timeout | undefined) => {
    if (t) open.delete(t);
    realClear(t);
  }) as typeof clearTimeout;
  try {
    await run();
  } finally {
    globalThis.setTimeout = realSet;
    globalThis.clearTimeout = realClear;
  }
  return open.size;
}

describe('uplink: stop() clears every timer it made', () => {
  it('a clean stop of a connected uplink leaves no timer of its goodbye running', async () => {
    const port = await hub();
    const outbox = new MemoryOutbox(100);
    const uplink = new Uplink(await lanOnlyConfig({}, { hubUrl: `mqtt://127.0.0.1:${port}` }), {
      log: silentLogger(),
      outbox: () => outbox,
      counters: createGatewayCounters(),
    });
    uplink.start();
    cleanups.push(() => uplink.stop());
    while (!uplink.connected) await new Promise((r) => setImmediate(r));
    expect(await timersOf(() => uplink.stop())).toBe(0);
    expect(uplink.connected).toBe(false);
  });
});
