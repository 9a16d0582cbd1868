import { describe, expect, it } from 'vitest';
import {
  applyMacros,
  applyTransformations,
  calculateInterval,
  durationMs,
  escapeRegex,
  expandEnv,
  formatInterval,
  interpolateVariables,
  roundInterval,
  route,
  rowsOf,
  toSeriesFrames,
  toTableFrame,
  type TableFrame,
  type VariableValue,
} from './grafana.ts';

// Every expected value below is written out by hand from Grafana's rules, never computed by the harness.

describe('escapeRegex', () => {
  it('escapes regex metacharacters, slash and backslash', () => {
    expect(escapeRegex('a.b(c)')).toBe('a\\.b\\(c\\)');
    expect(escapeRegex('^$*+?.()|[]{}/\\')).toBe('\\^\\$\\*\\+\\?\\.\\(\\)\\|\\[\\]\\{\\}\\/\\\\');
  });
  it('leaves -, quotes and Chinese text alone', () => {
    expect(escapeRegex("A-101 O'Neil")).toBe("A-101 O'Neil");
    expect(escapeRegex('渝中区')).toBe('渝中区');
  });
});

describe('interpolateVariables', () => {
  const multi = (value: string[] | 'All', options: string[], allValue?: string): VariableValue =>
    allValue === undefined ? { value, multi: true, includeAll: true, options } : { value, multi: true, includeAll: true, options, allValue };
  const single = (value: string): VariableValue => ({ value, multi: false, includeAll: false, options: [value] });
  const inRegex = 'SELECT last("v") FROM "env" WHERE "district" =~ /^$district$/ AND $timeFilter';

  it('multi value: (a|b), each value regex-escaped', () => {
    expect(interpolateVariables(inRegex, { district: multi(['渝中区', 'a.b(c)'], []) })).toBe(
      'SELECT last("v") FROM "env" WHERE "district" =~ /^(渝中区|a\\.b\\(c\\))$/ AND $timeFilter',
    );
  });
  it('multi with one selected value in an array: (a)', () => {
    expect(interpolateVariables(inRegex, { district: multi(['渝中区'], []) })).toBe(
      'SELECT last("v") FROM "env" WHERE "district" =~ /^(渝中区)$/ AND $timeFilter',
    );
  });
  it('does not escape - or quotes in multi values', () => {
    expect(interpolateVariables('/^$room$/', { room: multi(["O'Neil-1", 'A-101'], []) })).toBe("/^(O'Neil-1|A-101)$/");
  });
  it('All without allValue expands to every option', () => {
    expect(interpolateVariables(inRegex, { district: multi('All', ['渝中区', '江北区', 'a.b(c)']) })).toBe(
      'SELECT last("v") FROM "env" WHERE "district" =~ /^(渝中区|江北区|a\\.b\\(c\\))$/ AND $timeFilter',
    );
  });
  it('All with a custom allValue inserts it verbatim', () => {
    expect(interpolateVariables(inRegex, { district: multi('All', ['渝中区', '江北区'], '.*') })).toBe(
      'SELECT last("v") FROM "env" WHERE "district" =~ /^.*$/ AND $timeFilter',
    );
  });
  it('single non-multi value: raw outside a regex, escaped inside one', () => {
    expect(interpolateVariables(`SELECT * FROM "env" WHERE "school" = '$school'`, { school: single('a.b(c)') })).toBe(
      `SELECT * FROM "env" WHERE "school" = 'a.b(c)'`,
    );
    expect(interpolateVariables('SELECT * FROM "env" WHERE "school" =~ /^$school$/', { school: single('a.b(c)') })).toBe(
      'SELECT * FROM "env" WHERE "school" =~ /^a\\.b\\(c\\)$/',
    );
    expect(interpolateVariables(`WHERE "district" = '$district'`, { district: single('渝中区') })).toBe(`WHERE "district" = '渝中区'`);
  });
  it('a value that parses as a number is inserted raw, even inside a regex', () => {
    expect(interpolateVariables('WHERE "v" > $limit', { limit: single('42') })).toBe('WHERE "v" > 42');
    expect(interpolateVariables('WHERE "v" =~ /^$limit$/', { limit: single('1.5') })).toBe('WHERE "v" =~ /^1.5$/');
  });
  it('replaces $var, ${var} and [[var]] alike', () => {
    expect(interpolateVariables('$room ${room} [[room]]', { room: single('A-101') })).toBe('A-101 A-101 A-101');
  });
  it('leaves unknown names for the backend', () => {
    const q = 'WHERE $timeFilter GROUP BY time($__interval) LIMIT $__interval_ms ${nope} [[nope]]';
    expect(interpolateVariables(q, { room: single('A-101') })).toBe(q);
  });
});

