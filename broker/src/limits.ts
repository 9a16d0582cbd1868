import { readFileSync } from 'node:fs';

/** The MQTT listener's limits (docs/design.md#security); every one has a HUB_* setting. */
export interface MqttLimits {
  /** Largest MQTT packet (its remaining length); a larger one cuts the connection at its header. */
  maxPacketBytes: number;
  /** A socket that has not sent CONNECT within this is closed. */
  connectTimeoutMs: number;
  /** Sockets not yet authenticated beyond which new ones are closed at accept. */
  maxPendingConnections: number;
  /** Sustained publishes per second per client, and the burst it may send above that. */
  publishRate: number;
  publishBurst: number;
  /** Retained messages (topics) and their bytes one client id may keep stored. */
  maxRetainedPerClient: number;
  maxRetainedBytesPerClient: number;
  /** The same, for every anonymous client together: client ids are theirs to choose, so a new one is no new quota. */
  maxRetainedAnonymous: number;
  maxRetainedBytesAnonymous: number;
  /** Payload limits of the gateway channels other than telemetry (whose limit is ingest's). */
  maxStateBytes: number;
  maxHealthBytes: number;
  maxCmdresBytes: number;
  /** Packets a client may send before its CONNECT is answered (Aedes `queueLimit`). */
  maxQueuedBeforeConnack: number;
  /** Inbound QoS 2 messages awaiting their PUBREL (Aedes `maxInflightInbound`). */
  maxInflightQos2: number;
  /** Subscription filters refused to everyone (subscriptionFilters.ts). */
  refusedSubscriptions: readonly string[];
}

export const DEFAULT_MQTT_LIMITS: Readonly<MqttLimits> = {
  // The telemetry payload limit (HUB_MAX_PAYLOAD_BYTES) plus room for the topic and headers.
  maxPacketBytes: 8 * 1_048_576 + 65_536,
  connectTimeoutMs: 10_000,
  maxPendingConnections: 256,
  publishRate: 50,
  publishBurst: 200,
  // A gateway retains one state document; anonymous observers (experiments) a few topics.
  maxRetainedPerClient: 16,
  maxRetainedBytesPerClient: 1_048_576,
  maxRetainedAnonymous: 64,
  maxRetainedBytesAnonymous: 4 * 1_048_576,
  // A state, health or command-result document is a few hundred bytes (a result's detail is at most 500 characters).
  maxStateBytes: 16_384,
  maxHealthBytes: 16_384,
  maxCmdresBytes: 16_384,
  // A gateway sends nothing before its CONNACK; Aedes' own default is 42.
  maxQueuedBeforeConnack: 16,
  // Gateways publish QoS 1 with a window of a few batches; Aedes' own default is 1000.
  maxInflightQos2: 100,
  refusedSubscriptions: [],
};

export type Violation = { reason: 'packet_too_large'; bytes: number } | { reason: 'malformed_length' } | { reason: 'invalid_topic'; detail: string };

const PUBLISH = 3;
const utf8 = new TextDecoder('utf-8', { fatal: true });

/**
 * Follows MQTT framing over the bytes a connection sends, ahead of the packet parser, which has
 * no size limit and would buffer a whole packet first. It sees each fixed header as it arrives,
 * so an oversized packet is refused from its first bytes, CONNECT included (before
 * authentication); and it sees each PUBLISH's raw topic, which the parser decodes with
 * replacement characters, hiding invalid UTF-8 [MQTT-1.5.3-1].
 */
export class PacketScanner {
  readonly #max: number;
  #state: 'header' | 'length' | 'topicLen' | 'topic' | 'skip' = 'header';
  #type = 0;
  #len = 0;
  #mult = 1;
  #lenBytes = 0;
  #remaining = 0;
  #topicLen = 0;
  #topicLenBytes = 0;
  #topic: Buffer[] = [];
  #topicGot = 0;

  constructor(maxPacketBytes: number) {
    this.#max = maxPacketBytes;
  }

