import { StorageError, StorageErrorCode } from './errors.ts';
import { retentionPolicyOf, type FieldOf, type Measurement, type TagOf } from './schema.ts';

/**
 * A small typed builder for every InfluxQL statement of the product: the dashboards' and alert
 * rules' (sent through Grafana's InfluxDB datasource in raw query mode), the API's and reports'
 * (storage/src/queries.ts) and the rollups' continuous queries (storage/src/rollups.ts).
 * Measurements, tags and fields are checked against SCHEMA; Grafana's macros ($timeFilter,
 * $__interval) and template variables ($district…) are written as Grafana expects them.
 *
 * Quoting: `ident` for every identifier (database, retention policy, measurement, tag, field,
 * alias, continuous query), `literal` for every string value. Nothing else quotes.
 */

/** A double-quoted identifier (database, retention policy, measurement, tag, field, alias, CQ name). */
export function ident(name: string): string {
  return `"${name.replace(/\\/g, '\\\\').replace(/"/g, '\\"')}"`;
}

/** A single-quoted string literal. */
export function literal(value: string): string {
  return `'${value.replace(/\\/g, '\\\\').replace(/'/g, "\\'")}'`;
}

/** A value expression in a SELECT list. */
export interface Expr {
  readonly sql: string;
}

const expr = (sql: string): Expr => ({ sql });

type Fn = 'sum' | 'mean' | 'count' | 'last' | 'first' | 'max' | 'min' | 'spread' | 'non_negative_difference';

/** An aggregate or selector over a field of measurement `M` (checked against the schema). */
export function agg<M extends Measurement>(_m: M, fn: Fn, field: FieldOf<M>): Expr {
  return expr(`${fn}(${ident(field)})`);
}

/** A field's raw values (no aggregate): for listing points. */
export function fieldOf<M extends Measurement>(_m: M, field: FieldOf<M>): Expr {
  return expr(ident(field));
}

/** A tag's value as a column (`"tag"::tag`): for listing points. */
export function tagOf<M extends Measurement>(_m: M, tag: TagOf<M>): Expr {
  return expr(`${ident(tag)}::tag`);
}

/** An aggregate or selector over a column of a subquery, by its alias. */
export function aggCol(fn: Fn, column: string): Expr {
  return expr(`${fn}(${ident(column)})`);
}

/**
 * Arithmetic between expressions or with a number. Numbers are written as float literals
 * (`60.0`): InfluxDB 1.x divides an integer aggregate by an integer literal as integers
 * (`sum(online) / 60` gives 4 for 251).
 */
export function op(a: Expr | number, operator: '+' | '-' | '*' | '/', b: Expr | number): Expr {
  const s = (x: Expr | number) => (typeof x === 'number' ? (Number.isInteger(x) ? x.toFixed(1) : String(x)) : x.sql);
  return expr(`${s(a)} ${operator} ${s(b)}`);
}

export interface Column {
  expr: Expr;
  alias: string;
}

/** A WHERE condition. */
export interface Cond {
  readonly sql: string;
}

/** Grafana's time-range macro: `time >= … and time <= …` for the panel's or rule's range. */
export const timeFilter: Cond = { sql: '$timeFilter' };

/** A half-open range of epoch milliseconds, [fromMs, toMs). */
export interface TimeRange {
  fromMs: number;
  toMs: number;
}

/** An explicit time range: what the API, the CLI, reports and backfills use in place of `$timeFilter`. */
export function inRange(r: TimeRange): Cond {
  return { sql: `time >= ${r.fromMs}ms AND time < ${r.toMs}ms` };
}

/** A GROUP BY time interval: Grafana's `$__interval`, or a fixed duration (`1h`, `600s`). */
export type Interval = '$__interval' | `${number}${'s' | 'm' | 'h' | 'd'}`;

/** A tag equal to a literal. */
export function tagIs<M extends Measurement>(_m: M, tag: TagOf<M>, value: string): Cond {
  return { sql: `${ident(tag)} = ${literal(value)}` };
}

/** A tag not equal to a literal. */
export function tagIsNot<M extends Measurement>(_m: M, tag: TagOf<M>, value: string): Cond {
  return { sql: `${ident(tag)} != ${literal(value)}` };
}

/**
 * A tag matching a template variable: `"district" =~ /^$district$/`. Grafana interpolates a
 * multi-value or "All" selection as a regex alternation `(a|b)` and escapes regex characters in
 * each value, which is what the anchored regex expects.
 */
export function tagInVar<M extends Measurement>(_m: M, tag: TagOf<M>, variable: string): Cond {
  return { sql: `${ident(tag)} =~ /^$${variable}$/` };
}

