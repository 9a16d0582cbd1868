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

  it('with concurrency 3, three requests at once while InfluxDB answers; after a failure one retry loop, the others waiting behind it', async () => {
    const healthy = await influxThatFails(0);
    const writer = new InfluxWriter({ url: healthy.url, database: 'db', maxLines: 1, lingerMs: 0, attempts: 5, requestTimeoutMs: 5000, concurrency: 3 }, silentLogger());
    const lines = Array.from({ length: 9 }, (_, i) => `m v=${i} ${i}`);
    expect(await Promise.all(lines.map((l) => writer.write([l])))).toEqual(lines.map(() => ({ refused: 0 })));
    await writer.stop();
    expect(healthy.maxInFlight()).toBe(3);
    // Written while requests are under way: they start as soon as there is room.
    const again = await influxThatFails(0);
    const w1 = new InfluxWriter({ url: again.url, database: 'db', maxLines: 1, lingerMs: 0, attempts: 5, requestTimeoutMs: 5000, concurrency: 3 }, silentLogger());
    const one = w1.write(['y v=0 0']);
    await new Promise((r) => setTimeout(r, 5));
    await Promise.all([one, w1.write(['y v=1 1']), w1.write(['y v=2 2'])]);
    await w1.stop();
    expect(again.maxInFlight()).toBe(3);
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    expect([...healthy.bodies].sort()).toEqual([...lines].sort());
    await new Promise<void>((resolve) => server!.close(() => resolve()));
    server = undefined;

    // Two failures: the first request fails, is retried alone (the rest wait), then all flow.
    const down = await influxThatFails(2);
    const w2 = new InfluxWriter({ url: down.url, database: 'db', maxLines: 1, lingerMs: 0, attempts: 5, requestTimeoutMs: 5000, concurrency: 3 }, silentLogger());
    const first = w2.write(['x v=0 0']);
    // The others are written once the first request has failed.
    while (w2.stats.failedRequests === 0) await new Promise((r) => setTimeout(r, 2));
    const rest = ['x v=1 1', 'x v=2 2', 'x v=3 3'].map((l) => w2.write([l]));
    await Promise.all([first, ...rest]);
    await w2.stop();
    // 500, 500 for the first (alone), then 204 for it and the three others.
    expect(down.statuses).toEqual([500, 500, 204, 204, 204, 204]);
    expect(down.bodies.slice(0, 3)).toEqual(['x v=0 0', 'x v=0 0', 'x v=0 0']);
    expect(w2.stats).toMatchObject({ requests: 6, failedRequests: 2, linesWritten: 4 });
  });
});

/**
 * The writer's answers to what InfluxDB says of a body, against a tiny /write endpoint whose
 * answer is a function of the body: a 413 above a byte limit, a partial write (400, dropped=n)
 * for lines marked `bad`, 204 otherwise.
 */
