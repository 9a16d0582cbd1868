import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { CommandRequest } from '../../../protocol/src/commands.ts';
import { commandFilter, commandResultTopic } from '../../../protocol/src/topics.ts';
import { startApiRig, type ApiRig } from '../../../tests/harness/api.ts';
import { startInflux, type InfluxInstance } from '../../../tests/harness/influx.ts';
import { waitFor } from '../../../tests/harness/ports.ts';
import { gatewayPassword } from '../../../tests/harness/stack.ts';
import type { CommandRecord } from '../../src/registry.ts';
import { fleetSnapshot } from './fleetHelpers.ts';

/**
 * switch_input through POST /devices/{id}/commands, with the test playing yz-bashu's gateway:
 * the record, the request and the result carry the input; a missing input, an input on another
 * action and a kind that has no inputs are 400s that change nothing and are audited; the
 * OpenAPI document describes `input`.
 */
const board = 'yz-bashu-301-board';
const av = 'yz-bashu-301-av';
const uplink = 'yz-bashu-uplink';
const GW = { district: '渝中区', school: 'yz-bashu', gateway: 'gw-yz-bashu' };

describe('switch_input over the management API', () => {
  let influx: InfluxInstance;
  let rig: ApiRig;
  let gw: MqttClient;
  const requests: CommandRequest[] = [];

  beforeAll(async () => {
    influx = await startInflux();
    rig = await startApiRig(influx.url, 'api_switch_input');
    gw = await mqtt.connectAsync(`mqtt://127.0.0.1:${rig.hub.mqttPort}`, { clientId: GW.gateway, username: GW.gateway, password: gatewayPassword(GW.gateway), protocolVersion: 4, reconnectPeriod: 0 });
    gw.on('message', (_t, p) => requests.push(JSON.parse(p.toString()) as CommandRequest));
    await gw.subscribeAsync(commandFilter(GW), { qos: 1 });
    await waitFor('gw-yz-bashu takes commands', async () => rig.hub.isCommandReady(GW.gateway) || undefined);
  });
  afterAll(async () => {
    await gw?.endAsync(true).catch(() => {});
    await rig?.stop();
    await influx?.stop();
  });

  const post = (device: string, body: unknown, key?: string) => rig.call<CommandRecord & { code: string; message: string; details: { issues: unknown[] } }>('bashuIt', 'POST', `/devices/${device}/commands`, body, key ? { 'idempotency-key': key } : {});
  const auditOf = (device: string) => rig.registry.listAudit({ target: `device:${device}`, order: 'asc' }).items;

  it('sends switch_input hdmi2: the record and the request carry the input, the result must too, the audit names it', async () => {
    const r = await post(board, { action: 'switch_input', input: 'hdmi2' });
    expect(r.status).toBe(202);
    expect(r.body).toMatchObject({ device: board, action: 'switch_input', input: 'hdmi2', status: 'sent', actor: 'user:u-bashuIt', gateway: GW.gateway });
    const id = r.body.id;
    const q = await waitFor('the request at the gateway', async () => requests.find((x) => x.id === id));
    expect([q.action, q.input]).toEqual(['switch_input', 'hdmi2']);
    const result = (input: string) => JSON.stringify({ v: 1, id, device: board, action: 'switch_input', input, issuedAt: q.issuedAt, status: 'done', at: Date.now() });
    // Another input than the request's is not its result.
    await gw.publishAsync(commandResultTopic(GW), result('vga'), { qos: 1 }).catch(() => {});
    expect((await rig.call<CommandRecord>('bashuIt', 'GET', `/commands/${id}`)).body.status).toBe('sent');
    await gw.publishAsync(commandResultTopic(GW), result('hdmi2'), { qos: 1 });
    expect((await rig.call<CommandRecord>('bashuIt', 'GET', `/commands/${id}`)).body).toMatchObject({ id, input: 'hdmi2', status: 'done' });
    const list = await rig.call<{ items: CommandRecord[] }>('bashuIt', 'GET', `/commands?device=${board}`);
    expect(list.body.items.map((c) => [c.id, c.action, c.input])).toEqual([[id, 'switch_input', 'hdmi2']]);
    expect(auditOf(board).filter((e) => e.action === 'command.switch_input')).toMatchObject([{ actor: 'user:u-bashuIt', outcome: 'sent', detail: `id ${id}, input hdmi2`, school: 'yz-bashu', district: '渝中区' }]);
    // Classroom AV takes it too; another action's record has input null.
    const onAv = await post(av, { action: 'switch_input', input: 'vga' });
    expect([onAv.status, onAv.body.input]).toEqual([202, 'vga']);
    const reboot = await post(av, { action: 'reboot' });
    expect([reboot.status, reboot.body.input]).toEqual([202, null]);
    await waitFor('both AV requests at the gateway', async () => (requests.some((x) => x.id === reboot.body.id) && requests.some((x) => x.id === onAv.body.id)) || undefined);
    expect(requests.find((x) => x.id === onAv.body.id)?.input).toBe('vga');
    expect(requests.find((x) => x.id === reboot.body.id)).not.toHaveProperty('input');
  });

  it('400 for switch_input without an input, an input on reboot, and switch_input to a network node: nothing recorded or sent, each audited', async () => {
    const before = fleetSnapshot(rig.registry);
    const sent = requests.length;
    const missing = await post(board, { action: 'switch_input' });
    expect([missing.status, missing.body.code, missing.body.message]).toEqual([400, 'HUB_ERR_BAD_REQUEST', 'switch_input needs an input']);
    expect(missing.body.details.issues).toEqual([{ in: 'body', path: 'input', message: 'switch_input needs an input' }]);
    const extra = await post(board, { action: 'reboot', input: 'hdmi1' });
    expect([extra.status, extra.body.code, extra.body.message]).toEqual([400, 'HUB_ERR_BAD_REQUEST', 'reboot takes no input (only switch_input has one)']);
    const kind = await post(uplink, { action: 'switch_input', input: 'hdmi1' });
    expect([kind.status, kind.body.code, kind.body.message]).toEqual([400, 'HUB_ERR_BAD_REQUEST', `device ${uplink}: switch_input is not for a network_node (only interactive_board, classroom_av)`]);
    // An input that is none of the five: the body's own check (its issue names the field).
    const unknown = await post(board, { action: 'switch_input', input: 'hdmi9' });
    expect([unknown.status, unknown.body.code]).toEqual([400, 'HUB_ERR_BAD_REQUEST']);
    expect(unknown.body.message).toMatch(/^invalid body input: /);
    expect(fleetSnapshot(rig.registry)).toBe(before);
    expect(requests.length).toBe(sent);
    // The API's audit entries name the token used, after the refusal.
    const why = (e: { detail?: string | undefined }) => e.detail?.replace(/; via token [0-9a-f]+$/, '');
    expect(auditOf(board).filter((e) => e.outcome === 'invalid').map((e) => [e.action, why(e)])).toEqual([
      ['command.switch_input', 'switch_input needs an input'],
      ['command.reboot', 'reboot takes no input (only switch_input has one)'],
    ]);
    expect(auditOf(uplink).map((e) => [e.actor, e.action, e.outcome, why(e)])).toEqual([['user:u-bashuIt', 'command.switch_input', 'invalid', `device ${uplink}: switch_input is not for a network_node (only interactive_board, classroom_av)`]]);
  });

  it('an Idempotency-Key names the input: the same key with another input is a conflict', async () => {
    const first = await post(board, { action: 'switch_input', input: 'ops' }, 'si-1');
    const again = await post(board, { action: 'switch_input', input: 'ops' }, 'si-1');
    expect([first.status, again.status, again.body.id, again.body.input]).toEqual([202, 200, first.body.id, 'ops']);
    const other = await post(board, { action: 'switch_input', input: 'usb-c' }, 'si-1');
    expect([other.status, other.body.code]).toEqual([409, 'HUB_ERR_IDEMPOTENCY_MISMATCH']);
  });

  it('the OpenAPI document gives the body\'s input with its five values, and the record\'s', async () => {
    const doc = (await rig.call<Record<string, never>>(null, 'GET', '/openapi.json')).body as unknown as {
      paths: Record<string, Record<string, { requestBody: { content: Record<string, { schema: { properties: Record<string, { enum?: string[] }> } }> } }>>;
      components: { schemas: Record<string, { properties: Record<string, unknown>; required?: string[] }> };
    };
    const body = doc.paths['/devices/{device}/commands']!['post']!.requestBody.content['application/json']!.schema;
    expect(body.properties['input']!.enum).toEqual(['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga']);
    expect(body.properties['action']!.enum).toContain('switch_input');
    expect(doc.components.schemas['CommandRecord']!.properties['input']).toMatchObject({ type: ['string', 'null'], enum: ['hdmi1', 'hdmi2', 'ops', 'usb-c', 'vga', null] });
    expect(doc.components.schemas['CommandRecord']!.required).toContain('input');
  });
});
