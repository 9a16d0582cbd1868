import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { provisionFleet } from '../../broker/src/provision.ts';
import { Registry } from '../../broker/src/registry.ts';
import { generateFleet, SEED_DISTRICTS, type Fleet } from '../../device-sim/src/fleet.ts';
import { createSimulator, type Simulator } from '../../device-sim/src/simulator.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gatewayProcess.ts';
import { startHubProcess, type HubProcess } from '../harness/hubProcess.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort, waitFor } from '../harness/ports.ts';
import { gatewayPassword, influxQuery, TEST_SCRYPT } from '../harness/stack.ts';
import { startTcpProxy, type TcpProxy } from '../harness/tcpProxy.ts';

/**
 * Lose nothing: under a steady simulated load, a fault, then a count per device in InfluxDB
 * against what each simulated device had acknowledged by its gateway. Real processes: the hub
 * and the gateway run their own mains; the WAN is a TCP proxy the test controls.
 */
const SAMPLES = 120;
// 30 s cadences × 0.002 = one sample every 60 ms per device (VR kits: 120 ms).
const CADENCE_SCALE = 0.002;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Rig {
  fleet: Fleet;
  db: string;
  dir: string;
  hub: HubProcess;
  hubEnv: Record<string, string>;
  hubPorts: { mqttPort: number; httpPort: number };
  proxy: TcpProxy;
  gateway: GatewayProcess;
  gatewayEnv: Record<string, string>;
  healthPort: number;
  sim: Simulator;
}

