import mqtt from 'mqtt';
import { pino } from 'pino';
import { REDACT_PATHS } from '../../runtime/src/logging.ts';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateFleet, SEED_DISTRICTS } from '../../device-sim/src/fleet.ts';
import { telemetryTopic, commandFilter } from '../../protocol/src/topics.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { mosquittoPub } from '../harness/mosquitto.ts';
import { rawConnect } from '../harness/rawMqtt.ts';
import { gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';

const fleet = generateFleet({
  seed: 7,
  districts: SEED_DISTRICTS.slice(0, 2),
  schoolsPerDistrict: 2,
  roomsPerSchool: 1,
  vrKitsPerSchool: 0,
  accessSwitchesPerSchool: 0,
});
const yz1 = fleet.schools.find((s) => s.id === 'yz-s01')!;
const yz2 = fleet.schools.find((s) => s.id === 'yz-s02')!;
const gw = yz1.gateway;
const addr = { district: yz1.district, school: yz1.id, gateway: gw };
const creds = ['-i', gw, '-u', gw, '-P', gatewayPassword(gw)];

function batch(device: string, seq: number, ts: number, gateway = gw): string {
  return JSON.stringify({
    v: 1,
    gateway,
    batch: `third-party-${seq}`,
    records: [{ device, kind: 'interactive_board', seq, ts, rx: ts, data: { power: 'on', touchOk: true, activeInput: 'ops', firmware: 'v9.1' } }],
  });
}

describe('a third-party MQTT client (mosquitto_pub) against the hub', () => {
  const logLines: string[] = [];
  let influx: InfluxInstance;
  let stack: Stack;
  const db = 'e2e_mosquitto';

  beforeAll(async () => {
    influx = await startInflux();
    // No gateways: this test is the only client of the hub. Its logs are kept to be read.
    const log = pino({ level: 'debug', redact: { paths: REDACT_PATHS, censor: '[redacted]' } }, { write: (line: string) => void logLines.push(line) });
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false, log });
  });
  afterAll(async () => {
    await stack?.stop();
    await influx?.stop();
  });

  /** An MQTT.js client logged in as a gateway, no reconnects (each call its own options object). */
  const connectAsGateway = (g: string) =>
    mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { clientId: g, username: g, password: gatewayPassword(g), protocolVersion: 4, reconnectPeriod: 0 });

  it('lands a point with a gateway\'s credentials', async () => {
    const ts = Date.now() - 1000;
    const r = await mosquittoPub(stack.hub.mqttPort, [...creds, '-q', '1', '-t', telemetryTopic(addr), '-m', batch('yz-s01-r01-board', 41, ts)]);
    expect(r).toMatchObject({ code: 0, stderr: '' });
    // QoS 1 and the hub acknowledges only after the write, so the point is already there.
    const series = await influxQuery(influx.url, db, `SELECT seq, firmware, active_input FROM interactive_board WHERE device = 'yz-s01-r01-board'`);
    expect(series).toHaveLength(1);
    expect(series[0]!.values).toEqual([[ts, 41, 'v9.1', 'ops']]);
    const tags = await influxQuery(influx.url, db, `SELECT seq, district, school, gateway FROM interactive_board WHERE device = 'yz-s01-r01-board'`);
    expect(tags[0]!.values[0]!.slice(2)).toEqual(['渝中区', 'yz-s01', gw]);
  });

  it('refuses a wrong password', async () => {
    const before = stack.hub.counters.get('connections_refused', { code: 'HUB_ERR_AUTH_DENIED' });
    const r = await mosquittoPub(stack.hub.mqttPort, ['-i', gw, '-u', gw, '-P', 'not-the-password', '-q', '1', '-t', telemetryTopic(addr), '-m', batch('yz-s01-r01-board', 42, Date.now())]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/bad user name or password/i);
    expect(stack.hub.counters.get('connections_refused', { code: 'HUB_ERR_AUTH_DENIED' })).toBe(before + 1);
    // The refusal is logged with its code, and no password — right or wrong — ever is.
    expect(logLines.some((l) => l.includes('HUB_ERR_AUTH_DENIED'))).toBe(true);
    expect(logLines.filter((l) => l.includes('not-the-password') || l.includes(gatewayPassword(gw)))).toEqual([]);
    const series = await influxQuery(influx.url, db, `SELECT seq FROM interactive_board WHERE seq = 42`);
    expect(series).toEqual([]);
  });

  it('refuses a publish under another school\'s prefix and writes nothing', async () => {
    const before = stack.hub.counters.get('publishes_denied', { code: 'HUB_ERR_PUBLISH_DENIED' });
    const other = { district: yz2.district, school: yz2.id, gateway: yz2.gateway };
    const r = await mosquittoPub(stack.hub.mqttPort, [...creds, '-q', '1', '-t', telemetryTopic(other), '-m', batch('yz-s02-r01-board', 43, Date.now(), yz2.gateway)]);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(/connection was lost/i);
    expect(stack.hub.counters.get('publishes_denied', { code: 'HUB_ERR_PUBLISH_DENIED' })).toBe(before + 1);
    expect(await influxQuery(influx.url, db, `SELECT seq FROM interactive_board WHERE seq = 43`)).toEqual([]);
  });

  it('refuses an empty client id with a persistent session with CONNACK 0x02 [MQTT-3.1.3-8]', async () => {
    // mosquitto_pub itself will not send this ("You must provide a client id if you are using
    // the -c option"), so the CONNECT is written raw.
    const r = await mosquittoPub(stack.hub.mqttPort, ['-c', '-u', gw, '-P', gatewayPassword(gw), '-t', telemetryTopic(addr), '-m', '{}']);
    expect(r.code).not.toBe(0);
    expect(await rawConnect(stack.hub.mqttPort, { clientId: '', clean: false, username: gw, password: gatewayPassword(gw) })).toBe(2);
    expect(stack.hub.counters.get('connections_refused', { code: 'HUB_ERR_EMPTY_CLIENT_ID' })).toBe(1);
    // The same credentials with the right client id are accepted (0) — the refusal is the id.
    expect(await rawConnect(stack.hub.mqttPort, { clientId: gw, clean: false, username: gw, password: gatewayPassword(gw) })).toBe(0);
    // A client id that is not the gateway's identity: 0x02 too.
    expect(await rawConnect(stack.hub.mqttPort, { clientId: 'someone-else', clean: true, username: gw, password: gatewayPassword(gw) })).toBe(2);
    // Anonymous clients are off by default: 0x05 not authorized.
    expect(await rawConnect(stack.hub.mqttPort, { clientId: 'anon', clean: true })).toBe(5);
  });

  it('grants a gateway its own command topics only (SUBACK 0x80 otherwise)', async () => {
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, {
      clientId: gw,
      username: gw,
      password: gatewayPassword(gw),
      protocolVersion: 4,
      reconnectPeriod: 0,
    });
    try {
      const filters = [
        commandFilter(addr),
        'campus/v1/#',
        `campus/v1/${yz2.district}/${yz2.id}/${yz2.gateway}/cmd/#`,
        'campus/v1/+/+/+/cmd/#',
        telemetryTopic(addr),
      ];
      const codes: number[] = [];
      for (const f of filters) {
        // mqtt.js rejects a SUBACK holding 0x80; the packet still carries the return code.
        const granted = await client.subscribeAsync(f, { qos: 1 }).then(
          (g) => g.map((x) => x.qos),
          (e: { packet?: { granted?: number[] } }) => e.packet?.granted ?? [-1],
        );
        codes.push(...granted);
      }
      expect(codes).toEqual([1, 128, 128, 128, 128]);
      expect(stack.hub.counters.get('subscriptions_denied', { reason: 'acl' })).toBe(4);
    } finally {
      await client.endAsync(true);
    }
  });

  it('drops a live session at once when its password is rotated; the new password works, the old does not', async () => {
    const g = fleet.schools.find((s) => s.id === 'jb-s01')!.gateway;
    const client = await connectAsGateway(g);
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    expect(await stack.hub.rotateGatewayPassword(g, 'a-brand-new-password', 'system:test')).toBe(true);
    await closed;
    expect(await rawConnect(stack.hub.mqttPort, { clientId: g, clean: true, username: g, password: gatewayPassword(g) })).toBe(4);
    expect(await rawConnect(stack.hub.mqttPort, { clientId: g, clean: true, username: g, password: 'a-brand-new-password' })).toBe(0);
    await client.endAsync(true);
  });

  it('drops a live session at once when its credentials are revoked', async () => {
    const g = yz2.gateway;
    const client = await connectAsGateway(g);
    const closed = new Promise<void>((r) => client.once('close', () => r()));
    expect(stack.hub.revokeGateway(g, 'system:test')).toBe(true);
    await closed;
    expect(client.connected).toBe(false);
    expect(await rawConnect(stack.hub.mqttPort, { clientId: g, clean: true, username: g, password: gatewayPassword(g) })).toBe(4);
    await client.endAsync(true);
  });
});
