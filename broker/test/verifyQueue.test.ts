import { describe, expect, it } from 'vitest';
import { dummyHash, scryptParamsOf, verifyPassword } from '../src/passwords.ts';
import { VerifyQueue } from '../src/verifyQueue.ts';

function gate(): { promise: Promise<void>; open: () => void } {
  let open!: () => void;
  const promise = new Promise<void>((r) => (open = r));
  return { promise, open };
}

describe('VerifyQueue', () => {
  it('runs at most `concurrency` tasks at once, queues up to `maxQueued`, and refuses beyond', async () => {
    const q = new VerifyQueue(2, 1);
    const gates = [gate(), gate(), gate()];
    let peak = 0;
    const task = (i: number) => async () => {
      peak = Math.max(peak, q.running);
      await gates[i]!.promise;
      return i;
    };
    const a = q.run(task(0));
    const b = q.run(task(1));
    const c = q.run(task(2));
    const refused = await q.run(async () => 'never');
    expect(refused).toBeUndefined();
    expect([q.running, q.queued]).toEqual([2, 1]);
    gates[0]!.open();
    expect(await a).toBe(0);
    expect([q.running, q.queued]).toEqual([2, 0]);
    gates[1]!.open();
    gates[2]!.open();
    expect([await b, await c]).toEqual([1, 2]);
    expect([q.running, q.queued, peak]).toEqual([0, 0, 2]);
  });

  it('frees the slot of a task that throws', async () => {
    const q = new VerifyQueue(1, 0);
    await expect(q.run(async () => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await q.run(async () => 7)).toBe(7);
  });
});

describe('dummyHash', () => {
  it('carries the given parameters and matches no password', async () => {
    const h = dummyHash({ N: 1024, r: 8, p: 1 });
    expect(scryptParamsOf(h)).toEqual({ N: 1024, r: 8, p: 1 });
    expect(await verifyPassword('', h)).toBe(false);
    expect(await verifyPassword('anything', h)).toBe(false);
  });
});
