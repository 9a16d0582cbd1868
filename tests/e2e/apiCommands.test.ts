import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createUserWithToken } from '../../broker/src/auth/bootstrap.ts';
import type { CommandRecord } from '../../broker/src/registry.ts';
import type { Fleet, SimDevice } from '../../device-sim/src/fleet.ts';
import { createSimulator, type Simulator } from '../../device-sim/src/simulator.ts';
import { DeviceStream } from '../../device-sim/src/telemetry.ts';
import { createGateway, type Gateway } from '../../gateway/src/gateway.ts';
import { LAN_COMMAND_RESULT_TOPIC, LAN_COMMAND_TOPIC, type LanCommand } from '../../protocol/src/commands.ts';
import { LAN_TELEMETRY_TOPIC } from '../../protocol/src/topics.ts';
import { silentLogger } from '../../runtime/src/logging.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayConfig, influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * Commands over HTTP (POST /api/v1/devices/{id}/commands) through the real hub, a real gateway
 * and devices on its campus LAN, as commands.test.ts does through the library: done, failed,
 * expired; an Idempotency-Key makes a retried request (again, or at the same time) reach the
 * device once; each command has one audit entry naming its caller, and GET /commands/{id}
 * follows it to its final status. A simulated board (device-sim) carries out switch_input: the
 * command's point in InfluxDB has its input, and the board's later points report it.
 */
const b1: SimDevice = { id: 'yz-s01-r1-board', kind: 'interactive_board', room: 'r1' };
const av: SimDevice = { id: 'yz-s01-r1-av', kind: 'classroom_av', room: 'r1' };
const simBoard: SimDevice = { id: 'yz-s01-r2-board', kind: 'interactive_board', room: 'r2' };
const SIM_SEED = 11;
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [{ id: 'yz-s01', name: '一中', district: '渝中区', gateway: 'gw-yz-s01', devices: [b1, av, simBoard] }],
};

