import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { PROJECT_ROOT } from '../harness/hubProcess.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort, waitFor } from '../harness/ports.ts';
import { gatewayConfig, gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';
import mqtt from 'mqtt';
import { createGateway } from '../../gateway/src/gateway.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { stateTopic } from '../../protocol/src/topics.ts';

const fleet = generateFleet({ seed: 5, districts: SEED_DISTRICTS.slice(1, 2), schoolsPerDistrict: 1, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const school = fleet.schools[0]!; // jb-s01 in 江北区

const outboxDir = mkdtempSync(join(tmpdir(), 'session-outbox-'));
afterAll(() => rmSync(outboxDir, { recursive: true, force: true }));

/** The gateway's own main, as a separate process, so it can be killed with SIGKILL. */
async function spawnGateway(hubPort: number): Promise<ChildProcess> {
  const child = spawn(process.execPath, [join(PROJECT_ROOT, 'gateway/src/main.ts')], {
    env: {
      ...process.env,
      GW_ID: school.gateway,
      GW_DISTRICT: school.district,
      GW_SCHOOL: school.id,
      GW_PASSWORD: gatewayPassword(school.gateway),
      GW_HUB_URL: `mqtt://127.0.0.1:${hubPort}`,
      GW_LAN_PORT: String(await freePort()),
      GW_HEALTH_PORT: String(await freePort()),
      GW_OUTBOX_DIR: outboxDir,
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'ignore', 'inherit'],
  });
  return child;
}

describe('gateway session state: retained birth, Last Will, bdSeq', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  const db = 'e2e_session';
  const children: ChildProcess[] = [];

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
  });
  afterAll(async () => {
    for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
    await stack?.stop();
    await influx?.stop();
  });

  it('marks a killed gateway offline through its will, and a restarted one online with a larger bdSeq', async () => {
    const first = await spawnGateway(stack.hub.mqttPort);
    children.push(first);
    const born = await waitFor('first birth', async () => {
      const p = stack.hub.presence.get(school.gateway);
      return p?.state === 'online' ? p : undefined;
    });
    expect(born).toMatchObject({ district: '江北区', school: 'jb-s01', gateway: 'gw-jb-s01' });

    first.kill('SIGKILL'); // no DISCONNECT: the hub must publish the Last Will
    const died = await waitFor('death by will', async () => {
      const p = stack.hub.presence.get(school.gateway);
      return p?.state === 'offline' ? p : undefined;
    }, { timeoutMs: 20_000 });
    expect(died.bdSeq).toBe(born.bdSeq);

    const second = await spawnGateway(stack.hub.mqttPort);
    children.push(second);
    const reborn = await waitFor('second birth', async () => {
      const p = stack.hub.presence.get(school.gateway);
      return p?.state === 'online' ? p : undefined;
    });
    expect(reborn.bdSeq).toBeGreaterThan(born.bdSeq);

    // A clean stop publishes a retained offline state itself (no will needed).
    second.kill('SIGTERM');
    await new Promise((r) => second.once('exit', r));
    const stopped = stack.hub.presence.get(school.gateway)!;
    expect(stopped).toMatchObject({ state: 'offline', bdSeq: reborn.bdSeq });

    const series = await influxQuery(influx.url, db, `SELECT online, bd_seq FROM gateway_state WHERE gateway = 'gw-jb-s01'`);
    expect(series[0]!.values.map((v) => [v[1], v[2]])).toEqual([
      [true, born.bdSeq],
      [false, born.bdSeq],
      [true, reborn.bdSeq],
      [false, reborn.bdSeq],
    ]);
    expect(stack.hub.counters.get('stale_deaths_ignored')).toBe(0);
  });
});

describe('stale deaths and health telemetry through the real hub', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  const db = 'e2e_session2';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
  });
  afterAll(async () => {
    await stack?.stop();
    await influx?.stop();
  });

  it('ignores a death whose bdSeq is older than the birth in force', async () => {
    const addr = { district: school.district, school: school.id, gateway: school.gateway };
    const state = (s: 'online' | 'offline', bdSeq: number) => JSON.stringify({ state: s, bdSeq, ts: Date.now() });
    const connectAs = (bdSeq: number) =>
      mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, {
        clientId: school.gateway,
        username: school.gateway,
        password: gatewayPassword(school.gateway),
        protocolVersion: 4,
        reconnectPeriod: 0,
        will: { topic: stateTopic(addr), payload: Buffer.from(state('offline', bdSeq)), qos: 1, retain: true },
      });
    const a = await connectAs(100);
    await a.publishAsync(stateTopic(addr), state('online', 100), { qos: 1, retain: true });
    // The same gateway again (its old connection half-open): the new session takes over.
    const b = await connectAs(200);
    await b.publishAsync(stateTopic(addr), state('online', 200), { qos: 1, retain: true });
    // The old session's death arriving late, however it arrives, changes nothing.
    await b.publishAsync(stateTopic(addr), state('offline', 100), { qos: 1, retain: true });
    expect(stack.hub.presence.get(school.gateway)).toMatchObject({ state: 'online', bdSeq: 200 });
    expect(stack.hub.counters.get('stale_deaths_ignored')).toBeGreaterThanOrEqual(1);
    await a.endAsync(true).catch(() => {});
    await b.endAsync(true);
  });

  it('writes the health a gateway reports to gateway_health', async () => {
    const gw = createGateway(gatewayConfig(school, stack.hub.mqttPort, { healthIntervalMs: 1000, healthPort: 0 }), { log: silentLogger() });
    await gw.start();
    try {
      const local = (await (await fetch(`http://127.0.0.1:${gw.healthPort}/health`)).json()) as { gateway: string; connected: boolean; bdSeq: number; outbox: { records: number } };
      expect(local).toMatchObject({ gateway: school.gateway, outbox: { records: 0 } });
      const s = await waitFor('a gateway_health point', async () => {
        const r = await influxQuery(influx.url, db, `SELECT outbox_records, outbox_dropped, replay_active, samples_accepted, bd_seq FROM gateway_health WHERE gateway = '${school.gateway}'`);
        return r[0]?.values.length ? r : undefined;
      }, { timeoutMs: 10_000 });
      expect(s[0]!.values[0]!.slice(1)).toEqual([0, 0, false, 0, gw.health().bdSeq]);
    } finally {
      await gw.stop();
    }
  });
});