describe('formatInterval', () => {
  it('truncates to the largest whole unit', () => {
    expect(formatInterval(90_000)).toBe('1m');
    expect(formatInterval(500)).toBe('500ms');
    expect(formatInterval(604_800_000)).toBe('7d');
    expect(formatInterval(129_600_000)).toBe('1d'); // 36 h
    expect(formatInterval(5_400_000)).toBe('1h'); // 90 min
    expect(formatInterval(59_999)).toBe('59s');
    expect(formatInterval(1000)).toBe('1s');
    expect(formatInterval(34_560_000_000)).toBe('1y'); // 400 d
  });
});

describe('applyMacros', () => {
  const range = { fromMs: 1_700_000_000_000, toMs: 1_700_003_600_000 };
  it('replaces $timeFilter, $interval, $__interval_ms and $__interval', () => {
    const q = 'SELECT mean("v") FROM "env" WHERE $timeFilter GROUP BY time($__interval), time($interval) LIMIT $__interval_ms';
    expect(applyMacros(q, range, 5000)).toBe(
      'SELECT mean("v") FROM "env" WHERE time >= 1700000000000ms and time <= 1700003600000ms GROUP BY time(5s), time(5s) LIMIT 5000',
    );
    expect(applyMacros('time($__interval) $__interval_ms', range, 90_000)).toBe('time(1m) 90000');
  });
});

describe('roundInterval', () => {
  it('follows rangeutil.roundInterval', () => {
    expect(roundInterval(3600)).toBe(5000);
    expect(roundInterval(86_400)).toBe(60_000);
    expect(roundInterval(604_800)).toBe(600_000);
    expect(roundInterval(60_000)).toBe(60_000);
    expect(roundInterval(9)).toBe(1);
    expect(roundInterval(10)).toBe(10);
    expect(roundInterval(7500)).toBe(10_000);
    expect(roundInterval(86_400_000)).toBe(86_400_000);
    expect(roundInterval(1_814_400_000)).toBe(2_592_000_000);
    expect(roundInterval(3_628_800_000)).toBe(31_536_000_000);
  });
});

describe('durationMs', () => {
  it('parses Grafana durations', () => {
    expect(durationMs('500ms')).toBe(500);
    expect(durationMs('30s')).toBe(30_000);
    expect(durationMs('1m')).toBe(60_000);
    expect(durationMs('2h')).toBe(7_200_000);
    expect(durationMs('1d')).toBe(86_400_000);
    expect(durationMs('1w')).toBe(604_800_000);
    expect(durationMs('1y')).toBe(31_536_000_000);
  });
  it('rejects anything else', () => {
    expect(() => durationMs('1.5m')).toThrow();
    expect(() => durationMs('abc')).toThrow();
    expect(() => durationMs('')).toThrow();
  });
});

describe('calculateInterval', () => {
  const hours = (h: number) => ({ fromMs: 0, toMs: h * 3_600_000 });
  it('rounds range / maxDataPoints, then raises it to the lower limit', () => {
    expect(calculateInterval(hours(1), 1000)).toBe(5000);
    expect(calculateInterval(hours(1), 1000, '1s')).toBe(5000);
    expect(calculateInterval(hours(1), 1000, '1m')).toBe(60_000);
    expect(calculateInterval(hours(24), 1000, '10s')).toBe(60_000);
    expect(calculateInterval(hours(24), 1440)).toBe(60_000);
    expect(calculateInterval(hours(168), 1000, '1m')).toBe(600_000);
    expect(calculateInterval(hours(720), 500)).toBe(3_600_000);
  });
});

