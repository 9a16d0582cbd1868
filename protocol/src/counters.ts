/**
 * Labelled monotonic counters, e.g. `rejected{reason="unknown_device"}`. Every rejection of bad
 * input increments one, so an operator can see what was refused and why.
 */
export class Counters {
  readonly #values = new Map<string, number>();

  inc(name: string, labels: Record<string, string> = {}, by = 1): void {
    const key = counterKey(name, labels);
    this.#values.set(key, (this.#values.get(key) ?? 0) + by);
  }

  get(name: string, labels: Record<string, string> = {}): number {
    return this.#values.get(counterKey(name, labels)) ?? 0;
  }

  /** Sum over every label combination of one counter. */
  total(name: string): number {
    let sum = 0;
    for (const [key, v] of this.#values) {
      if (key === name || key.startsWith(`${name}{`)) sum += v;
    }
    return sum;
  }

  snapshot(): Record<string, number> {
    return Object.fromEntries([...this.#values].sort(([a], [b]) => a.localeCompare(b)));
  }

  /** Prometheus text exposition. */
  toPrometheus(prefix: string): string {
    return [...this.#values]
      .sort(([a], [b]) => a.localeCompare(b))
      .map(([key, v]) => `${prefix}_${key} ${v}`)
      .join('\n')
      .concat('\n');
  }
}

function counterKey(name: string, labels: Record<string, string>): string {
  const keys = Object.keys(labels).sort();
  if (keys.length === 0) return name;
  const body = keys.map((k) => `${k}="${String(labels[k]).replace(/["\\\n]/g, (c) => (c === '\n' ? '\\n' : `\\${c}`))}"`).join(',');
  return `${name}{${body}}`;
}