describe('InfluxWriter and what InfluxDB says of a body', () => {
  let server: Server | undefined;
  afterEach(async () => {
    const s = server;
    server = undefined;
    if (s) await new Promise<void>((resolve) => s.close(() => resolve()));
  });

  async function influxAnswering(answer: (body: string) => { status: number; text?: string }): Promise<{ url: string; bodies: string[] }> {
    const bodies: string[] = [];
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        bodies.push(body);
        const a = answer(body);
        res.writeHead(a.status).end(a.text);
      });
    });
    await new Promise<void>((resolve) => server!.listen(0, '127.0.0.1', () => resolve()));
    return { url: `http://127.0.0.1:${(server.address() as { port: number }).port}`, bodies };
  }
  const config = (url: string, maxLines: number) => ({ url, database: 'db', maxLines, lingerMs: 1000, attempts: 3, requestTimeoutMs: 5000 });

  it('a body above the limit (413) goes again caller by caller, then in halves; a single line too large is refused, never retried', async () => {
    // Limit 20 bytes: 'm v=1 1' is 7 bytes, two lines with their newline 15, three 23.
    const influx = await influxAnswering((body) => (body.length > 20 ? { status: 413, text: '{"error":"Request Entity Too Large"}' } : { status: 204 }));
    const writer = new InfluxWriter(config(influx.url, 6), silentLogger());
    const big = 'm v="' + 'x'.repeat(30) + '" 9';
    const results = await Promise.all([writer.write(['m v=1 1', 'm v=2 2', 'm v=3 3']), writer.write(['m v=4 4', big, 'm v=5 5'])]);
    await writer.stop();
    expect(results[0]).toEqual({ refused: 0 });
    expect(results[1]).toMatchObject({ refused: 1 });
    expect(influx.bodies).toEqual([
      // the merged batch (6 lines, 413), then the first caller (3 lines, 413) in halves
      ['m v=1 1', 'm v=2 2', 'm v=3 3', 'm v=4 4', big, 'm v=5 5'].join('\n'),
      'm v=1 1\nm v=2 2\nm v=3 3',
      'm v=1 1\nm v=2 2',
      'm v=3 3',
      // the second caller (413), its halves [4, big] (413) → '4' and big (413, refused), then '5'
      ['m v=4 4', big, 'm v=5 5'].join('\n'),
      `m v=4 4\n${big}`,
      'm v=4 4',
      big,
      'm v=5 5',
    ]);
    expect(writer.stats.linesRefused).toBe(1);
    expect(writer.stats.linesWritten).toBe(5);
  });

  it('a partial write in a merged batch is attributed exactly: each caller\'s lines go again on their own', async () => {
    const influx = await influxAnswering((body) => {
      const bad = body.split('\n').filter((l) => l.startsWith('bad')).length;
      return bad > 0 ? { status: 400, text: `{"error":"partial write: field type conflict dropped=${bad}"}` } : { status: 204 };
    });
    const writer = new InfluxWriter(config(influx.url, 4), silentLogger());
    const results = await Promise.all([writer.write(['m v=1 1', 'bad v="s" 1']), writer.write(['m v=2 2', 'm v=3 3'])]);
    await writer.stop();
    expect(results[0]).toMatchObject({ refused: 1 });
    expect(results[1]).toEqual({ refused: 0 });
    expect(influx.bodies).toEqual(['m v=1 1\nbad v="s" 1\nm v=2 2\nm v=3 3', 'm v=1 1\nbad v="s" 1', 'm v=2 2\nm v=3 3']);
    expect(writer.stats).toMatchObject({ linesWritten: 3, linesRefused: 1 });
  });

  it('holds every write until released (the database is set up), then sends them together', async () => {
    const influx = await influxAnswering(() => ({ status: 204 }));
    const writer = new InfluxWriter({ ...config(influx.url, 2), lingerMs: 0 }, silentLogger());
    writer.hold();
    let settled = 0;
    const writes = [writer.write(['m v=1 1']), writer.write(['m v=2 2'])].map((p) => p.then((r) => (settled++, r)));
    await new Promise((r) => setTimeout(r, 50));
    expect(influx.bodies).toEqual([]);
    expect(settled).toBe(0);
    writer.release();
    expect(await Promise.all(writes)).toEqual([{ refused: 0 }, { refused: 0 }]);
    await writer.stop();
    expect(influx.bodies).toEqual(['m v=1 1\nm v=2 2']);
  });

  it('a stop during an outage fails the waiting writes (their publishers resend) and returns', async () => {
    const influx = await influxAnswering(() => ({ status: 503, text: 'down' }));
    const writer = new InfluxWriter({ ...config(influx.url, 1), lingerMs: 0 }, silentLogger());
    const writes = ['m v=1 1', 'm v=2 2', 'm v=3 3'].map((l) => writer.write([l]).then(() => 'written', (e: { code?: string }) => e.code));
    await new Promise((r) => setTimeout(r, 50));
    await writer.stop();
    expect(await Promise.all(writes)).toEqual(['HUB_ERR_INFLUX_UNAVAILABLE', 'HUB_ERR_INFLUX_UNAVAILABLE', 'HUB_ERR_INFLUX_UNAVAILABLE']);
    // Only the first batch was ever sent; the ones behind it fail without a request.
    expect(new Set(influx.bodies)).toEqual(new Set(['m v=1 1']));
  });
});
