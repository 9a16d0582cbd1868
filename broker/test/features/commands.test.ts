import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRequest } from '../../../protocol/src/commands.ts';
import { commandFilter, commandResultTopic, type GatewayAddress } from '../../../protocol/src/topics.ts';
import type { Fleet } from '../../../device-sim/src/fleet.ts';
import { createHub, type Hub } from '../../src/hub.ts';
import { hashPassword } from '../../src/passwords.ts';
import { provisionFleet } from '../../src/provision.ts';
import { Registry, type CommandRecord } from '../../src/registry.ts';
import type { CommandOutcome } from '../../src/eventBus.ts';
import { silentLogger } from '../../../runtime/src/logging.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { freePort, waitFor } from '../../../tests/harness/ports.ts';
import { gatewayPassword, hubConfig, influxQuery, TEST_SCRYPT } from '../../../tests/harness/stack.ts';

/**
 * Commands on a real hub, the test playing the gateway with an MQTT client: which gateway of a
 * school gets a command, that a result is recorded with InfluxDB down, and what becomes of
 * commands still waiting when the hub stops or starts.
 */
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [
    {
      id: 'yz-c01',
      name: '测试小学',
      district: '渝中区',
      gateway: 'gw-yz-c01',
      devices: [
        { id: 'yz-c01-101-board', kind: 'interactive_board', room: '101' },
        { id: 'yz-c01-101-vr', kind: 'vr_kit', room: '101' },
      ],
    },
  ],
};
const DEVICE = 'yz-c01-101-board';
const VR = 'yz-c01-101-vr';
const addr = (gateway: string): GatewayAddress => ({ district: '渝中区', school: 'yz-c01', gateway });
const ACTOR = 'user:it-test';

/** A gateway played by an MQTT client: subscribed to its commands, keeping what it receives. */
async function playGateway(hub: Hub, gateway: string): Promise<{ client: MqttClient; requests: CommandRequest[] }> {
  const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, { clientId: gateway, username: gateway, password: gatewayPassword(gateway), protocolVersion: 4, reconnectPeriod: 0 });
  const requests: CommandRequest[] = [];
  client.on('message', (_t, p) => requests.push(JSON.parse(p.toString()) as CommandRequest));
  await client.subscribeAsync(commandFilter(addr(gateway)), { qos: 1 });
  await waitFor(`${gateway} takes commands`, async () => hub.isCommandReady(gateway) || undefined);
  return { client, requests };
}