describe('faults: the count in InfluxDB equals what the devices produced', () => {
  let influx: InfluxInstance;
  /** Undone in reverse order after the file, including what a failed setup had started. */
  const cleanups: Array<() => Promise<void>> = [];

  beforeAll(async () => {
    // A local influxd, so the InfluxDB fault can stop and start it.
    influx = await startInflux({ forceLocal: true });
  });
  afterAll(async () => {
    for (const undo of cleanups.reverse()) await undo().catch(() => {});
    await influx?.stop();
  });

  async function rig(name: string, gatewayOver: Record<string, string> = {}): Promise<Rig> {
    const fleet = generateFleet({ seed: name.length * 7, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 1, roomsPerSchool: 6, vrKitsPerSchool: 2, accessSwitchesPerSchool: 1 });
    const school = fleet.schools[0]!;
    const dir = mkdtempSync(join(tmpdir(), `fault-${name}-`));
    cleanups.push(async () => rmSync(dir, { recursive: true, force: true }));
    const db = `faults_${name}`;
    const registryPath = join(dir, 'registry.sqlite');
    const reg = new Registry(registryPath);
    await provisionFleet(reg, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
    reg.close();
    const hubPorts = { mqttPort: await freePort(), httpPort: await freePort() };
    const hubEnv = { HUB_REGISTRY_PATH: registryPath, INFLUX_URL: influx.url, INFLUX_DB: db, LOG_LEVEL: 'warn', HUB_INFLUX_ATTEMPTS: '2' };
    // Each part is undone after the file, even if a later step of this setup fails; a scenario
    // may replace the hub or the gateway, so the current one is stopped.
    const r: Partial<Rig> = { fleet, db, dir, hubEnv, hubPorts };
    r.hub = await startHubProcess(hubEnv, join(dir, 'hub.log'), hubPorts);
    cleanups.push(async () => r.hub?.stop('SIGKILL'));
    const proxy = await startTcpProxy(hubPorts.mqttPort);
    r.proxy = proxy;
    cleanups.push(async () => r.proxy?.stop());
    const lanPort = await freePort();
    const healthPort = await freePort();
    const gatewayEnv = {
      GW_ID: school.gateway,
      GW_DISTRICT: school.district,
      GW_SCHOOL: school.id,
      GW_PASSWORD: gatewayPassword(school.gateway),
      GW_HUB_URL: `mqtt://127.0.0.1:${proxy.port}`,
      GW_LAN_PORT: String(lanPort),
      GW_OUTBOX_DIR: join(dir, 'outbox'),
      GW_RECONNECT_MS: '200',
      // Retries every 200 ms, without growing back-off (tested on its own in uplinkBackoff.test.ts):
      // the faults here are measured against the cut alone, not against a wait after it.
      GW_RECONNECT_MAX_MS: '200',
      GW_REPLAY_JITTER_MS: '300',
      GW_REPLAY_RATE: '3000',
      GW_BATCH_LINGER_MS: '50',
      GW_HEALTH_INTERVAL_MS: '1000',
      // Only device samples here, so the outbox bound's drops count device samples alone.
      GW_AVAILABILITY: 'false',
      LOG_LEVEL: 'warn',
      ...gatewayOver,
    };
    r.gatewayEnv = gatewayEnv;
    r.healthPort = healthPort;
    r.gateway = await startGatewayProcess(gatewayEnv, healthPort, join(dir, 'gateway.log'));
    cleanups.push(async () => r.gateway?.stop('SIGKILL'));
    const sim = createSimulator(fleet, () => `mqtt://127.0.0.1:${lanPort}`, { seed: 1, cadenceScale: CADENCE_SCALE, samplesPerDevice: SAMPLES, startSpreadMs: 50 }, { log: silentLogger() });
    r.sim = sim;
    cleanups.push(() => sim.stop());
    await sim.start();
    return r as Rig; // every field is set by now
  }

  /** Per device: points in InfluxDB and distinct sequence numbers among them. */
  async function stored(r: Rig): Promise<Map<string, { count: number; distinct: number }>> {
    const series = await influxQuery(influx.url, r.db, 'SELECT count(seq), count(distinct(seq)) FROM classroom_av, interactive_board, vr_kit, network_node GROUP BY device').catch(() => []);
    const out = new Map<string, { count: number; distinct: number }>();
    for (const s of series) {
      // One series per measurement and device; count(distinct()) comes as a second statement column.
      const cur = out.get(s.tags!['device']!) ?? { count: 0, distinct: 0 };
      cur.count += Number(s.values[0]![1]);
      cur.distinct += Number(s.values[0]![2] ?? s.values[0]![1]);
      out.set(s.tags!['device']!, cur);
    }
    return out;
  }

  async function expectEveryDeviceComplete(r: Rig, dropped = 0): Promise<Map<string, { count: number; distinct: number }>> {
    await r.sim.finished;
    const produced = r.sim.totalAcked();
    expect(produced).toBe(SAMPLES * r.fleet.schools[0]!.devices.length);
    const got = await waitFor('every record in InfluxDB', async () => {
      const s = await stored(r);
      const total = [...s.values()].reduce((n, v) => n + v.count, 0);
      return total === produced - dropped ? s : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    if (dropped === 0) {
      for (const d of r.fleet.schools[0]!.devices) {
        expect(got.get(d.id), d.id).toEqual({ count: r.sim.acked.get(d.id), distinct: r.sim.acked.get(d.id) });
      }
    }
    return got;
  }

  it('1. a WAN cut of several minutes of device time', async () => {
    const r = await rig('wan');
    await sleep(1500);
    r.proxy.cut();
    await sleep(3000); // 50 samples per device: 25 minutes at real cadence
    const during = await r.gateway.health();
    expect(during.connected).toBe(false);
    expect(during.outbox.records).toBeGreaterThan(0);
    r.proxy.restore();
    await expectEveryDeviceComplete(r);
    // The backlog was replayed as such: flagged historical.
    const hist = await influxQuery(influx.url, r.db, 'SELECT count(seq) FROM classroom_av WHERE hist = true');
    expect(Number(hist[0]?.values[0]?.[1] ?? 0)).toBeGreaterThan(0);
    const after = await r.gateway.health();
    expect(after.outbox).toMatchObject({ records: 0, dropped: 0 });
  });

  it('2. kill -9 of the gateway during the outage, then a restart', async () => {
    const r = await rig('gwkill');
    await sleep(1500);
    r.proxy.cut();
    await sleep(2000);
    await r.gateway.stop('SIGKILL');
    await sleep(500); // devices keep their unacknowledged samples and retry
    r.gateway = await startGatewayProcess(r.gatewayEnv, r.healthPort, join(r.dir, 'gateway.log'));
    const back = await r.gateway.health();
    expect(back.outbox.waitingBacklog).toBeGreaterThan(0); // recovered from disk
    await sleep(1000);
    r.proxy.restore();
    await expectEveryDeviceComplete(r);
  });

  it('3. kill -9 of the hub, then a restart', async () => {
    const r = await rig('hubkill');
    await sleep(2000);
    await r.hub.stop('SIGKILL');
    await sleep(2000);
    const during = await r.gateway.health();
    expect(during.connected).toBe(false);
    expect(during.outbox.records).toBeGreaterThan(0);
    r.hub = await startHubProcess(r.hubEnv, join(r.dir, 'hub.log'), r.hubPorts);
    await expectEveryDeviceComplete(r);
  });

  it('4. InfluxDB stopped for a while, then started again', async () => {
    const r = await rig('influx');
    await sleep(1500);
    await influx.kill!('SIGKILL');
    await sleep(3000);
    const during = await r.gateway.health();
    expect(during.outbox.records).toBeGreaterThan(0); // held at the edge, not in the hub
    await influx.restart!();
    await expectEveryDeviceComplete(r);
  });

  it('5. the outbox filling past its bound: oldest dropped, counted exactly, nothing else lost', async () => {
    // ~64 KiB of outbox in 16 KiB segments; a cut long enough to overflow it several times.
    const r = await rig('overflow', { GW_OUTBOX_MAX_BYTES: String(64 * 1024), GW_OUTBOX_SEGMENT_BYTES: String(16 * 1024) });
    await sleep(1000);
    r.proxy.cut();
    await sleep(4000);
    const during = await r.gateway.health();
    expect(during.outbox.dropped).toBeGreaterThan(0);
    r.proxy.restore();
    await r.sim.finished;
    // Let the replay finish, then read the final drop count.
    await waitFor('replay done', async () => {
      const h = await r.gateway.health();
      return h.outbox.records === 0 ? h : undefined;
    }, { timeoutMs: 60_000 });
    const { outbox } = await r.gateway.health();
    await r.sim.finished;
    const produced = r.sim.totalAcked();
    // Batches in flight when the cut came may have reached InfluxDB while their PUBACK was lost:
    // the gateway, which never got the acknowledgement, releases them, and if the bound then
    // drops their segment it counts them as dropped although they are stored. So `dropped` is
    // exact up to the records in flight at the cut, never below what is missing.
    const inflightAtCut = 4 * 500; // GW_MAX_INFLIGHT_BATCHES × GW_BATCH_MAX_RECORDS (defaults)
    const got = await waitFor('every record not dropped in InfluxDB', async () => {
      const s = await stored(r);
      const n = [...s.values()].reduce((k, v) => k + v.count, 0);
      return n + outbox.dropped >= produced ? s : undefined;
    }, { timeoutMs: 60_000, intervalMs: 250 });
    const total = [...got.values()].reduce((n, v) => n + v.count, 0);
    expect(total).toBeLessThanOrEqual(produced);
    expect(total + outbox.dropped - produced).toBeLessThanOrEqual(inflightAtCut);
    for (const v of got.values()) expect(v.distinct).toBe(v.count); // no duplicates
    // Each device lost part of the cut, not all of its samples: the bound drops only the oldest.
    expect(outbox.dropped).toBeLessThan(r.sim.totalAcked() / 2);
    console.log(`overflow: produced ${r.sim.totalAcked()}, stored ${total}, dropped ${outbox.dropped}`);
    // What was dropped is the oldest: per device the missing sequence numbers form one run.
    for (const d of r.fleet.schools[0]!.devices) {
      const s = await influxQuery(influx.url, r.db, `SELECT seq FROM ${d.kind} WHERE device = '${d.id}'`);
      const seqs = new Set((s[0]?.values ?? []).map((v) => Number(v[1])));
      const missing = [...Array(SAMPLES).keys()].filter((i) => !seqs.has(i));
      if (missing.length > 0) expect(missing.at(-1)! - missing[0]! + 1, d.id).toBe(missing.length);
    }
  });
});
