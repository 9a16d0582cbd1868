/**
 * One worker thread of the broker benchmark's load (brokerPeerBench.ts): MQTT 3.1.1 publishers
 * and subscribers on raw sockets, so that the generator costs far less per message than either
 * broker and each broker is measured at its own ceiling.
 *
 * A publisher is a gateway identity (client id = username, its password) sending one telemetry
 * batch at QoS 1 over and over on its own telemetry topic, with at most `inflight` unacknowledged
 * (the gateway's GW_MAX_INFLIGHT_BATCHES): slot i always carries packet id i + 1, so each slot's
 * PUBLISH is encoded once and sent again when its PUBACK comes. A subscriber subscribes at QoS 1
 * to a wildcard and answers every PUBLISH with its PUBACK. CONNECT and SUBSCRIBE are encoded by
 * mqtt-packet; the fixed header framing of what comes back is parsed here (it is all we read).
 */
import { connect, type Socket } from 'node:net';
import { parentPort, workerData } from 'node:worker_threads';
import mqttPacket from 'mqtt-packet';

export interface RawPublisher {
  clientId: string;
  username?: string;
  password?: string;
  topic: string;
  /** The PUBLISH payload (a telemetry batch). */
  payload: string;
}
export interface RawSubscriber {
  clientId: string;
  username?: string;
  password?: string;
  filter: string;
}
export interface RawLoadInput {
  host: string;
  port: number;
  publishers: RawPublisher[];
  subscribers: RawSubscriber[];
  inflight: number;
  /** Connections being set up at once (a hub checks a few passwords at once). */
  connectConcurrency: number;
}
export type RawLoadCommand = { type: 'start' } | { type: 'stop' } | { type: 'close' };
export type RawLoadMessage =
  | { type: 'connected'; ms: number }
  | { type: 'failed'; error: string }
  | { type: 'counts'; acked: number; received: number; inflight: number }
  | { type: 'closed' };

/** Splits a byte stream into MQTT packets: `onPacket(type, flags, body)`. */
class Framer {
  #buf: Buffer = Buffer.alloc(0);
  readonly onPacket: (type: number, flags: number, body: Buffer) => void;
  constructor(onPacket: (type: number, flags: number, body: Buffer) => void) {
    this.onPacket = onPacket;
  }
  push(chunk: Buffer): void {
    let buf = this.#buf.length > 0 ? Buffer.concat([this.#buf, chunk]) : chunk;
    let at = 0;
    for (;;) {
      if (buf.length - at < 2) break;
      let len = 0;
      let mul = 1;
      let i = at + 1;
      let complete = false;
      for (let k = 0; k < 4 && i < buf.length; k++, i++) {
        const b = buf[i]!;
        len += (b & 0x7f) * mul;
        mul *= 128;
        if ((b & 0x80) === 0) {
          complete = true;
          i++;
          break;
        }
      }
      if (!complete || buf.length - i < len) break;
      this.onPacket(buf[at]! >> 4, buf[at]! & 0x0f, buf.subarray(i, i + len));
      at = i + len;
    }
    buf = buf.subarray(at);
    this.#buf = buf.length > 0 ? Buffer.from(buf) : Buffer.alloc(0);
  }
}

const CONNACK = 2;
const PUBLISH = 3;
const PUBACK = 4;
const SUBACK = 9;

function open(input: RawLoadInput, who: { clientId: string; username?: string; password?: string }, onPacket: (type: number, flags: number, body: Buffer, sock: Socket) => void): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const sock = connect(input.port, input.host);
    sock.setNoDelay(true);
    let connected = false;
    const framer = new Framer((type, flags, body) => {
      if (!connected) {
        if (type !== CONNACK) return reject(new Error(`${who.clientId}: expected CONNACK, got packet type ${type}`));
        if (body[1] !== 0) return reject(new Error(`${who.clientId}: CONNACK ${body[1]}`));
        connected = true;
        return resolve(sock);
      }
      onPacket(type, flags, body, sock);
    });
    sock.on('data', (c: Buffer) => framer.push(c));
    sock.once('error', (e) => (connected ? undefined : reject(e)));
    sock.once('close', () => (connected ? undefined : reject(new Error(`${who.clientId}: closed before CONNACK`))));
    sock.write(
      mqttPacket.generate({
        cmd: 'connect',
        protocolId: 'MQTT',
        protocolVersion: 4,
        clientId: who.clientId,
        clean: true,
        keepalive: 0,
        ...(who.username !== undefined ? { username: who.username } : {}),
        ...(who.password !== undefined ? { password: Buffer.from(who.password) } : {}),
      }),
    );
  });
}

