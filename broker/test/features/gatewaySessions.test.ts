import { pino } from 'pino';
import { describe, expect, it } from 'vitest';
import { EventBus } from '../../src/eventBus.ts';
import { GatewaySessions } from '../../src/features/gatewaySessions.ts';
import { InfluxWriter } from '../../src/influx/writer.ts';
import { createHubCounters } from '../../src/metrics.ts';
import { freePort } from '../../../tests/harness/ports.ts';

describe('GatewaySessions: the gateway_conflict point', () => {
  it('a point the writer gives up on (InfluxDB down, the hub stopping) is logged, never an unhandled rejection', async () => {
    const lines: Array<{ msg: string; gateway?: string }> = [];
    const log = pino({ level: 'warn' }, { write: (s: string) => void lines.push(JSON.parse(s) as { msg: string }) });
    // Nothing listens on this port: the write keeps failing until the writer stops.
    const writer = new InfluxWriter({ url: `http://127.0.0.1:${await freePort()}`, database: 'db', maxLines: 1, lingerMs: 0, attempts: 100, requestTimeoutMs: 1000 }, log);
    const bus = new EventBus();
    const sessions = new GatewaySessions({ writer, isStaleDeath: () => false, bus, counters: createHubCounters(), log, now: Date.now });
    sessions.start();
    const unhandled: unknown[] = [];
    const onUnhandled = (e: unknown) => void unhandled.push(e);
    process.on('unhandledRejection', onUnhandled);
    try {
      bus.emitSessionConflict({ gateway: { district: 'd', school: 's', gateway: 'gw-s' }, outcome: 'takeover', damped: false });
      await writer.stop();
      // Let the rejection, if any, reach the process.
      await new Promise((r) => setTimeout(r, 50));
      expect(unhandled).toEqual([]);
      expect(lines.filter((l) => l.msg === 'gateway_conflict point not written').map((l) => l.gateway)).toEqual(['gw-s']);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      sessions.stop();
    }
  });
});
