import { InfluxDB } from 'influx';
import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import { inRange, type Cond, type Select, type TimeRange } from '../../../storage/src/influxql.ts';
import { CQ_RESAMPLE, continuousQueryName, ROLLUP_RETENTION, ROLLUP_RP, ROLLUPS, rollupBackfill, staleContinuousQueries } from '../../../storage/src/rollups.ts';
import { HubError, HubErrorCode } from '../errors.ts';

export interface InfluxAdminConfig {
  url: string;
  database: string;
  username?: string | undefined;
  password?: string | undefined;
  requestTimeoutMs?: number;
}

/** One row of an answer: its columns, the tags it was grouped by, and `time` (a Date) when selected. */
export type Row = Record<string, unknown>;

/**
 * The storage's management and reading side, on the `influx` client (v1 API): the database,
 * the rollup retention policy and continuous queries (`ensureSchema`, which the storage set-up
 * feature retries until it succeeds), and the InfluxQL that the API, the CLI and reports run, returning rows.
 * The ingest hot path keeps its own writer (storage/README.md has the measurements).
 *
 * Every failure is a HUB_ERR_INFLUX_UNAVAILABLE, as the writer's: the client's retries are off
 * (`maxRetries: 0`), so the caller's own retry policy decides.
 */
export class InfluxAdmin {
  readonly #db: string;
  readonly #client: InfluxDB;
  readonly #log: Logger;

  constructor(cfg: InfluxAdminConfig, log: Logger) {
    const u = new URL(cfg.url);
    this.#db = cfg.database;
    this.#log = log;
    this.#client = new InfluxDB({
      host: u.hostname,
      port: Number(u.port || (u.protocol === 'https:' ? 443 : 8086)),
      protocol: u.protocol === 'https:' ? 'https' : 'http',
      database: cfg.database,
      ...(cfg.username ? { username: cfg.username, password: cfg.password ?? '' } : {}),
      pool: { maxRetries: 0, requestTimeout: cfg.requestTimeoutMs ?? 10_000 },
    });
  }

  /**
   * Creates the database, the rollup retention policy (its duration is not changed if it
   * exists) and the current continuous queries, after dropping ours of an earlier definition.
   * Idempotent: a second start changes nothing.
   */
  async ensureSchema(): Promise<void> {
    const db = this.#db;
    await this.#do('CREATE DATABASE', () => this.#client.createDatabase(db));
    const policies = await this.#do('SHOW RETENTION POLICIES', () => this.#client.showRetentionPolicies(db));
    if (!policies.some((p) => p.name === ROLLUP_RP)) {
      await this.#do(`CREATE RETENTION POLICY ${ROLLUP_RP}`, () => this.#client.createRetentionPolicy(ROLLUP_RP, { database: db, duration: ROLLUP_RETENTION, replication: 1 }));
    }
    const existing = await this.continuousQueries();
    for (const stale of staleContinuousQueries(existing)) {
      await this.#do(`DROP CONTINUOUS QUERY ${stale}`, () => this.#client.dropContinuousQuery(stale, db));
      this.#log.info({ cq: stale }, 'dropped a continuous query of an earlier definition');
    }
    for (const r of ROLLUPS) {
      const name = continuousQueryName(r);
      if (existing.includes(name)) continue;
      await this.#do(`CREATE CONTINUOUS QUERY ${name}`, () =>
        this.#client.createContinuousQuery(name, r.select(db, []), db, CQ_RESAMPLE).catch((e: unknown) => {
          // Created meanwhile by another start: the same definition, since the name is its hash.
          if (!/already exists/.test(toError(e).message)) throw e;
        }),
      );
    }
  }

  /** The names of the database's continuous queries. */
  async continuousQueries(): Promise<string[]> {
    const shown = await this.#do('SHOW CONTINUOUS QUERIES', () => this.#client.showContinousQueries(this.#db));
    // One series per database: only this one's.
    return (shown.groups().find((g) => g.name === this.#db)?.rows ?? []).map((r) => String((r as { name: unknown }).name));
  }

  /** Recomputes every rollup over `range` (hour-aligned), e.g. after a replay later than the CQs re-sample. */
  async backfill(range: TimeRange): Promise<void> {
    for (const statement of rollupBackfill(this.#db, range)) {
      await this.#do('rollup backfill', () => this.#client.queryRaw(statement, { method: 'POST' }).then(assertNoError));
    }
  }

  /** Runs a SELECT; a figure of storage/src/queries.ts is given its time condition for `range`. Times in ms. */
  query<R extends Row = Row>(select: Select): Promise<R[]>;
  query<R extends Row = Row>(figure: (time: Cond) => Select, range: TimeRange): Promise<R[]>;
  async query<R extends Row = Row>(q: Select | ((time: Cond) => Select), range?: TimeRange): Promise<R[]> {
    const sql = typeof q === 'function' ? q(inRange(range!)).sql : q.sql;
    const rows = await this.#do('query', () => this.#client.query<R>(sql, { precision: 'ms', method: 'POST' }));
    // Plain rows: the client's result array carries group helpers and a nanosecond Date subtype.
    return rows.map((r) => ({ ...r }));
  }

  async #do<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const err = toError(e);
      throw new HubError(HubErrorCode.INFLUX_UNAVAILABLE, `InfluxDB ${what} on ${this.#db}: ${err.message}`, { cause: err });
    }
  }
}

function assertNoError(body: { results?: Array<{ error?: string }>; error?: string }): void {
  const error = body.error ?? body.results?.find((r) => r.error)?.error;
  if (error) throw new Error(error);
}
