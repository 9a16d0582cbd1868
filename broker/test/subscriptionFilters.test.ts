import { describe, expect, it } from 'vitest';
import { filterRefused, parseRefusedSubscriptions } from '../src/subscriptionFilters.ts';

describe('subscription filters refused by configuration', () => {
  const refused = ['test/nosubscribe', 'private/#', 'lab/+/secret'];

  it.each([
    ['test/nosubscribe', 'test/nosubscribe'],
    ['private', 'private/#'],
    ['private/a', 'private/#'],
    ['private/+/b', 'private/#'],
    ['private/#', 'private/#'],
    ['lab/r1/secret', 'lab/+/secret'],
    ['lab/+/secret', 'lab/+/secret'],
  ])('%s is refused (by %s)', (filter, by) => {
    expect(filterRefused(refused, filter)).toBe(by);
  });

  it.each(['test/nosubscribe/x', 'test/+', 'test/#', '#', '+/+', 'lab/r1/public', 'lab/#', 'lab/+/+', 'privatex', 'public/private'])('%s is not (it reaches beyond every refused filter)', (filter) => {
    expect(filterRefused(refused, filter)).toBeUndefined();
  });

  it('parses the setting: comma-separated, blanks ignored, malformed filters named', () => {
    expect(parseRefusedSubscriptions('')).toEqual([]);
    expect(parseRefusedSubscriptions(' test/nosubscribe , private/# ,')).toEqual(['test/nosubscribe', 'private/#']);
    expect(parseRefusedSubscriptions('a/#/b')).toBe('"a/#/b" is not an MQTT topic filter (wildcards must fill a whole level, # only last)');
    expect(parseRefusedSubscriptions('a/b+')).toMatch(/^"a\/b\+" is not an MQTT topic filter/);
  });
});
