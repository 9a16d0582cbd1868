import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../runtime/src/logging.ts';
import { InfluxWriter } from '../../src/influx/writer.ts';
import { influxQL, startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';

/**
 * InfluxDB's cardinality limits against a real influxd started with `max-values-per-tag = 2`:
 * points refused for the limit are good data, so the writer neither acknowledges them as written
 * nor counts them as refused; it retries as in an outage and reports why.
 */
describe('InfluxWriter at InfluxDB cardinality limits', () => {
  let influx: InfluxInstance;
  beforeAll(async () => {
    influx = await startInflux({ limits: { maxValuesPerTag: 2, maxSeriesPerDatabase: 0 } });
    await influxQL(influx.url, 'limits', 'CREATE DATABASE limits');
  }, 30_000);
  afterAll(async () => influx?.stop());

  it('holds a write of a third device: not resolved, not counted as refused, the error names the setting; stop rejects it', async () => {
    const writer = new InfluxWriter({ url: influx.url, database: 'limits', maxLines: 100, lingerMs: 0, attempts: 2, requestTimeoutMs: 5000 }, silentLogger());
    await expect(writer.write(['m,device=a v=1 1000', 'm,device=b v=1 1000'])).resolves.toEqual({ refused: 0 });
    let settled: string | undefined;
    const third = writer.write(['m,device=c v=1 1000']).then(
      (r) => void (settled = `resolved ${JSON.stringify(r)}`),
      (e: Error) => void (settled = `rejected ${e.message}`),
    );
    while (writer.lastError === undefined) await new Promise((r) => setTimeout(r, 50));
    expect(writer.lastError.message).toMatch(/max-values-per-tag/);
    expect(settled).toBeUndefined();
    expect(writer.stats.linesRefused).toBe(0);
    expect(writer.stats.limitRefusals).toBeGreaterThanOrEqual(2);
    await writer.stop();
    await third;
    expect(settled).toMatch(/^rejected .*writer stopped|^rejected .*InfluxDB write failed at stop/);
    const rows = await influxQL(influx.url, 'limits', 'SELECT count(v) FROM m GROUP BY device');
    expect(rows.map((s) => [s.tags?.['device'], s.values[0]![1]])).toEqual([
      ['a', 1],
      ['b', 1],
    ]);
  }, 30_000);

  it('writes a city of device tag values with the limits the project runs InfluxDB with (off)', async () => {
    const off = await startInflux({ forceLocal: true });
    try {
      await influxQL(off.url, 'city', 'CREATE DATABASE city');
      const writer = new InfluxWriter({ url: off.url, database: 'city', maxLines: 50_000, lingerMs: 0, attempts: 2, requestTimeoutMs: 30_000 }, silentLogger());
      // 100,001 values of one tag: one more than InfluxDB's default limit.
      const lines = Array.from({ length: 100_001 }, (_, i) => `availability,device=d${i} up=1i 60000`);
      await expect(writer.write(lines)).resolves.toEqual({ refused: 0 });
      await writer.stop();
      const [count] = await influxQL(off.url, 'city', 'SELECT count(up) FROM availability');
      expect(count!.values[0]![1]).toBe(100_001);
    } finally {
      await off.stop();
    }
  }, 60_000);
});
