import { collectDefaultMetrics, Counter, Histogram, Registry } from 'prom-client';

/** One counter of a part's catalogue: its HELP text and the label names it takes. */
export interface CounterSpec {
  help: string;
  labels?: readonly string[];
}
export type CounterCatalogue = Readonly<Record<string, CounterSpec>>;

/**
 * Labelled monotonic counters, e.g. `records_rejected{reason="unknown_device"}`, exposed by
 * prom-client as `<prefix>_records_rejected_total` with HELP and TYPE. Every rejection of bad
 * input increments one, so an operator can see what was refused and why. The catalogue names
 * every counter a part has; a name outside it is a type error. `get`/`total` read a synchronous
 * mirror (prom-client's own reads are asynchronous) for tests and health reports.
 */
export class Counters<C extends CounterCatalogue = CounterCatalogue> {
  readonly registry: Registry;
  readonly prefix: string;
  readonly #values = new Map<string, number>();
  /** Each series' labels, by the same key as #values (for `drop`). */
  readonly #labels = new Map<string, { name: string; labels: Record<string, string> }>();
  readonly #counters = new Map<string, Counter>();

  constructor(prefix: string, catalogue: C, registry: Registry = new Registry()) {
    this.prefix = prefix;
    this.registry = registry;
    for (const [name, spec] of Object.entries(catalogue)) {
      this.#counters.set(
        name,
        new Counter({ name: `${prefix}_${name}_total`, help: spec.help, labelNames: [...(spec.labels ?? [])], registers: [registry] }),
      );
    }
  }

  inc(name: keyof C & string, labels: Record<string, string> = {}, by = 1): void {
    const c = this.#counters.get(name);
    if (!c) throw new Error(`counter ${name} is not in the ${this.prefix} catalogue`);
    if (by <= 0) return;
    c.inc(labels, by);
    const key = counterKey(name, labels);
    if (!this.#labels.has(key)) this.#labels.set(key, { name, labels: { ...labels } });
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  /**
   * Removes the series of one counter whose labels match (a device that left the inventory):
   * they leave /metrics, so per-device labels stay bounded by the devices there are. Returns how
   * many were removed.
   */
  drop(name: keyof C & string, match: (labels: Readonly<Record<string, string>>) => boolean): number {
    const c = this.#counters.get(name);
    if (!c) throw new Error(`counter ${name} is not in the ${this.prefix} catalogue`);
    let n = 0;
    for (const [key, series] of this.#labels) {
      if (series.name !== name || !match(series.labels)) continue;
      c.remove(series.labels);
      this.#labels.delete(key);
      this.#values.delete(key);
      n++;
    }
    return n;
  }

  get(name: keyof C & string, labels: Record<string, string> = {}): number {
    return this.#values.get(counterKey(name, labels)) ?? 0;
  }

  /** Sum over every label combination of one counter. */
  total(name: keyof C & string): number {
    let sum = 0;
    for (const [key, v] of this.#values) {
      if (key === name || key.startsWith(`${name}{`)) sum += v;
    }
    return sum;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#values].sort(([a], [b]) => a.localeCompare(b)));
  }
}

/** A histogram in a part's registry (`<prefix>_<name>`), e.g. a write time in seconds. */
export function histogram(
  registry: Registry,
  prefix: string,
  name: string,
  help: string,
  buckets: number[],
  labels: readonly string[] = [],
): Histogram {
  return new Histogram({ name: `${prefix}_${name}`, help, buckets, labelNames: [...labels], registers: [registry] });
}

let processRegistry: Registry | undefined;

/**
 * The Prometheus text exposition of a part's registry together with the process metrics
 * (CPU, memory, event loop, GC: prom-client's defaults, collected once per process however many
 * services it runs).
 */
export async function metricsText(registry: Registry): Promise<{ contentType: string; body: string }> {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  const merged = Registry.merge([registry, processRegistry]);
  return { contentType: merged.contentType, body: await merged.metrics() };
}

function counterKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  const body = keys.map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',');
  return `${name}{${body}}`;
}
