/**
 * The management API at fleet size, in one run against a real hub (in process, real HTTP, a
 * registry file on disk) and a local InfluxDB:
 *   (a) inventory import of BENCH_API_DEVICES devices across BENCH_API_SCHOOLS schools, as one
 *       CSV (the way a district imports its fleet): the dry run, then the import;
 *   (b) the export of the same inventory;
 *   (c) walking GET /devices page by page (1000 a page);
 *   (d) BENCH_API_REQUESTS sequential GET /me (authentication and routing alone) and
 *       GET /devices/{id} (a registry read, live state and one InfluxQL query), p50/p99.
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { z } from 'zod';
import { createHub } from '../../broker/src/hub.ts';
import { formatInventory } from '../../broker/src/inventoryCsv.ts';
import { ApiClient } from '../../cli/src/client.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../../runtime/src/envConfig.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startInflux } from '../harness/influx.ts';
import { hubConfig } from '../harness/stack.ts';

const cfg = loadConfigOrExit(() =>
  parseEnvConfig(
    z.object({
      BENCH_API_SCHOOLS: envInt(200, 1, 10_000),
      BENCH_API_DEVICES: envInt(20_000, 10, 1_000_000),
      BENCH_API_REQUESTS: envInt(2000, 10, 1_000_000),
    }),
    process.env,
  ),
);

const dir = mkdtempSync(join(tmpdir(), 'api-bench-'));
const influx = await startInflux({ forceLocal: true });
const hub = createHub(hubConfig(influx.url, 'api_bench', { registryPath: join(dir, 'registry.sqlite') }), { log: silentLogger() });
await hub.start();
const api = new ApiClient(`http://127.0.0.1:${hub.httpPort}`, () => readFileSync(join(dir, 'admin-token'), 'utf8').trim());

const ms = (t0: bigint): number => Number(process.hrtime.bigint() - t0) / 1e6;
const pct = (xs: number[], p: number): number => [...xs].sort((a, b) => a - b)[Math.min(xs.length - 1, Math.floor((p / 100) * xs.length))]!;
const rows: Array<[string, string]> = [];

try {
  await api.json('POST', '/districts', { json: { id: '渝中区', code: 'yz', nameZh: '渝中区', nameEn: 'Yuzhong' } });
  const perSchool = Math.ceil(cfg.BENCH_API_DEVICES / cfg.BENCH_API_SCHOOLS);
  const rooms = Math.ceil(perSchool / 2);
  const inventory: Parameters<typeof formatInventory>[0][number][] = [];
  for (let s = 0; s < cfg.BENCH_API_SCHOOLS; s++) {
    const school = `yz-s${String(s).padStart(4, '0')}`;
    await api.json('POST', '/schools', { json: { id: school, district: '渝中区', nameZh: `渝中区第${s}小学`, nameEn: `Yuzhong Primary ${s}`, rooms: Array.from({ length: rooms }, (_, r) => ({ id: `r${r}` })) } });
    for (let d = 0; d < perSchool && inventory.length < cfg.BENCH_API_DEVICES; d++) {
      inventory.push({ school, room: `r${d >> 1}`, id: `${school}-d${d}`, kind: d % 2 ? 'interactive_board' : 'classroom_av', model: 'F86EA', vendor: '希沃 Seewo', serial: `SN${s}-${d}`, linkRole: null, capacityBps: null });
    }
  }
  const csv = Buffer.from(formatInventory(inventory));
  let t = process.hrtime.bigint();
  await api.json('POST', '/inventory/import', { query: { dryRun: true }, raw: { body: csv, contentType: 'text/csv' } });
  const dry = ms(t);
  t = process.hrtime.bigint();
  const imported = await api.json<{ created: number }>('POST', '/inventory/import', { raw: { body: csv, contentType: 'text/csv' } });
  const real = ms(t);
  if (imported.created !== inventory.length) throw new Error(`imported ${imported.created} of ${inventory.length}`);
  rows.push([`import ${inventory.length} devices (${(csv.length / 1e6).toFixed(1)} MB CSV), dry run`, `${dry.toFixed(0)} ms (${Math.round(inventory.length / (dry / 1000))} rows/s)`]);
  rows.push([`import ${inventory.length} devices, written`, `${real.toFixed(0)} ms (${Math.round(inventory.length / (real / 1000))} rows/s)`]);

  t = process.hrtime.bigint();
  const exported = await api.request('GET', '/inventory/export');
  rows.push([`export ${inventory.length} devices`, `${ms(t).toFixed(0)} ms (${(exported.bytes.length / 1e6).toFixed(1)} MB)`]);

  t = process.hrtime.bigint();
  const all = await api.all<{ id: string }>('/devices');
  const walk = ms(t);
  if (all.length !== inventory.length) throw new Error(`listed ${all.length} of ${inventory.length}`);
  rows.push([`GET /devices, all ${all.length} in pages of 1000`, `${walk.toFixed(0)} ms (${Math.round(all.length / (walk / 1000))} devices/s)`]);

  // Sorted by another column than id: every match read and ordered for each page (fleet.ts sortedPage).
  t = process.hrtime.bigint();
  const sorted = await api.all<{ id: string }>('/devices', { sort: 'room', order: 'desc' });
  const sortedWalk = ms(t);
  if (sorted.length !== inventory.length) throw new Error(`listed ${sorted.length} of ${inventory.length} sorted`);
  rows.push([`GET /devices?sort=room&order=desc, all in pages of 1000`, `${sortedWalk.toFixed(0)} ms (${(sortedWalk / walk).toFixed(1)}× the walk by id)`]);

  for (const [label, path] of [
    ['GET /me', (_i: number) => '/me'],
    ['GET /devices/{id}', (i: number) => `/devices/${encodeURIComponent(inventory[(i * 7919) % inventory.length]!.id)}`],
    // A device's last 24 h (up to 1440 availability points read and turned into runs).
    ['GET /devices/{id}/availability', (i: number) => `/devices/${encodeURIComponent(inventory[(i * 7919) % inventory.length]!.id)}/availability`],
    // The page the first sort of the console's device list asks for: the whole list ordered.
    ['GET /devices?sort=state&limit=25', (_i: number) => '/devices?sort=state&limit=25'],
  ] as const) {
    const lat: number[] = [];
    for (let i = 0; i < cfg.BENCH_API_REQUESTS; i++) {
      const t1 = process.hrtime.bigint();
      await api.json('GET', path(i));
      lat.push(ms(t1));
    }
    rows.push([`${label} × ${cfg.BENCH_API_REQUESTS}, sequential`, `p50 ${pct(lat, 50).toFixed(2)} ms, p99 ${pct(lat, 99).toFixed(2)} ms`]);
  }
  const w = Math.max(...rows.map(([k]) => k.length));
  process.stdout.write(`\nManagement API (one hub process, registry on disk)\n${rows.map(([k, v]) => `  ${k.padEnd(w)}  ${v}`).join('\n')}\n`);
} finally {
  await hub.stop();
  await influx.stop();
  rmSync(dir, { recursive: true, force: true });
}
