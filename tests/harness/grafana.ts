import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parse } from 'yaml';
import { influxQL, type InfluxSeries, type Scalar } from './influx.ts';

export { influxQL, type Scalar };

/**
 * What Grafana does with our provisioning, re-implemented for tests, since Grafana cannot run
 * here: template-variable interpolation (the InfluxDB datasource's rules), the backend's macros
 * ($timeFilter, $__interval), the panel interval, the InfluxQL response → data frames, the
 * transformations our panels use, and alert-rule evaluation (reduce, math, threshold, pending
 * period). Each piece follows Grafana's source (cited inline); the queries run against a real
 * InfluxDB.
 */

// ── template variables (public/app/plugins/datasource/influxdb/datasource.ts) ─────────────────

export interface VariableValue {
  /** One value, several (multi), or 'All'. */
  value: string | string[] | 'All';
  multi: boolean;
  includeAll: boolean;
  /** Every option of the variable (what "All" expands to when there is no custom allValue). */
  options: string[];
  allValue?: string;
}

/** `escapeRegex` of @grafana/data. */
export function escapeRegex(value: string): string {
  return value.replace(/[\\^$*+?.()|[\]{}/]/g, '\\$&');
}

const VARIABLE_RE = /\$(\w+)|\[\[([\s\S]+?)(?::(\w+))?\]\]|\${(\w+)(?:\.([^:^}]+))?(?::([^}]+))?}/g;

/** The datasource's interpolateQueryExpr for one variable occurrence in `query`. */
function interpolateQueryExpr(value: string | string[], variable: { name: string; multi: boolean }, query: string): string {
  if (typeof value === 'string' && !Number.isNaN(Number.parseFloat(value))) return value;
  if (variable.multi) {
    if (typeof value === 'string') return escapeRegex(value);
    return `(${value.map(escapeRegex).join('|')})`;
  }
  // Not multi: escaped only when the variable sits inside a /regex/.
  const inRegex = new RegExp(`\\/(?:\\^)?(.*)(\\$${variable.name})(.*)(?:\\$)?\\/`, 'm').test(query);
  if (inRegex) return typeof value === 'string' ? escapeRegex(value) : `(${value.map(escapeRegex).join('|')})`;
  return typeof value === 'string' ? value : value.join(',');
}

/** The dashboard's template variables replaced in a query, as the frontend does before sending it. */
export function interpolateVariables(query: string, vars: Record<string, VariableValue>): string {
  return query.replace(VARIABLE_RE, (match, n1?: string, n2?: string, _f2?: string, n3?: string) => {
    const name = n1 ?? n2 ?? n3;
    const v = name !== undefined ? vars[name] : undefined;
    if (!v) return match; // $timeFilter, $__interval…: left for the backend
    if (v.value === 'All') {
      if (v.allValue !== undefined) return v.allValue; // a custom allValue is inserted verbatim
      return interpolateQueryExpr(v.options, { name: name!, multi: v.multi || v.includeAll }, query);
    }
    return interpolateQueryExpr(v.value, { name: name!, multi: v.multi }, query);
  });
}

// ── backend macros (pkg/tsdb/influxdb/models/query.go) ──────────────────────────────────────────

/** gtime.FormatInterval: the largest whole unit, truncated. */
export function formatInterval(ms: number): string {
  const units: Array<[string, number]> = [
    ['y', 365 * 86_400_000],
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ];
  for (const [u, size] of units) if (ms >= size) return `${Math.floor(ms / size)}${u}`;
  return `${Math.max(1, Math.floor(ms))}ms`;
}

export interface Range {
  fromMs: number;
  toMs: number;
}

export function applyMacros(query: string, range: Range, intervalMs: number): string {
  const text = formatInterval(intervalMs);
  return query
    .replaceAll('$timeFilter', `time >= ${range.fromMs}ms and time <= ${range.toMs}ms`)
    .replaceAll('$interval', text)
    .replaceAll('$__interval_ms', String(intervalMs))
    .replaceAll('$__interval', text);
}

