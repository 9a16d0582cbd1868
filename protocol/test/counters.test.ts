import { describe, expect, it } from 'vitest';
import { Counters } from '../src/counters.ts';

describe('Counters', () => {
  it('starts empty', () => {
    const c = new Counters();
    expect(c.get('rejected')).toBe(0);
    expect(c.total('rejected')).toBe(0);
    expect(c.snapshot()).toEqual({});
    expect(c.toPrometheus('hub')).toBe('\n');
  });

  it('increments by one or by a given amount, per label set', () => {
    const c = new Counters();
    c.inc('rejected', { reason: 'unknown_device' });
    c.inc('rejected', { reason: 'unknown_device' });
    c.inc('rejected', { reason: 'ts_too_old' }, 3);
    c.inc('records_written', {}, 5);
    c.inc('records_written');
    expect(c.get('rejected', { reason: 'unknown_device' })).toBe(2);
    expect(c.get('rejected', { reason: 'ts_too_old' })).toBe(3);
    expect(c.get('rejected', { reason: 'oversize_payload' })).toBe(0);
    expect(c.get('rejected')).toBe(0); // the unlabelled series was never incremented
    expect(c.get('records_written')).toBe(6);
  });

  it('treats labels in any order as the same series', () => {
    const c = new Counters();
    c.inc('conn', { b: '2', a: '1' });
    c.inc('conn', { a: '1', b: '2' });
    expect(c.get('conn', { b: '2', a: '1' })).toBe(2);
    expect(c.snapshot()).toEqual({ 'conn{a="1",b="2"}': 2 });
  });

  it('totals over label sets but not over counters that merely share a prefix', () => {
    const c = new Counters();
    c.inc('rejected', { reason: 'unknown_device' }, 2);
    c.inc('rejected', { reason: 'ts_too_old' }, 3);
    c.inc('rejected', {}, 1);
    c.inc('rejected_extra', {}, 7);
    c.inc('rejected_extra', { reason: 'x' }, 11);
    // 2 + 3 + 1; rejected_extra (7 + 11) is another counter
    expect(c.total('rejected')).toBe(6);
    expect(c.total('rejected_extra')).toBe(18);
    expect(c.total('rej')).toBe(0);
  });

  it('escapes double quote, backslash and newline in label values', () => {
    const c = new Counters();
    c.inc('e', { v: 'a"b\\c\nd' });
    expect(c.snapshot()).toEqual({ 'e{v="a\\"b\\\\c\\nd"}': 1 });
    expect(c.get('e', { v: 'a"b\\c\nd' })).toBe(1);
  });

  it('renders the Prometheus text exposition sorted by series', () => {
    const c = new Counters();
    c.inc('rejected', { reason: 'unknown_device' }, 2);
    c.inc('records_written', {}, 5);
    c.inc('rejected', { reason: 'ts_too_old' }, 3);
    c.inc('connections_accepted', { kind: 'gateway' });
    expect(c.toPrometheus('hub')).toBe(
      [
        'hub_connections_accepted{kind="gateway"} 1',
        'hub_records_written 5',
        'hub_rejected{reason="ts_too_old"} 3',
        'hub_rejected{reason="unknown_device"} 2',
        '',
      ].join('\n'),
    );
  });
});
