import { describe, expect, it } from 'vitest';
import { agg, aggCol, as, fieldCmp, from, fromSubquery, ident, literal, op, tagInVar, tagIs, tagIsNot, timeFilter } from '../src/influxql.ts';

describe('the InfluxQL builder', () => {
  it('quotes identifiers and literals, escaping quotes and backslashes', () => {
    expect(ident('up_expected')).toBe('"up_expected"');
    expect(ident('a"b\\c')).toBe('"a\\"b\\\\c"');
    expect(literal("it's")).toBe("'it\\'s'");
    expect(literal('渝中区')).toBe("'渝中区'");
    expect(literal('a\\b')).toBe("'a\\\\b'");
  });

  it('renders a grouped aggregate with Grafana macros and a template variable', () => {
    const q = from('availability')
      .select(as(op(agg('availability', 'sum', 'up_expected'), '/', agg('availability', 'sum', 'expected')), 'availability'))
      .where(timeFilter, fieldCmp('availability', 'expected', '=', 1), tagInVar('availability', 'district', 'district'))
      .byTime('$__interval')
      .by('district')
      .fill('none')
      .build();
    expect(q.sql).toBe(
      'SELECT sum("up_expected") / sum("expected") AS "availability" FROM "availability" WHERE $timeFilter AND "expected" = 1 AND "district" =~ /^$district$/ GROUP BY time($__interval), "district" fill(none)',
    );
  });

  it('renders subqueries, fixed intervals, retention policies and tag comparisons', () => {
    const inner = from('network_node').select(as(agg('network_node', 'mean', 'rx_bps'), 'rx')).where(timeFilter, tagIs('network_node', 'role', 'school_uplink')).byTime('1m').by('school', 'device').build();
    const outer = fromSubquery(inner).select(as(op(aggCol('sum', 'rx'), '/', 10e9), 'in')).byTime('1m').fill(0).build();
    expect(outer.sql).toBe(
      'SELECT sum("rx") / 10000000000.0 AS "in" FROM (SELECT mean("rx_bps") AS "rx" FROM "network_node" WHERE $timeFilter AND "role" = \'school_uplink\' GROUP BY time(1m), "school", "device") GROUP BY time(1m) fill(0)',
    );
    const rp = from('availability').retentionPolicy('rollup_1h').select(as(agg('availability', 'count', 'up'), 'n')).where(tagIsNot('availability', 'kind', 'network_node')).build();
    expect(rp.sql).toBe('SELECT count("up") AS "n" FROM "rollup_1h"."availability" WHERE "kind" != \'network_node\'');
  });

  it('refuses a SELECT without columns', () => {
    expect(() => from('inventory').build()).toThrow('at least one column');
  });
});