/** rangeutil.roundInterval (input and output in ms). */
export function roundInterval(ms: number): number {
  const table: Array<[number, number]> = [
    [10, 1],
    [15, 10],
    [35, 20],
    [75, 50],
    [150, 100],
    [350, 200],
    [750, 500],
    [1500, 1000],
    [3500, 2000],
    [7500, 5000],
    [12500, 10000],
    [17500, 15000],
    [25000, 20000],
    [45000, 30000],
    [90000, 60000],
    [210000, 120000],
    [450000, 300000],
    [750000, 600000],
    [1050000, 900000],
    [1500000, 1200000],
    [2700000, 1800000],
    [5400000, 3600000],
    [9000000, 7200000],
    [16200000, 10800000],
    [32400000, 21600000],
    [86400000, 43200000],
    [604800000, 86400000],
    [1814400000, 604800000],
    [3628800000, 2592000000],
  ];
  for (const [below, result] of table) if (ms < below) return result;
  return 31536000000;
}

/** Parses Grafana durations like `1m`, `30s`, `2h`. */
export function durationMs(s: string): number {
  const m = /^(\d+)(ms|s|m|h|d|w|y)$/.exec(s.trim());
  if (!m) throw new Error(`not a duration: ${s}`);
  const unit = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000, w: 604_800_000, y: 31_536_000_000 }[m[2] as 'ms'];
  return Number(m[1]) * unit;
}

/** rangeutil.calculateInterval: range ÷ max data points, rounded, at least the lower limit (the panel's min interval, else the datasource's timeInterval). */
export function calculateInterval(range: Range, maxDataPoints: number, lowerLimit?: string): number {
  const lowMs = lowerLimit ? durationMs(lowerLimit) : 1;
  const ms = roundInterval((range.toMs - range.fromMs) / maxDataPoints);
  return Math.max(ms, lowMs);
}

// ── InfluxQL responses → frames (pkg/tsdb/influxdb/influxql/buffered/response_parser.go) ───────


export interface SeriesFrame {
  refId: string;
  /** Display name (the target's alias applied, or `measurement.column { tags }`). */
  name: string;
  column: string;
  labels: Record<string, string>;
  points: Array<[number, Scalar]>;
}

export interface TableFrame {
  refId: string;
  fields: string[];
  rows: Scalar[][];
}

function aliasName(alias: string, s: InfluxSeries, column: string): string {
  return alias
    // A tag the series does not have stays as written, as in Grafana's response parser.
    .replace(/\$tag_(\w+)|\[\[tag_(\w+)\]\]/g, (m: string, a?: string, b?: string) => s.tags?.[(a ?? b)!] ?? m)
    .replace(/\$col|\[\[col\]\]/g, column)
    .replace(/\$measurement|\$m\b|\[\[measurement\]\]|\[\[m\]\]/g, s.name);
}

export function toSeriesFrames(refId: string, series: InfluxSeries[], alias?: string): SeriesFrame[] {
  const out: SeriesFrame[] = [];
  for (const s of series) {
    const tags = s.tags ?? {};
    s.columns.forEach((column, i) => {
      if (i === 0) return; // time
      const tagText = Object.keys(tags).length
        ? ` { ${Object.keys(tags)
            .sort()
            .map((k) => `${k}: ${tags[k]}`)
            .join(', ')} }`
        : '';
      out.push({
        refId,
        name: alias ? aliasName(alias, s, column) : `${s.name}.${column}${tagText}`,
        column,
        labels: { ...tags },
        points: s.values.map((v) => [Number(v[0]), v[i] ?? null]),
      });
    });
  }
  return out;
}

/** Table format: one frame, Time then the GROUP BY tags then the value columns, a row per value row. */
export function toTableFrame(refId: string, series: InfluxSeries[]): TableFrame {
  const tagKeys = [...new Set(series.flatMap((s) => Object.keys(s.tags ?? {})))];
  const valueCols = [...new Set(series.flatMap((s) => s.columns.slice(1)))];
  const rows: Scalar[][] = [];
  for (const s of series) {
    for (const v of s.values) {
      rows.push([Number(v[0]), ...tagKeys.map((k) => s.tags?.[k] ?? null), ...valueCols.map((c) => (s.columns.indexOf(c) > 0 ? (v[s.columns.indexOf(c)] ?? null) : null))]);
    }
  }
  return { refId, fields: ['Time', ...tagKeys, ...valueCols], rows };
}

