import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { REDACT_PATHS } from '../src/logging.ts';

function capture(obj: object): Record<string, unknown> {
  const lines: string[] = [];
  const log = pino({ redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (l: string) => void lines.push(l) });
  log.info(obj, 'x');
  return JSON.parse(lines[0]!) as Record<string, unknown>;
}

describe('log redaction', () => {
  it('hides passwords at the top level, one and two levels down, and in the configs as loaded', () => {
    const out = capture({
      password: 'p0',
      req: { password: 'p1', token: 't1' },
      hub: { influx: { url: 'http://x', password: 'p2' } },
      gateway: { gateway: 'gw-1', password: 'p3' },
      other: { nested: { password: 'p4' } },
      authorization: 'Basic abc',
    });
    expect(JSON.stringify(out)).not.toMatch(/p0|p1|p2|p3|p4|t1|Basic abc/);
    expect(out['hub']).toEqual({ influx: { url: 'http://x', password: '[redacted]' } });
    expect(out['gateway']).toEqual({ gateway: 'gw-1', password: '[redacted]' });
  });

  it('hides SNMP credentials in a target, its v3 user, and the gateway config\'s secrets', () => {
    const out = capture({
      snmp: { address: '10.0.0.1', community: 'c0', user: { name: 'campus', authKey: 'a0', privKey: 'v0' } },
      node: { snmp: { community: 'c1', user: { authKey: 'a1', privKey: 'v1' } } },
      gateway: { snmp: { timeoutMs: 3000, secrets: { GW_SNMP_SECRET_CORE: 's0' } } },
    });
    expect(JSON.stringify(out)).not.toMatch(/c0|c1|a0|a1|v0|v1|s0/);
    expect(out['snmp']).toEqual({ address: '10.0.0.1', community: '[redacted]', user: { name: 'campus', authKey: '[redacted]', privKey: '[redacted]' } });
  });
});
