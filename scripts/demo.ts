/**
 * `npm run demo`: the whole system on one machine with a simulated fleet. InfluxDB (its own
 * influxd, or INFLUX_URL), the hub as its own process, Node-RED with the project's flows as its
 * own process, one gateway per simulated school and the fleet itself; prints where everything is,
 * how to query it, and availability and coverage per district. Ctrl-C stops everything.
 */
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { pino } from 'pino';
import { z } from 'zod';
import { ApiClient } from '../cli/src/client.ts';
import { provisionThroughApi } from '../device-sim/src/apiProvision.ts';
import { deviceCount, generateFleet, parseDistrictList, SEED_DISTRICTS } from '../device-sim/src/fleet.ts';
import { startSimulatedCampuses } from '../device-sim/src/campuses.ts';
import { envInt, loadConfigOrExit, parseEnvConfig } from '../runtime/src/envConfig.ts';
import { REDACT_PATHS } from '../runtime/src/logging.ts';
import { influxAt, influxQL, startLocalInflux } from '../runtime/src/localInflux.ts';
import { PROJECT_ROOT } from '../runtime/src/mainProcess.ts';
import { startHubProcess } from '../broker/src/hubProcess.ts';
import { availabilityQuery, registeredQuery } from '../storage/src/queries.ts';
import { schoolGatewayConfig } from '../device-sim/src/schoolGateway.ts';
import { startNodeRed } from '../flows/src/nodeRedProcess.ts';

const cfg = loadConfigOrExit(() =>
  parseEnvConfig(
    z.object({
      DEMO_SEED: envInt(2026),
      DEMO_SCHOOLS_PER_DISTRICT: envInt(2, 1, 200),
      DEMO_ROOMS_PER_SCHOOL: envInt(4, 1, 500),
      DEMO_VR_KITS_PER_SCHOOL: envInt(2, 0, 200),
      DEMO_EXTRA_DISTRICTS: z.string().default(''),
      /** 1 = real cadences (30 s); 0.1 = ten times faster. */
      DEMO_CADENCE_SCALE: z.coerce.number().positive().max(100).default(1),
      /** Stop by itself after this many seconds (0 = run until Ctrl-C). */
      DEMO_DURATION_S: envInt(0),
      DEMO_DATA_DIR: z.string().default(join(PROJECT_ROOT, '.data', 'demo')),
      INFLUX_DB: z.string().default('campus'),
    }),
    process.env,
  ),
);