// ── transformations (public/app/features/transformers, @grafana/data transformers) ─────────────

export interface Transformation {
  id: string;
  options: Record<string, unknown>;
}

export function applyTransformations(frames: TableFrame[], transformations: Transformation[]): TableFrame[] {
  let out = frames;
  for (const t of transformations) {
    switch (t.id) {
      case 'calculateField': {
        // Binary mode (calculateField.ts, getBinaryCreator): each side a field matched by name, or
        // a fixed number; the operator applied with JavaScript's arithmetic, row by row.
        type Side = string | { matcher?: { id: string; options?: string }; fixed?: string };
        const binary = t.options['binary'] as { left: Side; operator: '/' | '*' | '+' | '-'; right: Side };
        const alias = t.options['alias'] as string;
        out = out.map((f) => {
          const side = (s: Side): ((row: Scalar[]) => number) | undefined => {
            if (typeof s === 'string') throw new Error('calculateField: use the { matcher } form, which Grafana 11+ evaluates');
            if (s.matcher?.id === 'byName') {
              const i = f.fields.indexOf(s.matcher.options ?? '');
              if (i >= 0) return (row) => row[i] as number;
            }
            const v = Number.parseFloat(s.fixed ?? s.matcher?.options ?? '');
            return Number.isNaN(v) ? undefined : () => v;
          };
          const l = side(binary.left);
          const r = side(binary.right);
          if (!l || !r) return f;
          const op = { '/': (a: number, b: number) => a / b, '*': (a: number, b: number) => a * b, '+': (a: number, b: number) => a + b, '-': (a: number, b: number) => a - b }[binary.operator];
          return { ...f, fields: [...f.fields, alias], rows: f.rows.map((row) => [...row, op(l(row), r(row))]) };
        });
        break;
      }
      case 'sortBy': {
        // Grafana compares numbers as a − b and strings with localeCompare; a null or NaN makes
        // its order unspecified, so a test must not depend on one: refused here.
        const { field, desc } = (t.options['sort'] as Array<{ field: string; desc?: boolean }>)[0]!;
        out = out.map((f) => {
          const i = f.fields.indexOf(field);
          if (i < 0) return f;
          if (f.rows.some((r) => r[i] === null || r[i] === undefined || Number.isNaN(r[i]))) throw new Error(`sortBy ${field}: a null or NaN has no defined order in Grafana`);
          const cmp = (a: Scalar[], b: Scalar[]) => {
            const x = a[i]!;
            const y = b[i]!;
            const c = typeof x === 'number' && typeof y === 'number' ? x - y : String(x).localeCompare(String(y));
            return desc ? -c : c;
          };
          return { ...f, rows: [...f.rows].sort(cmp) };
        });
        break;
      }
      case 'limit':
        out = out.map((f) => ({ ...f, rows: f.rows.slice(0, t.options['limitField'] as number) }));
        break;
      case 'organize': {
        const exclude = (t.options['excludeByName'] ?? {}) as Record<string, boolean>;
        out = out.map((f) => {
          const keep = f.fields.map((n, i) => [n, i] as const).filter(([n]) => !exclude[n]);
          return { ...f, fields: keep.map(([n]) => n), rows: f.rows.map((r) => keep.map(([, i]) => r[i] ?? null)) };
        });
        break;
      }
      default:
        throw new Error(`transformation ${t.id} is not emulated`);
    }
  }
  return out;
}

/** Rows of a table frame as objects keyed by field name. */
export function rowsOf(f: TableFrame): Array<Record<string, Scalar>> {
  return f.rows.map((r) => Object.fromEntries(f.fields.map((n, i) => [n, r[i] ?? null])));
}

// ── dashboards ──────────────────────────────────────────────────────────────────────────────

export interface PanelTarget {
  refId: string;
  query: string;
  rawQuery: boolean;
  resultFormat: 'time_series' | 'table';
  alias?: string;
  datasource: { type: string; uid: string };
}

export interface Panel {
  id: number;
  type: string;
  title: string;
  datasource: { type: string; uid: string };
  targets: PanelTarget[];
  transformations?: Transformation[];
  interval?: string;
  maxDataPoints?: number;
  fieldConfig: { defaults: { unit?: string } };
}

