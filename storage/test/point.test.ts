import { describe, expect, it } from 'vitest';
import { CodedError } from '../../runtime/src/errors.ts';
import { StorageErrorCode } from '../src/errors.ts';
import { encodePoint } from '../src/lineProtocol.ts';
import { point } from '../src/point.ts';
import { SCHEMA } from '../src/schema.ts';

const gw = { district: '渝中区', school: 'yz-s01', gateway: 'gw-yz-s01' };

function codeOf(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    if (e instanceof CodedError) return `${e.code}: ${e.message}`;
    throw e;
  }
  throw new Error('did not throw');
}

describe('point(): a point as the schema defines its measurement', () => {
  it('types each field from the schema and encodes to the hand-written line', () => {
    const p = point('gateway_state', gw, { online: true, up: 1, bd_seq: 7 }, 1_700_000_000_000);
    expect(p.fields).toEqual({ online: { t: 'bool', v: true }, up: { t: 'int', v: 1 }, bd_seq: { t: 'int', v: 7 } });
    expect(encodePoint(p)).toBe('gateway_state,district=渝中区,gateway=gw-yz-s01,school=yz-s01 online=true,up=1i,bd_seq=7i 1700000000000');
  });

  it('writes an integer-valued float as a float and a bigint as an integer', () => {
    const line = encodePoint(point('vr_kit', { ...gw, device: 'vr-1', kind: 'vr_kit' }, { seq: 2n ** 40n, battery_pct: 80, charging: false, in_session: true }, 1));
    expect(line).toBe('vr_kit,device=vr-1,district=渝中区,gateway=gw-yz-s01,kind=vr_kit,school=yz-s01 seq=1099511627776i,battery_pct=80,charging=false,in_session=true 1');
  });

  it('leaves out optional tags and fields given as undefined, keeping the order of the rest', () => {
    const p = point('command', { ...gw, device: 'b1', action: 'reboot' }, { id: 'c1', status: 'sent', detail: undefined, ttl_ms: 60_000 }, 5);
    expect(Object.keys(p.fields)).toEqual(['id', 'status', 'ttl_ms']);
    const a = point('availability', { ...gw, device: 'b1', kind: 'interactive_board', room: undefined }, { state: 'up', up: 1, expected: 1, up_expected: 1, hist: undefined }, 5);
    expect(a.tags).toEqual({ ...gw, device: 'b1', kind: 'interactive_board' });
  });

  it('refuses at compile time what the schema does not define', () => {
    const tags = { ...gw, device: 'b1', kind: 'interactive_board' } as const;
    const fields = { seq: 1, power: 'on', touch_ok: true, active_input: 'hdmi1', firmware: 'v1' } as const;
    expect(() => {
      // @ts-expect-error — boards have no `battery_pct`
      point('interactive_board', tags, { ...fields, battery_pct: 1 }, 1);
      // @ts-expect-error — `touch_ok` is a boolean
      point('interactive_board', tags, { ...fields, touch_ok: 1 }, 1);
      // @ts-expect-error — `gateway` is a required tag
      point('gateway_up', { district: 'd', school: 's' }, { up: 1 }, 1);
      // @ts-expect-error — not a measurement of the schema
      point('gateway_uptime', gw, { up: 1 }, 1);
    }).toThrow();
  });

  it('refuses at run time an unknown tag or field, a missing required one, and a value of the wrong type', () => {
    const unchecked = point as (m: string, t: Record<string, unknown>, f: Record<string, unknown>, ts: number) => unknown;
    const C = StorageErrorCode.SCHEMA_VIOLATION;
    expect(codeOf(() => unchecked('gateway_up', { ...gw, room: 'r1' }, { up: 1 }, 1))).toBe(`${C}: gateway_up: has no tag room`);
    expect(codeOf(() => unchecked('gateway_up', gw, { up: 1, down: 0 }, 1))).toBe(`${C}: gateway_up: has no field down`);
    expect(codeOf(() => unchecked('gateway_up', gw, {}, 1))).toBe(`${C}: gateway_up: field up is required`);
    expect(codeOf(() => unchecked('gateway_up', { district: 'd', school: 's' }, { up: 1 }, 1))).toBe(`${C}: gateway_up: tag gateway is required`);
    expect(codeOf(() => unchecked('gateway_up', gw, { up: '1' }, 1))).toBe(`${C}: gateway_up: field up is integer in the schema, not string`);
    expect(codeOf(() => unchecked('gateway_state', gw, { online: 1, up: 1, bd_seq: 1 }, 1))).toBe(`${C}: gateway_state: field online is boolean in the schema, not number`);
    expect(codeOf(() => unchecked('gateway_up', { ...gw, school: 7 }, { up: 1 }, 1))).toBe(`${C}: gateway_up: tag school must be a string, not number`);
    expect(codeOf(() => unchecked('nope', gw, { up: 1 }, 1))).toBe(`${C}: nope: not a measurement of the schema`);
  });

  it('leaves the line-protocol refusals to encodePoint (a counted `unencodable`, not a schema bug)', () => {
    const p = point('gateway_up', { ...gw, gateway: 'a\nb' }, { up: 1 }, 1);
    expect(codeOf(() => encodePoint(p))).toMatch(/^STORE_ERR_UNENCODABLE: /);
  });

  it('lists optional tags and fields that the measurement has', () => {
    for (const [m, d] of Object.entries(SCHEMA)) {
      const def = d as { tags: readonly string[]; fields: Record<string, string>; optionalTags?: readonly string[]; optionalFields?: readonly string[] };
      for (const t of def.optionalTags ?? []) expect(def.tags, m).toContain(t);
      for (const f of def.optionalFields ?? []) expect(Object.keys(def.fields), m).toContain(f);
    }
  });
});
