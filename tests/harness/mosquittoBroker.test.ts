import mqtt, { type MqttClient } from 'mqtt';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { aclFile, mosquittoAvailable, startMosquitto, type MosquittoBroker } from './mosquittoBroker.ts';

const GW_A = 'campus/v1/d1/s1/gw-a';
const GW_B = 'campus/v1/d1/s2/gw-b';

function connectAs(url: string, username: string, password: string): Promise<MqttClient> {
  return new Promise((resolve, reject) => {
    const c = mqtt.connect(url, { clientId: username, username, password, protocolVersion: 4, reconnectPeriod: 0 });
    c.once('connect', () => resolve(c));
    c.once('error', (e) => (c.end(true), reject(e)));
  });
}

describe.skipIf(!mosquittoAvailable())('startMosquitto with a password file and an ACL', () => {
  let broker: MosquittoBroker;
  beforeAll(async () => {
    broker = await startMosquitto({
      users: [
        { username: 'gw-a', password: 'pw-a', write: [`${GW_A}/#`] },
        { username: 'observer', password: 'pw-o', read: ['campus/v1/#'] },
      ],
    });
  });
  afterAll(async () => await broker?.stop());

  it('writes one user block per account', () => {
    expect(aclFile([{ username: 'u', password: 'p', read: ['a/#'], write: ['b/#', 'c'] }, { username: 'v', password: 'q', readwrite: ['d'] }])).toBe(
      'user u\ntopic read a/#\ntopic write b/#\ntopic write c\n\nuser v\ntopic readwrite d\n',
    );
  });

  it('delivers a publish under the publisher\'s own prefix and drops one under another\'s', async () => {
    const observer = await connectAs(broker.url, 'observer', 'pw-o');
    const got: string[] = [];
    observer.on('message', (topic, payload) => got.push(`${topic} ${payload.toString()}`));
    await observer.subscribeAsync('campus/v1/#', { qos: 1 });
    const gw = await connectAs(broker.url, 'gw-a', 'pw-a');
    // In this order on one connection: when the allowed one has arrived, the forbidden one, sent
    // first, would have arrived before it.
    await gw.publishAsync(`${GW_B}/telemetry`, 'forbidden', { qos: 1 });
    await gw.publishAsync(`${GW_A}/telemetry`, 'allowed', { qos: 1 });
    await new Promise<void>((resolve) => {
      const check = (): void => void (got.length > 0 ? resolve() : setTimeout(check, 20));
      check();
    });
    expect(got).toEqual([`${GW_A}/telemetry allowed`]);
    await gw.endAsync();
    await observer.endAsync();
  });

  it('refuses a wrong password (CONNACK 5) and an anonymous client', async () => {
    await expect(connectAs(broker.url, 'gw-a', 'wrong')).rejects.toMatchObject({ code: 5 });
    const anon = new Promise<number | undefined>((resolve) => {
      const c = mqtt.connect(broker.url, { protocolVersion: 4, reconnectPeriod: 0 });
      c.once('connect', () => (c.end(true), resolve(0)));
      c.once('error', (e) => (c.end(true), resolve((e as { code?: number }).code)));
    });
    expect(await anon).toBe(5);
  });
});