export interface DashboardJson {
  uid: string;
  title: string;
  schemaVersion: number;
  panels: Panel[];
  templating: { list: Array<{ name: string; type: string; query: string; multi?: boolean; includeAll?: boolean; datasource?: { uid: string } }> };
}

export const PROVISIONING = join(import.meta.dirname, '..', '..', 'dashboards', 'provisioning');

export function loadDashboard(uid: string): DashboardJson {
  return JSON.parse(readFileSync(join(PROVISIONING, 'dashboards', 'json', `${uid}.json`), 'utf8')) as DashboardJson;
}

export interface PanelContext {
  influxUrl: string;
  db: string;
  range: Range;
  vars: Record<string, VariableValue>;
  /** The panel's width in pixels, Grafana's default for max data points. */
  maxDataPoints?: number;
  /** The datasource's timeInterval (provisioned as 1m). */
  datasourceInterval?: string;
}

export interface PanelResult {
  queries: string[];
  intervalMs: number;
  series: SeriesFrame[];
  tables: TableFrame[];
}

/** Runs a panel as Grafana would: interval, variables, macros, InfluxDB, frames, transformations. */
export async function runPanel(panel: Panel, ctx: PanelContext): Promise<PanelResult> {
  const intervalMs = calculateInterval(ctx.range, panel.maxDataPoints ?? ctx.maxDataPoints ?? 1000, panel.interval ?? ctx.datasourceInterval ?? '1m');
  const queries: string[] = [];
  const series: SeriesFrame[] = [];
  const tables: TableFrame[] = [];
  for (const t of panel.targets) {
    const q = applyMacros(interpolateVariables(t.query, ctx.vars), ctx.range, intervalMs);
    queries.push(q);
    const res = await influxQL(ctx.influxUrl, ctx.db, q);
    if (t.resultFormat === 'table') tables.push(toTableFrame(t.refId, res));
    else series.push(...toSeriesFrames(t.refId, res, t.alias));
  }
  return { queries, intervalMs, series, tables: panel.transformations?.length ? applyTransformations(tables, panel.transformations) : tables };
}

// ── alert rules (pkg/services/ngalert, pkg/expr) ────────────────────────────────────────────────

/** Grafana's provisioning-file variable expansion (pkg/services/provisioning/values): `$$` is a literal `$`. */
export function expandEnv(text: string, env: Record<string, string | undefined>): string {
  return text
    .split('$$')
    .map((part) => part.replace(/\$\{(\w+)\}|\$(\w+)/g, (_m, a?: string, b?: string) => env[(a ?? b)!] ?? ''))
    .join('$');
}

export interface RuleQuery {
  refId: string;
  datasourceUid: string;
  relativeTimeRange?: { from: number; to: number };
  model: Record<string, unknown> & { type?: string; query?: string; expression?: string };
}

export interface Rule {
  uid: string;
  title: string;
  condition: string;
  data: RuleQuery[];
  for: string;
  noDataState: 'OK' | 'NoData' | 'Alerting';
  execErrState: string;
  labels: Record<string, string>;
  annotations: Record<string, string>;
}

export interface RulesFile {
  apiVersion: number;
  groups: Array<{ orgId: number; name: string; folder: string; interval: string; rules: Rule[] }>;
}

export function loadAlerting(): { rules: RulesFile; contactPoints: unknown; policies: unknown; raw: Record<string, string> } {
  const raw: Record<string, string> = {};
  for (const f of ['rules.yaml', 'contact-points.yaml', 'policies.yaml']) raw[f] = readFileSync(join(PROVISIONING, 'alerting', f), 'utf8');
  return {
    rules: parse(raw['rules.yaml']!) as RulesFile,
    contactPoints: parse(raw['contact-points.yaml']!),
    policies: parse(raw['policies.yaml']!),
    raw,
  };
}

type Numbers = Map<string, { labels: Record<string, string>; value: number }>;
const labelKey = (l: Record<string, string>) =>
  JSON.stringify(
    Object.keys(l)
      .sort()
      .map((k) => [k, l[k]]),
  );

