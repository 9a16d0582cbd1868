import { Readable } from 'node:stream';
import type { AedesPersistence } from 'aedes-persistence';
import persistenceModule from 'aedes-persistence';

interface StoredOutgoing {
  cmd?: string;
  messageId?: number;
}

/**
 * [MQTT-3.3.1-1]: a PUBLISH sent again on a resumed session carries DUP 1. Aedes builds the
 * resent packet from what the persistence streams, with DUP as stored (0). A stored message that
 * has a packet identifier was written to the wire before (the identifier is stored when it is
 * first sent); one queued while the client was away has none and goes out for the first time,
 * DUP 0. So the persistence is wrapped: its outgoing stream marks the former as duplicates, and
 * every other method is the persistence's own.
 */
/** Aedes' own default, its memory persistence (the CommonJS module is the factory). */
const memory = persistenceModule as unknown as () => AedesPersistence;

export function redeliveryMarksDup(persistence: AedesPersistence = memory()): AedesPersistence {
  const outgoingStream = (client: Parameters<AedesPersistence['outgoingStream']>[0]) =>
    Readable.from(markSent(persistence.outgoingStream(client) as AsyncIterable<StoredOutgoing>), { objectMode: true });
  return new Proxy(persistence, {
    get(target, prop) {
      if (prop === 'outgoingStream') return outgoingStream;
      const v: unknown = Reflect.get(target, prop, target);
      // Bound to the persistence itself: its methods use private fields, which a proxy lacks.
      return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(target) : v;
    },
  });
}

async function* markSent(stored: AsyncIterable<StoredOutgoing>): AsyncGenerator<StoredOutgoing> {
  for await (const p of stored) yield p.cmd === 'publish' && p.messageId ? { ...p, dup: true } as StoredOutgoing : p;
}
