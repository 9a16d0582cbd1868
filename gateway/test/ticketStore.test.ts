import { existsSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { afterEach, describe, expect, it } from 'vitest';
import { createGatewayCounters } from '../src/metrics.ts';
import { TicketStore } from '../src/ticketStore.ts';

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const T = Date.UTC(2026, 0, 5, 8, 0);
const TICKET = 't1.Z3ctdGVzdA.1767600000.1767686400.AAAAAAAAAAAAAAAAAAAAAA.secret-mac-part-Xk29qLw';

function store(opts: { file?: string | undefined; now?: () => number } = {}) {
  const logs: string[] = [];
  const counters = createGatewayCounters();
  const s = new TicketStore({ log: pino({ level: 'debug' }, { write: (l: string) => void logs.push(l) }), counters, gateway: 'gw-test', now: opts.now ?? (() => T), file: opts.file });
  return { s, logs, counters };
}
function tmpFile(): string {
  const d = mkdtempSync(join(tmpdir(), 'gw-ticket-'));
  dirs.push(d);
  return join(d, 'gw-test', 'ticket.json');
}
const payload = (p: object): Buffer => Buffer.from(JSON.stringify(p));

describe('TicketStore', () => {
  it('keeps a valid ticket, presents it until a minute before its expiry, and saves it (mode 600) for the next start', async () => {
    const file = tmpFile();
    let now = T;
    const { s, counters, logs } = store({ file, now: () => now });
    await s.start();
    expect(s.current()).toBeUndefined();
    s.offer(payload({ v: 1, ticket: TICKET, expiresAt: T + 3_600_000 }));
    expect(s.current()).toBe(TICKET);
    now = T + 3_600_000 - 60_000;
    expect(s.current()).toBeUndefined();
    await s.stop();
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual({ gateway: 'gw-test', ticket: TICKET, expiresAt: T + 3_600_000 });
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(counters.get('tickets_received', { outcome: 'kept' })).toBe(1);
    const again = store({ file });
    await again.s.start();
    expect(again.s.current()).toBe(TICKET);
    expect(logs.join('').includes('secret-mac')).toBe(false);
  });

  it.each([
    ['not JSON', Buffer.from('t1.abc')],
    ['no t1. prefix', payload({ v: 1, ticket: 'x1.abc', expiresAt: T + 1000 })],
    ['an unknown version', payload({ v: 2, ticket: TICKET, expiresAt: T + 1000 })],
    ['an extra field', payload({ v: 1, ticket: TICKET, expiresAt: T + 1000, gateway: 'gw-test' })],
    ['over 1 KiB', payload({ v: 1, ticket: `t1.${'a'.repeat(1100)}`, expiresAt: T + 1000 })],
  ])('refuses a payload with %s, counted, keeping what it held, never logging it', (_what, p) => {
    const { s, counters, logs } = store();
    s.offer(payload({ v: 1, ticket: TICKET, expiresAt: T + 3_600_000 }));
    s.offer(p);
    expect(s.current()).toBe(TICKET);
    expect(counters.get('tickets_received', { outcome: 'invalid' })).toBe(1);
    expect(logs.join('').includes('secret-mac')).toBe(false);
  });

  it('forgets a refused ticket, in memory and on disk', async () => {
    const file = tmpFile();
    const { s, counters } = store({ file });
    await s.start();
    s.offer(payload({ v: 1, ticket: TICKET, expiresAt: T + 3_600_000 }));
    await s.stop();
    expect(existsSync(file)).toBe(true);
    s.refused();
    await s.stop();
    expect(s.current()).toBeUndefined();
    expect(existsSync(file)).toBe(false);
    expect(counters.get('ticket_logins_refused')).toBe(1);
  });

  it("ignores another gateway's file and a damaged one, counted, and starts without a ticket", async () => {
    for (const [content, reason] of [[JSON.stringify({ gateway: 'gw-other', ticket: TICKET, expiresAt: T + 1000 }), 'other_gateway'], ['{"gateway":"gw-te', 'not_json']] as const) {
      const file = tmpFile();
      const { mkdirSync } = await import('node:fs');
      mkdirSync(join(file, '..'), { recursive: true });
      writeFileSync(file, content);
      const { s, counters, logs } = store({ file });
      await s.start();
      expect(s.current()).toBeUndefined();
      expect(counters.get('state_files_ignored', { file: 'ticket', reason })).toBe(1);
      expect(logs.join('').includes('secret-mac')).toBe(false);
    }
  });
});