/** One evaluation of a rule at `now`: the condition's value per alert instance (by labels). */
export async function evaluateRule(rule: Rule, now: number, influxUrl: string, db: string): Promise<Numbers> {
  const results = new Map<string, SeriesFrame[] | Numbers>();
  for (const d of rule.data) {
    if (d.datasourceUid !== '__expr__') {
      const range = { fromMs: now - d.relativeTimeRange!.from * 1000, toMs: now - d.relativeTimeRange!.to * 1000 };
      // Alert queries get intervalMs 1000 unless the model sets one (ngalert/models/alert_query.go).
      const q = applyMacros(d.model.query!, range, (d.model['intervalMs'] as number | undefined) ?? 1000);
      results.set(d.refId, toSeriesFrames(d.refId, await influxQL(influxUrl, db, q)));
      continue;
    }
    const m = d.model;
    if (m.type === 'reduce') {
      const input = results.get(String(m.expression).replace(/^\$/, '')) as SeriesFrame[];
      const settings = m['settings'] as { mode?: string } | undefined;
      const out: Numbers = new Map();
      for (const s of input) {
        let vals = s.points.map(([, v]) => (typeof v === 'number' ? v : v === null ? Number.NaN : Number.NaN));
        if (settings?.mode === 'dropNN') vals = vals.filter((v) => !Number.isNaN(v));
        if (m['reducer'] !== 'last') throw new Error(`reducer ${String(m['reducer'])} is not emulated`);
        out.set(labelKey(s.labels), { labels: s.labels, value: vals.length ? vals.at(-1)! : Number.NaN });
      }
      results.set(d.refId, out);
    } else if (m.type === 'threshold') {
      const input = results.get(String(m.expression)) as Numbers;
      const [c] = m['conditions'] as Array<{ evaluator: { type: string; params: number[] } }>;
      const p = c!.evaluator.params[0]!;
      const out: Numbers = new Map();
      for (const [k, v] of input) {
        if (c!.evaluator.type !== 'gt' && c!.evaluator.type !== 'lt') throw new Error(`threshold ${c!.evaluator.type} is not emulated`);
        // A comparison with NaN is false, as in Go: 0.
        const hit = c!.evaluator.type === 'gt' ? v.value > p : v.value < p;
        out.set(k, { labels: v.labels, value: hit ? 1 : 0 });
      }
      results.set(d.refId, out);
    } else if (m.type === 'math') {
      const expr = String(m.expression);
      const refs = [...new Set([...expr.matchAll(/\$(\w+)/g)].map((x) => x[1]!))];
      const inputs = refs.map((r) => results.get(r) as Numbers);
      const out: Numbers = new Map();
      // Union on identical label sets (every input of our rules is grouped by the same tags).
      for (const [k, first] of inputs[0]!) {
        if (!inputs.every((i) => i.has(k))) continue;
        const js = expr.replace(/\$(\w+)/g, (_x, r: string) => String(inputs[refs.indexOf(r)]!.get(k)!.value));
        const v = Number(new Function(`return Number(${js});`)() as number);
        out.set(k, { labels: first.labels, value: v });
      }
      results.set(d.refId, out);
    } else {
      throw new Error(`expression ${String(m.type)} is not emulated`);
    }
  }
  return results.get(rule.condition) as Numbers;
}

export type AlertState = 'Normal' | 'Pending' | 'Alerting';

/** Grafana's `missing_series_evals_to_resolve` default: a series gone this many evaluations in a row resolves. */
const MISSING_SERIES_EVALS_TO_RESOLVE = 2;
/** The instance Grafana creates when a rule's queries return nothing and noDataState is Alerting. */
const NO_DATA = '__no_data__';

/**
 * Evaluates a rule at each of `times` (its group interval apart) and returns every instance's
 * state after each evaluation, as Grafana's state manager does:
 * - a condition value other than 0 fires (NaN included: `eval.go` treats only 0 as Normal);
 *   Pending when it first fires, Alerting once it has fired for `for`, Normal when it does not;
 * - no series at all is NoData, handled by `noDataState`: OK is Normal; Alerting fires an
 *   instance with the rule's labels and `alertname: DatasourceNoData`;
 * - an instance whose series is missing keeps its state until it has been missing
 *   MISSING_SERIES_EVALS_TO_RESOLVE evaluations in a row, then resolves.
 */
