import { Readable } from 'node:stream';
import type { AedesPersistence } from 'aedes-persistence';
import persistenceModule from 'aedes-persistence';

/** Aedes' own default, its memory persistence (the CommonJS module is the factory). */
export const memoryPersistence = persistenceModule as unknown as () => AedesPersistence;

interface RetainedPacket {
  topic: string;
  payload: Buffer | string;
}

interface Node {
  packet: RetainedPacket | undefined;
  children: Map<string, Node>;
}

const newNode = (): Node => ({ packet: undefined, children: new Map() });

/**
 * The retained messages of a process-local persistence by topic level, so that a subscription
 * finds the ones it matches by walking the levels it names. Aedes' memory persistence tests every
 * retained topic against every new subscription's filter: with a city's gateways each holding a
 * retained state, inventory and presence document, each gateway's SUBSCRIBE at connect scanned
 * some 30,000 topics, and 10,000 gateways reconnecting took minutes of the hub's CPU however fast
 * their logins were (tests/README.md, Reconnect storm). It answers exactly what the memory
 * persistence answers (its qlobber match, tested against it): `+` one level, never an empty one
 * (qlobber's reading, which Aedes' routing shares), `#` this level and all below (the parent
 * too); like it, it leaves `$` topics to Aedes.
 */
export class RetainedIndex {
  readonly #root = newNode();
  #size = 0;

  get size(): number {
    return this.#size;
  }

  /** An empty payload deletes, as a retained publish does [MQTT-3.3.1-10]. */
  store(packet: RetainedPacket): void {
    const levels = packet.topic.split('/');
    if (packet.payload.length === 0) return this.#delete(this.#root, levels, 0);
    let node = this.#root;
    for (const l of levels) {
      let next = node.children.get(l);
      if (!next) node.children.set(l, (next = newNode()));
      node = next;
    }
    if (!node.packet) this.#size++;
    node.packet = packet;
  }

  *match(filter: string): Generator<RetainedPacket> {
    yield* this.#walk(this.#root, filter.split('/'), 0);
  }

  #delete(node: Node, levels: string[], i: number): void {
    if (i === levels.length) {
      if (node.packet) this.#size--;
      node.packet = undefined;
      return;
    }
    const child = node.children.get(levels[i]!);
    if (!child) return;
    this.#delete(child, levels, i + 1);
    if (!child.packet && child.children.size === 0) node.children.delete(levels[i]!);
  }

  *#walk(node: Node, f: string[], i: number): Generator<RetainedPacket> {
    if (i === f.length) {
      if (node.packet) yield node.packet;
      return;
    }
    const level = f[i]!;
    if (level === '#') {
      // `a/#` matches `a` itself.
      if (i > 0 && node.packet) yield node.packet;
      yield* this.#all(node);
      return;
    }
    if (level === '+') {
      for (const [name, child] of node.children) if (name !== '') yield* this.#walk(child, f, i + 1);
      return;
    }
    const child = node.children.get(level);
    if (child) yield* this.#walk(child, f, i + 1);
  }

  *#all(node: Node): Generator<RetainedPacket> {
    for (const child of node.children.values()) {
      if (child.packet) yield child.packet;
      yield* this.#all(child);
    }
  }
}

/**
 * Wraps a process-local persistence (Aedes' memory persistence) so that its retained streams come
 * from a RetainedIndex kept beside it: every retained message still goes to the persistence, and
 * the index holds the same packets. Only for a persistence this process alone writes: a shared one
 * (Redis) holds retained messages other nodes stored, which the index never saw.
 */
export function indexRetained(persistence: AedesPersistence): AedesPersistence {
  const index = new RetainedIndex();
  const storeRetained = async (packet: RetainedPacket): Promise<void> => {
    const copy = { ...packet };
    await (persistence.storeRetained as (p: RetainedPacket) => Promise<void> | void).call(persistence, packet);
    index.store(copy);
  };
  const stream = (filters: string[]): Readable =>
    Readable.from(
      (function* () {
        for (const f of filters) yield* index.match(f);
      })(),
      { objectMode: true },
    );
  return new Proxy(persistence, {
    get(target, prop) {
      if (prop === 'storeRetained') return storeRetained;
      if (prop === 'createRetainedStream') return (filter: string) => stream([filter]);
      if (prop === 'createRetainedStreamCombi') return (filters: string[]) => stream(filters);
      const v: unknown = Reflect.get(target, prop, target);
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}