describe('commands on a real hub', () => {
  let influx: InfluxInstance;
  const clients: MqttClient[] = [];
  const hubs: Hub[] = [];
  const registries: Registry[] = [];

  async function hubWith(influxUrl: string, registry?: Registry): Promise<{ hub: Hub; registry: Registry }> {
    let reg = registry;
    if (!reg) {
      reg = new Registry(':memory:');
      registries.push(reg);
      await provisionFleet(reg, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
    }
    // Retries stop at once when the hub stops (the writer gives up on stop).
    const hub = createHub(hubConfig(influxUrl, 'hub_commands'), { log: silentLogger(), registry: reg });
    hubs.push(hub);
    await hub.start();
    return { hub, registry: reg };
  }

  beforeAll(async () => {
    influx = await startInflux();
  });
  afterEach(async () => {
    for (const c of clients.splice(0)) await c.endAsync(true).catch(() => {});
    for (const h of hubs.splice(0)) await h.stop();
  });
  afterAll(async () => {
    for (const r of registries) r.close();
    await influx?.stop();
  });

  it('sends a command to the school\'s connected gateway, not to the first by id', async () => {
    const { hub, registry } = await hubWith(influx.url);
    // gw-yz-c00-spare sorts first and is active, but not connected.
    registry.setGateway('gw-yz-c00-spare', 'yz-c01', await hashPassword('unused', TEST_SCRYPT), Date.now());
    const gw = await playGateway(hub, 'gw-yz-c01');
    clients.push(gw.client);
    const r = await hub.sendCommand({ device: DEVICE, action: 'reboot' }, ACTOR);
    expect(r).toMatchObject({ gateway: 'gw-yz-c01', status: 'sent' });
    await expect.poll(() => gw.requests.map((q) => q.id)).toEqual([r.id]);
  });

  it('records a result and announces it while InfluxDB is down; the result\'s PUBACK waits for its point', async () => {
    const { hub, registry } = await hubWith(`http://127.0.0.1:${await freePort()}`);
    const outcomes: CommandOutcome[] = [];
    const owner = {};
    hub.bus.onCommandOutcome(owner, (o) => void outcomes.push(o));
    const gw = await playGateway(hub, 'gw-yz-c01');
    clients.push(gw.client);
    const r = await hub.sendCommand({ device: DEVICE, action: 'power_off' }, ACTOR);
    await expect.poll(() => gw.requests.length).toBe(1);
    const q = gw.requests[0]!;
    let acked = false;
    void gw.client
      .publishAsync(commandResultTopic(addr('gw-yz-c01')), JSON.stringify({ v: 1, id: q.id, device: q.device, action: q.action, issuedAt: q.issuedAt, status: 'done', at: Date.now() }), { qos: 1 })
      .then(() => (acked = true), () => {});
    await expect.poll(() => registry.getCommand(r.id)?.status).toBe('done');
    expect(outcomes.filter((o) => o.id === r.id).map((o) => o.status)).toContain('done');
    expect(acked).toBe(false);
    hub.bus.removeListeners(owner);
  });

  it('marks a command still waiting when the hub stops no_result, in the registry', async () => {
    const { hub, registry } = await hubWith(influx.url);
    const gw = await playGateway(hub, 'gw-yz-c01');
    clients.push(gw.client);
    const r = await hub.sendCommand({ device: DEVICE, action: 'standby', ttlMs: 600_000 }, ACTOR);
    await expect.poll(() => gw.requests.length).toBe(1);
    expect(registry.getCommand(r.id)?.status).toBe('sent');
    await hub.stop();
    expect(registry.getCommand(r.id)).toMatchObject({ status: 'no_result', detail: 'hub stopped before a result came' });
    // Its point too: queued before the writer stopped, which flushed it.
    const points = await influxQuery(influx.url, 'hub_commands', `SELECT status, detail FROM command WHERE "id" = '${r.id}'`);
    expect(points.flatMap((p) => p.values.map((v) => [v[1], v[2]]))).toEqual([['no_result', 'hub stopped before a result came']]);
  });

  it('leaves an outcome another hub on the same registry recorded: its stop does not overwrite it', async () => {
    const { hub, registry } = await hubWith(influx.url);
    const gw = await playGateway(hub, 'gw-yz-c01');
    clients.push(gw.client);
    const r = await hub.sendCommand({ device: DEVICE, action: 'reboot', ttlMs: 600_000 }, ACTOR);
    // The other node took the gateway's result meanwhile.
    expect(registry.updateCommand(r.id, 'done', 'rebooted', Date.now())).toBe(true);
    await hub.stop();
    expect(registry.getCommand(r.id)).toMatchObject({ status: 'done', detail: 'rebooted' });
  });

  it('refuses a result from a gateway of the same id re-created in another school', async () => {
    const registry = new Registry(':memory:');
    registries.push(registry);
    await provisionFleet(registry, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
    registry.createSchool({ id: 'yz-c02', district: '渝中区', nameZh: '另一小学', nameEn: 'Another Primary', timetable: null, uplinkCapacityBps: null }, Date.now());
    const issuedAt = Date.now() - 1_000;
    const id = 'c'.repeat(24);
    registry.insertCommand({ id, device: DEVICE, district: '渝中区', school: 'yz-c01', gateway: 'gw-yz-c01', action: 'reboot', input: null, ttlMs: 600_000, actor: ACTOR, idempotencyKey: null, requestHash: null, status: 'sent', detail: null, issuedAt, updatedAt: issuedAt });
    // While the hub was down, gw-yz-c01 was deleted and its id given to yz-c02's new gateway.
    expect(registry.deleteGateway('gw-yz-c01')).toBe(true);
    registry.createGateway('gw-yz-c01', 'yz-c02', await hashPassword(gatewayPassword('gw-yz-c01'), TEST_SCRYPT), Date.now());
    const { hub } = await hubWith(influx.url, registry);
    const other: GatewayAddress = { district: '渝中区', school: 'yz-c02', gateway: 'gw-yz-c01' };
    const client = await mqtt.connectAsync(`mqtt://127.0.0.1:${hub.mqttPort}`, { clientId: 'gw-yz-c01', username: 'gw-yz-c01', password: gatewayPassword('gw-yz-c01'), protocolVersion: 4, reconnectPeriod: 0 });
    clients.push(client);
    const refusedBefore = (await hub.counters.registry.getSingleMetricAsString('hub_messages_rejected_total')).match(/reason="bad_command_result"} (\d+)/)?.[1] ?? '0';
    await client.publishAsync(commandResultTopic(other), JSON.stringify({ v: 1, id, device: DEVICE, action: 'reboot', issuedAt, status: 'done', at: Date.now() }), { qos: 1 }).catch(() => {});
    await expect.poll(async () => (await hub.counters.registry.getSingleMetricAsString('hub_messages_rejected_total')).match(/reason="bad_command_result"} (\d+)/)?.[1]).toBe(String(Number(refusedBefore) + 1));
    expect(registry.getCommand(id)?.status).toBe('sent');
  });

  it('on start, marks a command left `sent` past its TTL and grace no_result; one still in time waits for its result', async () => {
    const registry = new Registry(':memory:');
    registries.push(registry);
    await provisionFleet(registry, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
    const now = Date.now();
    const left = (id: string, issuedAt: number, ttlMs: number): CommandRecord => ({
      id, device: DEVICE, district: '渝中区', school: 'yz-c01', gateway: 'gw-yz-c01', action: 'reboot', input: null, ttlMs, actor: ACTOR,
      idempotencyKey: null, requestHash: null, status: 'sent', detail: null, issuedAt, updatedAt: issuedAt,
    });
    // 60 s TTL + 2 s grace: 62 s after issue the result can no longer come.
    registry.insertCommand(left('a'.repeat(24), now - 62_001, 60_000));
    registry.insertCommand(left('b'.repeat(24), now - 1_000, 600_000));
    const { hub } = await hubWith(influx.url, registry);
    expect(registry.getCommand('a'.repeat(24))).toMatchObject({ status: 'no_result', detail: 'hub restarted' });
    expect(registry.getCommand('b'.repeat(24))?.status).toBe('sent');
    // The one still in time takes its result from its gateway.
    const gw = await playGateway(hub, 'gw-yz-c01');
    clients.push(gw.client);
    await gw.client.publishAsync(commandResultTopic(addr('gw-yz-c01')), JSON.stringify({ v: 1, id: 'b'.repeat(24), device: DEVICE, action: 'reboot', issuedAt: now - 1_000, status: 'done', at: Date.now() }), { qos: 1 });
    expect(registry.getCommand('b'.repeat(24))?.status).toBe('done');
  });
});

describe('switch_input on a real hub', () => {
  let influx: InfluxInstance;
  let registry: Registry;
  let hub: Hub;
  let gw: { client: MqttClient; requests: CommandRequest[] };
  const db = 'hub_switch_input';

  beforeAll(async () => {
    influx = await startInflux();
    registry = new Registry(':memory:');
    await provisionFleet(registry, fleet, gatewayPassword, 'system:test', TEST_SCRYPT);
    hub = createHub(hubConfig(influx.url, db), { log: silentLogger(), registry });
    await hub.start();
    gw = await playGateway(hub, 'gw-yz-c01');
  });
  afterAll(async () => {
    await gw?.client.endAsync(true).catch(() => {});
    await hub?.stop();
    registry?.close();
    await influx?.stop();
  });

  const auditOf = (device: string) => registry.listAudit({ target: `device:${device}`, order: 'asc' }).items;
  const rejected = async () => Number((await hub.counters.registry.getSingleMetricAsString('hub_messages_rejected_total')).match(/reason="bad_command_result"} (\d+)/)?.[1] ?? '0');
  const answer = (q: CommandRequest, patch: Record<string, unknown> = {}) =>
    gw.client.publishAsync(commandResultTopic(addr('gw-yz-c01')), JSON.stringify({ v: 1, id: q.id, device: q.device, action: q.action, ...(q.input ? { input: q.input } : {}), issuedAt: q.issuedAt, status: 'done', at: Date.now(), ...patch }), { qos: 1 });

  it('sends the input in the request, records it, names it in the audit, and writes it on every point of the command', async () => {
    const r = await hub.sendCommand({ device: DEVICE, action: 'switch_input', input: 'hdmi2' }, ACTOR);
    expect(r).toMatchObject({ device: DEVICE, action: 'switch_input', input: 'hdmi2', status: 'sent' });
    await expect.poll(() => gw.requests.filter((q) => q.id === r.id).length).toBe(1);
    const q = gw.requests.find((x) => x.id === r.id)!;
    expect([q.action, q.input, q.device]).toEqual(['switch_input', 'hdmi2', DEVICE]);
    expect(registry.getCommand(r.id)).toMatchObject({ input: 'hdmi2', status: 'sent' });
    expect(auditOf(DEVICE).filter((e) => e.detail?.startsWith(`id ${r.id}`))).toMatchObject([{ actor: ACTOR, action: 'command.switch_input', outcome: 'sent', detail: `id ${r.id}, input hdmi2` }]);
    await answer(q);
    expect(registry.getCommand(r.id)).toMatchObject({ input: 'hdmi2', status: 'done' });
    // The `done` rewrite keeps the input: the point holds both.
    await expect.poll(async () => (await influxQuery(influx.url, db, `SELECT status, "input" FROM command WHERE "id" = '${r.id}'`)).flatMap((p) => p.values.map((v) => [v[1], v[2]]))).toEqual([['done', 'hdmi2']]);
    // Another action's point has no input.
    const other = await hub.sendCommand({ device: DEVICE, action: 'reboot' }, ACTOR);
    expect(other.input).toBeNull();
    await expect.poll(async () => (await influxQuery(influx.url, db, `SELECT status, "input" FROM command WHERE "id" = '${other.id}'`)).flatMap((p) => p.values.map((v) => [v[1], v[2]]))).toEqual([['sent', null]]);
    expect(gw.requests.find((x) => x.id === other.id)).not.toHaveProperty('input');
  });

  it('refuses a result whose input is not the request\'s, or has none: counted, the command still waits', async () => {
    const r = await hub.sendCommand({ device: DEVICE, action: 'switch_input', input: 'ops', ttlMs: 600_000 }, ACTOR);
    await expect.poll(() => gw.requests.some((x) => x.id === r.id)).toBe(true);
    const q = gw.requests.find((x) => x.id === r.id)!;
    const before = await rejected();
    await answer(q, { input: 'vga' });
    await expect.poll(rejected).toBe(before + 1);
    // Without an input: the result schema refuses switch_input alone.
    const { input: _dropped, ...bare } = q;
    await answer(bare as CommandRequest);
    await expect.poll(rejected).toBe(before + 2);
    expect(registry.getCommand(r.id)?.status).toBe('sent');
    await answer(q);
    expect(registry.getCommand(r.id)?.status).toBe('done');
  });

  it('refuses switch_input for a VR kit, without an input, and an input on reboot: nothing sent or recorded, each refusal audited', async () => {
    const sentBefore = gw.requests.length;
    const commandsBefore = registry.listCommands({ limit: 1000 }).items.length;
    await expect(hub.sendCommand({ device: VR, action: 'switch_input', input: 'hdmi1' }, ACTOR)).rejects.toMatchObject({ code: 'HUB_ERR_COMMAND_REFUSED', message: `device ${VR}: switch_input is not for a vr_kit (only interactive_board, classroom_av)` });
    await expect(hub.sendCommand({ device: DEVICE, action: 'switch_input' }, ACTOR)).rejects.toMatchObject({ code: 'HUB_ERR_COMMAND_REFUSED', message: 'switch_input needs an input' });
    await expect(hub.sendCommand({ device: DEVICE, action: 'reboot', input: 'hdmi1' }, ACTOR)).rejects.toMatchObject({ code: 'HUB_ERR_COMMAND_REFUSED', message: 'reboot takes no input (only switch_input has one)' });
    await expect(hub.sendCommand({ device: DEVICE, action: 'switch_input', input: 'hdmi9' as 'hdmi1' }, ACTOR)).rejects.toMatchObject({ code: 'HUB_ERR_COMMAND_REFUSED', message: 'unknown input hdmi9 (one of hdmi1, hdmi2, ops, usb-c, vga)' });
    expect(auditOf(VR)).toMatchObject([{ actor: ACTOR, action: 'command.switch_input', outcome: 'refused', detail: `device ${VR}: switch_input is not for a vr_kit (only interactive_board, classroom_av)`, school: 'yz-c01', district: '渝中区' }]);
    expect(auditOf(DEVICE).filter((e) => e.outcome === 'refused').map((e) => [e.action, e.detail])).toEqual([
      ['command.switch_input', 'switch_input needs an input'],
      ['command.reboot', 'reboot takes no input (only switch_input has one)'],
      ['command.switch_input', 'unknown input hdmi9 (one of hdmi1, hdmi2, ops, usb-c, vga)'],
    ]);
    // A VR kit still takes the actions every kind has.
    const reboot = await hub.sendCommand({ device: VR, action: 'reboot' }, ACTOR);
    await expect.poll(() => gw.requests.length).toBe(sentBefore + 1);
    expect(gw.requests.at(-1)!.id).toBe(reboot.id);
    expect(registry.listCommands({ limit: 1000 }).items.length).toBe(commandsBefore + 1);
  });
});