export async function simulateRule(rule: Rule, times: number[], influxUrl: string, db: string): Promise<Map<string, { labels: Record<string, string>; states: AlertState[] }>> {
  const forMs = durationMs(rule.for);
  const instances = new Map<string, { labels: Record<string, string>; states: AlertState[]; activeAt?: number; missing: number }>();
  const step = (k: string, labels: Record<string, string>, i: number, t: number, firing: boolean) => {
    const inst = instances.get(k) ?? { labels, states: Array<AlertState>(i).fill('Normal'), missing: 0 };
    instances.set(k, inst);
    inst.missing = 0;
    if (firing) {
      inst.activeAt ??= t;
      inst.states.push(t - inst.activeAt >= forMs ? 'Alerting' : 'Pending');
    } else {
      delete inst.activeAt;
      inst.states.push('Normal');
    }
  };
  for (const [i, t] of times.entries()) {
    const result = await evaluateRule(rule, t, influxUrl, db);
    const seen = new Set<string>();
    if (result.size === 0 && rule.noDataState === 'Alerting') {
      seen.add(NO_DATA);
      step(NO_DATA, { ...rule.labels, alertname: 'DatasourceNoData' }, i, t, true);
    }
    for (const [k, v] of result) {
      seen.add(k);
      step(k, { ...v.labels, ...rule.labels }, i, t, v.value !== 0);
    }
    for (const [k, inst] of instances) {
      if (seen.has(k)) continue;
      inst.missing += 1;
      if (inst.missing >= MISSING_SERIES_EVALS_TO_RESOLVE || k === NO_DATA) {
        delete inst.activeAt;
        inst.states.push('Normal');
      } else {
        inst.states.push(inst.states.at(-1) ?? 'Normal');
      }
    }
  }
  return new Map([...instances].map(([k, v]) => [k, { labels: v.labels, states: v.states }]));
}

// ── notification policies (Alertmanager routing, as Grafana's embedded Alertmanager does) ───────

interface Route {
  receiver?: string;
  group_by?: string[];
  object_matchers?: Array<[string, '=' | '!=' | '=~' | '!~', string]>;
  continue?: boolean;
  routes?: Route[];
}

export interface Notification {
  receiver: string;
  /** The group key: the group_by labels and their values. */
  group: string;
  alerts: Array<Record<string, string>>;
}

function matches(r: Route, labels: Record<string, string>): boolean {
  return (r.object_matchers ?? []).every(([name, op, value]) => {
    const v = labels[name] ?? '';
    switch (op) {
      case '=':
        return v === value;
      case '!=':
        return v !== value;
      case '=~':
        return new RegExp(`^(?:${value})$`).test(v);
      case '!~':
        return !new RegExp(`^(?:${value})$`).test(v);
    }
  });
}

/** The routes an alert ends at: depth first, the first matching child unless it says continue. */
function routesFor(r: Route, labels: Record<string, string>, inherited: { receiver: string; group_by: string[] }): Array<{ receiver: string; group_by: string[] }> {
  const here = { receiver: r.receiver ?? inherited.receiver, group_by: r.group_by ?? inherited.group_by };
  const out: Array<{ receiver: string; group_by: string[] }> = [];
  for (const child of r.routes ?? []) {
    if (!matches(child, labels)) continue;
    out.push(...routesFor(child, labels, here));
    if (!child.continue) break;
  }
  return out.length ? out : [here];
}

/** Groups firing alerts into notifications per receiver and group, as the policy tree says. */
export function route(policiesFile: unknown, alerts: Array<Record<string, string>>): Notification[] {
  const root = (policiesFile as { policies: Route[] }).policies[0]!;
  const groups = new Map<string, Notification>();
  for (const a of alerts) {
    for (const r of routesFor(root, a, { receiver: root.receiver!, group_by: root.group_by ?? [] })) {
      const group = r.group_by.map((k) => `${k}=${a[k] ?? ''}`).join(',');
      const key = `${r.receiver}|${group}`;
      const n = groups.get(key) ?? { receiver: r.receiver, group, alerts: [] };
      n.alerts.push(a);
      groups.set(key, n);
    }
  }
  return [...groups.values()];
}
