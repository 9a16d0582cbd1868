import { describe, expect, it } from 'vitest';
import {
  encodeFieldValue,
  encodePoint,
  escapeMeasurement,
  escapeStringField,
  escapeTag,
  LineProtocolError,
  type Point,
} from '../src/lineProtocol.ts';

/** The `reason` of the LineProtocolError that fn throws. */
function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof LineProtocolError) return e.reason;
    throw e;
  }
  throw new Error('did not throw');
}

describe('escapeMeasurement', () => {
  it('escapes comma and space only', () => {
    expect(escapeMeasurement('classroom av,x')).toBe('classroom\\ av\\,x');
    expect(escapeMeasurement('a=b"c')).toBe('a=b"c');
    expect(escapeMeasurement('渝中区')).toBe('渝中区');
  });

  it('refuses an empty name or a control character', () => {
    expect(reasonOf(() => escapeMeasurement(''))).toBe('bad_name');
    expect(reasonOf(() => escapeMeasurement('a\nb'))).toBe('bad_name');
  });
});

describe('escapeTag', () => {
  it.each([
    ['space', 'a b', 'a\\ b'],
    ['comma', 'a,b', 'a\\,b'],
    ['equals sign', 'a=b', 'a\\=b'],
    ['all three', 'x y,z=w', 'x\\ y\\,z\\=w'],
    ['double quote (unescaped)', 'say"hi"', 'say"hi"'],
    ['Chinese (unchanged)', '渝中区', '渝中区'],
    ['backslash before a letter (kept literally)', 'a\\b', 'a\\b'],
  ])('handles %s', (_what, input, expected) => {
    expect(escapeTag(input)).toBe(expected);
  });

  it.each([
    ['empty', '', 'empty_tag_value'],
    ['newline', 'a\nb', 'tag_control_character'],
    ['tab', 'a\tb', 'tag_control_character'],
    ['NUL', 'a\u0000', 'tag_control_character'],
    ['DEL', 'a\u007f', 'tag_control_character'],
    ['trailing backslash', 'ab\\', 'tag_unencodable_backslash'],
    ['backslash before comma', 'a\\,b', 'tag_unencodable_backslash'],
    ['backslash before space', 'a\\ b', 'tag_unencodable_backslash'],
    ['backslash before equals', 'a\\=b', 'tag_unencodable_backslash'],
    ['double backslash', 'a\\\\b', 'tag_unencodable_backslash'],
  ])('refuses %s with reason %s', (_what, input, reason) => {
    expect(reasonOf(() => escapeTag(input))).toBe(reason);
  });
});

describe('escapeStringField', () => {
  it('quotes, escapes double quote and backslash, keeps everything else', () => {
    expect(escapeStringField('say "hi"')).toBe('"say \\"hi\\""');
    expect(escapeStringField('C:\\dir\\')).toBe('"C:\\\\dir\\\\"');
    expect(escapeStringField('line1\nline2')).toBe('"line1\nline2"');
    expect(escapeStringField('a,b c=d 渝中区')).toBe('"a,b c=d 渝中区"');
    expect(escapeStringField('')).toBe('""');
  });
});

describe('encodeFieldValue', () => {
  it('writes integers with the i suffix', () => {
    expect(encodeFieldValue({ t: 'int', v: 42 })).toBe('42i');
    expect(encodeFieldValue({ t: 'int', v: -7 })).toBe('-7i');
    expect(encodeFieldValue({ t: 'int', v: 0 })).toBe('0i');
    expect(encodeFieldValue({ t: 'int', v: Number.MAX_SAFE_INTEGER })).toBe('9007199254740991i');
  });

  it('writes bigints at the int64 bounds exactly', () => {
    // int64: [-2^63, 2^63 - 1] = [-9223372036854775808, 9223372036854775807]
    expect(encodeFieldValue({ t: 'int', v: 9223372036854775807n })).toBe('9223372036854775807i');
    expect(encodeFieldValue({ t: 'int', v: -9223372036854775808n })).toBe('-9223372036854775808i');
  });

  it.each([
    ['2^63 as bigint', 9223372036854775808n],
    ['-2^63 - 1 as bigint', -9223372036854775809n],
    ['2^64 - 1 as bigint', 18446744073709551615n],
    ['2^53 as number (not safe)', 2 ** 53],
    ['a fraction', 1.5],
    ['NaN', Number.NaN],
  ])('refuses %s with int_out_of_range', (_what, v) => {
    expect(reasonOf(() => encodeFieldValue({ t: 'int', v }))).toBe('int_out_of_range');
  });

  it('writes floats without a suffix', () => {
    expect(encodeFieldValue({ t: 'float', v: 1.5 })).toBe('1.5');
    expect(encodeFieldValue({ t: 'float', v: 5 })).toBe('5');
    expect(encodeFieldValue({ t: 'float', v: -0.25 })).toBe('-0.25');
    expect(encodeFieldValue({ t: 'float', v: 1e21 })).toBe('1e+21');
  });

  it.each([
    ['NaN', Number.NaN],
    ['Infinity', Number.POSITIVE_INFINITY],
    ['-Infinity', Number.NEGATIVE_INFINITY],
  ])('refuses float %s with non_finite_field', (_what, v) => {
    expect(reasonOf(() => encodeFieldValue({ t: 'float', v }))).toBe('non_finite_field');
  });

  it('writes booleans and strings', () => {
    expect(encodeFieldValue({ t: 'bool', v: true })).toBe('true');
    expect(encodeFieldValue({ t: 'bool', v: false })).toBe('false');
    expect(encodeFieldValue({ t: 'string', v: 'a"b' })).toBe('"a\\"b"');
  });
});

