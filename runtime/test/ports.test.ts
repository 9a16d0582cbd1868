import { readFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { describe, expect, it } from 'vitest';
import { freePort } from '../src/ports.ts';

describe('freePort', () => {
  it('gives ports below the kernel\'s ephemeral range that can be listened on', async () => {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    const ports = await Promise.all(Array.from({ length: 50 }, () => freePort()));
    for (const p of ports) {
      expect(p).toBeGreaterThanOrEqual(20_000);
      expect(p).toBeLessThan(low);
    }
    // Each one can be listened on now (none is held by the check).
    for (const p of ports.slice(0, 10)) {
      await new Promise<void>((resolve, reject) => {
        const s = createServer();
        s.once('error', reject);
        s.listen(p, '127.0.0.1', () => s.close(() => resolve()));
      });
    }
  });

  it('skips a port that is taken', async () => {
    const held = createServer();
    const port = await freePort();
    await new Promise<void>((resolve) => held.listen(port, '127.0.0.1', () => resolve()));
    try {
      const others = await Promise.all(Array.from({ length: 200 }, () => freePort()));
      expect(others).not.toContain(port);
    } finally {
      await new Promise<void>((resolve) => held.close(() => resolve()));
    }
  });
});
