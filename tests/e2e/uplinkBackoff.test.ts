import { pino, type Logger } from 'pino';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { hashPassword } from '../../broker/src/passwords.ts';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort, waitFor } from '../harness/ports.ts';
import { gatewayConfig, gatewayPassword, startStack, TEST_SCRYPT, type Stack } from '../harness/stack.ts';

const fleet = generateFleet({ seed: 11, districts: SEED_DISTRICTS.slice(0, 1), schoolsPerDistrict: 1, roomsPerSchool: 1, vrKitsPerSchool: 0, accessSwitchesPerSchool: 0 });
const school = fleet.schools[0]!;

interface Line {
  msg: string;
  reason?: string;
  connack?: number;
  retryInMs?: number;
}

/** A debug logger whose lines the test reads back. */
function capturingLogger(): { log: Logger; lines: Line[] } {
  const lines: Line[] = [];
  const log = pino({ level: 'debug' }, { write: (s: string) => void lines.push(JSON.parse(s) as Line) });
  return { log, lines };
}

interface UplinkHealth {
  connected: boolean;
  uplink: { connected: boolean; reason?: string; nextAttemptInMs?: number };
}
const healthOf = async (gw: Gateway): Promise<UplinkHealth> => (await (await fetch(`http://127.0.0.1:${gw.healthPort}/health`)).json()) as UplinkHealth;

const cleanups: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const c of cleanups.splice(0).reverse()) await c();
});

let influx: InfluxInstance;
beforeAll(async () => {
  influx = await startInflux();
});
afterAll(async () => {
  await influx.stop();
});

async function stack(over: { mqttPort?: number } = {}): Promise<Stack> {
  const s = await startStack({ influxUrl: influx.url, database: 'uplink_backoff', fleet, withGateways: false, hub: over });
  cleanups.push(() => s.stop());
  return s;
}

async function gateway(id: string, hubPort: number, over: { reconnectMs: number; reconnectMaxMs: number }, random?: () => number): Promise<{ gw: Gateway; lines: Line[] }> {
  const { log, lines } = capturingLogger();
  const cfg = { ...gatewayConfig({ ...school, gateway: id }, hubPort, { ...over, healthPort: 0 }), password: gatewayPassword(id) };
  const gw = createGateway(cfg, { log, ...(random ? { random } : {}) });
  await gw.start();
  cleanups.push(() => gw.stop());
  return { gw, lines };
}

describe('the gateway always finds its way back', () => {
  it('a gateway started before it is registered is refused, retries with back-off, and connects by itself once registered', async () => {
    const s = await stack();
    const id = `${school.gateway}-late`;
    const { gw, lines } = await gateway(id, s.hub.mqttPort, { reconnectMs: 100, reconnectMaxMs: 400 });
    const refusals = () => lines.filter((l) => l.msg === 'uplink refused by the hub; retrying');
    await waitFor('three refusals logged', async () => refusals().length >= 3, { timeoutMs: 20_000 });
    // Each refusal is one line with its CONNACK code and the wait the back-off chose (within its ceiling).
    for (const r of refusals()) {
      expect(r.reason).toMatch(/^refused: CONNACK [45] /);
      expect(r.connack).toBeOneOf([4, 5]);
      expect(r.retryInMs).toBeGreaterThanOrEqual(100);
      expect(r.retryInMs).toBeLessThanOrEqual(400);
    }
    const h = await healthOf(gw);
    expect(h.connected).toBe(false);
    expect(h.uplink.connected).toBe(false);
    expect(h.uplink.reason).toMatch(/^refused: CONNACK [45] (not authorized|bad user name or password)$/);

    s.registry.createGateway(id, school.id, await hashPassword(gatewayPassword(id), TEST_SCRYPT), Date.now());
    await waitFor('the gateway connected once registered', async () => gw.uplinkConnected, { timeoutMs: 20_000 });
    expect((await healthOf(gw)).uplink).toEqual({ connected: true });
    expect(gw.counters.total('uplink_refused')).toBe(refusals().length);
  });

  it('a gateway started with the hub down backs off (visible in its log) and connects by itself when the hub comes up', async () => {
    const port = await freePort();
    // The top of the jitter each time: the schedule is exactly 100, 200, 400 … ms, capped at 60 s.
    const { gw, lines } = await gateway(school.gateway, port, { reconnectMs: 100, reconnectMaxMs: 60_000 }, () => 0.999_999);
    const started = Date.now();
    const downs = () => lines.filter((l) => l.msg === 'uplink down; retrying');
    await waitFor('five failed attempts logged', async () => downs().length >= 5, { timeoutMs: 30_000 });
    const window = Date.now() - started;
    const attempts = downs().length;
    expect(downs().slice(0, 5).map((l) => l.retryInMs)).toEqual([100, 199, 399, 799, 1599]);
    expect(downs().every((l) => l.reason === 'unreachable: ECONNREFUSED')).toBe(true);
    // The schedule's waits before attempt k sum to 100·(2^(k-1) − 1) ms: no more attempts fit the window.
    let fit = 1;
    while (100 * (2 ** fit - 1) <= window) fit++;
    expect(attempts).toBeLessThanOrEqual(fit);
    const h = await healthOf(gw);
    expect(h.uplink.connected).toBe(false);
    expect(h.uplink.reason).toBe('unreachable: ECONNREFUSED');

    const s = await stack({ mqttPort: port });
    await waitFor('the gateway connected once the hub came up', async () => gw.uplinkConnected, { timeoutMs: 60_000 });
    expect(s.hub.mqttPort).toBe(port);
    expect((await healthOf(gw)).uplink).toEqual({ connected: true });
  });
});
