import type { Logger } from 'pino';
import { toError } from '../../../runtime/src/errors.ts';
import { HubError, HubErrorCode } from '../errors.ts';

export interface InfluxWriterConfig {
  url: string;
  database: string;
  username?: string | undefined;
  password?: string | undefined;
  /** Flush when this many lines are queued. */
  maxLines: number;
  /** Flush at most this long after the first queued line. */
  lingerMs: number;
  /** /write requests in flight at once while InfluxDB answers (1 when not given). */
  concurrency?: number;
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
 * A 400 whose points are refused for InfluxDB's cardinality limits (`max-values-per-tag`,
 * `max-series-per-database`): the data is good, so it is an outage to wait out, not a refusal.
 */
export const CAPACITY_REFUSAL = /max-values-per-tag limit exceeded|max-series-per-database limit exceeded/;

/**
 * Batches lines from many publishes into one /write and resolves each caller only once its lines
 * are durable in InfluxDB (a 204 from /write, which 1.x gives after the WAL write). Callers'
 * acknowledgements wait on it, so nothing is held only here (docs/design.md#reliability).
 * Batches start in the order flushed, up to `concurrency` at once; while InfluxDB is down the
 * failed batch is retried with back-off and the others queue behind it (their callers wait); while the writer is held
 * (the database is not set up yet) nothing is sent.
 */
export class InfluxWriter {
  readonly #cfg: InfluxWriterConfig;
  readonly #log: Logger;
  #queue: Pending[] = [];
  #queuedLines = 0;
  #timer: NodeJS.Timeout | undefined;
  /** Flushed batches waiting to be sent, oldest first. */
  #ready: Pending[][] = [];
  /** Requests being retried after a failure: while any is, no other batch starts. */
  #failing = 0;
  /** Wakes the drain loop waiting on its requests. */
  #wake: (() => void) | undefined;
  #draining: Promise<void> | undefined;
  #stopped = false;
  /** A batch failed after stop(): the ones behind it fail without a request. */
  #gaveUp = false;
  /** Wakes the back-off sleeps and the hold when the writer stops. */
  readonly #stopping = new AbortController();
  #hold: { promise: Promise<void>; release(): void } | undefined;
  readonly #observeWrite: (seconds: number) => void;
  readonly stats = { linesWritten: 0, requests: 0, failedRequests: 0, linesRefused: 0, limitRefusals: 0 };
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
    await this.#draining;
  }

  #flush(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    if (this.#queue.length === 0) return;
    this.#ready.push(this.#queue);
    this.#queue = [];
    this.#queuedLines = 0;
    // One drain loop however long InfluxDB is down, not one per flush.
    this.#draining ??= this.#drain();
    this.#wake?.();
  }

  /**
   * Sends the flushed batches, up to `concurrency` requests at once while InfluxDB answers; once
   * a request fails, no other starts until it is written (an outage runs one retry loop).
   */
  async #drain(): Promise<void> {
    const max = Math.max(1, this.#cfg.concurrency ?? 1);
    const inFlight = new Set<Promise<void>>();
    try {
      while (this.#ready.length > 0 || inFlight.size > 0) {
        if (this.#ready.length > 0 && inFlight.size < max && (inFlight.size === 0 || this.#failing === 0)) {
          const p: Promise<void> = this.#send(this.#nextBatch()).finally(() => inFlight.delete(p));
          inFlight.add(p);
          continue;
        }
        // A batch flushed meanwhile wakes the loop as a finished request does.
        await Promise.race([...inFlight, new Promise<void>((resolve) => (this.#wake = resolve))]);
        this.#wake = undefined;
      }
    } finally {
      this.#draining = undefined;
    }
  }

  /** The oldest flushed batch, with the ones behind it while they fit in maxLines (an outage leaves many small ones). */
  #nextBatch(): Pending[] {
    const batch = this.#ready.shift()!;
    let lines = batch.reduce((n, b) => n + b.lines.length, 0);
    while (this.#ready.length > 0) {
      const more = this.#ready[0]!.reduce((n, b) => n + b.lines.length, 0);
      if (lines + more > this.#cfg.maxLines) break;
      batch.push(...this.#ready.shift()!);
      lines += more;
    }
    return batch;
  }

  async #send(batch: Pending[]): Promise<void> {
    const retrying = { now: false };
    try {
      await this.#sendUntilDone(batch, retrying);
    } finally {
      if (retrying.now) this.#failing--;
    }
  }

  async #sendUntilDone(batch: Pending[], retrying: { now: boolean }): Promise<void> {
    if (this.#hold) await this.#hold.promise;
    const body = batch.map((b) => b.lines.join('\n')).join('\n');
    const count = batch.reduce((n, b) => n + b.lines.length, 0);
    for (let failures = 0; ; ) {
      let lastErr: Error;
      if (this.#stopped && (failures > 0 || this.#gaveUp)) return this.#fail(batch, new HubError(HubErrorCode.INFLUX_UNAVAILABLE, 'writer stopped with the write not done'));
      try {
        const res = await this.#post(body);
        if (res.status === 204) {
          this.stats.linesWritten += count;
          this.lastError = undefined;
          for (const b of batch) b.resolve({ refused: 0 });
          return;
        }
        if (res.status === 413) return await this.#splitTooLarge(batch, res.text);
        if (res.status === 400 && CAPACITY_REFUSAL.test(res.text)) {
          // Good points refused for InfluxDB's configuration, not for what they are: written
          // when the limit is lifted, acknowledged only then (publishers resend meanwhile).
          lastErr = new Error(`InfluxDB refused points at its cardinality limit (set max-values-per-tag and max-series-per-database to 0, docs/influx-schema.md): ${res.text.slice(0, 300)}`);
          this.stats.limitRefusals++;
        } else if (res.status === 400) {
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
        } else lastErr = new Error(`InfluxDB /write ${res.status}: ${res.text.slice(0, 300)}`);
      } catch (e) {
        lastErr = toError(e);
      }
      this.stats.failedRequests++;
      if (!retrying.now) {
        retrying.now = true;
        this.#failing++;
      }
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

  /**
   * A body above InfluxDB's limit (413, `max-body-size`) is never written by resending it: a
   * merged batch goes again caller by caller, a caller's lines in halves; a single line that
   * alone is too large is refused (counted), like a line InfluxDB cannot parse.
   */
  async #splitTooLarge(batch: Pending[], text: string): Promise<void> {
    if (batch.length > 1) {
      for (const b of batch) await this.#send([b]);
      return;
    }
    const only = batch[0]!;
    if (only.lines.length === 1) {
      this.stats.linesRefused += 1;
      this.#log.warn({ error: text.slice(0, 300) }, 'InfluxDB refused a line larger than its body limit');
      return only.resolve({ refused: 1, refusal: text.slice(0, 500) });
    }
    const half = Math.ceil(only.lines.length / 2);
    const results: WriteResult[] = [];
    let failed: Error | undefined;
    for (const lines of [only.lines.slice(0, half), only.lines.slice(half)]) {
      await this.#send([{ lines, resolve: (r) => void results.push(r), reject: (e) => void (failed = e) }]);
      if (failed) return only.reject(failed);
    }
    const refusal = results.find((r) => r.refusal)?.refusal;
    only.resolve({ refused: results.reduce((n, r) => n + r.refused, 0), ...(refusal ? { refusal } : {}) });
  }

  #fail(batch: Pending[], err: HubError): void {
    this.#gaveUp = true;
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