describe('encodePoint', () => {
  it('writes one exact line with tags sorted by key and fields in insertion order', () => {
    const p: Point = {
      measurement: 'classroom av',
      tags: { school: 'S 1', district: '渝中区', device: 'a,b=c"d' },
      fields: {
        seq: { t: 'int', v: 1 },
        note: { t: 'string', v: 'x "y"\\z' },
        'lamp hours': { t: 'float', v: 0.5 },
        ok: { t: 'bool', v: true },
      },
      tsMs: 1_700_000_000_000,
    };
    expect(encodePoint(p)).toBe(
      'classroom\\ av,device=a\\,b\\=c"d,district=渝中区,school=S\\ 1 seq=1i,note="x \\"y\\"\\\\z",lamp\\ hours=0.5,ok=true 1700000000000',
    );
  });

  it('sorts tag keys by code unit (upper case before lower case)', () => {
    const line = encodePoint({ measurement: 'm', tags: { b: '2', a: '1', B: '3' }, fields: { f: { t: 'int', v: 1 } }, tsMs: 5 });
    expect(line).toBe('m,B=3,a=1,b=2 f=1i 5');
  });

  it('writes a point without tags', () => {
    expect(encodePoint({ measurement: 'm', tags: {}, fields: { f: { t: 'float', v: 2.5 } }, tsMs: 0 })).toBe('m f=2.5 0');
  });

  it.each([
    ['no fields', { measurement: 'm', tags: {}, fields: {}, tsMs: 1 }, 'no_fields'],
    ['a fractional timestamp', { measurement: 'm', tags: {}, fields: { f: { t: 'int', v: 1 } }, tsMs: 1.5 }, 'bad_timestamp'],
    ['a NaN timestamp', { measurement: 'm', tags: {}, fields: { f: { t: 'int', v: 1 } }, tsMs: Number.NaN }, 'bad_timestamp'],
    ['an empty measurement', { measurement: '', tags: {}, fields: { f: { t: 'int', v: 1 } }, tsMs: 1 }, 'bad_name'],
    ['a control character in a tag value', { measurement: 'm', tags: { d: 'a\rb' }, fields: { f: { t: 'int', v: 1 } }, tsMs: 1 }, 'tag_control_character'],
    ['an empty tag value', { measurement: 'm', tags: { d: '' }, fields: { f: { t: 'int', v: 1 } }, tsMs: 1 }, 'empty_tag_value'],
    ['a trailing backslash in a tag value', { measurement: 'm', tags: { d: 'x\\' }, fields: { f: { t: 'int', v: 1 } }, tsMs: 1 }, 'tag_unencodable_backslash'],
    ['a non-finite float field', { measurement: 'm', tags: {}, fields: { f: { t: 'float', v: Number.NaN } }, tsMs: 1 }, 'non_finite_field'],
  ] satisfies Array<[string, Point, string]>)('refuses %s', (_what, p, reason) => {
    expect(reasonOf(() => encodePoint(p))).toBe(reason);
  });

  it('throws instances of LineProtocolError with the name set', () => {
    let err: unknown;
    try {
      encodePoint({ measurement: 'm', tags: {}, fields: {}, tsMs: 1 });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(LineProtocolError);
    expect((err as LineProtocolError).name).toBe('LineProtocolError');
  });
});
