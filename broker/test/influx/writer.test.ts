import { createServer, type Server } from 'node:http';
import { afterEach, describe, expect, it } from 'vitest';
import { silentLogger } from '../../../runtime/src/logging.ts';
import { InfluxWriter } from '../../src/influx/writer.ts';

/**
 * The writer's retry loop against a tiny /write endpoint that answers 500 a given number of
 * times, then 204: however many batches are flushed during an outage, one request is in flight
 * at a time, and the batches go out in the order they were written.
 */
describe('InfluxWriter during an outage', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  async function influxThatFails(failures: number): Promise<{ url: string; bodies: string[]; statuses: number[]; maxInFlight: () => number }> {
    const bodies: string[] = [];
    const statuses: number[] = [];
    let inFlight = 0;
    let max = 0;
    server = createServer((req, res) => {
      inFlight++;
      max = Math.max(max, inFlight);
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        const status = statuses.length < failures ? 500 : 204;
        statuses.push(status);
        // Answered a little later, so that overlapping requests would be seen overlapping.
        setTimeout(() => {
          inFlight--;
          res.writeHead(status).end(status === 204 ? undefined : 'down');
        }, 20);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    const port = (server.address() as { port: number }).port;
    return { url: `http://127.0.0.1:${port}`, bodies, statuses, maxInFlight: () => max };
  }

  it('retries one batch at a time, the others queued behind it in order, and resolves every write once InfluxDB answers', async () => {
    const influx = await influxThatFails(3);
    const writer = new InfluxWriter({ url: influx.url, database: 'db', maxLines: 1, lingerMs: 0, attempts: 2, requestTimeoutMs: 5000 }, silentLogger());
    const lines = ['m v=1 1', 'm v=2 2', 'm v=3 3', 'm v=4 4', 'm v=5 5'];
    // maxLines 1: each write is its own batch, flushed at once.
    const results = await Promise.all(lines.map((l) => writer.write([l])));
    await writer.stop();
    expect(results).toEqual(lines.map(() => ({ refused: 0 })));
    expect(influx.maxInFlight()).toBe(1);
    // The first batch three times (500) then once more (204); the others once each, in order.
    expect(influx.bodies).toEqual([lines[0], lines[0], lines[0], lines[0], ...lines.slice(1)]);
    expect(influx.statuses).toEqual([500, 500, 500, 204, 204, 204, 204, 204]);
    expect(writer.stats).toMatchObject({ requests: 8, failedRequests: 3, linesWritten: 5 });
  });

  it('sends the batches that queued up behind a failing one together, up to maxLines', async () => {
    const influx = await influxThatFails(1);
    const writer = new InfluxWriter({ url: influx.url, database: 'db', maxLines: 3, lingerMs: 0, attempts: 5, requestTimeoutMs: 5000 }, silentLogger());
    const first = writer.write(['a v=1 1', 'a v=2 2', 'a v=3 3']);
    // Flushed while the first batch waits for its retry: four one-line batches.
    await new Promise((r) => setTimeout(r, 30));
    const rest: Array<Promise<unknown>> = [];
    for (const l of ['b v=1 1', 'b v=2 2', 'b v=3 3', 'b v=4 4']) {
      rest.push(writer.write([l]));
      // Past the linger: each line is flushed as a batch of its own.
      await new Promise((r) => setTimeout(r, 5));
    }
    await Promise.all([first, ...rest]);
    await writer.stop();
    expect(influx.maxInFlight()).toBe(1);
    expect(influx.bodies).toEqual(['a v=1 1\na v=2 2\na v=3 3', 'a v=1 1\na v=2 2\na v=3 3', 'b v=1 1\nb v=2 2\nb v=3 3', 'b v=4 4']);
  });
});
