import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startApiRig, type ApiRig, type PrincipalName } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { encodePoint } from '../../../storage/src/lineProtocol.ts';
import { point } from '../../../storage/src/point.ts';

/**
 * One device's availability over a range, read back from availability points written straight
 * to InfluxDB (not through the hub): the figures and the runs of states, with `unknown` where
 * no point says what it was.
 */
const MIN = 60_000;
const board = 'yz-bashu-301-board';
const db = 'api_device_availability';

describe('GET /devices/{device}/availability', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  // Ten minutes, an hour ago, whole minutes.
  const to = Math.floor(Date.now() / MIN) * MIN - 60 * MIN;
  const from = to - 10 * MIN;
  const m = (i: number) => from + i * MIN;

  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, db);
    await fetch(`${influx.url}/query`, { method: 'POST', body: new URLSearchParams({ q: `CREATE DATABASE ${db}` }) });
    // Minute by minute: 0–2 up while expected; 3–4 nothing (no observer); 5–6 down while
    // expected; 7 up outside school hours; 8–9 off outside school hours.
    const minutes: Array<[number, 'up' | 'down' | 'off', 0 | 1]> = [
      [0, 'up', 1], [1, 'up', 1], [2, 'up', 1], [5, 'down', 1], [6, 'down', 1], [7, 'up', 0], [8, 'off', 0], [9, 'off', 0],
    ];
    const tags = { district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu', device: board, kind: 'interactive_board', room: '301' };
    const lines = minutes.map(([i, state, expected]) =>
      encodePoint(point('availability', tags, { state, up: state === 'up' ? 1 : 0, expected, up_expected: state === 'up' && expected ? 1 : 0 }, m(i))),
    );
    // Another device's minute in the same range, which must not count.
    lines.push(encodePoint(point('availability', { ...tags, device: 'yz-bashu-301-av', kind: 'classroom_av' }, { state: 'down', up: 0, expected: 1, up_expected: 0 }, m(3))));
    const w = await fetch(`${influx.url}/write?db=${encodeURIComponent(db)}&precision=ms`, { method: 'POST', body: lines.join('\n') });
    expect(w.status).toBe(204);
  });
  afterAll(async () => {
    await rig?.stop();
    await influx?.stop();
  });

  it('gives the figures and the runs, unknown where nothing was observed', async () => {
    const r = await rig.call('bashuIt', 'GET', `/devices/${board}/availability?from=${from}&to=${to}`);
    expect(r.status).toBe(200);
    // up 3 of 5 expected minutes; 8 of 10 minutes observed.
    expect(r.body).toEqual({
      device: board,
      from,
      to,
      availability: 0.6,
      coverage: 0.8,
      upMinutes: 3,
      expectedMinutes: 5,
      observedMinutes: 8,
      runs: [
        { from: m(0), to: m(3), state: 'up' },
        { from: m(3), to: m(5), state: 'unknown' },
        { from: m(5), to: m(7), state: 'down' },
        { from: m(7), to: m(8), state: 'up' },
        { from: m(8), to: m(10), state: 'off' },
      ],
    });
  });

  it('ends the last run at `to`, mid-minute', async () => {
    const r = await rig.call('bashuIt', 'GET', `/devices/${board}/availability?from=${m(8)}&to=${m(9) + 30_000}`);
    expect((r.body as { runs: unknown[] }).runs).toEqual([{ from: m(8), to: m(9) + 30_000, state: 'off' }]);
  });

  it.each<[PrincipalName, number]>([
    ['bashuIt', 200],
    ['yzViewer', 200],
    ['yzOperator', 200],
    ['city', 200],
    ['s02It', 404],
    ['jbOperator', 404],
    ['jbIt', 404],
  ])('%s: %i (outside the scope, the device does not exist)', async (who, status) => {
    const r = await rig.call(who, 'GET', `/devices/${board}/availability?from=${from}&to=${to}`);
    expect(r.status).toBe(status);
    if (status === 404) expect((r.body as { code: string }).code).toBe('HUB_ERR_NOT_FOUND');
  });

  it('refuses more than 7 days, and an unknown device is 404', async () => {
    const wide = await rig.call('bashuIt', 'GET', `/devices/${board}/availability?from=${to - 7 * 86_400_000 - 1}&to=${to}`);
    expect([wide.status, (wide.body as { code: string }).code]).toEqual([400, 'HUB_ERR_BAD_REQUEST']);
    expect((await rig.call('city', 'GET', `/devices/no-such-device/availability`)).status).toBe(404);
  });
});