const dataDir = cfg.DEMO_DATA_DIR;
const logDir = join(dataDir, 'logs');
mkdirSync(logDir, { recursive: true });
const gwLog = pino({ level: 'info', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, pino.destination({ dest: join(logDir, 'gateways.log'), mkdir: true, sync: false }));
const quiet = pino({ level: 'warn' });

const fleet = generateFleet({
  seed: cfg.DEMO_SEED,
  districts: [...SEED_DISTRICTS, ...parseDistrictList(cfg.DEMO_EXTRA_DISTRICTS)],
  schoolsPerDistrict: cfg.DEMO_SCHOOLS_PER_DISTRICT,
  roomsPerSchool: cfg.DEMO_ROOMS_PER_SCHOOL,
  vrKitsPerSchool: cfg.DEMO_VR_KITS_PER_SCHOOL,
  accessSwitchesPerSchool: 1,
});

const say = (s = '') => process.stdout.write(`${s}\n`);
say('Campus IoT hub demo: starting InfluxDB, the hub, the gateways and the simulated fleet…');

const influxUrl = process.env['INFLUX_URL'];
const influx = influxUrl ? await influxAt(influxUrl) : await startLocalInflux({ dataDir: join(dataDir, 'influxdb') });
// A new registry each run: the hub's first start writes the city admin's token beside it.
const registryPath = join(dataDir, 'registry.sqlite');
const tokenFile = join(dataDir, 'admin-token');
for (const f of [registryPath, `${registryPath}-wal`, `${registryPath}-shm`, tokenFile]) rmSync(f, { force: true });

// The hub's own main, as its own process, as production runs it.
const hub = await startHubProcess({ HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: cfg.INFLUX_DB, LOG_LEVEL: 'info' }, join(logDir, 'hub.log'));
const hubUrl = `http://127.0.0.1:${hub.httpPort}`;
// The fleet is registered through the management API, as `campus` would; each gateway's
// password is the one the hub made for it (only its hash is stored).
const passwords = await provisionThroughApi(new ApiClient(hubUrl, () => readFileSync(tokenFile, 'utf8').trim()), fleet);

// Node-RED's secrets: from the environment, else generated once and kept (mode 600) in the data dir.
function secret(name: string): string {
  const fromEnv = process.env[name];
  if (fromEnv) return fromEnv;
  const file = join(dataDir, 'secrets', name);
  if (!existsSync(file)) {
    mkdirSync(join(dataDir, 'secrets'), { recursive: true, mode: 0o700 });
    writeFileSync(file, randomBytes(18).toString('base64url'), { mode: 0o600 });
  }
  return readFileSync(file, 'utf8').trim();
}
// The web console: the city admin signs in with a password of its own (generated once, kept as Node-RED's are).
const consoleUser = 'admin';
await new ApiClient(hubUrl, () => readFileSync(tokenFile, 'utf8').trim()).request('PUT', `/users/${consoleUser}/password`, { json: { password: secret('CONSOLE_ADMIN_PASSWORD') } });

const nodeRed = await startNodeRed(
  {
    NODE_RED_ADMIN_PASSWORD: secret('NODE_RED_ADMIN_PASSWORD'),
    NODE_RED_CREDENTIAL_SECRET: secret('NODE_RED_CREDENTIAL_SECRET'),
    NODERED_ALERT_WEBHOOK_USER: 'grafana',
    NODERED_ALERT_WEBHOOK_PASSWORD: secret('NODERED_ALERT_WEBHOOK_PASSWORD'),
    NODE_RED_LOG_LEVEL: 'warn',
  },
  { userDir: join(dataDir, 'node-red') },
);

const campuses = await startSimulatedCampuses({
  fleet,
  gatewayConfig: (s) =>
    schoolGatewayConfig(s, `mqtt://127.0.0.1:${hub.mqttPort}`, passwords.get(s.gateway)!, {
      GW_RECONNECT_MS: '200',
      GW_REPLAY_JITTER_MS: '5000',
      GW_REPLAY_RATE: '2000',
      // The durable outbox, as in production: kept across demo runs, replayed on the next one.
      GW_OUTBOX_DIR: join(dataDir, 'outbox'),
      GW_OUTBOX_MAX_BYTES: String(256 << 20),
      GW_OUTBOX_MAX_AGE_H: String(7 * 24),
      GW_OUTBOX_SEGMENT_BYTES: String(4 << 20),
      GW_OUTBOX_FSYNC: 'always',
    }),
  sim: { seed: cfg.DEMO_SEED, cadenceScale: cfg.DEMO_CADENCE_SCALE, samplesPerDevice: 0, startSpreadMs: 5000 },
  gatewayLog: gwLog,
  simLog: quiet,
});
const { gateways, sim } = campuses;

const q = (query: string) =>
  `curl -sG '${influx.url}/query' --data-urlencode 'db=${cfg.INFLUX_DB}' --data-urlencode "q=${query}"`;
say();
say(`  InfluxDB   ${influx.url}  database "${cfg.INFLUX_DB}"${influx.source === 'local-influxd' ? `, data in ${join(dataDir, 'influxdb')}` : ''}`);
say(`  Hub        mqtt://127.0.0.1:${hub.mqttPort}   health ${hubUrl}/health   metrics ${hubUrl}/metrics`);
say(`  API        ${hubUrl}/api/v1 (OpenAPI: ${hubUrl}/api/v1/openapi.json); the city admin's token is in ${tokenFile}`);
say(`             try: CAMPUS_URL=${hubUrl} CAMPUS_TOKEN_FILE=${tokenFile} npx campus status`);
say(`  Console    ${hubUrl}/console/ (user ${consoleUser}, password in ${join(dataDir, 'secrets', 'CONSOLE_ADMIN_PASSWORD')} unless set in the environment)`);
say(`  Fleet      ${fleet.districts.length} districts × ${cfg.DEMO_SCHOOLS_PER_DISTRICT} schools, ${deviceCount(fleet)} devices, ${gateways.length} gateways (one per school)`);
say(`             each device reports every ${30 * cfg.DEMO_CADENCE_SCALE} s (VR kits every ${60 * cfg.DEMO_CADENCE_SCALE} s)`);
say(`  Districts  ${fleet.districts.map((d) => `${d.id} ${d.nameEn}`).join(' · ')}`);
say(`  Node-RED   editor ${nodeRed.url}/admin (user admin, password in ${join(dataDir, 'secrets', 'NODE_RED_ADMIN_PASSWORD')} unless set in the environment)`);
say(`             Grafana alert inbox ${nodeRed.url}/hooks/grafana-alerts (basic auth grafana / ${join(dataDir, 'secrets', 'NODERED_ALERT_WEBHOOK_PASSWORD')})`);
say('  Grafana    not started here (it runs in docker-compose, with dashboards/provisioning mounted); availability');
say('             and coverage per district over the last 10 minutes are printed below every 30 s');
say(`  Logs       ${join(logDir, 'hub.log')}  ${join(logDir, 'gateways.log')}  ${join(dataDir, 'node-red', 'node-red.log')}`);
say(`  Outboxes   ${join(dataDir, 'outbox')} (one durable outbox per gateway)`);
say();
say('  Query it (InfluxQL on the v1 API), for example:');
say(`    ${q('SHOW MEASUREMENTS')}`);
say(`    ${q("SELECT count(seq) FROM classroom_av, interactive_board, vr_kit, network_node WHERE time > now() - 10m GROUP BY district")}`);
say(`    ${q("SELECT last(octets_in) FROM network_node WHERE role = 'school_uplink' GROUP BY school")}`);
say(`    ${q("SELECT sum(up_expected) / sum(expected) AS availability FROM availability WHERE time > now() - 1h GROUP BY district")}`);
say();
say(cfg.DEMO_DURATION_S > 0 ? `  Stops by itself after ${cfg.DEMO_DURATION_S} s.` : '  Stop: Ctrl-C (everything started here stops with it).');
say();

async function pointsByDistrict(): Promise<Record<string, number>> {
  const series = await influxQL(influx.url, cfg.INFLUX_DB, 'SELECT count(seq) FROM classroom_av, interactive_board, vr_kit, network_node GROUP BY district');
  const out: Record<string, number> = Object.fromEntries(fleet.districts.map((d) => [d.id, 0]));
  for (const s of series) {
    const district = s.tags?.['district'];
    if (district !== undefined) out[district] = (out[district] ?? 0) + Number(s.values[0]![1]);
  }
  return out;
}

/**
 * Availability and coverage per district over the last 10 minutes, from the raw points (the city
 * overview's panel reads the hourly rollups, which fill in at the top of each hour): the same
 * rules, Σ up_expected ÷ Σ expected over expected minutes, observed ÷ registered device-minutes.
 */
async function cityOverview(): Promise<Record<string, { availability: number | null; coverage: number | null }>> {
  const now = Date.now();
  const range = { fromMs: now - 10 * 60_000, toMs: now };
  const figures = await influxQL(influx.url, cfg.INFLUX_DB, availabilityQuery(range, ['district']));
  const registered = await influxQL(influx.url, cfg.INFLUX_DB, registeredQuery(range, ['district']));
  const devicesOf = new Map(registered.map((r) => [r.tags?.['district'], Number(r.values[0]![1])]));
  return Object.fromEntries(
    figures.map((r) => {
      const [up, expected, observed] = r.values[0]!.slice(1).map(Number) as [number, number, number];
      const reg = devicesOf.get(r.tags?.['district']) ?? 0;
      return [r.tags!['district']!, { availability: expected > 0 ? up / expected : null, coverage: reg > 0 ? observed / reg : null }];
    }),
  );
}
const pct = (v: number | null) => (typeof v === 'number' ? `${(100 * Math.min(v, 1)).toFixed(1)} %` : '—');

const started = Date.now();
// The last figures read, for the summary: on Ctrl-C the terminal signals InfluxDB too, which may
// be gone before the summary's own queries run.
let lastPoints: Record<string, number> = {};
let lastOverview: Awaited<ReturnType<typeof cityOverview>> = {};
const overview = setInterval(() => {
  void cityOverview().then((o) => {
    lastOverview = o;
    say(`  Availability (coverage) per district, last 10 min: ${Object.entries(o).map(([d, f]) => `${d} ${pct(f.availability)} (${pct(f.coverage)})`).join(' · ') || 'no availability minute recorded yet'}`);
  }, () => {});
}, 30_000);
const status = setInterval(() => {
  void pointsByDistrict().then((p) => {
    lastPoints = p;
    const secs = Math.round((Date.now() - started) / 1000);
    say(`  [${String(secs).padStart(4)} s] points in InfluxDB: ${Object.entries(p).map(([d, n]) => `${d} ${n}`).join(' · ')}`);
  }, () => {});
}, 10_000);

let stopping = false;
async function shutdown(): Promise<void> {
  if (stopping) return;
  stopping = true;
  clearInterval(status);
  clearInterval(overview);
  const summary = {
    devices: deviceCount(fleet),
    samplesAcknowledged: sim.totalAcked(),
    pointsByDistrict: await pointsByDistrict().catch(() => lastPoints),
    cityOverview: await cityOverview().catch(() => lastOverview),
  };
  await campuses.stop();
  await nodeRed.stop();
  await hub.stop();
  await influx.stop();
  gwLog.flush();
  say(`DEMO_SUMMARY ${JSON.stringify(summary)}`);
  say('Demo stopped.');
  process.exit(0);
}
process.on('SIGINT', () => void shutdown());
process.on('SIGTERM', () => void shutdown());
if (cfg.DEMO_DURATION_S > 0) setTimeout(() => void shutdown(), cfg.DEMO_DURATION_S * 1000);
