import { connect as netConnect, type Socket } from 'node:net';
import mqtt from 'mqtt';
import mqttPacket, { type Packet } from 'mqtt-packet';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Fleet } from '../../device-sim/src/fleet.ts';
import { commandFilter, stateTopic, telemetryTopic, type GatewayAddress } from '../../protocol/src/topics.ts';
import { startInflux, type InfluxInstance } from '../harness/influx.ts';
import { waitFor } from '../harness/ports.ts';
import { gatewayPassword, influxQuery, startStack, type Stack } from '../harness/stack.ts';

/**
 * MQTT 3.1.1 as the hub speaks it to a gateway, checked on the wire against the running hub
 * (real sockets, mqtt-packet's own encoder and parser): session present, QoS 2 flows,
 * keep-alive expiry with the will, and redelivery of an unacknowledged QoS 1 message on a
 * resumed session. What the hub refuses by policy (wildcards, other gateways' topics, an empty
 * client id with a persistent session) is in policy and session tests.
 */
const fleet: Fleet = {
  districts: [{ id: '渝中区', nameEn: 'Yuzhong', code: 'yz' }],
  schools: [
    { id: 'yz-q01', name: '一校', district: '渝中区', gateway: 'gw-yz-q01', devices: [{ id: 'yz-q01-b1', kind: 'interactive_board', room: '101' }] },
    { id: 'yz-q02', name: '二校', district: '渝中区', gateway: 'gw-yz-q02', devices: [{ id: 'yz-q02-b1', kind: 'interactive_board', room: '101' }] },
    { id: 'yz-q03', name: '三校', district: '渝中区', gateway: 'gw-yz-q03', devices: [{ id: 'yz-q03-b1', kind: 'interactive_board', room: '101' }] },
  ],
};
const addr = (n: string): GatewayAddress => ({ district: '渝中区', school: `yz-${n}`, gateway: `gw-yz-${n}` });

/** A raw MQTT connection: packets written with mqtt-packet, packets read back in order. */
class Wire {
  readonly packets: Packet[] = [];
  closed = false;
  readonly #sock: Socket;
  constructor(port: number) {
    this.#sock = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    parser.on('packet', (p) => this.packets.push(p));
    this.#sock.on('data', (b) => parser.parse(b));
    this.#sock.on('close', () => (this.closed = true));
    this.#sock.on('error', () => {});
  }
  send(p: Packet): void {
    this.#sock.write(mqttPacket.generate(p));
  }
  async next(cmd: Packet['cmd'], from = 0): Promise<Packet & Record<string, unknown>> {
    return (await waitFor(`a ${cmd}`, async () => this.packets.slice(from).find((p) => p.cmd === cmd), { timeoutMs: 15_000, intervalMs: 20 })) as Packet & Record<string, unknown>;
  }
  destroy(): void {
    this.#sock.destroy();
  }
}

const connectPacket = (g: GatewayAddress, o: { clean: boolean; keepalive?: number; will?: boolean }): Packet =>
  ({
    cmd: 'connect',
    protocolId: 'MQTT',
    protocolVersion: 4,
    clientId: g.gateway,
    username: g.gateway,
    password: Buffer.from(gatewayPassword(g.gateway)),
    clean: o.clean,
    keepalive: o.keepalive ?? 30,
    ...(o.will ? { will: { topic: stateTopic(g), payload: Buffer.from(JSON.stringify({ state: 'offline', bdSeq: 1, ts: Date.now() })), qos: 1, retain: true } } : {}),
  }) as Packet;

