import type { AedesPersistence } from 'aedes-persistence';
import persistenceModule from 'aedes-persistence';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { indexRetained, RetainedIndex } from '../src/retainedIndex.ts';

const memory = persistenceModule as unknown as () => AedesPersistence;

async function topicsOf(stream: AsyncIterable<{ topic: string }>): Promise<string[]> {
  const out: string[] = [];
  for await (const p of stream) out.push(p.topic);
  return out.sort();
}

describe('RetainedIndex', () => {
  it('matches as MQTT 3.1.1 §4.7 says (the $ rule left to Aedes, as its memory persistence does), by hand', () => {
    const idx = new RetainedIndex();
    for (const t of ['sport/tennis/player1', 'sport/tennis/player1/ranking', 'sport', 'sport/', '/finance', '$SYS/broker', 'a/b/c']) idx.store({ topic: t, payload: 'x' });
    const m = (f: string) => [...idx.match(f)].map((p) => p.topic).sort();
    expect(m('sport/tennis/player1/#')).toEqual(['sport/tennis/player1', 'sport/tennis/player1/ranking']);
    expect(m('sport/#')).toEqual(['sport', 'sport/', 'sport/tennis/player1', 'sport/tennis/player1/ranking']);
    // As qlobber (Aedes' matcher) reads it: `+` never matches an empty level.
    expect(m('sport/+')).toEqual([]);
    expect(m('+')).toEqual(['sport']);
    expect(m('+/+')).toEqual(['$SYS/broker']);
    expect(m('/+')).toEqual(['/finance']);
    expect(m('#')).toEqual(['$SYS/broker', '/finance', 'a/b/c', 'sport', 'sport/', 'sport/tennis/player1', 'sport/tennis/player1/ranking']);
    expect(m('+/broker')).toEqual(['$SYS/broker']);
    expect(m('$SYS/#')).toEqual(['$SYS/broker']);
    expect(m('a/b/c')).toEqual(['a/b/c']);
    expect(m('a/b')).toEqual([]);
    idx.store({ topic: 'a/b/c', payload: Buffer.alloc(0) });
    expect(m('a/#')).toEqual([]);
    expect(idx.size).toBe(6);
  });

  it("answers every filter as Aedes' memory persistence does, over random topics, replacements and deletions", async () => {
    const level = fc.constantFrom('a', 'b', 'c', '', '$s');
    const topic = fc.array(level, { minLength: 1, maxLength: 4 }).map((ls) => ls.join('/'));
    const filterLevel = fc.constantFrom('a', 'b', '', '+', '$s');
    const filter = fc.tuple(fc.array(filterLevel, { minLength: 0, maxLength: 3 }), fc.boolean()).map(([ls, hash]) => (hash ? [...ls, '#'] : ls.length ? ls : ['+']).join('/'));
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(topic, fc.boolean()), { maxLength: 30 }), fc.array(filter, { minLength: 1, maxLength: 4 }), async (writes, filters) => {
        const reference = memory();
        const indexed = indexRetained(memory());
        for (const [t, keep] of writes) {
          const packet = { cmd: 'publish', topic: t, payload: Buffer.from(keep ? 'v' : ''), qos: 0, retain: true, dup: false };
          await (reference.storeRetained as unknown as (p: object) => Promise<void>)(packet);
          await (indexed.storeRetained as unknown as (p: object) => Promise<void>)(packet);
        }
        for (const f of filters) expect(await topicsOf(indexed.createRetainedStream(f) as AsyncIterable<{ topic: string }>)).toEqual(await topicsOf(reference.createRetainedStream(f) as AsyncIterable<{ topic: string }>));
        expect(await topicsOf(indexed.createRetainedStreamCombi(filters) as AsyncIterable<{ topic: string }>)).toEqual(await topicsOf(reference.createRetainedStreamCombi(filters) as AsyncIterable<{ topic: string }>));
      }),
      { numRuns: 300, seed: 14 },
    );
  });
});