/** A numeric field compared with a number. */
export function fieldCmp<M extends Measurement>(_m: M, field: FieldOf<M>, cmp: '=' | '>' | '<' | '>=' | '<=' | '!=', value: number): Cond {
  return { sql: `${ident(field)} ${cmp} ${value}` };
}

type Source<M extends Measurement> = { kind: 'measurement'; measurement: M } | { kind: 'subquery'; query: Select };

export interface Select {
  readonly sql: string;
}

/** One SELECT statement. Build it with `from(measurement)` or `fromSubquery(select)`. */
export class SelectBuilder<M extends Measurement> {
  readonly #source: Source<M>;
  #columns: Column[] = [];
  #where: Cond[] = [];
  #groupTime: string | undefined;
  #groupTags: string[] = [];
  #fill: string | undefined;
  #rp: string | undefined;
  #newestFirst = false;
  #limit: number | undefined;
  #db: string | undefined;
  #into: string | undefined;

  constructor(source: Source<M>) {
    this.#source = source;
  }

  /** Columns `expr AS alias`. Aliases are required so that series names are stable. */
  select(...columns: Column[]): this {
    this.#columns.push(...columns);
    return this;
  }

  where(...conds: Cond[]): this {
    this.#where.push(...conds);
    return this;
  }

  /** GROUP BY time(…): a Grafana interval macro such as `$__interval`, or a fixed duration like `1m`. */
  byTime(interval: Interval): this {
    this.#groupTime = interval;
    return this;
  }

  /** GROUP BY tags (each becomes a label of the series in Grafana). */
  by(...tags: string[]): this {
    this.#groupTags.push(...tags);
    return this;
  }

  fill(value: 'none' | 'null' | 'previous' | number): this {
    this.#fill = String(value);
    return this;
  }

  /** ORDER BY time DESC. */
  newestFirst(): this {
    this.#newestFirst = true;
    return this;
  }

  limit(n: number): this {
    this.#limit = n;
    return this;
  }

  /** Read from a retention policy other than the default. */
  retentionPolicy(rp: string): this {
    this.#rp = rp;
    return this;
  }

  /** Read from this database rather than the one the query is sent to (a continuous query names its own). */
  database(db: string): this {
    this.#db = db;
    return this;
  }

  /** `SELECT … INTO "db"."rp"."measurement"`: for continuous queries and backfills. */
  into<T extends Measurement>(db: string, measurement: T): this {
    const rp = retentionPolicyOf(measurement) ?? 'autogen';
    this.#into = `${ident(db)}.${ident(rp)}.${ident(measurement)}`;
    return this;
  }

  build(): Select {
    if (this.#columns.length === 0) throw new StorageError(StorageErrorCode.EMPTY_SELECT, 'a SELECT needs at least one column');
    const cols = this.#columns.map((c) => `${c.expr.sql} AS ${ident(c.alias)}`).join(', ');
    let from: string;
    if (this.#source.kind === 'measurement') {
      const rp = this.#rp ?? retentionPolicyOf(this.#source.measurement);
      const db = this.#db !== undefined ? `${ident(this.#db)}.` : '';
      from = db + (rp ? `${ident(rp)}.` : db ? '.' : '') + ident(this.#source.measurement);
    } else {
      from = `(${this.#source.query.sql})`;
    }
    const where = this.#where.length ? ` WHERE ${this.#where.map((c) => c.sql).join(' AND ')}` : '';
    const groups = [...(this.#groupTime ? [`time(${this.#groupTime})`] : []), ...this.#groupTags.map(ident)];
    const group = groups.length ? ` GROUP BY ${groups.join(', ')}` : '';
    const fill = this.#fill !== undefined ? ` fill(${this.#fill})` : '';
    const order = this.#newestFirst ? ' ORDER BY time DESC' : '';
    const limit = this.#limit !== undefined ? ` LIMIT ${this.#limit}` : '';
    const into = this.#into ? ` INTO ${this.#into}` : '';
    return { sql: `SELECT ${cols}${into} FROM ${from}${where}${group}${fill}${order}${limit}` };
  }
}

export function from<M extends Measurement>(measurement: M): SelectBuilder<M> {
  return new SelectBuilder<M>({ kind: 'measurement', measurement });
}

/** An outer query over a subquery's columns (InfluxQL 1.2+). */
export function fromSubquery(query: Select): SelectBuilder<never> {
  return new SelectBuilder<never>({ kind: 'subquery', query });
}

/** `expr AS alias`. */
export const as = (e: Expr, alias: string): Column => ({ expr: e, alias });