describe('MQTT 3.1.1 conformance of the hub, on the wire', () => {
  let influx: InfluxInstance;
  let stack: Stack;
  const wires: Wire[] = [];
  const wire = (): Wire => {
    const w = new Wire(stack.hub.mqttPort);
    wires.push(w);
    return w;
  };

  beforeAll(async () => {
    influx = await startInflux();
    stack = await startStack({ influxUrl: influx.url, database: 'e2e_conformance', fleet, withGateways: false });
  });
  afterAll(async () => {
    for (const w of wires) w.destroy();
    await stack?.stop();
    await influx?.stop();
  });

  it('session present: 0 on a first persistent session and on any clean one, 1 when a persistent session is resumed [MQTT-3.2.2-1, -2]', async () => {
    const g = addr('q01');
    const flags: boolean[] = [];
    for (const clean of [false, false, true, false]) {
      const w = wire();
      w.send(connectPacket(g, { clean }));
      const ack = await w.next('connack');
      expect(ack['returnCode']).toBe(0);
      flags.push(ack['sessionPresent'] as boolean);
      // Session state to keep: its command subscription (a session without any is not kept).
      w.send({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: commandFilter(g), qos: 1 }] } as Packet);
      await w.next('suback');
      w.send({ cmd: 'disconnect' } as Packet);
      await waitFor('the hub to close it', async () => w.closed || undefined, { timeoutMs: 10_000 });
    }
    // The clean session discards the stored one: the persistent session after it is new again.
    expect(flags).toEqual([false, true, false, false]);
  });

  it('QoS 2: PUBLISH → PUBREC, PUBREL → PUBCOMP, the batch written once [MQTT-4.3.3-1, -2]', async () => {
    const g = addr('q02');
    const w = wire();
    w.send(connectPacket(g, { clean: true }));
    expect((await w.next('connack'))['returnCode']).toBe(0);
    const ts = Date.now() - 1000;
    const batch = { v: 1, gateway: g.gateway, batch: 'q2-1', records: [{ device: 'yz-q02-b1', seq: 1, ts, rx: ts + 5, kind: 'interactive_board', data: { power: 'on', touchOk: true, activeInput: 'hdmi1', firmware: 'v1' } }] };
    w.send({ cmd: 'publish', topic: telemetryTopic(g), payload: Buffer.from(JSON.stringify(batch)), qos: 2, messageId: 7, retain: false, dup: false } as Packet);
    const rec = await w.next('pubrec');
    expect(rec['messageId']).toBe(7);
    w.send({ cmd: 'pubrel', messageId: 7 } as Packet);
    expect((await w.next('pubcomp'))['messageId']).toBe(7);
    const rows = await waitFor('the point', async () => {
      const s = await influxQuery(influx.url, 'e2e_conformance', "SELECT count(seq) FROM interactive_board WHERE device = 'yz-q02-b1'");
      return s.length > 0 ? s : undefined;
    });
    expect(rows[0]!.values[0]![1]).toBe(1);
  });

  it('keep-alive: silent past 1.5 × its keep-alive, the connection is closed and its will published [MQTT-3.1.2-24, -8]', async () => {
    const g = addr('q03');
    const watcher = await mqtt.connectAsync(`mqtt://127.0.0.1:${stack.hub.mqttPort}`, { clientId: g.gateway, username: g.gateway, password: gatewayPassword(g.gateway), protocolVersion: 4, clean: true, reconnectPeriod: 0 });
    await watcher.endAsync();
    const w = wire();
    w.send(connectPacket(g, { clean: true, keepalive: 1, will: true }));
    expect((await w.next('connack'))['returnCode']).toBe(0);
    w.send({ cmd: 'publish', topic: stateTopic(g), payload: Buffer.from(JSON.stringify({ state: 'online', bdSeq: 1, ts: Date.now() })), qos: 1, messageId: 1, retain: true, dup: false } as Packet);
    await w.next('puback');
    await expect.poll(() => stack.hub.presence.list().find((p) => p.gateway === g.gateway)?.state, { timeout: 10_000 }).toBe('online');
    // Silence: no PINGREQ. The hub closes the connection and the will marks the gateway offline.
    await waitFor('the hub to close the silent connection', async () => w.closed || undefined, { timeoutMs: 10_000 });
    await expect.poll(() => stack.hub.presence.list().find((p) => p.gateway === g.gateway)?.state, { timeout: 10_000 }).toBe('offline');
  });

  it('redelivery: a QoS 1 message not acknowledged is sent again when the persistent session resumes [MQTT-4.4.0-1]', async () => {
    const g = addr('q01');
    const w = wire();
    w.send(connectPacket(g, { clean: false }));
    expect((await w.next('connack'))['returnCode']).toBe(0);
    w.send({ cmd: 'subscribe', messageId: 3, subscriptions: [{ topic: commandFilter(g), qos: 1 }] } as Packet);
    expect((await w.next('suback'))['granted']).toEqual([1]);
    await expect.poll(() => stack.hub.isCommandReady(g.gateway)).toBe(true);
    const sent = await stack.hub.sendCommand({ device: 'yz-q01-b1', action: 'reboot', ttlMs: 60_000 }, 'system:test');
    const first = await w.next('publish');
    expect(JSON.parse(String(first['payload']))).toMatchObject({ id: sent.id });
    // No PUBACK: the connection goes, the session stays.
    w.destroy();
    const again = wire();
    again.send(connectPacket(g, { clean: false }));
    const ack = await again.next('connack');
    expect([ack['returnCode'], ack['sessionPresent']]).toEqual([0, true]);
    const re = await again.next('publish');
    // The same packet identifier and message. Its DUP flag is not asserted: Aedes redelivers
    // stored messages with DUP 0, short of [MQTT-3.3.1-1] (tests/README.md, Conformance).
    expect([re['messageId'], re['qos'], JSON.parse(String(re['payload'])).id]).toEqual([first['messageId'], 1, sent.id]);
    again.send({ cmd: 'puback', messageId: re['messageId'] } as Packet);
  });
});
