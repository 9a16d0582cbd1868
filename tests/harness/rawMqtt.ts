import { connect as netConnect } from 'node:net';
import mqttPacket from 'mqtt-packet';

function str(s: string | Buffer): Buffer {
  const b = typeof s === 'string' ? Buffer.from(s, 'utf8') : s;
  const len = Buffer.alloc(2);
  len.writeUInt16BE(b.length);
  return Buffer.concat([len, b]);
}

/** A fixed header (§2.2): packet type, flags and the remaining length as a variable byte integer. */
export function fixedHeader(type: number, flags: number, len: number): Buffer {
  const out = [(type << 4) | flags];
  let n = len;
  do {
    let b = n % 128;
    n = Math.floor(n / 128);
    if (n > 0) b |= 0x80;
    out.push(b);
  } while (n > 0);
  return Buffer.from(out);
}

/** An MQTT 3.1.1 CONNECT written byte by byte (§3.1), so nothing refuses to encode it. */
export function encodeConnect(p: { clientId: string; clean: boolean; username?: string; password?: string }): Buffer {
  let flags = p.clean ? 0x02 : 0;
  if (p.username !== undefined) flags |= 0x80;
  if (p.password !== undefined) flags |= 0x40;
  const body = Buffer.concat([
    str('MQTT'),
    Buffer.from([4, flags, 0, 30]),
    str(p.clientId),
    ...(p.username !== undefined ? [str(p.username)] : []),
    ...(p.password !== undefined ? [str(p.password)] : []),
  ]);
  return Buffer.concat([fixedHeader(1, 0, body.length), body]);
}

/**
 * Sends one raw CONNECT and returns the CONNACK return code (or 'closed' when the server hangs
 * up without one). For cases well-behaved client libraries refuse to send, such as a zero-byte
 * client id with a persistent session.
 */
export async function rawConnect(
  port: number,
  packet: { clientId: string; clean: boolean; username?: string; password?: string },
): Promise<number | 'closed'> {
  return await new Promise((resolve, reject) => {
    const sock = netConnect(port, '127.0.0.1');
    const parser = mqttPacket.parser({ protocolVersion: 4 });
    let settled = false;
    const done = (v: number | 'closed') => {
      if (settled) return;
      settled = true;
      sock.destroy();
      resolve(v);
    };
    parser.on('packet', (p) => {
      if (p.cmd === 'connack') done(p.returnCode ?? -1);
    });
    parser.on('error', reject);
    sock.on('data', (b) => parser.parse(b));
    sock.on('close', () => done('closed'));
    sock.on('error', () => done('closed'));
    sock.on('connect', () => sock.write(encodeConnect(packet)));
  });
}