describe('commands over the management API, through the real hub, gateway and LAN devices', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  let gw: Gateway;
  let sim: Simulator;
  let token: string;
  const db = 'e2e_api_commands';
  const hubClock = { now: Date.now() };
  let skewMs = 0;
  const clients = new Map<string, MqttClient>();
  const received = new Map<string, LanCommand[]>();

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: db, fleet, withGateways: false, now: () => hubClock.now });
    token = createUserWithToken(stack.registry, { id: 'it-s01', role: 'school_it', district: '渝中区', school: 'yz-s01' }, { ttlMs: 86_400_000 }, hubClock.now).token;
    gw = createGateway(gatewayConfig(fleet.schools[0]!, stack.hub.mqttPort), { log: silentLogger(), now: () => hubClock.now + skewMs });
    await gw.start();
    await waitFor('gw-yz-s01 takes commands', async () => stack.hub.isCommandReady('gw-yz-s01'));
    // b1 does what it is told; av fails. Both report once, so the gateway has heard them.
    for (const d of [b1, av]) {
      const c = await mqtt.connectAsync(`mqtt://127.0.0.1:${gw.lanPort}`, { clientId: d.id, protocolVersion: 4, reconnectPeriod: 0 });
      clients.set(d.id, c);
      received.set(d.id, []);
      await c.subscribeAsync(LAN_COMMAND_TOPIC, { qos: 1 });
      c.on('message', (_t, payload) => {
        const cmd = JSON.parse(payload.toString()) as LanCommand;
        if (cmd.device !== d.id) return;
        received.get(d.id)!.push(cmd);
        const result = d === b1 ? { status: 'done' } : { status: 'failed', detail: 'lamp cooling down' };
        void c.publishAsync(LAN_COMMAND_RESULT_TOPIC, JSON.stringify({ v: 1, id: cmd.id, device: d.id, ...result }), { qos: 1 });
      });
      const sample =
        d.kind === 'classroom_av'
          ? { device: d.id, kind: d.kind, seq: 0, ts: hubClock.now, data: { power: 'on', lampHours: 10, temperatureC: 40, inSession: false } }
          : { device: d.id, kind: d.kind, seq: 0, ts: hubClock.now, data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v1' } };
      await c.publishAsync(LAN_TELEMETRY_TOPIC, JSON.stringify(sample), { qos: 1 });
    }
    // The simulated board alone, a sample every 300 ms (30 s × 0.01), until stopped.
    const simFleet: Fleet = { ...fleet, schools: [{ ...fleet.schools[0]!, devices: [simBoard] }] };
    sim = createSimulator(simFleet, () => `mqtt://127.0.0.1:${gw.lanPort}`, { seed: SIM_SEED, cadenceScale: 0.01, samplesPerDevice: 0, startSpreadMs: 0 }, { log: silentLogger() });
    await sim.start();
  });
  afterAll(async () => {
    await sim?.stop();
    for (const c of clients.values()) await c.endAsync(true).catch(() => {});
    await gw?.stop();
    await stack?.stop();
    await influx?.stop();
  });

  async function call<T>(method: string, path: string, body?: unknown, headers: Record<string, string> = {}): Promise<{ status: number; body: T }> {
    const res = await fetch(`http://127.0.0.1:${stack.hub.httpPort}/api/v1${path}`, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }), ...headers },
      ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    });
    return { status: res.status, body: (await res.json()) as T };
  }
  const send = (device: string, body: { action: string; input?: string; ttlMs?: number }, key?: string) => call<CommandRecord>('POST', `/devices/${device}/commands`, body, key ? { 'idempotency-key': key } : {});
  /** GET /commands/{id} once it has its final status. */
  const final = (id: string) =>
    waitFor(`command ${id} final`, async () => {
      const r = await call<CommandRecord>('GET', `/commands/${id}`);
      return r.body.status !== 'sent' ? r.body : undefined;
    }, { timeoutMs: 10_000, intervalMs: 50 });
  /** The audit entries of one command (its id is in their detail). */
  const auditOf = (id: string) => stack.registry.listAudit({ actor: 'user:it-s01', order: 'asc' }).items.filter((e) => e.detail?.startsWith(`id ${id}`));

  it('done and failed: the device\'s answer is the record\'s final status', async () => {
    hubClock.now += 1000;
    const r = await send(b1.id, { action: 'reboot', ttlMs: 60_000 });
    expect([r.status, r.body.status, r.body.actor, r.body.school, r.body.gateway]).toEqual([202, 'sent', 'user:it-s01', 'yz-s01', 'gw-yz-s01']);
    expect(await final(r.body.id)).toMatchObject({ id: r.body.id, device: b1.id, action: 'reboot', status: 'done', detail: null, issuedAt: hubClock.now });
    expect(received.get(b1.id)!.map((c) => c.id)).toEqual([r.body.id]);
    hubClock.now += 1000;
    const f = await send(av.id, { action: 'power_off' });
    expect(await final(f.body.id)).toMatchObject({ status: 'failed', detail: 'lamp cooling down', ttlMs: 60_000 });
    for (const c of [r.body, f.body]) expect(auditOf(c.id)).toMatchObject([{ actor: 'user:it-s01', action: `command.${c.action}`, target: `device:${c.device}`, outcome: 'sent', school: 'yz-s01', district: '渝中区' }]);
  });

  it('expired: a request that arrives after its TTL never reaches the device', async () => {
    hubClock.now += 1000;
    skewMs = 120_000;
    try {
      const before = received.get(b1.id)!.length;
      const r = await send(b1.id, { action: 'reboot', ttlMs: 60_000 });
      expect(await final(r.body.id)).toMatchObject({ status: 'expired', detail: 'arrived after its TTL; not passed to the device' });
      expect(received.get(b1.id)!.length).toBe(before);
      expect(auditOf(r.body.id)).toHaveLength(1);
    } finally {
      skewMs = 0;
    }
  });

  it('an Idempotency-Key retried, one after the other and at the same time, commands the device once', async () => {
    hubClock.now += 1000;
    const before = received.get(b1.id)!.length;
    const first = await send(b1.id, { action: 'reboot' }, 'retry-1');
    const again = await send(b1.id, { action: 'reboot' }, 'retry-1');
    expect([first.status, again.status, again.body.id]).toEqual([202, 200, first.body.id]);
    hubClock.now += 1000;
    const both = await Promise.all([send(b1.id, { action: 'reboot' }, 'retry-2'), send(b1.id, { action: 'reboot' }, 'retry-2')]);
    expect(both.map((r) => r.status).sort()).toEqual([200, 202]);
    expect(both[0]!.body.id).toBe(both[1]!.body.id);
    expect(both[0]!.body.id).not.toBe(first.body.id);
    for (const id of [first.body.id, both[0]!.body.id]) expect((await final(id)).status).toBe('done');
    // Once each: two keys, two LAN messages.
    expect(received.get(b1.id)!.slice(before).map((c) => c.id)).toEqual([first.body.id, both[0]!.body.id]);
    // After the outcome, the retry answers the final record, still without sending.
    const late = await send(b1.id, { action: 'reboot' }, 'retry-1');
    expect([late.status, late.body.id, late.body.status]).toEqual([200, first.body.id, 'done']);
    // The same key for another request: a conflict, nothing sent.
    const other = await send(b1.id, { action: 'power_off' }, 'retry-1');
    expect([other.status, (other.body as unknown as { code: string }).code]).toEqual([409, 'HUB_ERR_IDEMPOTENCY_MISMATCH']);
    expect(received.get(b1.id)!.length).toBe(before + 2);
    for (const id of [first.body.id, both[0]!.body.id]) {
      expect(auditOf(id)).toMatchObject([{ actor: 'user:it-s01', action: 'command.reboot', outcome: 'sent' }]);
      expect(stack.registry.getCommand(id)).toMatchObject({ actor: 'user:it-s01', idempotencyKey: id === first.body.id ? 'retry-1' : 'retry-2' });
    }
    // The school's list, newest first.
    const list = await call<{ items: CommandRecord[] }>('GET', '/commands?school=yz-s01');
    expect(list.body.items.slice(0, 2).map((c) => c.id)).toEqual([both[0]!.body.id, first.body.id]);
  });

  it('switch_input hdmi2 to a simulated board: done, its command point has input hdmi2, and its later points report active_input hdmi2', async () => {
    /** The board's points in InfluxDB: [time, seq, active_input]. */
    const boardPoints = async () => ((await influxQuery(influx.url, db, `SELECT seq, active_input FROM interactive_board WHERE device = '${simBoard.id}'`))[0]?.values ?? []) as Array<[number, number, string]>;
    await waitFor('the simulated board heard', async () => ((await boardPoints()).length > 0 ? true : undefined), { timeoutMs: 15_000, intervalMs: 100 });
    hubClock.now += 1000;
    const r = await send(simBoard.id, { action: 'switch_input', input: 'hdmi2' });
    expect([r.status, r.body.action, r.body.input, r.body.status]).toEqual([202, 'switch_input', 'hdmi2', 'sent']);
    expect(await final(r.body.id)).toMatchObject({ id: r.body.id, device: simBoard.id, action: 'switch_input', input: 'hdmi2', status: 'done', detail: null });
    // Done at the hub means the board had switched: every sample made after now follows it.
    const after = Date.now();
    const point = await waitFor('the command point done', async () => {
      const s = (await influxQuery(influx.url, db, `SELECT status, "input", action FROM command WHERE "id" = '${r.body.id}'`))[0];
      return s?.values[0]?.[1] === 'done' ? s.values : undefined;
    }, { timeoutMs: 10_000, intervalMs: 50 });
    expect(point.map((v) => v.slice(1))).toEqual([['done', 'hdmi2', 'switch_input']]);
    const later = await waitFor('6 board points after the switch', async () => {
      const p = (await boardPoints()).filter(([t]) => t > after);
      return p.length >= 6 ? p.slice(0, 6) : undefined;
    }, { timeoutMs: 15_000, intervalMs: 100 });
    expect(later.map(([, , input]) => input)).toEqual(['hdmi2', 'hdmi2', 'hdmi2', 'hdmi2', 'hdmi2', 'hdmi2']);
    // Without the switch those samples would not all say hdmi2: the same stream replayed alone.
    const replay = new DeviceStream(simBoard, SIM_SEED);
    const drawn = new Map<number, string>();
    for (let seq = 0; seq <= later.at(-1)![1]; seq++) {
      const s = replay.next(seq + 1);
      if (s.kind === 'interactive_board') drawn.set(s.seq, s.data.activeInput);
    }
    expect(later.map(([, seq]) => drawn.get(seq)).some((x) => x !== 'hdmi2')).toBe(true);
    expect(auditOf(r.body.id)).toMatchObject([{ actor: 'user:it-s01', action: 'command.switch_input', outcome: 'sent', detail: `id ${r.body.id}, input hdmi2` }]);
  });
});
