import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import mqtt from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { PresenceEvent } from '../../broker/src/presence.ts';
import { DEFAULT_TAKEOVER_DAMPING } from '../../broker/src/takeoverDamper.ts';
import type { Fleet } from '../../device-sim/src/fleet.ts';
import { SCHEMA } from '../../storage/src/schema.ts';
import { startGatewayProcess, type GatewayProcess } from '../harness/gatewayProcess.ts';
import { loadAlerting, simulateRule } from '../harness/grafana.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { freePort, waitFor } from '../harness/ports.ts';
import { gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * Two devices with one gateway's credentials: real gateway processes (their own mains, default
 * back-off) against an in-process hub for 30 s. Without damping each takes the other's session
 * over about once a second for as long as both run, every time a birth, a death and presence
 * events; with it, the hub recognises the flap after HUB_TAKEOVER_MAX takeovers, keeps the
 * session in place and refuses the other device, and the rule "Gateway credentials shared"
 * fires once, for that gateway alone. A gateway taken over once (a restart before its old
 * session timed out) is normal and stays quiet.
 */
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [
    { id: 'yz-c01', name: '一校', district: '渝中区', gateway: 'gw-yz-c01', devices: [{ id: 'yz-c01-b1', kind: 'interactive_board', room: '101' }] },
    { id: 'yz-c02', name: '二校', district: '渝中区', gateway: 'gw-yz-c02', devices: [{ id: 'yz-c02-b1', kind: 'interactive_board', room: '101' }] },
  ],
};
const [SHARED, ONCE] = fleet.schools as [Fleet['schools'][number], Fleet['schools'][number]];
const RUN_MS = 30_000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

describe('two devices sharing one gateway identity', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let dir: string;
  const gateways: GatewayProcess[] = [];
  const db = 'e2e_shared_credentials';

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false });
    dir = await mkdtemp(join(tmpdir(), 'campus-shared-'));
  });
  afterAll(async () => {
    for (const g of gateways) await g.stop('SIGKILL').catch(() => {});
    await stack?.stop();
    await influx?.stop();
    if (dir) await rm(dir, { recursive: true, force: true });
  });

  async function gatewayProcess(school: Fleet['schools'][number], name: string): Promise<GatewayProcess> {
    const healthPort = await freePort();
    const env = {
      GW_ID: school.gateway,
      GW_DISTRICT: school.district,
      GW_SCHOOL: school.id,
      GW_PASSWORD: gatewayPassword(school.gateway),
      GW_HUB_URL: `mqtt://127.0.0.1:${stack.hub.mqttPort}`,
      GW_LAN_PORT: String(await freePort()),
      GW_OUTBOX_DIR: join(dir, name),
      GW_AVAILABILITY: 'false',
      LOG_LEVEL: 'info',
    };
    const g = await startGatewayProcess(env, healthPort, join(dir, `${name}.log`));
    gateways.push(g);
    return g;
  }

  it('the flap is damped: a bounded number of presence events in 30 s, one session kept, the other device refused, one alert', async () => {
    const events: PresenceEvent[] = [];
    stack.hub.events.on('presence', (e) => {
      if (e.gateway === SHARED.gateway) events.push(e);
    });
    const started = Date.now();
    const first = await gatewayProcess(SHARED, 'first');
    const second = await gatewayProcess(SHARED, 'second');
    // A gateway taken over once, by a second connection of its own that then leaves.
    const once = await gatewayProcess(ONCE, 'once');
    await waitFor('the single gateway connected', async () => (await once.health()).connected);
    const intruder = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { clientId: ONCE.gateway, username: ONCE.gateway, password: gatewayPassword(ONCE.gateway), protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    await intruder.endAsync();

    await sleep(RUN_MS - (Date.now() - started));

    const max = DEFAULT_TAKEOVER_DAMPING.maxTakeovers;
    const c = stack.hub.counters;
    const refused = c.get('connections_refused', { code: 'HUB_ERR_SESSION_CONFLICT' });
    console.log(`shared credentials, 30 s: ${c.get('session_takeovers', { gateway: SHARED.gateway })} takeovers, ${refused} logins refused, ${events.length} presence events`);
    // The third takeover within the window starts the hold; none after it (the hold outlasts the run).
    expect(c.get('session_takeovers', { gateway: SHARED.gateway })).toBe(max);
    expect(c.get('sessions_damped', { gateway: SHARED.gateway })).toBe(1);
    // The refused device backs off (1, 2, 4, 8 … s with jitter): a handful of attempts in 30 s, not thousands.
    expect(refused).toBeGreaterThanOrEqual(1);
    expect(refused).toBeLessThanOrEqual(10);
    expect(c.get('session_takeovers', { gateway: ONCE.gateway })).toBe(1);
    expect(c.get('sessions_damped', { gateway: ONCE.gateway })).toBe(0);

    // One device holds the session, the other is told why it is not connected.
    const health = [await first.health(), await second.health()];
    expect(health.map((h) => h.connected).sort()).toEqual([false, true]);
    expect(health.find((h) => !h.connected)!.uplink.reason).toMatch(/^refused: CONNACK 2 /);
    expect(stack.hub.presence.get(SHARED.gateway)?.state).toBe('online');

    // Each takeover is at most a birth and a death (two presence events); after the hold, nothing.
    expect(events.length).toBeLessThanOrEqual(2 * (max + 1));
    expect(events.at(-1)!.type).toBe('gateway_online');

    // What the hub wrote for the alert: every takeover and every refusal, one point each.
    const sums = await waitFor('the conflict points', async () => {
      const s = await influxQuery(influx.url, db, 'SELECT sum(takeovers), sum(refused), sum(damped) FROM gateway_conflict GROUP BY gateway');
      const by = Object.fromEntries(s.map((x) => [x.tags!['gateway']!, x.values[0]!.slice(1).map(Number)]));
      return by[SHARED.gateway]?.[1] === refused ? by : undefined;
    });
    // The takeover that started the hold is damped, and every refusal after it.
    expect(sums).toEqual({ [SHARED.gateway]: [max, refused, 1 + refused], [ONCE.gateway]: [1, 0, 0] });

    // Its tags and fields, with the types the schema says.
    const fields = await influxQuery(influx.url, db, 'SHOW FIELD KEYS FROM gateway_conflict');
    expect(Object.fromEntries(fields[0]!.values.map((r) => [String(r[0]), String(r[1])]))).toEqual(SCHEMA.gateway_conflict.fields);
    const tags = await influxQuery(influx.url, db, 'SHOW TAG KEYS FROM gateway_conflict');
    expect(tags[0]!.values.map((r) => r[0]).sort()).toEqual([...SCHEMA.gateway_conflict.tags].sort());

    // The rule, evaluated as Grafana would, now and a minute on (its pending period): one alert
    // instance, for the shared gateway only; the gateway taken over once stays Normal.
    const rule = loadAlerting().rules.groups[0]!.rules.find((r) => r.uid === 'campus-gateway-credentials-shared')!;
    const now = Date.now();
    const res = await simulateRule(rule, [now, now + 60_000], influx.url, db);
    expect(Object.fromEntries([...res.values()].map((i) => [i.labels['gateway'], i.states]))).toEqual({
      [SHARED.gateway]: ['Pending', 'Alerting'],
      [ONCE.gateway]: ['Normal', 'Normal'],
    });
  }, 90_000);
});