describe('InfluxQL response → frames', () => {
  const env = { name: 'env', tags: { district: '渝中区' }, columns: ['time', 'mean', 'max'], values: [[1000, 21.5, 23], [2000, null, 24]] };
  it('time_series: one frame per value column, named measurement.column { k: v }', () => {
    expect(toSeriesFrames('A', [env])).toEqual([
      { refId: 'A', name: 'env.mean { district: 渝中区 }', column: 'mean', labels: { district: '渝中区' }, points: [[1000, 21.5], [2000, null]] },
      { refId: 'A', name: 'env.max { district: 渝中区 }', column: 'max', labels: { district: '渝中区' }, points: [[1000, 23], [2000, 24]] },
    ]);
    expect(toSeriesFrames('B', [{ name: 'env', columns: ['time', 'mean'], values: [[1000, 1]] }]).map((f) => f.name)).toEqual(['env.mean']);
  });
  it('applies the alias ($tag_x, $col, [[tag_x]], [[col]])', () => {
    expect(toSeriesFrames('A', [env], '$tag_district $col').map((f) => f.name)).toEqual(['渝中区 mean', '渝中区 max']);
    expect(toSeriesFrames('A', [env], '[[tag_district]]/[[col]]').map((f) => f.name)).toEqual(['渝中区/mean', '渝中区/max']);
  });
  it('table: one frame with Time, the GROUP BY tag keys, then the value columns', () => {
    const series = [
      { name: 'env', tags: { district: '渝中区', school: 'a.b(c)' }, columns: ['time', 'last'], values: [[1000, 20]] },
      { name: 'env', tags: { district: '江北区', school: 's2' }, columns: ['time', 'last'], values: [[1000, 18], [2000, 19]] },
    ];
    expect(toTableFrame('A', series)).toEqual({
      refId: 'A',
      fields: ['Time', 'district', 'school', 'last'],
      rows: [[1000, '渝中区', 'a.b(c)', 20], [1000, '江北区', 's2', 18], [2000, '江北区', 's2', 19]],
    });
    const plain = toTableFrame('B', [{ name: 'env', columns: ['time', 'mean', 'max'], values: [[5, 1, 2]] }]);
    expect(plain).toEqual({ refId: 'B', fields: ['Time', 'mean', 'max'], rows: [[5, 1, 2]] });
  });
});

describe('applyTransformations and rowsOf', () => {
  it('calculateField → sortBy → limit → organize, on one table frame', () => {
    const t: TableFrame = { refId: 'A', fields: ['Time', 'school', 'up', 'expected'], rows: [[0, 'yz-s01', 391, 420], [0, 'jb-s01', 720, 720], [0, '渝中区-2', 57, 60]] };
    const [out] = applyTransformations(
      [t],
      [
        { id: 'calculateField', options: { mode: 'binary', alias: 'availability', binary: { left: { matcher: { id: 'byName', options: 'up' } }, operator: '/', right: { matcher: { id: 'byName', options: 'expected' } } } } },
        { id: 'sortBy', options: { sort: [{ field: 'availability', desc: false }] } },
        { id: 'limit', options: { limitField: 2 } },
        { id: 'organize', options: { excludeByName: { Time: true, up: true, expected: true } } },
      ],
    );
    expect(out!.fields).toEqual(['school', 'availability']);
    // 391/420 = 0.930952…, 57/60 = 0.95, 720/720 = 1.
    expect(rowsOf(out!)).toEqual([
      { school: 'yz-s01', availability: 391 / 420 },
      { school: '渝中区-2', availability: 0.95 },
    ]);
  });
  it('calculateField divides with JavaScript arithmetic, as Grafana: 0 ÷ 0 is NaN, x ÷ 0 is Infinity', () => {
    const t: TableFrame = { refId: 'A', fields: ['u', 'e'], rows: [[0, 0], [5, 0]] };
    const [out] = applyTransformations([t], [{ id: 'calculateField', options: { alias: 'r', binary: { left: { matcher: { id: 'byName', options: 'u' } }, operator: '/', right: { matcher: { id: 'byName', options: 'e' } } } } }]);
    expect(out!.rows).toEqual([[0, 0, Number.NaN], [5, 0, Infinity]]);
  });
  it('calculateField binary operators', () => {
    const f: TableFrame = { refId: 'A', fields: ['x', 'y'], rows: [[6, 3]] };
    const calc = (operator: string) =>
      applyTransformations([f], [{ id: 'calculateField', options: { alias: 'r', binary: { left: { matcher: { id: 'byName', options: 'x' } }, operator, right: { fixed: '3' } } } }])[0]!.rows[0];
    expect(calc('*')).toEqual([6, 3, 18]);
    expect(calc('+')).toEqual([6, 3, 9]);
    expect(calc('-')).toEqual([6, 3, 3]);
    expect(calc('/')).toEqual([6, 3, 2]);
    // The pre-11 string form is not evaluated by Grafana's transformer: refused here.
    expect(() => applyTransformations([f], [{ id: 'calculateField', options: { alias: 'r', binary: { left: 'x', operator: '/', right: 'y' } } }])).toThrow('matcher');
  });
  it('sortBy sorts numbers and strings, and refuses a column with null or NaN (Grafana leaves their order unspecified)', () => {
    const f: TableFrame = { refId: 'A', fields: ['k', 'v'], rows: [['c', 3], ['a', 1], ['b', 2]] };
    expect(applyTransformations([f], [{ id: 'sortBy', options: { sort: [{ field: 'v' }] } }])[0]!.rows).toEqual([['a', 1], ['b', 2], ['c', 3]]);
    expect(applyTransformations([f], [{ id: 'sortBy', options: { sort: [{ field: 'k', desc: true }] } }])[0]!.rows).toEqual([['c', 3], ['b', 2], ['a', 1]]);
    const withNull: TableFrame = { refId: 'A', fields: ['k', 'v'], rows: [['n', null], ['a', 1]] };
    expect(() => applyTransformations([withNull], [{ id: 'sortBy', options: { sort: [{ field: 'v' }] } }])).toThrow('no defined order');
  });
  it('rejects a transformation it does not emulate', () => {
    expect(() => applyTransformations([{ refId: 'A', fields: ['x'], rows: [] }], [{ id: 'joinByField', options: {} }])).toThrow('not emulated');
  });
  it('rowsOf keys each row by field name, missing cells as null', () => {
    expect(rowsOf({ refId: 'A', fields: ['Time', 'district', 'v'], rows: [[1000, '渝中区', 1], [2000, '江北区']] })).toEqual([
      { Time: 1000, district: '渝中区', v: 1 },
      { Time: 2000, district: '江北区', v: null },
    ]);
  });
});

