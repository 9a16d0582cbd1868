import { describe, expect, it } from 'vitest';
import parsePrometheusTextFormat from 'parse-prometheus-text-format';
import { Counters, histogram, metricsText } from '../src/counters.ts';

const CATALOGUE = {
  rejected: { help: 'Records refused, by reason.', labels: ['reason'] },
  rejected_extra: { help: 'Another counter sharing a prefix.', labels: ['reason'] },
  records_written: { help: 'Records written.' },
  conn: { help: 'Connections.', labels: ['a', 'b'] },
  e: { help: 'Escaping.', labels: ['v'] },
} as const;

const counters = () => new Counters('hub', CATALOGUE);

describe('Counters', () => {
  it('drop removes the matching series of one counter from its reads and from the exposition', async () => {
    const c = counters();
    c.inc('conn', { a: 'x', b: '1' });
    c.inc('conn', { a: 'x', b: '2' }, 2);
    c.inc('conn', { a: 'y', b: '1' }, 4);
    c.inc('rejected', { reason: 'x' });
    expect(c.drop('conn', (l) => l['a'] === 'x')).toBe(2);
    expect(c.get('conn', { a: 'x', b: '1' })).toBe(0);
    expect(c.total('conn')).toBe(4);
    expect(c.get('rejected', { reason: 'x' })).toBe(1);
    const text = (await metricsText(c.registry)).body;
    const conn = (parsePrometheusTextFormat(text) as Array<{ name: string; metrics: Array<{ labels?: Record<string, string>; value: string }> }>).find((m) => m.name === 'hub_conn_total')!;
    expect(conn.metrics).toEqual([{ labels: { a: 'y', b: '1' }, value: '4' }]);
    // Counted again after a drop, a series starts from zero.
    c.inc('conn', { a: 'x', b: '1' });
    expect(c.get('conn', { a: 'x', b: '1' })).toBe(1);
  });

  it('starts empty', () => {
    const c = counters();
    expect(c.get('rejected')).toBe(0);
    expect(c.total('rejected')).toBe(0);
    expect(c.snapshot()).toEqual({});
  });

  it('increments by one or by a given amount, per label set', () => {
    const c = counters();
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
    const c = counters();
    c.inc('conn', { b: '2', a: '1' });
    c.inc('conn', { a: '1', b: '2' });
    expect(c.get('conn', { b: '2', a: '1' })).toBe(2);
    expect(c.snapshot()).toEqual({ 'conn{a="1",b="2"}': 2 });
  });

  it('totals over label sets but not over counters that merely share a prefix', () => {
    const c = counters();
    c.inc('rejected', { reason: 'unknown_device' }, 2);
    c.inc('rejected', { reason: 'ts_too_old' }, 3);
    c.inc('rejected', {}, 1);
    c.inc('rejected_extra', {}, 7);
    c.inc('rejected_extra', { reason: 'x' }, 11);
    // 2 + 3 + 1; rejected_extra (7 + 11) is another counter
    expect(c.total('rejected')).toBe(6);
    expect(c.total('rejected_extra')).toBe(18);
  });

  it('refuses a counter outside the catalogue and a label it does not declare', () => {
    const c = counters();
    expect(() => c.inc('nope' as 'rejected')).toThrow(/not in the hub catalogue/);
    expect(() => c.inc('records_written', { reason: 'x' })).toThrow();
  });

  it('escapes double quote, backslash and newline in label values', async () => {
    const c = counters();
    c.inc('e', { v: 'a"b\\c\nd' });
    expect(c.snapshot()).toEqual({ 'e{v="a\\"b\\\\c\\nd"}': 1 });
    expect(c.get('e', { v: 'a"b\\c\nd' })).toBe(1);
    const text = await c.registry.metrics();
    expect(text).toContain('hub_e_total{v="a\\"b\\\\c\\nd"} 1');
  });

  it('exposes Prometheus text with HELP, TYPE and _total, which a text-format parser reads back', async () => {
    const c = counters();
    c.inc('rejected', { reason: 'unknown_device' }, 2);
    c.inc('records_written', {}, 5);
    c.inc('rejected', { reason: 'ts_too_old' }, 3);
    const h = histogram(c.registry, 'hub', 'influx_write_seconds', 'InfluxDB write time.', [0.01, 0.1, 1]);
    h.observe(0.05);
    h.observe(0.5);
    const { body, contentType } = await metricsText(c.registry);
    expect(contentType).toMatch(/^text\/plain; version=0\.0\.4/);
    expect(body).toContain('# HELP hub_rejected_total Records refused, by reason.\n# TYPE hub_rejected_total counter\n');
    const families = parsePrometheusTextFormat(body);
    const byName = new Map(families.map((f) => [f.name, f]));
    const rejected = byName.get('hub_rejected_total');
    expect(rejected?.type).toBe('COUNTER');
    expect(rejected?.metrics.map((m) => [m.labels?.['reason'], Number(m.value)]).sort()).toEqual([
      ['ts_too_old', 3],
      ['unknown_device', 2],
    ]);
    expect(Number(byName.get('hub_records_written_total')?.metrics[0]?.value)).toBe(5);
    // A labelled counter shows no series until one is incremented.
    expect(Number(byName.get('hub_conn_total')?.metrics.length ?? 0)).toBe(0);
    const hist = byName.get('hub_influx_write_seconds');
    expect(hist?.type).toBe('HISTOGRAM');
    const m = hist?.metrics[0] as { buckets: Record<string, string>; count: string; sum: string };
    expect(m.buckets).toEqual({ '0.01': '0', '0.1': '1', '1': '2', '+Inf': '2' });
    expect(Number(m.count)).toBe(2);
    expect(Number(m.sum)).toBeCloseTo(0.55, 10);
    // Process metrics ride along.
    expect(byName.get('process_cpu_user_seconds_total')?.type).toBe('COUNTER');
  });
});
