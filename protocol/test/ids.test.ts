import { describe, expect, it } from 'vitest';
import { deviceIdSchema, topicIdSchema, UNENCODABLE_BACKSLASH } from '../src/ids.ts';

const ok = (s: string) => deviceIdSchema.safeParse(s).success;
const okTopic = (s: string) => topicIdSchema.safeParse(s).success;

describe('deviceIdSchema', () => {
  it('accepts spaces, commas, equals signs, double quotes and Chinese', () => {
    expect(deviceIdSchema.parse('a b,c=d"e 渝中区')).toBe('a b,c=d"e 渝中区');
  });

  it('accepts a backslash that line protocol keeps literally (before a letter)', () => {
    expect(ok('a\\b')).toBe(true);
  });

  it.each([
    ['empty', ''],
    ['newline', 'a\nb'],
    ['carriage return', 'a\rb'],
    ['tab', 'a\tb'],
    ['DEL', 'a\u007fb'],
    ['C1 control NEL', 'a\u0085b'],
    ['trailing backslash', 'abc\\'],
    ['backslash before comma', 'a\\,b'],
    ['backslash before space', 'a\\ b'],
    ['backslash before equals', 'a\\=b'],
    ['double backslash', 'a\\\\b'],
  ])('refuses %s', (_what, id) => {
    expect(ok(id)).toBe(false);
  });

  it('allows 128 characters and refuses 129', () => {
    expect(ok('x'.repeat(128))).toBe(true);
    expect(ok('x'.repeat(129))).toBe(false);
  });
});

describe('topicIdSchema', () => {
  it('accepts Chinese names and dashes', () => {
    expect(okTopic('渝中区')).toBe(true);
    expect(okTopic('GW-S01_a.b')).toBe(true);
  });

  it.each([
    ['slash', 'a/b'],
    ['plus', 'a+b'],
    ['hash', 'a#'],
    ['space', 'a b'],
    ['ideographic space', 'a\u3000b'],
    ['newline', 'a\n'],
    ['trailing backslash', 'a\\'],
    ['empty', ''],
  ])('refuses %s', (_what, id) => {
    expect(okTopic(id)).toBe(false);
  });

  it('allows 64 characters and refuses 65', () => {
    expect(okTopic('x'.repeat(64))).toBe(true);
    expect(okTopic('x'.repeat(65))).toBe(false);
  });
});

describe('UNENCODABLE_BACKSLASH', () => {
  it('matches a backslash before space, comma, equals, backslash or the end only', () => {
    expect(['a\\ ', 'a\\,', 'a\\=', 'a\\\\', 'a\\'].map((s) => UNENCODABLE_BACKSLASH.test(s))).toEqual([
      true,
      true,
      true,
      true,
      true,
    ]);
    expect(['a\\b', 'a\\"', 'a\\n', 'ab'].map((s) => UNENCODABLE_BACKSLASH.test(s))).toEqual([false, false, false, false]);
  });
});