describe('expandEnv', () => {
  const env = { HOST: 'influx', PORT: '8086' };
  it('expands $VAR and ${VAR}, unset as empty', () => {
    expect(expandEnv('http://$HOST:${PORT}/query', env)).toBe('http://influx:8086/query');
    expect(expandEnv('[$UNSET-${UNSET}]', env)).toBe('[-]');
    expect(expandEnv('告警 ${HOST}', env)).toBe('告警 influx');
  });
  it('$$ is a literal $', () => {
    expect(expandEnv('cost $$5 and $$HOST', env)).toBe('cost $5 and $HOST');
    expect(expandEnv('$$$HOST', env)).toBe('$influx');
  });
});

describe('route', () => {
  const tree = (emailContinue: boolean) => ({
    policies: [
      {
        receiver: 'root',
        group_by: ['district', 'school'],
        routes: [
          { receiver: 'email', object_matchers: [['severity', '=', 'critical']], continue: emailContinue },
          { receiver: 'nodered', object_matchers: [['scope', '=~', '.+']] },
          { receiver: 'never', object_matchers: [['scope', '=~', '.+']] },
          { receiver: 'high', object_matchers: [['alertname', '=~', 'High']] },
          { object_matchers: [['district', '=~', '渝.*'], ['severity', '!=', 'critical']], group_by: ['alertname'] },
        ],
      },
    ],
  });
  const hot = { alertname: 'HighTemp', severity: 'critical', scope: 'room', district: '渝中区', school: 'a.b(c)' };
  const offline = { alertname: 'Offline', severity: 'warning', scope: 'gateway', district: '渝中区', school: 'a.b(c)' };
  const other = { alertname: 'Other', severity: 'info', district: '江北区', school: 's2' };
  const quiet = { alertname: 'HighHum', severity: 'info', district: '渝中区', school: 's1' };

  it('continue: true sends an alert to two receivers; alerts are grouped by the group_by labels', () => {
    expect(route(tree(true), [hot, offline])).toEqual([
      { receiver: 'email', group: 'district=渝中区,school=a.b(c)', alerts: [hot] },
      { receiver: 'nodered', group: 'district=渝中区,school=a.b(c)', alerts: [hot, offline] },
    ]);
  });
  it('without continue the first matching route wins', () => {
    expect(route(tree(false), [hot])).toEqual([{ receiver: 'email', group: 'district=渝中区,school=a.b(c)', alerts: [hot] }]);
  });
  it('unmatched alerts go to the root receiver', () => {
    expect(route(tree(true), [other])).toEqual([{ receiver: 'root', group: 'district=江北区,school=s2', alerts: [other] }]);
  });
  it('=~ is anchored; a child without receiver inherits it, its own group_by replaces the parent one', () => {
    expect(route(tree(true), [quiet])).toEqual([{ receiver: 'root', group: 'alertname=HighHum', alerts: [quiet] }]);
  });
  it('different label values make different groups', () => {
    const other2 = { ...other, school: 's3' };
    expect(route(tree(true), [other, other2]).map((n) => [n.receiver, n.group, n.alerts.length])).toEqual([
      ['root', 'district=江北区,school=s2', 1],
      ['root', 'district=江北区,school=s3', 1],
    ]);
  });
});