  /** The first violation in `buf`, or null; after a violation the stream is to be cut. */
  feed(buf: Buffer): Violation | null {
    let i = 0;
    while (i < buf.length) {
      switch (this.#state) {
        case 'header':
          this.#type = buf[i++]! >> 4;
          this.#len = 0;
          this.#mult = 1;
          this.#lenBytes = 0;
          this.#state = 'length';
          break;
        case 'length': {
          const b = buf[i++]!;
          this.#len += (b & 0x7f) * this.#mult;
          this.#mult *= 128;
          this.#lenBytes++;
          if (b & 0x80) {
            if (this.#lenBytes === 4) return { reason: 'malformed_length' };
            break;
          }
          if (this.#len > this.#max) return { reason: 'packet_too_large', bytes: this.#len };
          this.#remaining = this.#len;
          this.#topicLen = 0;
          this.#topicLenBytes = 0;
          this.#state = this.#remaining === 0 ? 'header' : this.#type === PUBLISH ? 'topicLen' : 'skip';
          break;
        }
        case 'topicLen':
          this.#topicLen = this.#topicLen * 256 + buf[i++]!;
          this.#remaining--;
          if (++this.#topicLenBytes === 2) {
            this.#topic = [];
            this.#topicGot = 0;
            this.#state = this.#topicLen === 0 ? 'skip' : 'topic';
          }
          if (this.#remaining === 0) this.#state = 'header';
          break;
        case 'topic': {
          const n = Math.min(this.#topicLen - this.#topicGot, buf.length - i, this.#remaining);
          this.#topic.push(buf.subarray(i, i + n));
          this.#topicGot += n;
          this.#remaining -= n;
          i += n;
          if (this.#topicGot === this.#topicLen) {
            const bad = topicFault(Buffer.concat(this.#topic));
            if (bad) return { reason: 'invalid_topic', detail: bad };
            this.#state = 'skip';
          }
          if (this.#remaining === 0) this.#state = 'header';
          break;
        }
        case 'skip': {
          const n = Math.min(this.#remaining, buf.length - i);
          this.#remaining -= n;
          i += n;
          if (this.#remaining === 0) this.#state = 'header';
          break;
        }
      }
    }
    return null;
  }
}

/** Why a topic's bytes are not a valid MQTT string [MQTT-1.5.3-1, -2], or null. */
export function topicFault(bytes: Buffer): string | null {
  if (bytes.includes(0)) return 'U+0000 in topic';
  try {
    utf8.decode(bytes);
  } catch {
    return 'invalid UTF-8 in topic';
  }
  return null;
}

/** A readable stream as the MQTT client reads it: Aedes pulls every byte through read(). */
interface Pulled {
  read(size?: number): unknown;
  destroy(err?: Error): unknown;
  readonly destroyed: boolean;
}

/**
 * Puts a PacketScanner in front of the packet parser of one connection by wrapping the stream's
 * read(), which is how Aedes takes bytes (on 'readable'); the bytes reach the parser unchanged,
 * and a violation destroys the stream before they do.
 */
export function guardStream(conn: Pulled, maxPacketBytes: number, onViolation: (v: Violation) => void): void {
  const scanner = new PacketScanner(maxPacketBytes);
  const read = conn.read.bind(conn);
  conn.read = (size?: number): unknown => {
    const b = read(size);
    if (!Buffer.isBuffer(b) || conn.destroyed) return b;
    const v = scanner.feed(b);
    if (!v) return b;
    onViolation(v);
    conn.destroy();
    return null;
  };
}

/**
 * A token bucket: `rate` tokens a second up to `burst`. take() spends one and says how long to
 * wait before acting when none was left (the debt is kept, so a flood waits longer and longer).
 */
export class TokenBucket {
  readonly #rate: number;
  readonly #burst: number;
  #tokens: number;
  #at: number;

  constructor(rate: number, burst: number, now: number) {
    this.#rate = rate;
    this.#burst = burst;
    this.#tokens = burst;
    this.#at = now;
  }

  /** Milliseconds to wait before the taken token is due; 0 when one was available. */
  take(now: number): number {
    this.#tokens = Math.min(this.#burst, this.#tokens + ((now - this.#at) / 1000) * this.#rate);
    this.#at = now;
    this.#tokens -= 1;
    return this.#tokens >= 0 ? 0 : (-this.#tokens / this.#rate) * 1000;
  }
}

export interface OpenFileLimit {
  soft: number;
  hard: number;
}

/**
 * The process's open-file limit (`ulimit -n`), from /proc/self/limits: Node cannot read or
 * raise it. Null where there is no /proc (not Linux); "unlimited" reads as Infinity.
 */
export function readOpenFileLimit(text?: string): OpenFileLimit | null {
  let t = text;
  if (t === undefined) {
    try {
      t = readFileSync('/proc/self/limits', 'utf8');
    } catch {
      return null;
    }
  }
  const m = /^Max open files\s+(\S+)\s+(\S+)/m.exec(t);
  if (!m) return null;
  const n = (s: string): number => (s === 'unlimited' ? Infinity : Number(s));
  return { soft: n(m[1]!), hard: n(m[2]!) };
}

/**
 * What an open-file limit allows: the descriptors left for MQTT connections once the hub's own
 * (registry, InfluxDB sockets, HTTP, listeners) are set aside.
 */
export const RESERVED_FILES = 64;
export function connectionsAllowed(limit: OpenFileLimit): number {
  return Math.max(0, limit.soft - RESERVED_FILES);
}

/**
 * Retained messages per client: how many topics and bytes each client id keeps retained. A
 * retained publish over the quota is still delivered live but not stored; an empty one (a
 * clear) always passes and frees its topic. The accounting is of this process's lifetime (a
 * persistence restored at start is not attributed).
 */
export class RetainedQuota {
  readonly #maxCount: number;
  readonly #maxBytes: number;
  readonly #topics = new Map<string, { owner: string; bytes: number }>();
  readonly #owners = new Map<string, { count: number; bytes: number }>();

  constructor(maxCount: number, maxBytes: number) {
    this.#maxCount = maxCount;
    this.#maxBytes = maxBytes;
  }

  /** Whether `owner` may store `bytes` retained at `topic`; when it may, the store is counted. */
  admit(owner: string, topic: string, bytes: number): boolean {
    if (!this.fits(owner, topic, bytes)) return false;
    this.commit(owner, topic, bytes);
    return true;
  }

  /** Whether `owner` may store `bytes` retained at `topic` (an empty message, a clear, always may). */
  fits(owner: string, topic: string, bytes: number): boolean {
    if (bytes === 0) return true;
    const held = this.#topics.get(topic);
    const mine = this.#owners.get(owner) ?? { count: 0, bytes: 0 };
    const replaced = held?.owner === owner ? held : undefined;
    const count = mine.count - (replaced ? 1 : 0) + 1;
    const total = mine.bytes - (replaced?.bytes ?? 0) + bytes;
    return count <= this.#maxCount && total <= this.#maxBytes;
  }

  /** Counts a store `fits` allowed: the topic's previous message (whoever's) is released. */
  commit(owner: string, topic: string, bytes: number): void {
    const held = this.#topics.get(topic);
    if (held) this.#release(topic, held);
    if (bytes > 0) {
      this.#topics.set(topic, { owner, bytes });
      const o = this.#owners.get(owner) ?? { count: 0, bytes: 0 };
      this.#owners.set(owner, { count: o.count + 1, bytes: o.bytes + bytes });
    }
  }

  #release(topic: string, held: { owner: string; bytes: number }): void {
    this.#topics.delete(topic);
    const o = this.#owners.get(held.owner);
    if (!o) return;
    if (o.count <= 1) this.#owners.delete(held.owner);
    else this.#owners.set(held.owner, { count: o.count - 1, bytes: o.bytes - held.bytes });
  }
}
