import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import { HubError, HubErrorCode } from '../errors.ts';
import { schemaStatements, staleContinuousQueries } from '../../../storage/src/rollups.ts';

export interface InfluxWriterConfig {
  url: string;
  database: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Flush when this many lines are queued. */
  maxLines: number;
  /** Flush at most this long after the first queued line. */
  lingerMs: number;
  /**
   * Failed attempts of a batch before the hub reports degraded and logs an error. The batch is
   * retried with back-off until it is written or the writer stops: its publishers wait, unacknowledged.
   */
  attempts: number;
  requestTimeoutMs: number;
}

export interface WriteResult {
  /** Lines InfluxDB refused (400: type conflicts or parse errors); never retried. */
  refused: number;
  refusal?: string;
}

interface Pending {
  lines: string[];
  resolve(r: WriteResult): void;
  reject(e: Error): void;
}

export interface InfluxWriterDeps {
  /** Called with the duration of every /write request, in seconds (the write-time histogram). */
  observeWrite?: (seconds: number) => void;
}

const BACKOFF_MAX_MS = 5000;

/**
 * Batches lines from many publishes into one /write and resolves each caller only once its lines
 * are durable in InfluxDB (a 204 from /write, which 1.x gives after the WAL write). Callers'
 * acknowledgements wait on it, so nothing is held only here (docs/design.md#reliability). While
 * InfluxDB is down a batch is retried with back-off, and its callers wait; while the writer is
 * held (the database is not set up yet) nothing is sent.
 */
export class InfluxWriter {
  readonly #cfg: InfluxWriterConfig;
  readonly #log: Logger;
  #queue: Pending[] = [];
  #queuedLines = 0;
  #timer: NodeJS.Timeout | undefined;
  #inflight = new Set<Promise<void>>();
  #stopped = false;
  /** Wakes the back-off sleeps and the hold when the writer stops. */
  readonly #stopping = new AbortController();
  #hold: { promise: Promise<void>; release(): void } | undefined;
  readonly #observeWrite: (seconds: number) => void;
  readonly stats = { linesWritten: 0, requests: 0, failedRequests: 0, linesRefused: 0 };
  /** Set once a batch has failed `attempts` times in a row; cleared by the next success. */
  lastError: { at: number; message: string } | undefined;

  constructor(cfg: InfluxWriterConfig, log: Logger, deps: InfluxWriterDeps = {}) {
    this.#cfg = cfg;
    this.#log = log;
    this.#observeWrite = deps.observeWrite ?? (() => {});
  }

