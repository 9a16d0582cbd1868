import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet, SimDevice } from '../../device-sim/src/fleet.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC, type LanCommand } from '../../protocol/src/commands.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { loadDashboard, rowsOf, runPanel } from '../harness/grafana.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, influxQuery, startStack, type Stack } from '../harness/stack.ts';
import { startTcpProxy } from '../harness/tcpProxy.ts';

/**
 * Commands end to end (docs/design.md#protocol): the hub sends a request with an id and a TTL to the device's
 * gateway, the gateway passes it to the device on the campus LAN, or answers itself when it
 * must (expired, unknown device), and the outcome comes back to the hub and InfluxDB, where the
 * school dashboard's "Recent commands" panel lists it. An expired command never reaches the
 * device.
 */
const b1: SimDevice = { id: 'yz-s01-r1-board', kind: 'interactive_board', room: 'r1' };
const av: SimDevice = { id: 'yz-s01-r1-av', kind: 'classroom_av', room: 'r1' };
const quiet: SimDevice = { id: 'yz-s01-r2-board', kind: 'interactive_board', room: 'r2' };
const unseen: SimDevice = { id: 'yz-s01-r3-board', kind: 'interactive_board', room: 'r3' };
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [
    { id: 'yz-s01', name: '一中', district: '渝中区', gateway: 'gw-yz-s01', devices: [b1, av, quiet, unseen] },
    { id: 'yz-s02', name: '二中', district: '渝中区', gateway: 'gw-yz-s02', devices: [{ id: 'yz-s02-r1-board', kind: 'interactive_board', room: 'r1' }] },
  ],
};

