/**
 * Back-off after repeated failed logins (docs/design.md#security): per source address and per
 * gateway id, each failure past a free allowance doubles the wait before the next login of that
 * key is checked at all, up to a maximum. Pure: the clock is injected.
 */
export interface LoginBackoffPolicy {
  /** Failures of one gateway id allowed before it backs off. */
  freeFailuresPerId: number;
  /** Failures from one address allowed before it backs off (higher: several gateways may share a NAT). */
  freeFailuresPerAddress: number;
  /** The first wait; each further failure doubles it. */
  baseMs: number;
  maxMs: number;
  /** A key with no failure for this long starts again from nothing. */
  forgetMs: number;
  /** Keys remembered at most (the oldest go first): a flood of addresses cannot grow memory without bound. */
  maxKeys: number;
}

export const DEFAULT_LOGIN_BACKOFF: LoginBackoffPolicy = {
  freeFailuresPerId: 5,
  freeFailuresPerAddress: 30,
  baseMs: 1000,
  maxMs: 60_000,
  forgetMs: 600_000,
  maxKeys: 10_000,
};

export interface LoginKeys {
  address: string | undefined;
  /** The gateway id claimed (the username); undefined for anonymous logins. */
  id: string | undefined;
}

interface Entry {
  failures: number;
  lastAt: number;
}

export class LoginBackoff {
  readonly #p: LoginBackoffPolicy;
  readonly #now: () => number;
  /** Insertion order is age order: a failure re-inserts its key. */
  readonly #entries = new Map<string, Entry>();
  /** Checks under way per key (begin … release): each counts as a failure until it is known. */
  readonly #pending = new Map<string, number>();

  constructor(policy: Partial<LoginBackoffPolicy> = {}, now: () => number = Date.now) {
    this.#p = { ...DEFAULT_LOGIN_BACKOFF, ...policy };
    this.#now = now;
  }

  /** Milliseconds before a login with these keys may be checked; 0: now. */
  waitMs(keys: LoginKeys): number {
    const now = this.#now();
    return Math.max(0, ...this.#keys(keys).map(([k, free]) => {
      const e = this.#live(k, now);
      const recorded = e ? Math.max(0, e.lastAt + this.#delay(e.failures, free) - now) : 0;
      // Checks still under way count as failures that just happened: guesses sent all at once
      // get no more checks than guesses sent one after another. For an address, only once it has
      // failed: many gateways (or people) behind one NAT may log in at once, honestly.
      const pending = k.startsWith('addr:') && !e ? 0 : (this.#pending.get(k) ?? 0);
      return pending === 0 ? recorded : Math.max(recorded, this.#delay((e?.failures ?? 0) + pending, free));
    }));
  }

  /**
   * A check begins (call it once `waitMs` said 0, before the hash): until the returned release
   * is called (after `failed` or `succeeded`), it counts against its keys.
   */
  begin(keys: LoginKeys): () => void {
    const ks = this.#keys(keys).map(([k]) => k);
    for (const k of ks) this.#pending.set(k, (this.#pending.get(k) ?? 0) + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      for (const k of ks) {
        const n = (this.#pending.get(k) ?? 1) - 1;
        if (n <= 0) this.#pending.delete(k);
        else this.#pending.set(k, n);
      }
    };
  }

  failed(keys: LoginKeys): void {
    const now = this.#now();
    for (const [k] of this.#keys(keys)) {
      const failures = (this.#live(k, now)?.failures ?? 0) + 1;
      this.#entries.delete(k);
      this.#entries.set(k, { failures, lastAt: now });
    }
    while (this.#entries.size > this.#p.maxKeys) this.#entries.delete(this.#entries.keys().next().value!);
  }

  /**
   * A good login clears its id's failures, not its address's: one valid credential must not
   * reset the count of a source that is guessing others.
   */
  succeeded(keys: LoginKeys): void {
    if (keys.id !== undefined) this.#entries.delete(`id:${keys.id}`);
  }

  #keys(keys: LoginKeys): Array<[string, number]> {
    const out: Array<[string, number]> = [];
    if (keys.address !== undefined) out.push([`addr:${keys.address}`, this.#p.freeFailuresPerAddress]);
    if (keys.id !== undefined) out.push([`id:${keys.id}`, this.#p.freeFailuresPerId]);
    return out;
  }

  #live(key: string, now: number): Entry | undefined {
    const e = this.#entries.get(key);
    if (e && now - e.lastAt >= this.#p.forgetMs) {
      this.#entries.delete(key);
      return undefined;
    }
    return e;
  }

  #delay(failures: number, free: number): number {
    const over = failures - free;
    return over <= 0 ? 0 : Math.min(this.#p.maxMs, this.#p.baseMs * 2 ** (over - 1));
  }
}