  /** Queues writes without sending them until release() (the database is not set up yet). */
  hold(): void {
    if (this.#hold) return;
    let release!: () => void;
    const promise = new Promise<void>((resolve) => (release = resolve));
    this.#hold = { promise, release };
  }

  release(): void {
    this.#hold?.release();
    this.#hold = undefined;
  }

  async ensureDatabase(): Promise<void> {
    const db = this.#cfg.database;
    const quoted = `"${db.replace(/"/g, '\\"')}"`;
    await this.query(`CREATE DATABASE ${quoted}`, false);
    // Continuous queries from an earlier definition: dropped, so only the current ones run.
    const shown = (await this.query('SHOW CONTINUOUS QUERIES', false)) as { results: Array<{ series?: Array<{ name: string; values?: string[][] }> }> };
    const names = (shown.results[0]?.series ?? []).find((s) => s.name === db)?.values?.map((v) => v[0]!) ?? [];
    for (const stale of staleContinuousQueries(names)) {
      await this.query(`DROP CONTINUOUS QUERY "${stale}" ON ${quoted}`, false);
      this.#log.info({ cq: stale }, 'dropped a continuous query of an earlier definition');
    }
    for (const statement of schemaStatements(this.#cfg.database)) {
      const body = (await this.query(statement, false)) as { results: Array<{ error?: string }> };
      const error = body.results[0]?.error;
      // Created by an earlier start: fine. Anything else is a real problem.
      if (error && !/already exists/.test(error)) {
        throw new HubError(HubErrorCode.INFLUX_UNAVAILABLE, `InfluxDB refused "${statement}": ${error}`);
      }
    }
  }

  /** Runs InfluxQL through /query and returns the parsed JSON. */
  async query(q: string, withDb = true): Promise<unknown> {
    const params = new URLSearchParams({ q, epoch: 'ms' });
    if (withDb) params.set('db', this.#cfg.database);
    const res = await fetch(`${this.#cfg.url}/query`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', ...this.#authHeader() },
      body: params,
      signal: AbortSignal.timeout(this.#cfg.requestTimeoutMs),
    });
    const body = await res.text();
    if (!res.ok) throw new HubError(HubErrorCode.INFLUX_UNAVAILABLE, `InfluxDB /query ${res.status}: ${body.slice(0, 300)}`);
    return JSON.parse(body);
  }

  write(lines: string[]): Promise<WriteResult> {
    if (lines.length === 0) return Promise.resolve({ refused: 0 });
    if (this.#stopped) return Promise.reject(new HubError(HubErrorCode.INFLUX_UNAVAILABLE, 'writer stopped'));
    return new Promise<WriteResult>((resolve, reject) => {
      this.#queue.push({ lines, resolve, reject });
      this.#queuedLines += lines.length;
      if (this.#queuedLines >= this.#cfg.maxLines) this.#flush();
      else this.#timer ??= setTimeout(() => this.#flush(), this.#cfg.lingerMs);
    });
  }

  /** Flushes what is queued and waits for every request under way. */
  async stop(): Promise<void> {
    this.#flush();
    this.#stopped = true;
    this.#stopping.abort();
    this.release();
    await Promise.allSettled([...this.#inflight]);
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return;
    const batch = this.#queue;
    this.#queue = [];
    this.#queuedLines = 0;
    const p = this.#send(batch).finally(() => this.#inflight.delete(p));
    this.#inflight.add(p);
  }

  async #send(batch: Pending[]): Promise<void> {
    if (this.#hold) await this.#hold.promise;
    const body = batch.map((b) => b.lines.join('\n')).join('\n');
    const count = batch.reduce((n, b) => n + b.lines.length, 0);
    for (let failures = 0; ; ) {
      let lastErr: Error;
      if (this.#stopped && failures > 0) return this.#fail(batch, new HubError(HubErrorCode.INFLUX_UNAVAILABLE, 'writer stopped with the write not done'));
      try {
        const res = await this.#post(body);
        if (res.status === 204) {
          this.stats.linesWritten += count;
          this.lastError = undefined;
          for (const b of batch) b.resolve({ refused: 0 });
          return;
        }
        if (res.status === 400) {
          if (batch.length > 1) {
            // A refusal in a combined write cannot be attributed: write each caller's lines on
            // their own (rare: a field type conflict), so every count is exact.
            for (const b of batch) await this.#send([b]);
            return;
          }
          // Partial write: InfluxDB kept the good points and says how many it dropped.
          const dropped = Math.min(count, Number(/dropped=(\d+)/.exec(res.text)?.[1] ?? count));
          this.stats.linesWritten += count - dropped;
          this.stats.linesRefused += dropped;
          this.lastError = undefined;
          this.#log.warn({ dropped, error: res.text.slice(0, 500) }, 'InfluxDB refused part of a write');
          batch[0]!.resolve({ refused: dropped, refusal: res.text.slice(0, 500) });
          return;
        }
        lastErr = new Error(`InfluxDB /write ${res.status}: ${res.text.slice(0, 300)}`);
      } catch (e) {
        lastErr = toError(e);
      }
      this.stats.failedRequests++;
      failures++;
      if (failures === this.#cfg.attempts) {
        const err = new HubError(HubErrorCode.INFLUX_UNAVAILABLE, `InfluxDB write failed: ${lastErr.message}`, { cause: lastErr });
        this.lastError = { at: Date.now(), message: err.message };
        this.#log.error({ err, lines: count }, 'InfluxDB write failed; retrying, publishers are not acknowledged meanwhile');
      }
      if (this.#stopped) return this.#fail(batch, new HubError(HubErrorCode.INFLUX_UNAVAILABLE, `InfluxDB write failed at stop: ${lastErr.message}`, { cause: lastErr }));
      await backoff(failures, this.#stopping.signal);
    }
  }

  #fail(batch: Pending[], err: HubError): void {
    for (const b of batch) b.reject(err);
  }

  async #post(body: string): Promise<{ status: number; text: string }> {
    this.stats.requests++;
    const params = new URLSearchParams({ db: this.#cfg.database, precision: 'ms' });
    const started = performance.now();
    try {
      const res = await fetch(`${this.#cfg.url}/write?${params}`, {
        method: 'POST',
        headers: { 'content-type': 'text/plain; charset=utf-8', ...this.#authHeader() },
        body,
        signal: AbortSignal.timeout(this.#cfg.requestTimeoutMs),
      });
      return { status: res.status, text: res.status === 204 ? '' : await res.text() };
    } finally {
      this.#observeWrite((performance.now() - started) / 1000);
    }
  }

  #authHeader(): Record<string, string> {
    if (!this.#cfg.username) return {};
    const token = Buffer.from(`${this.#cfg.username}:${this.#cfg.password ?? ''}`).toString('base64');
    return { authorization: `Basic ${token}` };
  }
}

/** Waits 200 ms, 400 ms, … capped at BACKOFF_MAX_MS; at once when `signal` aborts. */
export function backoff(failures: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.resolve();
  return new Promise((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener('abort', done);
      resolve();
    };
    const timer = setTimeout(done, Math.min(BACKOFF_MAX_MS, 100 * 2 ** failures));
    signal.addEventListener('abort', done, { once: true });
  });
}