describe('commands: request, TTL, result, through the real hub, gateway and a device on the LAN', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let gw: Gateway;
  const db = 'e2e_commands';
  const hubClock = { now: Date.now() };
  /** The gateway's clock runs this far ahead of the hub's (to make a request arrive expired). */
  let skewMs = 0;
  const clients = new Map<string, MqttClient>();
  const received = new Map<string, LanCommand[]>();

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false, now: () => hubClock.now });
    gw = createGateway(gatewayConfig(fleet.schools[0]!, stack.hub.mqttPort), { log: silentLogger(), now: () => hubClock.now + skewMs });
    await gw.start();
    await waitFor('gw-yz-s01 takes commands', async () => stack.hub.isCommandReady('gw-yz-s01'));
    // Devices: b1 does what it is told, av fails, `quiet` never answers; all three report, so
    // the gateway has heard them. `unseen` is registered but never reported.
    for (const d of [b1, av, quiet]) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: d.id, protocolVersion: 4, reconnectPeriod: 0 });
      clients.set(d.id, c);
      received.set(d.id, []);
      await c.subscribeAsync(LAN_COMMAND_TOPIC, { qos: 1 });
      c.on('message', (_t, payload) => {
        const cmd = JSON.parse(payload.toString()) as LanCommand;
        if (cmd.device !== d.id) return; // every device sees every command; the one named acts
        received.get(d.id)!.push(cmd);
        if (d === b1) void c.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id: cmd.id, device: d.id, status: 'done' }), { qos: 1 });
        if (d === av) void c.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id: cmd.id, device: d.id, status: 'failed', detail: 'lamp cooling down' }), { qos: 1 });
      });
      const sample =
        d.kind === 'classroom_av'
          ? { device: d.id, kind: d.kind, seq: 0, ts: hubClock.now, data: { power: 'on', lampHours: 10, temperatureC: 40, inSession: false } }
          : { device: d.id, kind: d.kind, seq: 0, ts: hubClock.now, data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v1' } };
      await c.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(sample), { qos: 1 });
    }
  });
  afterAll(async () => {
    for (const c of clients.values()) await c.endAsync(true).catch(() => {});
    await gw?.stop();
    await stack?.stop();
    await influx?.stop();
  });

  /** The command's point in InfluxDB once it has its final status (not `sent`). */
  async function outcome(id: string): Promise<Record<string, unknown>> {
    return waitFor(`command ${id} answered`, async () => {
      const rows = await influxQuery(influx.url, db, `SELECT * FROM command WHERE "id" = '${id}'`);
      const s = rows[0];
      if (!s) return undefined;
      const row = Object.fromEntries(s.columns.map((c, i) => [c, s.values[0]![i]]));
      return row['status'] !== 'sent' ? row : undefined;
    }, { timeoutMs: 10_000, intervalMs: 50 });
  }

  it('passes a command to its device and records the device\'s answer, one point per command', async () => {
    hubClock.now += 1000;
    const { id, status } = await stack.hub.sendCommand({ device: b1.id, action: 'reboot', ttlMs: 60_000 }, 'system:test');
    expect(status).toBe('sent');
    const row = await outcome(id);
    expect([row['device'], row['action'], row['status'], row['gateway'], row['school'], row['time'], row['ttl_ms']]).toEqual([b1.id, 'reboot', 'done', 'gw-yz-s01', 'yz-s01', hubClock.now, 60_000]);
    expect(received.get(b1.id)!.map((c) => [c.id, c.action])).toEqual([[id, 'reboot']]);
    hubClock.now += 1000;
    const failed = await stack.hub.sendCommand({ device: av.id, action: 'power_off' }, 'system:test');
    expect([(await outcome(failed.id))['status'], (await outcome(failed.id))['detail']]).toEqual(['failed', 'lamp cooling down']);
  });

  it('reports a command the device does not answer within its TTL as expired', async () => {
    hubClock.now += 1000;
    const { id } = await stack.hub.sendCommand({ device: quiet.id, action: 'standby', ttlMs: 1000 }, 'system:test');
    const row = await outcome(id);
    expect([row['status'], row['detail']]).toEqual(['expired', 'no answer from the device within its TTL']);
    expect(received.get(quiet.id)!.map((c) => c.id)).toEqual([id]); // it did get it
  });

  it('never passes on a request that arrives after its TTL', async () => {
    hubClock.now += 1000;
    skewMs = 120_000; // the gateway's clock is 2 minutes ahead: a 60 s TTL has passed on arrival
    try {
      const before = received.get(b1.id)!.length;
      const { id } = await stack.hub.sendCommand({ device: b1.id, action: 'reboot', ttlMs: 60_000 }, 'system:test');
      const row = await outcome(id);
      expect([row['status'], row['detail']]).toEqual(['expired', 'arrived after its TTL; not passed to the device']);
      expect(received.get(b1.id)!.length).toBe(before);
    } finally {
      skewMs = 0;
    }
  });

  it('rejects a command for a device the gateway has not heard, or whose gateway is offline; refuses an unknown device', async () => {
    hubClock.now += 1000;
    const notHeard = await stack.hub.sendCommand({ device: unseen.id, action: 'reboot' }, 'system:test');
    expect([(await outcome(notHeard.id))['status'], (await outcome(notHeard.id))['detail']]).toEqual(['rejected', 'device not heard on this campus LAN']);
    const offline = await stack.hub.sendCommand({ device: 'yz-s02-r1-board', action: 'reboot' }, 'system:test');
    expect(offline).toMatchObject({ status: 'rejected', detail: 'gateway not connected' });
    await expect(stack.hub.sendCommand({ device: b1.id, action: 'reboot', ttlMs: 10 }, 'system:test')).rejects.toMatchObject({ code: 'HUB_ERR_COMMAND_REFUSED' });
    expect((await outcome(offline.id))['status']).toBe('rejected');
    await expect(stack.hub.sendCommand({ device: 'no-such-device', action: 'reboot' }, 'system:test')).rejects.toMatchObject({ code: 'HUB_ERR_COMMAND_REFUSED' });
  });

  it('refuses commands when the gateway\'s clock is far behind the hub\'s (its TTL would run late)', async () => {
    hubClock.now += 1000;
    skewMs = -60_000;
    try {
      const before = received.get(b1.id)!.length;
      const { id } = await stack.hub.sendCommand({ device: b1.id, action: 'reboot', ttlMs: 120_000 }, 'system:test');
      const row = await outcome(id);
      expect([row['status'], row['detail']]).toEqual(['rejected', 'gateway clock 60000 ms behind the hub\'s']);
      expect(received.get(b1.id)!.length).toBe(before);
    } finally {
      skewMs = 0;
    }
  });

  it('takes the answer only from the command\'s device on its own session', async () => {
    hubClock.now += 1000;
    // `quiet` never answers; b1's session answers for it first, then quiet's own session does.
    const impostor = clients.get(b1.id)!;
    const real = clients.get(quiet.id)!;
    const seen = new Promise<string>((resolve) => real.once('message', (_t, p) => resolve((JSON.parse(p.toString()) as LanCommand).id)));
    const { id } = await stack.hub.sendCommand({ device: quiet.id, action: 'power_on', ttlMs: 5000 }, 'system:test');
    expect(await seen).toBe(id);
    await impostor.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id, device: quiet.id, status: 'failed', detail: 'not me' }), { qos: 1 });
    await real.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id, device: quiet.id, status: 'done' }), { qos: 1 });
    const row = await outcome(id);
    expect([row['status'], row['detail']]).toEqual(['done', '']);
    expect(gw.counters.get('command_results_refused', { reason: 'not_the_device' })).toBe(1);
  });

  it('records a command whose request is lost on the way as no_result, and refuses the late answer', async () => {
    // yz-s02's gateway, behind a WAN link whose return path stalls: connected, but nothing the
    // hub sends reaches it.
    const school = fleet.schools[1]!;
    const proxy = await startTcpProxy(stack.hub.mqttPort);
    const gw2 = createGateway(gatewayConfig(school, proxy.port), { log: silentLogger(), now: () => hubClock.now });
    await gw2.start();
    try {
      await waitFor('gw-yz-s02 takes commands', async () => stack.hub.isCommandReady('gw-yz-s02'));
      proxy.hold();
      hubClock.now += 1000;
      const { id, status } = await stack.hub.sendCommand({ device: 'yz-s02-r1-board', action: 'reboot', ttlMs: 1000 }, 'system:test');
      expect(status).toBe('sent');
      const row = await outcome(id); // after 1 s TTL + 2 s grace
      expect([row['status'], row['detail']]).toEqual(['no_result', 'no result from the gateway within the TTL']);
      expect(gw2.counters.get('commands_received')).toBe(0);
      // The held request now arrives. (This gateway's clock is the test's, which stands still, so
      // it does not see the TTL pass; it answers rejected, for a device it has not heard.) The
      // hub, no longer waiting, refuses that answer; the record stays no_result.
      const refusedBefore = stack.hub.counters.get('messages_rejected', { reason: 'bad_command_result' });
      proxy.release();
      await waitFor('the late answer refused', async () => stack.hub.counters.get('messages_rejected', { reason: 'bad_command_result' }) > refusedBefore);
      expect(gw2.counters.get('command_results', { status: 'rejected' })).toBe(1);
      expect((await outcome(id))['status']).toBe('no_result');
    } finally {
      proxy.release();
      await gw2.stop();
      await proxy.stop();
    }
  });

  it('does not let a device send commands on the LAN', async () => {
    const rogue = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: 'rogue', protocolVersion: 4, reconnectPeriod: 0 });
    const closed = new Promise<void>((r) => rogue.once('close', () => r()));
    const before = received.get(b1.id)!.length;
    rogue.publish(LAN_COMMAND_TOPIC, JSON.stringify({ v: 1, id: 'rogue-command-1', device: b1.id, action: 'power_off', expiresAt: Date.now() + 60_000 }), { qos: 1 });
    await closed; // the broker closes a client whose publish is not authorised
    expect(received.get(b1.id)!.length).toBe(before);
    expect(gw.counters.get('lan_publishes_denied', { topic: 'cmd' })).toBe(1);
    await rogue.endAsync(true).catch(() => {});
    // A malformed answer is counted and dropped; the device stays connected.
    const c = clients.get(b1.id)!;
    await c.publishAsync(LAN_COMMAND_RESULT_TOPIC, '{"v":1,"id":"x"', { qos: 1 });
    await c.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id: 'never-sent-1', device: b1.id, status: 'done' }), { qos: 1 });
    expect([gw.counters.get('command_results_refused', { reason: 'invalid' }), gw.counters.get('command_results_refused', { reason: 'unknown_or_late' }), c.connected]).toEqual([1, 1, true]);
  });

  it('lists them, newest first, in the school dashboard\'s "Recent commands" panel', async () => {
    const panel = loadDashboard('campus-school').panels.find((p) => p.title === 'Recent commands')!;
    const one = (v: string) => ({ value: v, multi: false, includeAll: false, options: [v] });
    const r = await runPanel(panel, { influxUrl: influx.url, db, range: { fromMs: hubClock.now - 3_600_000, toMs: hubClock.now + 1 }, vars: { district: one('渝中区'), school: one('yz-s01') }, maxDataPoints: 1000, datasourceInterval: '1m' });
    const rows = rowsOf(r.tables[0]!).map((x) => [x['device'], x['action'], x['status']]);
    // The seven commands to yz-s01 (yz-s02's are another school's), each with its final status.
    expect(rows).toEqual([
      [quiet.id, 'power_on', 'done'],
      [b1.id, 'reboot', 'rejected'],
      [unseen.id, 'reboot', 'rejected'],
      [b1.id, 'reboot', 'expired'],
      [quiet.id, 'standby', 'expired'],
      [av.id, 'power_off', 'failed'],
      [b1.id, 'reboot', 'done'],
    ]);
  });
});