const input = workerData as RawLoadInput;
const port = parentPort!;
const send = (m: RawLoadMessage): void => port.postMessage(m);
let running = false;
let acked = 0;
let received = 0;
let inflight = 0;
const sockets: Socket[] = [];

/** Writes made while one chunk is parsed go out in one syscall (the socket is uncorked after it). */
const corked = new WeakSet<Socket>();
function corkedWrite(sock: Socket, b: Buffer): void {
  if (!corked.has(sock)) {
    corked.add(sock);
    sock.cork();
    queueMicrotask(() => {
      corked.delete(sock);
      sock.uncork();
    });
  }
  sock.write(b);
}

async function subscriber(s: RawSubscriber): Promise<void> {
  let subacked: (() => void) | undefined;
  const sock = await open(input, s, (type, flags, body, sk) => {
    if (type === SUBACK) {
      if (body[2] === 0x80) throw new Error(`${s.clientId}: subscription to ${s.filter} refused`);
      return subacked?.();
    }
    if (type !== PUBLISH) return;
    received++;
    const qos = (flags >> 1) & 3;
    if (qos === 0) return;
    const topicLen = body.readUInt16BE(0);
    const id = body.readUInt16BE(2 + topicLen);
    corkedWrite(sk, Buffer.from([PUBACK << 4, 2, id >> 8, id & 0xff]));
  });
  sockets.push(sock);
  await new Promise<void>((resolve) => {
    subacked = resolve;
    sock.write(mqttPacket.generate({ cmd: 'subscribe', messageId: 1, subscriptions: [{ topic: s.filter, qos: 1 }] }));
  });
}

const starters: Array<() => void> = [];
async function publisher(p: RawPublisher): Promise<void> {
  // One encoded PUBLISH per in-flight slot; the packet id is the slot's.
  const slots = Array.from({ length: input.inflight }, (_, i) => mqttPacket.generate({ cmd: 'publish', topic: p.topic, payload: Buffer.from(p.payload), qos: 1, messageId: i + 1, retain: false, dup: false }));
  const sock = await open(input, p, (type, _flags, body, sk) => {
    if (type !== PUBACK) return;
    acked++;
    inflight--;
    if (!running) return;
    const id = body.readUInt16BE(0);
    inflight++;
    corkedWrite(sk, slots[id - 1]!);
  });
  sockets.push(sock);
  starters.push(() => {
    for (const s of slots) {
      inflight++;
      sock.write(s);
    }
  });
}

try {
  const t0 = Date.now();
  for (const s of input.subscribers) await subscriber(s);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(input.connectConcurrency, input.publishers.length) }, async () => {
      while (next < input.publishers.length) await publisher(input.publishers[next++]!);
    }),
  );
  send({ type: 'connected', ms: Date.now() - t0 });
} catch (e) {
  send({ type: 'failed', error: e instanceof Error ? e.message : String(e) });
}

const counts = setInterval(() => send({ type: 'counts', acked, received, inflight }), 250);
port.on('message', (m: RawLoadCommand) => {
  if (m.type === 'start') {
    running = true;
    for (const s of starters) s();
  } else if (m.type === 'stop') {
    running = false;
  } else if (m.type === 'close') {
    clearInterval(counts);
    send({ type: 'counts', acked, received, inflight });
    for (const s of sockets) s.destroy();
    send({ type: 'closed' });
  }
});
